#!/usr/bin/env python3
"""One PPO step with a critic: precept against TRL's PPOTrainer, same model, same work, same threads, same run.

Both train the real stories260K checkpoint (converted from llama2.c by `precept convert`) on
the story openings of recipes/data with the same rule reward (1 when the story mentions a dog),
8 prompts x 8 responses per step, 40 new tokens at temperature 1, a critic initialised from the
policy's weights with a fresh one-output head, the k1 KL to a frozen reference in the per-token
reward (kl_coef 0.01), GAE with gamma 1 and lam 0.95, whitened advantages, the clipped policy
loss (0.2) and the clipped value loss (0.5), one epoch and one mini-batch of 64 sequences, AdamW
at lr 5e-4 for the policy and 1e-3 for the critic, no warm-up, fp32 on the CPU: recipes/ppo_rule.toml
with `algorithm.critic_warmup=0`. Reported: the median seconds per step after a warm-up step,
the ratio, and precept's phase breakdown. Run after scripts/build.sh:

    .venv/bin/python bench/ppo_step_bench.py [--threads 2] [--steps 4]

TRL 1.x no longer ships PPOTrainer, so the bench installs trl==0.29.1 (the last with
`trl.experimental.ppo`) with `pip install --no-deps --target .venv/bench-trl-0.29.1` once and
puts that folder first on sys.path before anything imports trl; the venv's trl is untouched.
Against the venv's transformers 5 and torch 2.11 PPOTrainer runs as shipped. Two things are
patched in `trl.experimental.ppo.ppo_trainer`, both by wrapping a module-level name it imports:

- `get_reward`: PPOTrainer scores with a reward *model* (a backbone plus a `score` head read at
  each sequence's last token). For the rule reward, the `reward_model` given to it is an empty
  marker module, and the wrapped `get_reward` decodes the responses of that call and returns 1.0
  where the regex matches; every other call (the value model's values) goes to TRL's own.
- `batch_generation`: only timed (TRL's generation time is printed beside the total).

TRL's seconds per step are the intervals between its `on_step_end` callbacks (the first from
`on_train_begin`; PPOTrainer calls no `on_step_begin`), so each is one full iteration: rollout,
reference and value forwards, reward, GAE, the update, its metrics and its clean-up.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grpo_step_bench import PATTERN, ROOT, convert_stories260k, prompts, time_precept  # noqa: E402  (imports no trl)

TRL_VERSION = "0.29.1"
TRL_DIR = os.path.join(ROOT, ".venv", f"bench-trl-{TRL_VERSION}")
GROUP = 8          # responses per prompt: each of the 8 prompts appears 8 times in a batch of 64
NEW_TOKENS = 40


def use_old_trl():
    """trl 0.29.1 in a folder of its own, first on sys.path; call before anything imports trl."""
    if "trl" in sys.modules:
        raise RuntimeError("trl is already imported; the side install must come first")
    if not os.path.isdir(TRL_DIR):
        partial = TRL_DIR + ".partial"
        subprocess.run(["rm", "-rf", partial], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", partial,
                        f"trl=={TRL_VERSION}"], check=True)
        os.rename(partial, TRL_DIR)  # only a finished install counts
    sys.path.insert(0, TRL_DIR)
    import trl

    if trl.__version__ != TRL_VERSION:
        raise RuntimeError(f"imported trl {trl.__version__} from {trl.__file__}, wanted {TRL_VERSION}")


def time_trl(model_dir, steps, threads):
    import datasets
    import transformers
    from trl.experimental.ppo import PPOConfig, PPOTrainer
    from trl.experimental.ppo import ppo_trainer

    torch.set_num_threads(threads)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.unk_token
    batch = [tokenizer(prompt)["input_ids"] for prompt in prompts() for _ in range(GROUP)]
    data = datasets.Dataset.from_dict({"input_ids": batch})  # one batch of 64: each step reshuffles the same 8 x 8

    class Rule(torch.nn.Module):
        """Stands where PPOTrainer wants a reward model; the patched get_reward scores for it."""

    rule = Rule()
    trl_get_reward = ppo_trainer.get_reward

    def get_reward(model, query_responses, pad_token_id, context_length):
        if model is not rule:
            return trl_get_reward(model, query_responses, pad_token_id, context_length)
        texts = tokenizer.batch_decode(query_responses[:, context_length:], skip_special_tokens=True)
        scores = torch.tensor([1.0 if PATTERN.search(text) else 0.0 for text in texts], device=query_responses.device)
        return None, scores, None  # PPOTrainer reads only the scores from the reward model's call

    generate_seconds = []
    trl_batch_generation = ppo_trainer.batch_generation

    def batch_generation(*args, **kwargs):
        begin = time.perf_counter()
        result = trl_batch_generation(*args, **kwargs)
        generate_seconds.append(time.perf_counter() - begin)
        return result

    ppo_trainer.get_reward = get_reward
    ppo_trainer.batch_generation = batch_generation

    class Clock(transformers.TrainerCallback):
        def __init__(self):
            self.last, self.seconds = 0.0, []

        def on_train_begin(self, args, state, control, **kwargs):
            self.last = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            now = time.perf_counter()
            self.seconds.append(now - self.last)
            self.last = now

    load = dict(dtype=torch.float32)
    policy = transformers.AutoModelForCausalLM.from_pretrained(model_dir, **load)
    reference = transformers.AutoModelForCausalLM.from_pretrained(model_dir, **load)
    value = transformers.AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=1, **load)
    # precept's critic has its own AdamW at critic.lr; TRL steps one optimizer over policy + value
    # (loss = pg_loss + vf_coef * vf_loss), so give it one AdamW with the two learning rates and vf_coef 1.
    optimizer = torch.optim.AdamW([{"params": list(policy.parameters()), "lr": 5e-4},
                                   {"params": list(value.parameters()), "lr": 1e-3}], weight_decay=0.0)
    with tempfile.TemporaryDirectory() as out:
        config = PPOConfig(output_dir=out, total_episodes=steps * len(batch), per_device_train_batch_size=len(batch),
                           local_rollout_forward_batch_size=len(batch), gradient_accumulation_steps=1,
                           num_mini_batches=1, num_ppo_epochs=1, response_length=NEW_TOKENS, temperature=1.0,
                           learning_rate=5e-4, lr_scheduler_type="constant", kl_coef=0.01, kl_estimator="k1",
                           gamma=1.0, lam=0.95, cliprange=0.2, cliprange_value=0.5, vf_coef=1.0,
                           whiten_rewards=False, missing_eos_penalty=None, stop_token=None,
                           num_sample_generations=0, gradient_checkpointing=False, logging_steps=1,
                           save_strategy="no", report_to="none", use_cpu=True, bf16=False, seed=1,
                           dataloader_num_workers=0, disable_tqdm=True, log_level="error")
        clock = Clock()
        trainer = PPOTrainer(args=config, processing_class=tokenizer, model=policy, ref_model=reference,
                             reward_model=rule, value_model=value, train_dataset=data,
                             optimizers=(optimizer, None), callbacks=[clock])
        trainer.train()
    rewards = [entry["objective/scores"] for entry in trainer.state.log_history if "objective/scores" in entry]
    return clock.seconds, generate_seconds, rewards


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()
    use_old_trl()
    import transformers
    import trl

    with tempfile.TemporaryDirectory() as work:
        model_dir = convert_stories260k(args.build, args.shared, work)
        trl_seconds, trl_generate, trl_rewards = time_trl(model_dir, args.steps, args.threads)
        records = time_precept(args.build, model_dir, args.steps, args.threads, recipe="recipes/ppo_rule.toml",
                               extra=("--set", "algorithm.critic_warmup=0"))

    ours = statistics.median(r["time/step"] for r in records[1:])
    theirs = statistics.median(trl_seconds[1:])
    phase = {name: statistics.median(r[f"time/{name}"] for r in records[1:])
             for name in ("generate", "reward", "reference", "critic", "update")}
    print(f"\nOne PPO step with a critic, stories260K (fp32, CPU), 8 prompts x 8 responses x {NEW_TOKENS} tokens, "
          f"GAE (gamma 1, lam 0.95), k1 KL in the reward (0.01), {args.threads} threads; median of steps "
          f"2..{args.steps}; torch {torch.__version__}, transformers {transformers.__version__}, trl {trl.__version__}\n")
    print("| | seconds per step | ratio |")
    print("| --- | ---: | ---: |")
    print(f"| TRL PPOTrainer ({trl.__version__}) | {theirs:.3f} | 1.00x |")
    print(f"| precept | {ours:.3f} | {theirs / ours:.2f}x faster |")
    print("\nprecept's phases (median seconds): " + ", ".join(f"{k} {v:.3f}" for k, v in phase.items())
          + " (critic = values, GAE and the critic's update; update = the policy's)")
    print(f"TRL's generation (median seconds): {statistics.median(trl_generate[1:]):.3f}")
    print("mean reward per step, TRL:     " + " ".join(f"{r:.2f}" for r in trl_rewards))
    print("mean reward per step, precept: " + " ".join(f"{r['reward/mean']:.2f}" for r in records))
    return 0


if __name__ == "__main__":
    sys.exit(main())
