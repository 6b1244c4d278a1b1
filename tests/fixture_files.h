// Fixtures made by a Python reference script for a GoogleTest suite: <dir>/cases.json (the cases
// and expected scalars) and <dir>/tensors.safetensors (inputs and expected tensors by name),
// where <dir> is named by an environment variable the tests/check_*.py script sets. Test code only.
#pragma once

#include "lm/safetensors.h"

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>

namespace precept::testing {

struct FixtureFiles {
  nlohmann::json cases;
  std::unique_ptr<lm::SafetensorsFile> tensors;
  at::Tensor get(const std::string& name) const {
    if (!tensors->contains(name)) throw std::runtime_error("fixture tensor '" + name + "' is missing");
    return tensors->tensor(name).clone();
  }
};

// The fixtures of the directory `variable` names, or null when it is unset or empty.
inline std::unique_ptr<FixtureFiles> load_fixture_files(const char* variable) {
  const char* dir = std::getenv(variable);
  if (dir == nullptr || !*dir) return nullptr;
  auto out = std::make_unique<FixtureFiles>();
  std::ifstream in(std::filesystem::path(dir) / "cases.json");
  if (!in) throw std::runtime_error(std::string(variable) + "=" + dir + ": no cases.json there");
  out->cases = nlohmann::json::parse(in);
  out->tensors = std::make_unique<lm::SafetensorsFile>(std::filesystem::path(dir) / "tensors.safetensors");
  return out;
}

}  // namespace precept::testing
