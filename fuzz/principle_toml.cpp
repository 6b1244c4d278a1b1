// Fuzzes the principle reader (reward/principle.h, parse_principle, what load_principle calls on
// the file's text): TOML syntax, then the name/text/description keys. A std::exception is the
// expected answer to a bad file.
#include "reward/principle.h"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)precept::reward::parse_principle(std::string_view(reinterpret_cast<const char*>(data), size), "principle.toml");
  } catch (const std::exception&) {
  }
  return 0;
}
