#!/usr/bin/env bash
# Configures and builds precept into build/ (Release, Ninja, ccache, 2 jobs by default).
# Extra arguments go to CMake's configure step, e.g. -DPRECEPT_DEVICE=cuda.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${PRECEPT_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "${PRECEPT_JOBS:-2}"
