#!/usr/bin/env bash
# The main job on the embedded CPU default, from a fresh clone: set-up, build, then the best
# end-to-end path precept has today. It converts the real llama2.c stories260K checkpoint
# (read from ../shared) into a Hugging Face model directory, generates from it greedily and
# with sampling, and checks the greedy text against llama2.c's own output.
# (The GRPO trainer will replace this with `precept train recipes/demo.toml`.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh
precept="${PRECEPT_BUILD_DIR:-build}/precept"
assets="${PRECEPT_SHARED_DIR:-$root/../shared}/assets/stories260K"
out="${PRECEPT_DEMO_DIR:-$root/runs/demo}"
mkdir -p "$out"

echo
echo "== 1. convert llama2.c stories260K -> Hugging Face Llama directory"
"$precept" convert --checkpoint "$assets/stories260K.bin" --tokenizer "$assets/tok512.bin" --out "$out/stories260K-hf"
"$precept" inspect "$out/stories260K-hf"

echo
echo "== 2. greedy generation, 256 tokens from BOS"
"$precept" generate --model "$out/stories260K-hf" -n 256 --output "$out/greedy.jsonl" | tee "$out/greedy.txt"
if cmp -s "$out/greedy.txt" "$assets/expected_greedy_t0_n256.txt"; then
  echo "-> identical to llama2.c's output (run -t 0 -n 256)"
else
  echo "-> DIFFERS from llama2.c's expected output: $assets/expected_greedy_t0_n256.txt" >&2
  exit 1
fi

echo
echo "== 3. sampled generation from a prompt (temperature 0.8, top-p 0.9, seed 42)"
"$precept" generate --model "$out/stories260K-hf" --prompt "Once upon a time, a little dog" -n 80 -t 0.8 -p 0.9 -s 42

echo
echo "Done. Written under $out:"
echo "  stories260K-hf/   Hugging Face model (config.json, model.safetensors, tokenizer.model); loads in transformers"
echo "  greedy.txt        the greedy text;  greedy.jsonl  its ids and log-probs"
