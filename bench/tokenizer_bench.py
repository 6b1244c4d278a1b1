#!/usr/bin/env python3
"""Tokenizer encode throughput: precept against Hugging Face `tokenizers`, same text, one thread.

Builds a corpus from ../shared/datasets (Chatbot Arena conversations in many languages and
HH-RLHF dialogues), encodes every document with both tokenizers, checks that the token counts
agree, and prints MB/s and the ratio as a table. Run after scripts/build.sh:

    .venv/bin/python bench/tokenizer_bench.py [--build build] [--repeats 3]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from transformers import AutoTokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def corpus(shared):
    documents = []
    arena = os.path.join(shared, "datasets/chatbot-arena-55k-sample/lmsys_lmsys-arena-human-preference-55k_sample.jsonl")
    with open(arena) as lines:
        for line in lines:
            record = json.loads(line)
            for key in ("prompt", "response_a", "response_b"):
                try:
                    documents.extend(part for part in json.loads(record[key]) if isinstance(part, str))
                except (ValueError, TypeError):
                    pass
    hh = os.path.join(shared, "datasets/hh-rlhf/mixed-test-sample/evaluation_set_1000.jsonl")
    with open(hh) as lines:
        for line in lines:
            record = json.loads(line)
            documents.extend(value for value in record.values() if isinstance(value, str) and len(value) > 20)
    return documents


def qwen_dir(shared, into):
    source = os.path.join(shared, "assets/qwen-tokenizer")
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(source, name), into)
    shutil.copy(os.path.join(source, "tokenizer_config.qwen3.json"), os.path.join(into, "tokenizer_config.json"))
    return into


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    documents = corpus(args.shared)
    total_bytes = sum(len(d.encode("utf-8")) for d in documents)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        os.makedirs(os.path.join(work, "qwen"))
        model = qwen_dir(args.shared, os.path.join(work, "qwen"))
        corpus_path = os.path.join(work, "corpus.jsonl")
        with open(corpus_path, "w") as out:
            for document in documents:
                out.write(json.dumps(document, ensure_ascii=False) + "\n")

        hf = AutoTokenizer.from_pretrained(model).backend_tokenizer
        # HF's best single-thread figure: one call per document, or encode_batch (Rust loop,
        # no per-call Python overhead) with RAYON_NUM_THREADS=1; whichever is faster.
        best, hf_tokens = 1e30, 0
        for _ in range(args.repeats):
            start = time.perf_counter()
            hf_tokens = sum(len(d.ids) for d in hf.encode_batch(documents, add_special_tokens=False))
            best = min(best, time.perf_counter() - start)
            start = time.perf_counter()
            hf_tokens_single = sum(len(hf.encode(d, add_special_tokens=False).ids) for d in documents)
            best = min(best, time.perf_counter() - start)
            assert hf_tokens_single == hf_tokens
        hf_rate = total_bytes / best / 1e6

        result = subprocess.run([os.path.join(args.build, "bench_tokenizer"), model, corpus_path, str(args.repeats)],
                                check=True, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        ours = json.loads(result.stdout)
        rows.append(("Qwen (vocab.json + merges.txt)", len(documents), total_bytes, hf_tokens, ours["tokens"],
                     hf_rate, ours["mb_per_s"]))

    print(f"\ntokenizer encode throughput, 1 thread, {len(documents)} documents, {total_bytes / 1e6:.2f} MB")
    print(f"{'tokenizer':34} {'HF tokens':>10} {'precept tokens':>15} {'HF MB/s':>9} {'precept MB/s':>13} {'ratio':>7}")
    ok = True
    for name, _, _, hf_count, our_count, hf_rate, our_rate in rows:
        print(f"{name:34} {hf_count:>10} {our_count:>15} {hf_rate:>9.2f} {our_rate:>13.2f} {our_rate / hf_rate:>6.2f}x")
        ok &= hf_count == our_count
    if not ok:
        print("token counts differ: the comparison is not like for like", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
