// Fuzzes the safetensors reader (lm/safetensors.h, SafetensorsFile): the 8-byte header length,
// the JSON header (dtypes, shapes, data_offsets, __metadata__) and its bounds checks against the
// file, then every tensor view it hands out, read byte by byte. A std::exception is the expected
// answer to a bad file; anything else (a signal, a sanitizer report) is a crash.
#include "fuzz/fuzz_input.h"
#include "lm/safetensors.h"

#include <ATen/ATen.h>

#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path path = precept::fuzz::input_path("model.safetensors");
  precept::fuzz::write_input(path, data, size);
  try {
    precept::lm::SafetensorsFile file(path);
    for (const auto& [key, value] : file.metadata()) (void)key.size(), (void)value.size();
    for (const precept::lm::TensorEntry& entry : file.entries()) {
      const at::Tensor view = file.tensor(entry.name);
      // Every byte the view claims is touched: a view past the mapping would fault here.
      const auto* bytes = static_cast<const volatile uint8_t*>(view.data_ptr());
      uint8_t sum = 0;
      for (size_t i = 0; i < view.nbytes(); ++i) sum += bytes[i];
      (void)sum;
    }
  } catch (const std::exception&) {
  }
  return 0;
}
