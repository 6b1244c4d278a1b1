// The stories260K checkpoint (../shared/assets), converted from llama2.c into a Hugging Face
// folder once per test process. Test code only.
#pragma once

#include "lm/llama2c.h"
#include "test_util.h"

#include <filesystem>

namespace precept::testing {

inline const std::filesystem::path& stories260k_model() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path assets = std::filesystem::path(PRECEPT_SHARED_DIR) / "assets" / "stories260K";
    const std::filesystem::path out = temp_dir("stories260k_model") / "stories260K";
    lm::convert_llama2c(assets / "stories260K.bin", assets / "tok512.bin", out);
    return out;
  }();
  return dir;
}

}  // namespace precept::testing
