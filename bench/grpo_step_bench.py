#!/usr/bin/env python3
"""One GRPO step: precept against TRL's GRPOTrainer, same model, same work, same threads, same run.

Both train the real stories260K checkpoint (converted from llama2.c by `precept convert`) on
the story openings of recipes/data with the same rule reward (1 when the story mentions a dog),
8 prompts x 8 completions per step, 40 new tokens at temperature 1, token-mean clipped loss
with a k3 KL term (beta 0.05) to a frozen reference, AdamW at lr 5e-4, one optimizer step per
generation batch, fp32 on the CPU. Reported: the median seconds per step after a warm-up step,
the ratio, and precept's phase breakdown. Run after scripts/build.sh:

    .venv/bin/python bench/grpo_step_bench.py [--threads 2] [--steps 6]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATTERN = re.compile(r"\b[Dd]ogs?\b")


def prompts():
    with open(os.path.join(ROOT, "recipes/data/story_openings.jsonl")) as lines:
        return [json.loads(line)["prompt"] for line in lines]


def time_trl(model_dir, steps, threads):
    import datasets
    import transformers
    from trl import GRPOConfig, GRPOTrainer

    torch.set_num_threads(threads)
    data = datasets.Dataset.from_dict({"prompt": prompts() * (steps + 1)})

    def dog(completions, **kwargs):
        return [1.0 if PATTERN.search(text) else 0.0 for text in completions]

    class Clock(transformers.TrainerCallback):
        def __init__(self):
            self.begin, self.seconds = 0.0, []

        def on_step_begin(self, args, state, control, **kwargs):
            self.begin = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self.begin)

    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(output_dir=out, max_steps=steps, per_device_train_batch_size=64, num_generations=8,
                            gradient_accumulation_steps=1, max_completion_length=40, temperature=1.0, top_p=1.0,
                            learning_rate=5e-4, beta=0.05, epsilon=0.2, loss_type="dapo", scale_rewards="group",
                            num_iterations=1, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                            bf16=False, seed=1, shuffle_dataset=False, dataloader_num_workers=0,
                            disable_tqdm=True, log_level="error")
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
        tokenizer.pad_token = tokenizer.pad_token or tokenizer.unk_token
        clock = Clock()
        trainer = GRPOTrainer(model=model, reward_funcs=dog, args=config, train_dataset=data,
                              processing_class=tokenizer, callbacks=[clock])
        trainer.train()
    rewards = [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
    return clock.seconds, rewards


def time_precept(build, model_dir, steps, threads, recipe="recipes/demo_rule.toml", extra=()):
    """precept train on `recipe` for `steps` steps; returns its metrics.jsonl records."""
    with tempfile.TemporaryDirectory() as out:
        command = [os.path.join(build, "precept"), "train", recipe,
                   "--set", f"policy.model={model_dir}", "--set", f"run.output_dir={out}", "--set", f"run.steps={steps}",
                   "--set", f"run.threads={threads}", "--set", "algorithm.micro_batch_size=64",
                   "--set", "checkpoint.save_final=false", "--set", "logging.samples_every=0", *extra]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        with open(os.path.join(out, "metrics.jsonl")) as lines:
            return [json.loads(line) for line in lines]


def convert_stories260k(build, shared, work):
    """The llama2.c stories260K checkpoint as a Hugging Face folder under `work`; returns it."""
    assets = os.path.join(shared, "assets/stories260K")
    model_dir = os.path.join(work, "stories260K")
    subprocess.run([os.path.join(build, "precept"), "convert", "--checkpoint", os.path.join(assets, "stories260K.bin"),
                    "--tokenizer", os.path.join(assets, "tok512.bin"), "--out", model_dir], check=True, capture_output=True)
    return model_dir


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    import transformers
    import trl

    with tempfile.TemporaryDirectory() as work:
        model_dir = convert_stories260k(args.build, args.shared, work)
        trl_seconds, trl_rewards = time_trl(model_dir, args.steps, args.threads)
        records = time_precept(args.build, model_dir, args.steps, args.threads)

    ours = statistics.median(r["time/step"] for r in records[1:])
    theirs = statistics.median(trl_seconds[1:])
    phase = {name: statistics.median(r[f"time/{name}"] for r in records[1:])
             for name in ("generate", "reward", "reference", "update")}
    print(f"\nOne GRPO step, stories260K (fp32, CPU), 8 prompts x 8 completions x 40 tokens, KL beta 0.05, "
          f"{args.threads} threads; median of steps 2..{args.steps}; torch {torch.__version__}, "
          f"transformers {transformers.__version__}, trl {trl.__version__}\n")
    print("| | seconds per step | ratio |")
    print("| --- | ---: | ---: |")
    print(f"| TRL GRPOTrainer | {theirs:.3f} | 1.00x |")
    print(f"| precept | {ours:.3f} | {theirs / ours:.2f}x faster |")
    print("\nprecept's phases (median seconds): " + ", ".join(f"{k} {v:.3f}" for k, v in phase.items()))
    print("mean reward per step, TRL:     " + " ".join(f"{r:.2f}" for r in trl_rewards))
    print("mean reward per step, precept: " + " ".join(f"{r['reward/mean']:.2f}" for r in records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
