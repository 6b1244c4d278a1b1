#!/usr/bin/env python3
"""`precept tokenize` end to end against transformers: the chat template rendered and encoded.

For the real Qwen3 and Qwen2.5 tokenizer files (../shared/assets/qwen-tokenizer), conversations
go through `precept tokenize --jsonl` and through transformers' `apply_chat_template` +
`encode`; the rendered text and the ids must be equal. Plain text lines too.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from transformers import AutoTokenizer

parser = argparse.ArgumentParser()
parser.add_argument("--precept", required=True)
parser.add_argument("--shared", required=True)
parser.add_argument("--fixtures")
args = parser.parse_args()

CONVERSATIONS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "system", "content": "You are terse.\nAnswer in \"one\" word."},
     {"role": "user", "content": "Capital of France?"},
     {"role": "assistant", "content": "<think>easy</think>Paris"},
     {"role": "user", "content": "And of 日本? 🙂"}],
    [{"role": "user", "content": "tab\there, backslash \\ and <|im_start|> inside"}],
]
TEXTS = ["plain text with  two spaces", "<think>kept</think> 你好 🇫🇷", "numbers 1234567 and 'contractions' don't"]

failures = 0
total = 0
source = os.path.join(args.shared, "assets/qwen-tokenizer")
for variant in ("qwen3", "qwen2.5"):
    with tempfile.TemporaryDirectory() as model:
        for name in ("vocab.json", "merges.txt"):
            shutil.copy(os.path.join(source, name), model)
        shutil.copy(os.path.join(source, f"tokenizer_config.{variant}.json"), os.path.join(model, "tokenizer_config.json"))
        batch = os.path.join(model, "batch.jsonl")
        with open(batch, "w") as out:
            for messages in CONVERSATIONS:
                out.write(json.dumps({"messages": messages}, ensure_ascii=False) + "\n")
            for text in TEXTS:
                out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        for thinking in (True, False):
            command = [args.precept, "tokenize", "--model", model, "--jsonl", batch] + ([] if thinking else ["--no-thinking"])
            lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()
            ours = [json.loads(line) for line in lines]
            hf = AutoTokenizer.from_pretrained(model)
            expected = []
            for messages in CONVERSATIONS:
                text = hf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=thinking)
                expected.append((text, hf.encode(text, add_special_tokens=False)))
            for text in TEXTS:
                expected.append((text, hf.encode(text, add_special_tokens=False)))
            for i, (result, (text, ids)) in enumerate(zip(ours, expected)):
                total += 1
                if result["text"] != text or result["ids"] != ids:
                    failures += 1
                    print(f"MISMATCH {variant} thinking={thinking} item {i}:\n ours {result}\n hf   {text!r} {ids}")
            if len(ours) != len(expected):
                failures += 1
                print(f"{variant}: precept printed {len(ours)} lines for {len(expected)} inputs")

print(f"precept tokenize vs transformers: {total - failures}/{total} equal (text and ids)")
sys.exit(1 if failures else 0)
