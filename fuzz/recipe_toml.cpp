// Fuzzes the recipe loaders (trainer/config.h, load_run_config and load_sft_config) through the
// strict TOML reader (core/toml_reader.h): syntax, types, ranges, unknown keys, and the checks
// between sections. A std::exception naming file:line or the key is the expected answer.
#include "fuzz/fuzz_input.h"
#include "trainer/config.h"

#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path path = precept::fuzz::input_path("recipe.toml");
  precept::fuzz::write_input(path, data, size);
  try {
    (void)precept::trainer::load_run_config(path.string());
  } catch (const std::exception&) {
  }
  try {
    (void)precept::trainer::load_sft_config(path.string());
  } catch (const std::exception&) {
  }
  return 0;
}
