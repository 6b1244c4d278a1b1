#!/usr/bin/env python3
"""`precept train` from the command line, read back by the reference tools.

Runs recipes/demo_rule.toml (the real stories260K checkpoint, a regex reward) for a few steps
through the CLI, then checks what a user would plot and ship:
  - metrics.jsonl has one record per step with the documented metrics;
  - the TensorBoard event file, read by the `tensorboard` package's EventAccumulator, holds the
    same scalars at the same steps (float32);
  - samples.jsonl holds prompts, responses and rewards;
  - the final checkpoint's model loads in transformers, and transformers' greedy continuation of
    a prompt equals `precept generate`'s, token for token;
  - `--resume` continues from the last checkpoint and `--check` prints the resolved recipe.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
import transformers
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

parser = argparse.ArgumentParser()
parser.add_argument("--precept", required=True)
parser.add_argument("--shared", required=True)
parser.add_argument("--fixtures")
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
failures = 0


def check(condition, message):
    global failures
    print(("ok   " if condition else "FAIL ") + message)
    failures += 0 if condition else 1


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, cwd=root, **kwargs)
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:])
    return result


with tempfile.TemporaryDirectory() as work:
    assets = os.path.join(args.shared, "assets/stories260K")
    model = os.path.join(work, "stories260K")
    run([args.precept, "convert", "--checkpoint", os.path.join(assets, "stories260K.bin"),
         "--tokenizer", os.path.join(assets, "tok512.bin"), "--out", model])
    out = os.path.join(work, "run")
    overrides = ["--set", f"policy.model={model}", "--set", f"run.output_dir={out}", "--set", "run.steps=4",
                 "--set", "checkpoint.every=2", "--set", "logging.samples_every=2", "--set", "run.threads=1"]
    result = run([args.precept, "train", "recipes/demo_rule.toml"] + overrides)
    check(result.returncode == 0, "precept train recipes/demo_rule.toml ran (4 steps)")
    check("[train] step 4/4" in result.stderr and "ETA" in result.stderr, "a progress line per step with an ETA")

    records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    check([r["step"] for r in records] == [1, 2, 3, 4], "metrics.jsonl: steps 1..4")
    wanted = ["reward/mean", "reward/std", "advantage/std", "policy/kl_mean", "policy/clip_fraction_high",
              "policy/entropy_mean", "response/length_mean", "judge/failures", "groups/zero_variance",
              "optim/grad_norm", "optim/lr", "time/generate", "time/reward", "time/update", "throughput/tokens_per_s"]
    missing = [name for name in wanted if name not in records[-1]]
    check(not missing, f"metrics.jsonl carries the documented metrics (missing: {missing})")

    events = glob.glob(os.path.join(out, "events.out.tfevents.*"))
    check(len(events) == 1, "one TensorBoard event file")
    accumulator = EventAccumulator(out, size_guidance={"scalars": 0})
    accumulator.Reload()
    tags = accumulator.Tags()["scalars"]
    check(all(name in tags for name in wanted), f"TensorBoard reads the scalars back ({len(tags)} tags)")
    agree = True
    for name in wanted:
        scalars = accumulator.Scalars(name)
        agree &= [s.step for s in scalars] == [1, 2, 3, 4]
        for s, record in zip(scalars, records):
            agree &= record[name] is not None and float(torch.tensor(record[name], dtype=torch.float32)) == s.value
    check(agree, "TensorBoard's values equal metrics.jsonl (float32) at every step")

    samples = [json.loads(line) for line in open(os.path.join(out, "samples.jsonl"))]
    check(len(samples) > 0 and {s["step"] for s in samples} == {2, 4} and
          all(len(s["responses"]) == len(s["rewards"]) == 8 for s in samples), "samples.jsonl every 2 steps")

    final = os.path.join(out, "checkpoints", "step-00000004", "model")
    hf = transformers.AutoModelForCausalLM.from_pretrained(final, dtype=torch.float32).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(final)
    prompt = "Once upon a time, there was a little"
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    config = transformers.GenerationConfig(do_sample=False, max_new_tokens=24, eos_token_id=None, pad_token_id=0)
    with torch.no_grad():
        hf_ids = hf.generate(input_ids=ids, generation_config=config)[0, ids.shape[1]:].tolist()
    record_path = os.path.join(work, "greedy.jsonl")
    run([args.precept, "generate", "--model", final, "--prompt", prompt, "-n", "24", "--ignore-eos", "--output", record_path])
    ours = json.loads(open(record_path).readline())["ids"]
    check(ours == hf_ids, f"the trained checkpoint loads in transformers; greedy 24 tokens equal precept's ({ours[:6]}...)")

    result = run([args.precept, "train", "recipes/demo_rule.toml", "--resume"] + overrides[:-6] +
                 ["--set", "run.steps=5", "--set", "logging.samples_every=2", "--set", "run.threads=1"])
    check(result.returncode == 0 and "resumed at step 4" in result.stderr, "--resume continues from step 4")
    records = [json.loads(line) for line in open(os.path.join(out, "metrics.jsonl"))]
    check([r["step"] for r in records] == [1, 2, 3, 4, 5], "metrics.jsonl continues at step 5 after the resume")

    result = run([args.precept, "train", "recipes/demo_rule.toml", "--check", "--set", "rollout.group_size=3"])
    check(result.returncode == 0 and "group_size = 3" in result.stdout, "--check prints the resolved recipe")
    result = run([args.precept, "train", "recipes/demo_rule.toml", "--set", "rollout.gropu_size=3"])
    check(result.returncode == 1 and "unknown key 'rollout.gropu_size'" in result.stderr,
          "a mistyped --set key is an error naming it")

    # README's claim for the demo: "mean reward 0.03 -> 0.95 in about 15 steps" (scripts/smoke.sh
    # runs this recipe; measured 0.031 at step 1, 0.969 at step 15 with one thread).
    readme = os.path.join(work, "readme")
    result = run([args.precept, "train", "recipes/demo_rule.toml", "--set", f"policy.model={model}", "--set",
                  f"run.output_dir={readme}", "--set", "run.steps=16", "--set", "run.threads=1", "--set",
                  "checkpoint.save_final=false", "--set", "logging.samples_every=0"])
    rewards = [json.loads(line)["reward/mean"] for line in open(os.path.join(readme, "metrics.jsonl"))] \
        if result.returncode == 0 else []
    check(len(rewards) == 16 and rewards[0] <= 0.1 and sum(rewards[13:16]) / 3 >= 0.9,
          f"README's demo claim: reward at step 1 <= 0.1 and steps 14-16 average >= 0.9 "
          f"({rewards[0] if rewards else float('nan'):.3f} -> {sum(rewards[13:16]) / 3 if rewards else float('nan'):.3f})")

print(f"{failures} failure(s)")
sys.exit(1 if failures else 0)
