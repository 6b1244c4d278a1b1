// GGUF reading and dequantization: see gguf.h. The container layout is gguf-py's
// gguf_reader.py and ggml's gguf.h; the block layouts are ggml-common.h's structs and the
// formulas ggml-quants.c's dequantize_row_* (docs/gguf.md restates them).
#include "lm/gguf.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Half.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace precept::lm {
namespace fs = std::filesystem;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF files are little-endian and are read here by memcpy");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr int kMaxArrayDepth = 8;        // nested arrays deeper than this are refused
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS

struct TypeRow {
  uint32_t id;
  const char* name;
  GgmlBlock block;
};
constexpr int64_t QK_K = 256;
const TypeRow kTypes[] = {
    {0, "F32", {1, 4}},
    {1, "F16", {1, 2}},
    {2, "Q4_0", {32, 18}},
    {3, "Q4_1", {32, 20}},
    {6, "Q5_0", {32, 22}},
    {7, "Q5_1", {32, 24}},
    {8, "Q8_0", {32, 34}},
    {9, "Q8_1", {32, 40}},
    {10, "Q2_K", {QK_K, 84}},
    {11, "Q3_K", {QK_K, 110}},
    {12, "Q4_K", {QK_K, 144}},
    {13, "Q5_K", {QK_K, 176}},
    {14, "Q6_K", {QK_K, 210}},
    {15, "Q8_K", {QK_K, 292}},
    {16, "IQ2_XXS", {QK_K, 66}},
    {17, "IQ2_XS", {QK_K, 74}},
    {18, "IQ3_XXS", {QK_K, 98}},
    {19, "IQ1_S", {QK_K, 50}},
    {20, "IQ4_NL", {32, 18}},
    {21, "IQ3_S", {QK_K, 110}},
    {22, "IQ2_S", {QK_K, 82}},
    {23, "IQ4_XS", {QK_K, 136}},
    {24, "I8", {1, 1}},
    {25, "I16", {1, 2}},
    {26, "I32", {1, 4}},
    {27, "I64", {1, 8}},
    {28, "F64", {1, 8}},
    {29, "IQ1_M", {QK_K, 56}},
    {30, "BF16", {1, 2}},
    {34, "TQ1_0", {QK_K, 54}},
    {35, "TQ2_0", {QK_K, 66}},
    {39, "MXFP4", {32, 17}},
    {40, "NVFP4", {64, 36}},
    {41, "Q1_0", {128, 18}},
};

const TypeRow* type_row(uint32_t id) {
  for (const TypeRow& row : kTypes) {
    if (row.id == id) return &row;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Blocks -> fp32. Each function fills block.elements values from one block.

inline float half_to_float(const uint8_t* bytes) {
  uint16_t bits;
  std::memcpy(&bits, bytes, 2);
  return c10::detail::fp16_ieee_to_fp32_value(bits);
}

void dequantize_q4_0(const uint8_t* block, float* y) {  // d, qs[16]
  const float d = half_to_float(block);
  const uint8_t* qs = block + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

void dequantize_q4_1(const uint8_t* block, float* y) {  // d, m, qs[16]
  const float d = half_to_float(block), m = half_to_float(block + 2);
  const uint8_t* qs = block + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

void dequantize_q5_0(const uint8_t* block, float* y) {  // d, qh (u32), qs[16]
  const float d = half_to_float(block);
  uint32_t qh;
  std::memcpy(&qh, block + 2, 4);
  const uint8_t* qs = block + 6;
  for (int j = 0; j < 16; ++j) {
    const int low = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int high = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(low - 16);
    y[j + 16] = d * static_cast<float>(high - 16);
  }
}

void dequantize_q5_1(const uint8_t* block, float* y) {  // d, m, qh (u32), qs[16]
  const float d = half_to_float(block), m = half_to_float(block + 2);
  uint32_t qh;
  std::memcpy(&qh, block + 4, 4);
  const uint8_t* qs = block + 8;
  for (int j = 0; j < 16; ++j) {
    const int low = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    const int high = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
    y[j] = d * static_cast<float>(low) + m;
    y[j + 16] = d * static_cast<float>(high) + m;
  }
}

void dequantize_q8_0(const uint8_t* block, float* y) {  // d, int8 qs[32]
  const float d = half_to_float(block);
  const auto* qs = reinterpret_cast<const int8_t*>(block + 2);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block (get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* q, int& scale, int& min) {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
    min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

void dequantize_q4_k(const uint8_t* block, float* y) {  // d, dmin, scales[12], qs[128]
  const float d = half_to_float(block), dmin = half_to_float(block + 2);
  const uint8_t* scales = block + 4;
  const uint8_t* qs = block + 16;
  for (int chunk = 0; chunk < 4; ++chunk) {  // 64 values: 32 low nibbles, then 32 high
    int scale, min;
    scale_min_k4(2 * chunk, scales, scale, min);
    const float d1 = d * static_cast<float>(scale), m1 = dmin * static_cast<float>(min);
    scale_min_k4(2 * chunk + 1, scales, scale, min);
    const float d2 = d * static_cast<float>(scale), m2 = dmin * static_cast<float>(min);
    const uint8_t* q = qs + 32 * chunk;
    float* out = y + 64 * chunk;
    for (int l = 0; l < 32; ++l) out[l] = d1 * static_cast<float>(q[l] & 0x0F) - m1;
    for (int l = 0; l < 32; ++l) out[32 + l] = d2 * static_cast<float>(q[l] >> 4) - m2;
  }
}

void dequantize_q5_k(const uint8_t* block, float* y) {  // d, dmin, scales[12], qh[32], qs[128]
  const float d = half_to_float(block), dmin = half_to_float(block + 2);
  const uint8_t* scales = block + 4;
  const uint8_t* qh = block + 16;
  const uint8_t* qs = block + 48;
  for (int chunk = 0; chunk < 4; ++chunk) {
    int scale, min;
    scale_min_k4(2 * chunk, scales, scale, min);
    const float d1 = d * static_cast<float>(scale), m1 = dmin * static_cast<float>(min);
    scale_min_k4(2 * chunk + 1, scales, scale, min);
    const float d2 = d * static_cast<float>(scale), m2 = dmin * static_cast<float>(min);
    const uint8_t* q = qs + 32 * chunk;
    float* out = y + 64 * chunk;
    for (int l = 0; l < 32; ++l) {
      const int low = (q[l] & 0x0F) + (((qh[l] >> (2 * chunk)) & 1) << 4);
      const int high = (q[l] >> 4) + (((qh[l] >> (2 * chunk + 1)) & 1) << 4);
      out[l] = d1 * static_cast<float>(low) - m1;
      out[32 + l] = d2 * static_cast<float>(high) - m2;
    }
  }
}

void dequantize_q6_k(const uint8_t* block, float* y) {  // ql[128], qh[64], int8 scales[16], d
  const uint8_t* ql = block;
  const uint8_t* qh = block + 128;
  const auto* scales = reinterpret_cast<const int8_t*>(block + 192);
  const float d = half_to_float(block + 208);
  for (int half = 0; half < 2; ++half) {  // 128 values each
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = static_cast<int8_t>((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = static_cast<int8_t>((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = static_cast<int8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(scales[is + 0]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(scales[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(scales[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(scales[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    scales += 8;
  }
}

void dequantize_f16(const uint8_t* block, float* y) { *y = half_to_float(block); }

void dequantize_bf16(const uint8_t* block, float* y) {
  uint16_t bits;
  std::memcpy(&bits, block, 2);
  const uint32_t wide = static_cast<uint32_t>(bits) << 16;
  std::memcpy(y, &wide, 4);
}

using BlockFunction = void (*)(const uint8_t*, float*);

BlockFunction block_function(GgmlType type) {
  switch (type) {
    case GgmlType::F16: return dequantize_f16;
    case GgmlType::BF16: return dequantize_bf16;
    case GgmlType::Q4_0: return dequantize_q4_0;
    case GgmlType::Q4_1: return dequantize_q4_1;
    case GgmlType::Q5_0: return dequantize_q5_0;
    case GgmlType::Q5_1: return dequantize_q5_1;
    case GgmlType::Q8_0: return dequantize_q8_0;
    case GgmlType::Q4_K: return dequantize_q4_k;
    case GgmlType::Q5_K: return dequantize_q5_k;
    case GgmlType::Q6_K: return dequantize_q6_k;
    default: return nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// The header reader: a cursor over the mapping that never reads past the end.

size_t scalar_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::boolean: return 1;
    case GgufValueType::u16:
    case GgufValueType::i16: return 2;
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::f32: return 4;
    case GgufValueType::u64:
    case GgufValueType::i64:
    case GgufValueType::f64: return 8;
    default: return 0;  // string, array
  }
}

class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const fs::path& path) : data_(data), size_(size), path_(path) {}

  uint64_t offset() const { return offset_; }
  uint64_t left() const { return size_ - offset_; }

  [[noreturn]] void fail(const std::string& what) const { throw std::runtime_error(path_.string() + ": " + what); }

  void need(uint64_t bytes, const std::string& what) const {
    if (bytes > left()) {
      fail("truncated: " + what + " needs " + std::to_string(bytes) + " bytes at offset " + std::to_string(offset_) +
           " but the file ends " + std::to_string(left()) + " bytes later (" + std::to_string(size_) + " bytes in all)");
    }
  }
  template <class T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + offset_, sizeof(T));
    offset_ += sizeof(T);
    return value;
  }
  std::string read_bytes(uint64_t length, const std::string& what) {
    need(length, what);
    std::string bytes(reinterpret_cast<const char*>(data_ + offset_), length);
    offset_ += length;
    return bytes;
  }
  std::string read_string(const std::string& what) {
    const uint64_t length = read<uint64_t>(what + " (its length)");
    if (length > left()) {
      fail(what + " claims a length of " + std::to_string(length) + " bytes at offset " + std::to_string(offset_) +
           ", past the end of the file (" + std::to_string(left()) + " bytes left)");
    }
    return read_bytes(length, what);
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t offset_ = 0;
  const fs::path& path_;
};

GgufValueType read_value_type(Cursor& in, const std::string& what) {
  const uint32_t type = in.read<uint32_t>("the value type of " + what);
  if (type > static_cast<uint32_t>(GgufValueType::f64)) {
    in.fail(what + " has value type " + std::to_string(type) + ", which is no GGUF type (0..12)");
  }
  return static_cast<GgufValueType>(type);
}

GgufValue read_value(Cursor& in, GgufValueType type, const std::string& what, int depth) {
  GgufValue value;
  value.type = type;
  switch (type) {
    case GgufValueType::u8: value.bits = in.read<uint8_t>(what); break;
    case GgufValueType::i8: value.bits = static_cast<uint64_t>(static_cast<int64_t>(in.read<int8_t>(what))); break;
    case GgufValueType::u16: value.bits = in.read<uint16_t>(what); break;
    case GgufValueType::i16: value.bits = static_cast<uint64_t>(static_cast<int64_t>(in.read<int16_t>(what))); break;
    case GgufValueType::u32: value.bits = in.read<uint32_t>(what); break;
    case GgufValueType::i32: value.bits = static_cast<uint64_t>(static_cast<int64_t>(in.read<int32_t>(what))); break;
    case GgufValueType::u64: value.bits = in.read<uint64_t>(what); break;
    case GgufValueType::i64: value.bits = static_cast<uint64_t>(in.read<int64_t>(what)); break;
    case GgufValueType::f32: value.number = in.read<float>(what); break;
    case GgufValueType::f64: value.number = in.read<double>(what); break;
    case GgufValueType::boolean: {
      const uint8_t byte = in.read<uint8_t>(what);
      if (byte > 1) in.fail(what + " is a bool stored as " + std::to_string(byte) + " (expected 0 or 1)");
      value.bits = byte;
      break;
    }
    case GgufValueType::string: value.text = in.read_string(what); break;
    case GgufValueType::array: {
      if (depth >= kMaxArrayDepth) in.fail(what + " nests arrays more than " + std::to_string(kMaxArrayDepth) + " deep");
      value.element_type = read_value_type(in, "the elements of " + what);
      value.count = in.read<uint64_t>("the element count of " + what);
      // The fewest bytes one element can take: a count larger than the rest of the file allows
      // is refused before anything is allocated.
      const size_t fixed = scalar_size(value.element_type);
      const uint64_t least = fixed ? fixed : value.element_type == GgufValueType::string ? 8 : 12;
      if (value.count > in.left() / least) {
        in.fail(what + " claims " + std::to_string(value.count) + " elements of type " +
                gguf_value_type_name(value.element_type) + " at offset " + std::to_string(in.offset()) +
                ", more than the " + std::to_string(in.left()) + " bytes left in the file can hold");
      }
      if (fixed) {
        value.raw = in.read_bytes(value.count * fixed, what);
        if (value.element_type == GgufValueType::boolean) {
          for (size_t i = 0; i < value.raw.size(); ++i) {
            if (static_cast<uint8_t>(value.raw[i]) > 1) {
              in.fail(what + "[" + std::to_string(i) + "] is a bool stored as " +
                      std::to_string(static_cast<uint8_t>(value.raw[i])) + " (expected 0 or 1)");
            }
          }
        }
      } else if (value.element_type == GgufValueType::string) {
        value.strings.reserve(value.count);
        for (uint64_t i = 0; i < value.count; ++i) value.strings.push_back(in.read_string(what + "[" + std::to_string(i) + "]"));
      } else {
        value.arrays.reserve(value.count);
        for (uint64_t i = 0; i < value.count; ++i) {
          value.arrays.push_back(read_value(in, GgufValueType::array, what + "[" + std::to_string(i) + "]", depth + 1));
        }
      }
      break;
    }
  }
  return value;
}

std::string quoted(const std::string& text, size_t limit = 60) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < limit; ++i) {
    const char c = text[i];
    if (c == '\n') out += "\\n";
    else if (c == '"') out += "\\\"";
    else out += c;
  }
  return out + (text.size() > limit ? "...\"" : "\"");
}

// The numeric element i of an array's raw bytes, widened.
double raw_number(const GgufValue& array, size_t i) {
  const char* at = array.raw.data() + i * scalar_size(array.element_type);
  auto get = [&](auto sample) {
    decltype(sample) v;
    std::memcpy(&v, at, sizeof v);
    return static_cast<double>(v);
  };
  switch (array.element_type) {
    case GgufValueType::u8: return get(uint8_t{});
    case GgufValueType::i8: return get(int8_t{});
    case GgufValueType::u16: return get(uint16_t{});
    case GgufValueType::i16: return get(int16_t{});
    case GgufValueType::u32: return get(uint32_t{});
    case GgufValueType::i32: return get(int32_t{});
    case GgufValueType::u64: return get(uint64_t{});
    case GgufValueType::i64: return get(int64_t{});
    case GgufValueType::f32: return get(float{});
    case GgufValueType::f64: return get(double{});
    case GgufValueType::boolean: return get(uint8_t{});
    default: return 0.0;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::optional<GgmlBlock> ggml_block(uint32_t type_id) {
  const TypeRow* row = type_row(type_id);
  if (!row) return std::nullopt;
  return row->block;
}

std::string ggml_type_name(uint32_t type_id) {
  const TypeRow* row = type_row(type_id);
  return row ? row->name : "type " + std::to_string(type_id);
}

bool ggml_type_dequantizable(GgmlType type) { return type == GgmlType::F32 || block_function(type) != nullptr; }

void dequantize_blocks(GgmlType type, const uint8_t* blocks, int64_t elements, float* out) {
  const auto id = static_cast<uint32_t>(type);
  const TypeRow* row = type_row(id);
  if (!row || !ggml_type_dequantizable(type)) {
    throw std::invalid_argument("dequantizing " + ggml_type_name(id) +
                                " is not supported (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K are)");
  }
  const GgmlBlock block = row->block;
  if (elements < 0 || elements % block.elements != 0) {
    throw std::invalid_argument("dequantize_blocks: " + std::to_string(elements) + " values are not whole " +
                                row->name + " blocks of " + std::to_string(block.elements));
  }
  // Nothing to write; `out` may then be null (an empty tensor's data), and memcpy of null is
  // undefined even for 0 bytes (found by fuzz/gguf).
  if (elements == 0) return;
  if (type == GgmlType::F32) {
    std::memcpy(out, blocks, static_cast<size_t>(elements) * 4);
    return;
  }
  const BlockFunction function = block_function(type);
  const int64_t count = elements / block.elements;
  const int64_t grain = std::max<int64_t>(1, 65536 / block.elements);
  at::parallel_for(0, count, grain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) function(blocks + i * block.bytes, out + i * block.elements);
  });
}

std::string gguf_value_type_name(GgufValueType type) {
  static const char* names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const auto index = static_cast<uint32_t>(type);
  return index < 13 ? names[index] : "type " + std::to_string(index);
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::u8: case GgufValueType::i8: case GgufValueType::u16: case GgufValueType::i16:
    case GgufValueType::u32: case GgufValueType::i32: case GgufValueType::u64: case GgufValueType::i64: return true;
    default: return false;
  }
}

bool GgufValue::is_signed() const {
  return type == GgufValueType::i8 || type == GgufValueType::i16 || type == GgufValueType::i32 ||
         type == GgufValueType::i64;
}

std::string GgufValue::describe(size_t max_items) const {
  std::ostringstream out;
  switch (type) {
    case GgufValueType::string: return quoted(text);
    case GgufValueType::boolean: return bits ? "true" : "false";
    case GgufValueType::f32:
    case GgufValueType::f64: out << number; return out.str();
    case GgufValueType::array: {
      out << "[";
      const size_t shown = static_cast<size_t>(std::min<uint64_t>(count, max_items));
      for (size_t i = 0; i < shown; ++i) {
        if (i) out << ", ";
        if (element_type == GgufValueType::string) out << quoted(strings[i], 30);
        else if (element_type == GgufValueType::array) out << arrays[i].describe(max_items);
        else if (element_type == GgufValueType::boolean) out << (raw[i] ? "true" : "false");
        else out << raw_number(*this, i);
      }
      if (count > shown) out << (shown ? ", " : "") << "... (" << count << " " << gguf_value_type_name(element_type) << ")";
      out << "]";
      return out.str();
    }
    default:
      if (is_signed()) out << static_cast<int64_t>(bits);
      else out << bits;
      return out.str();
  }
}

std::vector<int64_t> GgufTensorInfo::shape() const { return std::vector<int64_t>(dims.rbegin(), dims.rend()); }

// ---------------------------------------------------------------------------------------------

struct GgufFile::Mapping {
  void* data = nullptr;
  uint64_t size = 0;
  ~Mapping() {
    if (data && data != MAP_FAILED) ::munmap(data, size);
  }
};

namespace {

// One tensor info of the header: its name, dimensions (each and their product checked against
// int64), ggml type, data offset (aligned) and size in bytes.
GgufTensorInfo read_tensor_info(Cursor& in, uint64_t index, uint64_t alignment) {
  GgufTensorInfo tensor;
  tensor.name = in.read_string("the name of tensor " + std::to_string(index));
  const std::string what = "tensor '" + tensor.name + "'";
  const uint32_t dims = in.read<uint32_t>("the number of dimensions of " + what);
  if (dims > kMaxDims) {
    in.fail(what + " has " + std::to_string(dims) + " dimensions (ggml allows at most " + std::to_string(kMaxDims) + ")");
  }
  unsigned __int128 elements = 1;
  for (uint32_t d = 0; d < dims; ++d) {
    const uint64_t size = in.read<uint64_t>("dimension " + std::to_string(d) + " of " + what);
    if (size > static_cast<uint64_t>(INT64_MAX)) {
      in.fail(what + " has dimension " + std::to_string(d) + " of " + std::to_string(size) + ", which overflows int64");
    }
    elements *= size;
    if (elements > static_cast<unsigned __int128>(INT64_MAX)) {
      in.fail(what + " has dimensions whose product overflows int64 (dimension " + std::to_string(d) + " is " +
              std::to_string(size) + ")");
    }
    tensor.dims.push_back(static_cast<int64_t>(size));
  }
  tensor.elements = static_cast<int64_t>(elements);
  tensor.type_id = in.read<uint32_t>("the type of " + what);
  const std::optional<GgmlBlock> block = ggml_block(tensor.type_id);
  if (!block) in.fail(what + " has ggml type id " + std::to_string(tensor.type_id) + ", which is no known ggml type");
  tensor.offset = in.read<uint64_t>("the data offset of " + what);
  const int64_t row = tensor.dims.empty() ? 1 : tensor.dims[0];
  if (row % block->elements != 0) {
    in.fail(what + " has rows of " + std::to_string(row) + " values, not a whole number of " +
            ggml_type_name(tensor.type_id) + " blocks of " + std::to_string(block->elements));
  }
  tensor.bytes = static_cast<uint64_t>(tensor.elements / block->elements) * static_cast<uint64_t>(block->bytes);
  if (tensor.offset % alignment != 0) {
    in.fail(what + " has data offset " + std::to_string(tensor.offset) + ", not a multiple of the alignment " +
            std::to_string(alignment));
  }
  return tensor;
}

}  // namespace

GgufFile::GgufFile(const fs::path& path) : path_(path), mapping_(std::make_shared<Mapping>()) {
  const std::string name = path.string();
  const int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(name + ": cannot open (" + std::strerror(errno) + ")");
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    throw std::runtime_error(name + ": not a regular file");
  }
  mapping_->size = static_cast<uint64_t>(info.st_size);
  if (mapping_->size == 0) {
    ::close(fd);
    throw std::runtime_error(name + ": is empty (0 bytes), not a GGUF file");
  }
  // Copy-on-write, as for safetensors: writes to a tensor viewing the file copy its pages.
  mapping_->data = ::mmap(nullptr, mapping_->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int map_error = errno;
  ::close(fd);
  if (mapping_->data == MAP_FAILED) {
    mapping_->data = nullptr;
    throw std::runtime_error(name + ": cannot memory-map (" + std::strerror(map_error) + ")");
  }

  Cursor in(static_cast<const uint8_t*>(mapping_->data), mapping_->size, path_);
  const std::string magic_bytes = in.read_bytes(std::min<uint64_t>(4, mapping_->size), "the magic");
  std::string shown;
  for (char c : magic_bytes) shown += (c >= 32 && c < 127) ? c : '?';
  if (magic_bytes.size() < 4) {
    in.fail("truncated: " + std::to_string(magic_bytes.size()) + " bytes (\"" + shown + "\"), too short for a GGUF header");
  }
  uint32_t magic = 0;
  std::memcpy(&magic, magic_bytes.data(), 4);
  if (magic != kMagic) {
    throw std::runtime_error(name + ": not a GGUF file (the first bytes are \"" + shown + "\", expected \"GGUF\")");
  }
  version_ = in.read<uint32_t>("the version");
  if (version_ == 1) {
    in.fail("GGUF version 1 (32-bit lengths) is not supported; versions 2 and 3 are (re-convert the model with a "
            "current llama.cpp)");
  }
  if (version_ != 2 && version_ != 3) {
    in.fail("unknown GGUF version " + std::to_string(version_) + " (supported: 2 and 3" +
            ((version_ & 0xFFFF) == 0 ? "; this looks like a big-endian file, which is not supported)" : ")"));
  }
  const uint64_t tensor_count = in.read<uint64_t>("the tensor count");
  const uint64_t kv_count = in.read<uint64_t>("the metadata count");
  // A metadata entry takes at least 13 bytes (empty key, type, a 1-byte value); a tensor info 24.
  if (kv_count > in.left() / 13) {
    in.fail("truncated or corrupt: the header claims " + std::to_string(kv_count) + " metadata entries, more than the " +
            std::to_string(in.left()) + " bytes left in the file can hold");
  }
  if (tensor_count > in.left() / 24) {
    in.fail("truncated or corrupt: the header claims " + std::to_string(tensor_count) + " tensors, more than the " +
            std::to_string(in.left()) + " bytes left in the file can hold");
  }

  metadata_.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = in.read_string("the key of metadata entry " + std::to_string(i));
    const std::string what = "metadata key '" + key + "'";
    if (metadata_index_.count(key)) in.fail(what + " appears twice");
    const GgufValueType type = read_value_type(in, what);
    GgufValue value = read_value(in, type, what, 0);
    metadata_index_[key] = metadata_.size();
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  if (const GgufValue* alignment = find("general.alignment")) {
    if (alignment->type != GgufValueType::u32) {
      in.fail("metadata key 'general.alignment' is " + gguf_value_type_name(alignment->type) + ", expected u32");
    }
    alignment_ = alignment->bits;
    if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) {
      in.fail("metadata key 'general.alignment' is " + std::to_string(alignment_) + ", expected a power of two");
    }
  }

  tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo tensor = read_tensor_info(in, i, alignment_);
    if (tensor_index_.count(tensor.name)) in.fail("tensor '" + tensor.name + "' appears twice");
    tensor_index_[tensor.name] = tensors_.size();
    tensors_.push_back(std::move(tensor));
  }

  const uint64_t header_end = in.offset();
  data_offset_ = header_end + (alignment_ - header_end % alignment_) % alignment_;
  for (const GgufTensorInfo& tensor : tensors_) {
    const unsigned __int128 end = static_cast<unsigned __int128>(data_offset_) + tensor.offset + tensor.bytes;
    if (end > mapping_->size) {
      in.fail("tensor '" + tensor.name + "' (" + ggml_type_name(tensor.type_id) + ", " + std::to_string(tensor.bytes) +
              " bytes at data offset " + std::to_string(tensor.offset) + ") ends past the end of the file (the data " +
              "section starts at byte " + std::to_string(data_offset_) + " of " + std::to_string(mapping_->size) + ")");
    }
  }
}

GgufFile::~GgufFile() = default;

uint64_t GgufFile::file_size() const { return mapping_->size; }

const GgufValue* GgufFile::find(const std::string& key) const {
  auto found = metadata_index_.find(key);
  return found == metadata_index_.end() ? nullptr : &metadata_[found->second].second;
}

void GgufFile::fail_key(const std::string& key, const std::string& what) const {
  throw std::runtime_error(path_.string() + ": metadata key '" + key + "' " + what);
}

const GgufValue& GgufFile::value(const std::string& key) const {
  const GgufValue* found = find(key);
  if (!found) fail_key(key, "is missing");
  return *found;
}

int64_t GgufFile::integer(const std::string& key) const {
  const GgufValue& v = value(key);
  if (!v.is_integer()) fail_key(key, "is " + gguf_value_type_name(v.type) + " (" + v.describe() + "), expected an integer");
  if (!v.is_signed() && v.bits > static_cast<uint64_t>(INT64_MAX)) fail_key(key, "is " + v.describe() + ", too large");
  return static_cast<int64_t>(v.bits);
}

std::optional<int64_t> GgufFile::optional_integer(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return integer(key);
}

double GgufFile::number(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type == GgufValueType::f32 || v.type == GgufValueType::f64) return v.number;
  if (v.is_integer()) return static_cast<double>(integer(key));
  fail_key(key, "is " + gguf_value_type_name(v.type) + " (" + v.describe() + "), expected a number");
}

std::optional<double> GgufFile::optional_number(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return number(key);
}

bool GgufFile::boolean(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::boolean) fail_key(key, "is " + gguf_value_type_name(v.type) + " (" + v.describe() + "), expected a bool");
  return v.bits != 0;
}

std::optional<bool> GgufFile::optional_boolean(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return boolean(key);
}

const std::string& GgufFile::string(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::string) fail_key(key, "is " + gguf_value_type_name(v.type) + " (" + v.describe() + "), expected a string");
  return v.text;
}

std::optional<std::string> GgufFile::optional_string(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return string(key);
}

const std::vector<std::string>& GgufFile::string_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::array || v.element_type != GgufValueType::string) {
    fail_key(key, "is " + gguf_value_type_name(v.type) + (v.type == GgufValueType::array ? " of " + gguf_value_type_name(v.element_type) : "") +
                      ", expected an array of strings");
  }
  return v.strings;
}

std::vector<int64_t> GgufFile::integer_array(const std::string& key) const {
  const GgufValue& v = value(key);
  GgufValue element;
  element.type = v.element_type;
  if (v.type != GgufValueType::array || !element.is_integer()) {
    fail_key(key, "is " + gguf_value_type_name(v.type) + (v.type == GgufValueType::array ? " of " + gguf_value_type_name(v.element_type) : "") +
                      ", expected an array of integers");
  }
  std::vector<int64_t> out(v.count);
  for (size_t i = 0; i < out.size(); ++i) {
    const char* at = v.raw.data() + i * scalar_size(v.element_type);
    switch (v.element_type) {
      case GgufValueType::u64: {
        uint64_t x;
        std::memcpy(&x, at, 8);
        if (x > static_cast<uint64_t>(INT64_MAX)) fail_key(key, "[" + std::to_string(i) + "] is too large");
        out[i] = static_cast<int64_t>(x);
        break;
      }
      case GgufValueType::i64: std::memcpy(&out[i], at, 8); break;
      default: out[i] = static_cast<int64_t>(raw_number(v, i)); break;  // exact for 32 bits and less
    }
  }
  return out;
}

std::vector<float> GgufFile::float_array(const std::string& key) const {
  const GgufValue& v = value(key);
  if (v.type != GgufValueType::array || (v.element_type != GgufValueType::f32 && v.element_type != GgufValueType::f64)) {
    fail_key(key, "is " + gguf_value_type_name(v.type) + (v.type == GgufValueType::array ? " of " + gguf_value_type_name(v.element_type) : "") +
                      ", expected an array of f32");
  }
  std::vector<float> out(v.count);
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(raw_number(v, i));
  return out;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto found = tensor_index_.find(name);
  return found == tensor_index_.end() ? nullptr : &tensors_[found->second];
}

const GgufTensorInfo& GgufFile::tensor_info(const std::string& name) const {
  const GgufTensorInfo* found = find_tensor(name);
  if (!found) throw std::runtime_error(path_.string() + ": has no tensor '" + name + "'");
  return *found;
}

const uint8_t* GgufFile::tensor_data(const GgufTensorInfo& info) const {
  return static_cast<const uint8_t*>(mapping_->data) + data_offset_ + info.offset;
}

at::Tensor GgufFile::dequantize(const GgufTensorInfo& info, c10::ScalarType dtype) const {
  if (dtype != c10::kFloat && dtype != c10::kBFloat16) {
    throw std::invalid_argument(path_.string() + ": tensor '" + info.name + "' can be dequantized to float32 or bfloat16, not " +
                                c10::toString(dtype));
  }
  if (!ggml_type_dequantizable(info.type())) {
    throw std::runtime_error(path_.string() + ": tensor '" + info.name + "' has type " + ggml_type_name(info.type_id) +
                             ", which precept cannot dequantize (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, "
                             "Q8_0, Q4_K, Q5_K, Q6_K)");
  }
  const std::vector<int64_t> shape = info.shape();
  if (info.elements == 0) return at::empty(shape, dtype);  // a zero dimension: no bytes to read
  if (dtype == c10::kBFloat16 && info.type() == GgmlType::BF16) {
    at::Tensor out = at::empty(shape, at::kBFloat16);
    std::memcpy(out.data_ptr(), tensor_data(info), info.bytes);
    return out;
  }
  at::Tensor out = at::empty(shape, at::kFloat);
  dequantize_blocks(info.type(), tensor_data(info), info.elements, out.data_ptr<float>());
  return dtype == c10::kFloat ? out : out.to(dtype);
}

at::Tensor GgufFile::dequantize(const std::string& name, c10::ScalarType dtype) const {
  return dequantize(tensor_info(name), dtype);
}

bool is_gguf_file(const fs::path& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  if (!in.read(magic, 4)) return false;
  return std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace precept::lm
