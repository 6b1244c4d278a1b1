#!/usr/bin/env bash
# The whole test suite from a fresh clone: set-up, build, then every CTest test (GoogleTest
# cases, the transformers fixture generator and the Python reference checks).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh
scripts/build.sh
cd "${PRECEPT_BUILD_DIR:-build}"
ctest --output-on-failure -j "${PRECEPT_JOBS:-2}" "$@"
