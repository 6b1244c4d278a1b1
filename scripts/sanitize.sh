#!/usr/bin/env bash
# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer (issue 20).
#
#   scripts/sanitize.sh                 build build-sanitize/ and run every CTest test in it
#   scripts/sanitize.sh -R 'Jinja|Bpe'  extra arguments go to ctest
#
# Every target (the library layers, precept, precept_tests) is compiled with
# -fsanitize=address,undefined -fno-sanitize-recover=all (PRECEPT_SANITIZE=ON), so any report
# stops the process and fails its test. LibTorch comes uninstrumented from the wheel. The Python
# checks run the instrumented `precept` binary. Leak detection is on; LibTorch's and Gloo's
# process-lifetime allocations are suppressed by name in tests/support/lsan.supp.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
build="${PRECEPT_SANITIZE_DIR:-build-sanitize}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPRECEPT_SANITIZE=ON >/dev/null
cmake --build "$build" -j "${PRECEPT_JOBS:-2}" --target precept precept_fault precept_tests
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$root/tests/support/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
cd "$build"
ctest --output-on-failure -j "${PRECEPT_JOBS:-2}" "$@" 2>&1 | tee sanitize.log
