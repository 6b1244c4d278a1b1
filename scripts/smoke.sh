#!/usr/bin/env bash
# The smoke test (about a minute after the build): the whole GRPO path on models precept makes
# itself, from a fresh clone, nothing downloaded. The main job is scripts/paper.sh.
#   1. set-up and build;
#   2. two small Qwen3 models made by precept itself (random weights, seeded): a policy and a
#      RewardAnything-style judge, with the real Qwen3 tokenizer from ../shared;
#   3. `precept train recipes/demo.toml`: GRPO with the RewardAnything judge scoring against
#      the nuanced-safety principle: rollouts, judge calls, advantages, updates, checkpoints,
#      metrics (JSONL and TensorBoard);
#   4. `precept train recipes/demo_rule.toml`: the real llama2.c stories260K checkpoint learning
#      from a rule reward, where the reward visibly rises.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh
precept="${PRECEPT_BUILD_DIR:-build}/precept"
shared="${PRECEPT_SHARED_DIR:-$root/../shared}"
models=runs/demo/models
mkdir -p "$models"

echo
echo "== 1. models with random weights (precept init-model), the real Qwen3 tokenizer"
qwen="$shared/assets/qwen-tokenizer"
"$precept" init-model --preset qwen3-demo --seed 0 --tokenizer "$qwen" \
  --tokenizer-config "$qwen/tokenizer_config.qwen3.json" --out "$models/policy"
"$precept" init-model --preset qwen3-tiny --seed 1 --tokenizer "$qwen" \
  --tokenizer-config "$qwen/tokenizer_config.qwen3.json" --out "$models/judge"

echo
echo "== 2. GRPO with the RewardAnything judge: precept train recipes/demo.toml"
echo "   NOTE: random weights give noise. The random judge cannot write a valid judgment, so every"
echo "   call is retried, counted as a failure and replaced by the fallback; the policy learns nothing."
echo "   The demo shows the path. Point policy.model and reward.model at real checkpoints to align."
"$precept" train recipes/demo.toml
echo "   one judge call, as the judge saw and answered it:"
head -n 1 runs/demo/train/samples.jsonl | head -c 600; echo " ..."

echo
echo "== 3. learning from a rule reward: stories260K (llama2.c) learns to put a dog in its stories"
assets="$shared/assets/stories260K"
"$precept" convert --checkpoint "$assets/stories260K.bin" --tokenizer "$assets/tok512.bin" --out "$models/stories260K" >/dev/null
"$precept" train recipes/demo_rule.toml
echo "   before and after, greedy, from 'Once upon a time, there was a little':"
"$precept" generate --model "$models/stories260K" --prompt "Once upon a time, there was a little" -n 40 2>/dev/null
"$precept" generate --model runs/demo/rule/checkpoints/step-00000030/model --prompt "Once upon a time, there was a little" -n 40 2>/dev/null

echo
echo "Done. Written under runs/demo:"
echo "  models/policy, models/judge    random-weight Qwen3 models (Hugging Face format; load in transformers)"
echo "  models/stories260K             the converted llama2.c checkpoint"
echo "  train/ and rule/               each run: config.toml (resolved), metrics.jsonl, events.out.tfevents.*"
echo "                                 (tensorboard --logdir runs/demo), samples.jsonl, checkpoints/step-*/"
echo "                                 (model/ loads in transformers; optimizer and trainer state for --resume)"
echo "Real alignment: recipes/align_qwen3.toml and recipes/nuanced_safety.toml (set policy.model,"
echo "reward.model = RewardAnything-8B, reward.system_prompt_file; see docs/judge.md and docs/training.md)."
