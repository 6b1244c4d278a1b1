// Shared by the libFuzzer harnesses of fuzz/: hands the fuzz input to an entry point that only
// takes a path, through one file in /dev/shm (memory, so an execution costs no disk write).
// Not a harness itself; see docs/fuzzing.md.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace precept::fuzz {

// The path is per process (libFuzzer's -fork/-jobs workers run side by side) and named with
// `extension` because some readers look at the file name (".gguf", ".toml", ".jsonl").
inline std::filesystem::path input_path(const std::string& file_name) {
  const std::filesystem::path base =
      std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm") : std::filesystem::temp_directory_path();
  const std::filesystem::path dir = base / ("precept_fuzz_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / file_name;
}

// Writes the input to `path` (replacing it) and returns the path.
inline const std::filesystem::path& write_input(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  if (!out) {  // a fault of the harness, not of the input: stop rather than report a parser error
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

}  // namespace precept::fuzz
