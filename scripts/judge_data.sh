#!/usr/bin/env bash
# The judge-training data of recipes/judge_sft.toml and recipes/judge_grpo.toml, made from the
# sets in ../shared/datasets by precept itself (docs/data.md says what each conversion assumes):
#   runs/data/judge/<set>.jsonl        listwise cases (precept data convert)
#   runs/data/judge/helpsteer_sft.jsonl the chats a judge that agrees with the gold writes
#                                       (precept data sft-targets, masked with seed 0, as the
#                                       GRPO recipe's run.seed = 0 masks them)
# Builds precept first when build/precept is missing. Nothing is downloaded.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
precept="${PRECEPT_BUILD_DIR:-build}/precept"
shared="${PRECEPT_SHARED_DIR:-../shared}/datasets"
[ -x "$precept" ] || scripts/build.sh
out=runs/data/judge
mkdir -p "$out"
convert() {  # FORMAT INPUT NAME
  [ -s "$out/$3.jsonl" ] || "$precept" data convert --from "$1" "$2" -o "$out/$3.jsonl"
}
convert prometheus-listwise "$shared/prometheus-eval/listwise_vicuna_eval.jsonl" prometheus
convert alpacaeval-listwise "$shared/alpacaeval/listwise_gpt4turbo_judged_12gen.jsonl" alpacaeval
convert reward-bench-bon "$shared/reward-bench-bon/alpacaeval_bon_tulu2dpo13b_11samples_scored.jsonl" reward_bench_bon
convert helpsteer "$shared/helpsteer-sample/nvidia_HelpSteer_sample.jsonl" helpsteer
convert rm-bench "$shared/rm-bench" rm_bench
[ -s "$out/helpsteer_sft.jsonl" ] || "$precept" data sft-targets --data "$out/helpsteer.jsonl" -o "$out/helpsteer_sft.jsonl" --seed 0
ls -l "$out"
