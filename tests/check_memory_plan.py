#!/usr/bin/env python3
"""`precept plan` and `precept train`'s memory check, read against independent counts.

- The case study's shapes (Qwen3-8B policy and judge, recipes/nuanced_safety.toml, bf16): the
  plan's weights, masters, AdamW moments and reference equal transformers' parameter count of
  Qwen3ForCausalLM built on the meta device, times the bytes the layout keeps; LoRA r 64 on
  all-linear equals peft's trainable count x 4 B; the KV caches equal slots x positions x
  layers x 2 x KV heads x head_dim x 2 B from the config; ZeRO-1 on 8 ranks shards by ceil(P/8).
  Full fine-tuning does not fit one 141 GB GPU (exit 1), LoRA r 64 does, ZeRO-1 on 8 does.
- A real run (recipes/demo_rule.toml on stories260K): `--check` prints the plan, whose policy
  weights equal the checkpoint's tensors read by safetensors; a limit below the plan makes
  `--check` exit 1 and `precept train` refuse before training, naming the limit.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

import peft
import torch
import transformers
from safetensors.torch import load_file

parser = argparse.ArgumentParser()
parser.add_argument("--precept", required=True)
parser.add_argument("--shared", required=True)
parser.add_argument("--fixtures")
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = 0
checks = 0


def check(condition, message):
    global failures, checks
    checks += 1
    print(("ok   " if condition else "FAIL ") + message)
    failures += 0 if condition else 1


def run(command):
    print("$ " + " ".join(str(c) for c in command))
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=root)


def plan(*extra):
    result = run([args.precept, "plan", "recipes/nuanced_safety.toml", "--policy-shape", "qwen3-8b", "--judge-shape",
                  "qwen3-8b", "--memory-gb", "141", "--json", *extra])
    try:
        return result.returncode, json.loads(result.stdout)
    except json.JSONDecodeError:
        print(result.stdout[-2000:], result.stderr[-2000:])
        return result.returncode, {"items": [], "fits": None}


def part(report, name):
    for item in report["items"]:
        if item["part"] == name:
            return item["bytes"]
    return None


# Qwen3-8B as transformers builds it, on the meta device (no memory).
config = transformers.Qwen3Config(hidden_size=4096, intermediate_size=12288, num_hidden_layers=36, num_attention_heads=32,
                                  num_key_value_heads=8, head_dim=128, vocab_size=151936, tie_word_embeddings=False,
                                  max_position_embeddings=40960)
with torch.device("meta"):
    qwen3 = transformers.Qwen3ForCausalLM(config)
P = sum(p.numel() for p in qwen3.parameters())
lora_model = peft.get_peft_model(qwen3, peft.LoraConfig(r=64, lora_alpha=128, target_modules="all-linear"))
A = sum(p.numel() for n, p in lora_model.named_parameters() if "lora_" in n)
print(f"transformers: Qwen3-8B has {P} parameters; peft LoRA r 64 all-linear adds {A}")
kv_per_position = 36 * 2 * 8 * 128 * 2  # layers x (k, v) x KV heads x head_dim x bf16

code, full = plan("--set", "distributed.zero1=false")
check(part(full, "policy weights") == 2 * P, f"1 GPU full: policy weights = 2 B x {P} (transformers' count)")
check(part(full, "reference model") == 2 * P, "1 GPU full: the reference is a bf16 copy")
check(part(full, "fp32 master weights") == 4 * P and part(full, "AdamW moments (fp32)") == 8 * P,
      "1 GPU full: fp32 masters 4 B and AdamW moments 8 B per parameter")
check(part(full, "gradients") == 2 * P, "1 GPU full: bf16 gradients")
check(part(full, "judge weights") == 2 * P, "the judge (a Qwen3-8B) in bf16")
check(part(full, "judge KV cache") == 16 * 16384 * kv_per_position, "judge KV cache = 16 slots x 16384 positions")
check(part(full, "policy KV cache") == 128 * 2048 * kv_per_position, "policy KV cache = 128 slots x (1024 + 1024) positions")
check(code == 1 and full["fits"] is False and full["total_bytes"] > 141e9,
      f"full fine-tuning does not fit one 141 GB GPU: {full['total_bytes'] / 1e9:.1f} GB, exit {code}")

code, lora = plan("--set", "distributed.zero1=false", "--set", "policy.lora.r=64", "--set", "policy.lora.alpha=128")
check(part(lora, "LoRA adapters") == 4 * A, f"LoRA r 64: adapters = 4 B x {A} (peft's trainable count), fp32")
check(part(lora, "AdamW moments (fp32)") == 8 * A and part(lora, "reference model") == 0,
      "LoRA r 64: moments for the adapters alone, no reference model")
check(code == 0 and lora["fits"] is True and lora["total_bytes"] <= 141e9,
      f"LoRA r 64 fits one 141 GB GPU: {lora['total_bytes'] / 1e9:.1f} GB, exit {code}")

code, zero1 = plan("--nproc", "8")
shard = math.ceil(P / 8)
check(part(zero1, "AdamW moments (fp32)") == 8 * shard and part(zero1, "fp32 master weights") == 4 * shard,
      "8 GPUs, ZeRO-1: masters and moments of a ceil(P/8) shard")
check(part(zero1, "policy KV cache") == 16 * 2048 * kv_per_position, "8 GPUs: 16 policy slots per rank (its 2 x 8 sequences)")
check(code == 0 and zero1["fits"] is True, f"8 GPUs with ZeRO-1 fit: {zero1['total_bytes'] / 1e9:.1f} GB per GPU, exit {code}")

with tempfile.TemporaryDirectory() as work:
    assets = os.path.join(args.shared, "assets/stories260K")
    model = os.path.join(work, "stories260K")
    run([args.precept, "convert", "--checkpoint", os.path.join(assets, "stories260K.bin"), "--tokenizer",
         os.path.join(assets, "tok512.bin"), "--out", model])
    common = ["train", "recipes/demo_rule.toml", "--set", f"policy.model={model}", "--set", f"run.output_dir={work}/run",
              "--set", "run.steps=1", "--set", "run.threads=1"]
    result = run([args.precept, *common, "--check"])
    check(result.returncode == 0 and "memory plan, CPU RAM per rank" in result.stdout and "total per rank" in result.stdout,
          "precept train --check prints the memory plan")
    weights = sum(t.numel() * 4 for t in load_file(os.path.join(model, "model.safetensors")).values())
    result = run([args.precept, "plan", "recipes/demo_rule.toml", "--set", f"policy.model={model}", "--json"])
    report = json.loads(result.stdout) if result.returncode == 0 else {"items": []}
    check(part(report, "policy weights") == weights, f"stories260K: planned policy weights = the checkpoint's {weights} bytes (fp32)")
    result = run([args.precept, *common, "--check", "--set", "run.memory_limit_gb=0.0001"])
    check(result.returncode == 1 and "DOES NOT FIT" in result.stdout, "--check exits 1 when the plan exceeds run.memory_limit_gb")
    result = run([args.precept, *common, "--set", "run.memory_limit_gb=0.0001"])
    check(result.returncode != 0 and "does not fit in memory" in result.stderr and "run.memory_limit_gb" in result.stderr
          and not os.path.exists(os.path.join(work, "run", "metrics.jsonl")),
          "precept train refuses the run before training, with the plan and the key to change")

print(f"{checks} checks, {failures} failed")
sys.exit(1 if failures or checks < 18 else 0)
