#!/usr/bin/env bash
# The libFuzzer harnesses of fuzz/ under ASan and UBSan (docs/fuzzing.md): builds them with clang
# into their own build directory, makes each seed corpus from the real files in ../shared and the
# repository's recipes and principles, runs each target's regression inputs (fuzz/regressions/)
# once and then fuzzes it for a fixed time, and prints one table: target, executions, coverage,
# corpus and crashes. Exits non-zero when a target crashed or a regression input failed.
#
#   scripts/fuzz.sh [--seconds N] [--build-dir DIR] [--fresh] [TARGET...]   build, seed, run
#   scripts/fuzz.sh --build-only [--build-dir DIR]                          only the build
#   scripts/fuzz.sh --no-build ...                                          use a build already made
#
# N is each target's time (default 60 s; CI uses 30). The working corpus of a target is kept in
# DIR/corpus/TARGET between runs (--fresh empties it first); crash inputs go to
# DIR/artifacts/TARGET/ and the full libFuzzer log to DIR/logs/TARGET.log.
# PRECEPT_JOBS sets the build's parallelism (default 1: a 2-core machine shares it).
# PRECEPT_FUZZ_CXX picks the compiler (default clang++).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

all_targets=(safetensors_header gguf tokenizer_json recipe_toml principle_toml chat_template judge_output
             prompt_jsonl listwise_jsonl)
seconds=60
build_dir="$root/build-fuzz"
build=1
run=1
fresh=0
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --build-dir) build_dir="$(realpath -m "$2")"; shift 2 ;;
    --build-only) run=0; shift ;;
    --no-build) build=0; shift ;;
    --fresh) fresh=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "scripts/fuzz.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
((${#targets[@]})) || targets=("${all_targets[@]}")
for target in "${targets[@]}"; do
  if [[ ! " ${all_targets[*]} " =~ " $target " ]]; then
    echo "scripts/fuzz.sh: unknown target '$target' (known: ${all_targets[*]})" >&2
    exit 2
  fi
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 1)); then
  echo "scripts/fuzz.sh: --seconds wants a positive whole number, not '$seconds'" >&2
  exit 2
fi

# ---- build -----------------------------------------------------------------------------------
if ((build)); then
  cxx="${PRECEPT_FUZZ_CXX:-clang++}"
  if ! command -v "$cxx" >/dev/null 2>&1; then
    echo "scripts/fuzz.sh: '$cxx' not found. The fuzzers need clang with libFuzzer: install the Debian" >&2
    echo "packages clang and libclang-rt-14-dev (scripts/setup.sh does), or set PRECEPT_FUZZ_CXX." >&2
    exit 1
  fi
  # A clear message when clang is there but its libFuzzer and sanitizer runtimes are not.
  probe="$(mktemp -d)"
  printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' >"$probe/probe.cpp"
  if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" 2>"$probe/err"; then
    echo "scripts/fuzz.sh: '$cxx' cannot link a libFuzzer harness with ASan and UBSan:" >&2
    sed 's/^/  /' "$probe/err" >&2
    echo "Install the Debian package libclang-rt-14-dev (the runtimes of clang 14; scripts/setup.sh does)." >&2
    rm -rf "$probe"
    exit 1
  fi
  rm -rf "$probe"
  echo "[fuzz] building the harnesses with $cxx into $build_dir"
  mkdir -p "$build_dir"
  cmake -S "$root/fuzz" -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" >"$build_dir/configure.log" 2>&1 ||
    { cat "$build_dir/configure.log" >&2; exit 1; }
  cmake --build "$build_dir" -j "${PRECEPT_JOBS:-1}" -- $(printf 'fuzz_%s ' "${targets[@]}")
fi
((run)) || exit 0
for target in "${targets[@]}"; do
  if [ ! -x "$build_dir/fuzz_$target" ]; then
    echo "scripts/fuzz.sh: $build_dir/fuzz_$target is not built (run without --no-build)" >&2
    exit 1
  fi
done

# ---- seeds -----------------------------------------------------------------------------------
shared="$(realpath -m "$root/../shared")"
if [ ! -d "$shared/assets" ]; then
  echo "scripts/fuzz.sh: the seed files are not there: $shared/assets is missing" >&2
  exit 1
fi
rm -rf "$build_dir/seeds"
python3 "$root/fuzz/make_seeds.py" --shared "$shared" --repo "$root" --out "$build_dir/seeds" "${targets[@]}"

# ---- run -------------------------------------------------------------------------------------
# Every sanitizer report stops the run; a huge allocation or a hang is a crash too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export OMP_NUM_THREADS=1  # LibTorch's dequantize: one thread, so that a run is one core
fuzz_flags=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=25 -max_len=65536 -print_final_stats=1)

rows=()
failed=0
for target in "${targets[@]}"; do
  binary="$build_dir/fuzz_$target"
  corpus="$build_dir/corpus/$target"
  artifacts="$build_dir/artifacts/$target"
  log="$build_dir/logs/$target.log"
  ((fresh)) && rm -rf "$corpus"
  rm -rf "$artifacts"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  : >"$log"

  # The inputs of crashes found before, each run once: they must pass before fuzzing starts.
  regressions=()
  if [ -d "$root/fuzz/regressions/$target" ]; then
    while IFS= read -r -d '' file; do regressions+=("$file"); done \
      < <(find "$root/fuzz/regressions/$target" -type f ! -name '*.md' -print0 | sort -z)
  fi
  regression_result="none"
  if ((${#regressions[@]})); then
    echo "[fuzz] $target: ${#regressions[@]} regression input(s)"
    if "$binary" "${fuzz_flags[@]}" -artifact_prefix="$artifacts/" "${regressions[@]}" >>"$log" 2>&1; then
      regression_result="${#regressions[@]} pass"
    else
      regression_result="FAIL"
    fi
  fi

  echo "[fuzz] $target: fuzzing for ${seconds} s"
  status=0
  "$binary" "${fuzz_flags[@]}" -max_total_time="$seconds" -artifact_prefix="$artifacts/" \
    "$corpus" "$build_dir/seeds/$target" >>"$log" 2>&1 || status=$?

  # libFuzzer's last status line has the coverage: "#N DONE cov: C ft: F corp: K/S ...".
  last="$(grep -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1 || true)"
  cov="$(sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$last")"
  ft="$(sed -nE 's/.* ft: ([0-9]+) .*/\1/p' <<<"$last")"
  executions="$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log" | tail -n 1)"
  [ -n "$executions" ] || executions="$(sed -nE 's/^#([0-9]+).*/\1/p' <<<"$last")"
  corpus_files="$(find "$corpus" -type f | wc -l)"
  corpus_kb="$(( $(du -sk "$corpus" | cut -f1) ))"
  crashes="$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)"
  if ((status != 0 && crashes == 0)); then crashes=1; fi  # stopped by something that left no input
  if ((crashes > 0)) || [ "$regression_result" = "FAIL" ]; then
    failed=1
    echo "[fuzz] $target: CRASH (exit $status); inputs in $artifacts/, log $log" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:|==[0-9]+== ERROR)' "$log" | head -n 5 >&2 || true
  fi
  rows+=("$(printf '| %-18s | %7s | %10s | %5s | %6s | %18s | %11s | %7s |' "$target" "$seconds" \
            "${executions:-?}" "${cov:-?}" "${ft:-?}" "$corpus_files files ${corpus_kb} KB" "$regression_result" "$crashes")")
done

echo
echo "| target             | seconds | executions |   cov |     ft |             corpus | regressions | crashes |"
echo "| ------------------ | ------- | ---------- | ----- | ------ | ------------------ | ----------- | ------- |"
printf '%s\n' "${rows[@]}"
echo
if ((failed)); then
  echo "[fuzz] FAILED: see the crash inputs under $build_dir/artifacts/ (fuzz/regressions/README.md says what to do)" >&2
  exit 1
fi
echo "[fuzz] no crashes"
