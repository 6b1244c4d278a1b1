// Fuzzes the GGUF reader (lm/gguf.h, GgufFile): magic, version, counts, every metadata value
// type with nested arrays, the tensor infos and alignment, all bounds-checked against the file;
// then each value's rendering, the typed accessors, and the dequantization of the small tensors
// (the quantized block layouts). A std::exception is the expected answer to a bad file.
#include "fuzz/fuzz_input.h"
#include "lm/gguf.h"

#include <ATen/ATen.h>

#include <exception>

namespace {

void read_typed(const precept::lm::GgufFile& file, const std::string& key, const precept::lm::GgufValue& value) {
  // Each accessor either returns or throws for the wrong type: both are fine.
  try { (void)file.optional_integer(key); } catch (const std::exception&) {}
  try { (void)file.optional_number(key); } catch (const std::exception&) {}
  try { (void)file.optional_string(key); } catch (const std::exception&) {}
  if (value.type == precept::lm::GgufValueType::array) {
    try { (void)file.integer_array(key); } catch (const std::exception&) {}
    try { (void)file.float_array(key); } catch (const std::exception&) {}
    try { (void)file.string_array(key); } catch (const std::exception&) {}
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path path = precept::fuzz::input_path("model.gguf");
  precept::fuzz::write_input(path, data, size);
  try {
    precept::lm::GgufFile file(path);
    for (const auto& [key, value] : file.metadata()) {
      (void)value.describe();
      read_typed(file, key, value);
    }
    for (const precept::lm::GgufTensorInfo& info : file.tensors()) {
      (void)info.shape();
      (void)precept::lm::ggml_type_name(info.type_id);
      // Small tensors only: the time of one execution stays in milliseconds.
      if (info.elements <= (1 << 14) && precept::lm::ggml_type_dequantizable(info.type())) {
        try { (void)file.dequantize(info, c10::kBFloat16); } catch (const std::exception&) {}
      }
    }
  } catch (const std::exception&) {
  }
  return 0;
}
