// GGUF files (llama.cpp's container, versions 2 and 3) read from a memory mapping: the header,
// the metadata (every value type, nested arrays included), the tensor infos, and the tensors
// dequantized to fp32 or bf16 from F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and
// Q6_K blocks. Not a model: lm/gguf_model.h maps the tensors and metadata onto Hugging Face names
// and a ModelConfig. Used by lm/gguf_model.cpp and `precept inspect`.
//
// Every field is bounds-checked against the file before it is used: a length, count, dimension or
// offset that points past the end (or whose product overflows) is a std::runtime_error naming the
// file and the key or tensor, never a crash and never an allocation larger than the file.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace precept::lm {

// ggml's tensor types (enum ggml_type of ggml.h), as GGUF stores them. Ids missing here were
// removed from ggml (4, 5, 31-33, 36-38); a file naming one is rejected when it is opened.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};

// The block of a type: `elements` values stored in `bytes` bytes (F32: 1 in 4; Q4_K: 256 in 144).
struct GgmlBlock {
  int64_t elements = 0;
  int64_t bytes = 0;
};

// nullopt for an id that is no ggml type.
std::optional<GgmlBlock> ggml_block(uint32_t type_id);
std::string ggml_type_name(uint32_t type_id);  // "Q4_K", or "type 77" for an unknown id
// The types dequantize_blocks implements.
bool ggml_type_dequantizable(GgmlType type);

// Dequantizes `elements` values (a multiple of the block size) of `type` from `blocks` into
// `out`, as ggml's dequantize_row_* and gguf-py's gguf.quants.dequantize do, bit for bit (the
// arithmetic is in fp32 in their order; -std=c++17 keeps the compiler from fusing a*b+c).
// Throws std::invalid_argument naming the type when it is not implemented.
void dequantize_blocks(GgmlType type, const uint8_t* blocks, int64_t elements, float* out);

// GGUF metadata value types (gguf_type of gguf.h).
enum class GgufValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
  string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
std::string gguf_value_type_name(GgufValueType type);  // "u32", "string", "array", ...

// One metadata value. Scalars keep their exact value; arrays of numbers keep the stored
// little-endian bytes (so a huge array costs its size, not 100 bytes an element).
struct GgufValue {
  GgufValueType type = GgufValueType::u8;
  uint64_t bits = 0;    // integer types and bool: the value (signed ones sign-extended to 64 bits)
  double number = 0.0;  // f32 and f64
  std::string text;     // string

  // array only
  GgufValueType element_type = GgufValueType::u8;
  uint64_t count = 0;
  std::string raw;                   // numeric or bool elements, packed as in the file
  std::vector<std::string> strings;  // string elements
  std::vector<GgufValue> arrays;     // array elements (nested arrays)

  bool is_integer() const;  // u8..i64 (not bool)
  bool is_signed() const;
  // A short rendering for people: numbers, "quoted strings", [first items, ... (N items)].
  std::string describe(size_t max_items = 8) const;
};

// A tensor as the file describes it. dims are in ggml's order: dims[0] is the contiguous one,
// so the PyTorch shape is dims reversed (a Linear weight [out, in] is stored as dims {in, out}).
struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;
  uint32_t type_id = 0;
  uint64_t offset = 0;  // from the start of the data section
  int64_t elements = 0;
  uint64_t bytes = 0;

  GgmlType type() const { return static_cast<GgmlType>(type_id); }
  std::vector<int64_t> shape() const;  // PyTorch order
};

class GgufFile {
 public:
  // Maps the file and reads and checks everything but the tensor data. Throws
  // std::runtime_error naming the file (and the key or tensor) for anything malformed.
  explicit GgufFile(const std::filesystem::path& path);
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const;

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  bool contains(const std::string& key) const { return find(key) != nullptr; }
  // Typed access; each throws naming the file and key when the key is missing (for the
  // non-optional forms) or has another type.
  const GgufValue& value(const std::string& key) const;
  int64_t integer(const std::string& key) const;  // any integer type whose value fits int64
  std::optional<int64_t> optional_integer(const std::string& key) const;
  double number(const std::string& key) const;  // f32, f64 or an integer type
  std::optional<double> optional_number(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::optional<bool> optional_boolean(const std::string& key) const;
  const std::string& string(const std::string& key) const;
  std::optional<std::string> optional_string(const std::string& key) const;
  const std::vector<std::string>& string_array(const std::string& key) const;
  std::vector<int64_t> integer_array(const std::string& key) const;
  std::vector<float> float_array(const std::string& key) const;  // f32 (or f64) elements

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  const GgufTensorInfo& tensor_info(const std::string& name) const;  // throws when absent
  // The stored bytes of a tensor (tensor_info.bytes of them), inside the mapping.
  const uint8_t* tensor_data(const GgufTensorInfo& info) const;
  // The tensor dequantized into a new contiguous CPU tensor of shape info.shape(), dtype
  // kFloat or kBFloat16 (fp32 rounded to nearest even). Throws naming the tensor and its type
  // when the type is not one dequantize_blocks implements.
  at::Tensor dequantize(const GgufTensorInfo& info, c10::ScalarType dtype = c10::kFloat) const;
  at::Tensor dequantize(const std::string& name, c10::ScalarType dtype = c10::kFloat) const;

 private:
  struct Mapping;
  [[noreturn]] void fail_key(const std::string& key, const std::string& what) const;
  std::filesystem::path path_;
  std::shared_ptr<Mapping> mapping_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t> metadata_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// True when the file exists and starts with the GGUF magic ("GGUF"). Never throws.
bool is_gguf_file(const std::filesystem::path& path);

}  // namespace precept::lm
