# CTest tests for the libFuzzer harnesses (docs/fuzzing.md), included at the end of the main
# CMakeLists.txt. `fuzz.build` builds them with clang through scripts/fuzz.sh, in a build
# directory of its own under this one; each `fuzz.TARGET` then runs the target's regression
# inputs (fuzz/regressions/TARGET/) once and fuzzes it for PRECEPT_FUZZ_SECONDS, and fails on
# any crash. Without clang and its libFuzzer runtime, fuzz.build fails with a message saying
# what to install, and the fuzz.TARGET tests that need it fail as not run: never skipped.
set(PRECEPT_FUZZ_SECONDS 30 CACHE STRING "seconds of fuzzing per target in the fuzz.* tests")
set(_fuzz_build_dir "${CMAKE_BINARY_DIR}/fuzz-build")
set(_fuzz_targets safetensors_header gguf tokenizer_json recipe_toml principle_toml chat_template
                  judge_output prompt_jsonl listwise_jsonl)

add_test(NAME fuzz.build
         COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/fuzz.sh --build-only --build-dir ${_fuzz_build_dir})
# From nothing at -j1 the build is a few minutes of clang with sanitizers (ccache makes it seconds).
set_tests_properties(fuzz.build PROPERTIES FIXTURES_SETUP fuzz_build TIMEOUT 3600)

foreach(_target ${_fuzz_targets})
  add_test(NAME fuzz.${_target}
           COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/fuzz.sh --no-build --seconds ${PRECEPT_FUZZ_SECONDS}
                   --build-dir ${_fuzz_build_dir} ${_target})
  # The budget is the fuzzing time plus seeding, regressions and libFuzzer's start (LibTorch).
  math(EXPR _timeout "${PRECEPT_FUZZ_SECONDS} + 300")
  set_tests_properties(fuzz.${_target} PROPERTIES FIXTURES_REQUIRED fuzz_build TIMEOUT ${_timeout}
                       LABELS fuzz)
endforeach()
