// GGUF -> Hugging Face model: see gguf_model.h. The metadata keys and tensor names are
// llama.cpp's (gguf-py constants.py); the mapping onto transformers' config and weight names
// follows transformers' own GGUF loader (integrations/ggml.py, modeling_gguf_pytorch_utils.py),
// and the pre-tokenizer rules llama.cpp's llama-vocab.cpp. docs/gguf.md has the tables.
#include "lm/gguf_model.h"

#include "core/files.h"
#include "core/utf8.h"
#include "text/bpe_files.h"
#include "text/bpe_tokenizer.h"
#include "text/chat_template.h"
#include "text/sentencepiece_tokenizer.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace precept::lm {
namespace fs = std::filesystem;
using json = nlohmann::json;
using text::SentencePieceEntry;
using text::SentencePieceType;
using text::UnsupportedTokenizerError;

namespace {

const char* const kArchitectures[] = {"llama", "qwen2", "qwen3"};

[[noreturn]] void fail(const GgufFile& file, const std::string& what) {
  throw std::runtime_error(file.path().string() + ": " + what);
}

std::string architecture_of(const GgufFile& file) {
  const std::string& architecture = file.string("general.architecture");
  for (const char* known : kArchitectures) {
    if (architecture == known) return architecture;
  }
  fail(file, "metadata key 'general.architecture' is '" + architecture +
                 "', an architecture precept does not implement (supported: llama, qwen2, qwen3)");
}

// ---------------------------------------------------------------------------------------------
// Config

// Llama 3.1-style RoPE scaling is stored by llama.cpp as the tensor rope_freqs.weight (one
// divisor per frequency) rather than as parameters. The parameters of every released Llama 3.x
// (low_freq_factor 1, high_freq_factor 4, original context 8192; factor = the largest divisor)
// are checked against it, as convert_hf_to_gguf.py computes it.
json llama3_rope_from_factors(const GgufFile& file, double theta, int64_t head_dim) {
  const GgufTensorInfo& info = file.tensor_info("rope_freqs.weight");
  if (info.elements != head_dim / 2) {
    fail(file, "tensor 'rope_freqs.weight' has " + std::to_string(info.elements) + " values, expected head_dim / 2 = " +
                   std::to_string(head_dim / 2));
  }
  at::Tensor factors = file.dequantize(info, at::kFloat).to(at::kDouble);
  const double factor = factors.max().item<double>();
  const double low = 1.0, high = 4.0, original = 8192.0;
  double worst = 0.0;
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double frequency = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(head_dim));
    const double wavelength = 2 * M_PI / frequency;
    double expected = 1.0;
    if (wavelength > original / low) {
      expected = factor;
    } else if (wavelength >= original / high) {
      const double smooth = (original / wavelength - low) / (high - low);
      expected = 1.0 / ((1 - smooth) / factor + smooth);
    }
    worst = std::max(worst, std::abs(factors[i].item<double>() - expected) / expected);
  }
  if (worst > 1e-5) {
    fail(file, "tensor 'rope_freqs.weight' holds RoPE frequency factors that are not Llama 3's scaling (factor " +
                   std::to_string(factor) + ", low_freq_factor 1, high_freq_factor 4, original context 8192; relative "
                   "difference " + std::to_string(worst) + "); precept cannot represent them");
  }
  return json{{"rope_type", "llama3"},
              {"rope_theta", theta},
              {"factor", factor},
              {"low_freq_factor", low},
              {"high_freq_factor", high},
              {"original_max_position_embeddings", static_cast<int64_t>(original)}};
}

json rope_parameters(const GgufFile& file, const std::string& arch, double theta, int64_t head_dim) {
  const std::string type_key = arch + ".rope.scaling.type";
  const std::string type = file.optional_string(type_key).value_or("none");
  json rope;
  if (type == "none") {
    rope = json{{"rope_type", "default"}, {"rope_theta", theta}};
  } else if (type == "linear") {
    rope = json{{"rope_type", "linear"}, {"rope_theta", theta}, {"factor", file.number(arch + ".rope.scaling.factor")}};
  } else {
    fail(file, "metadata key '" + type_key + "' is '" + type + "'; precept implements RoPE scaling none and linear "
                   "(and Llama 3's, from rope_freqs.weight)");
  }
  if (file.find_tensor("rope_freqs.weight")) {
    if (type != "none") fail(file, "has both '" + type_key + "' " + type + " and the tensor rope_freqs.weight");
    rope = llama3_rope_from_factors(file, theta, head_dim);
  }
  return rope;
}

bool has_tensor_suffix(const GgufFile& file, const std::string& suffix) {
  for (const GgufTensorInfo& tensor : file.tensors()) {
    if (tensor.name.size() > suffix.size() && tensor.name.compare(tensor.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Tensors

struct TensorTarget {
  std::string hf_name;
  int64_t rope_heads = 0;  // > 0: permute the rows back from llama.cpp's RoPE pairs with this many heads
};

// The Hugging Face name of a GGUF tensor; nullopt for one this architecture does not have.
std::optional<TensorTarget> hf_target(const std::string& name, const ModelConfig& config, bool llama) {
  static const std::map<std::string, std::string> kTop = {{"token_embd.weight", "model.embed_tokens.weight"},
                                                          {"output_norm.weight", "model.norm.weight"},
                                                          {"output.weight", "lm_head.weight"}};
  if (auto top = kTop.find(name); top != kTop.end()) return TensorTarget{top->second, 0};
  // blk.<layer>.<part>.<weight|bias>, parsed by hand (a regex would recurse on a long bogus name).
  if (name.compare(0, 4, "blk.") != 0) return std::nullopt;
  size_t at = 4;
  int64_t layer = 0;
  const size_t digits_start = at;
  while (at < name.size() && at - digits_start < 9 && name[at] >= '0' && name[at] <= '9') layer = layer * 10 + (name[at++] - '0');
  if (at == digits_start || at >= name.size() || name[at] != '.') return std::nullopt;
  if (at - digits_start > 1 && name[digits_start] == '0') return std::nullopt;  // "blk.01" is not layer 1
  const size_t part_start = at + 1;
  const size_t part_end = name.find('.', part_start);
  if (part_end == std::string::npos) return std::nullopt;
  const std::string part_name = name.substr(part_start, part_end - part_start);
  const std::string suffix = name.substr(part_end + 1);
  if (suffix != "weight" && suffix != "bias") return std::nullopt;
  if (layer >= config.num_layers) return std::nullopt;
  static const std::map<std::string, std::string> kLayer = {
      {"attn_norm", "input_layernorm"},     {"ffn_norm", "post_attention_layernorm"},
      {"attn_q", "self_attn.q_proj"},       {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},       {"attn_output", "self_attn.o_proj"},
      {"attn_q_norm", "self_attn.q_norm"},  {"attn_k_norm", "self_attn.k_norm"},
      {"ffn_gate", "mlp.gate_proj"},        {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"}};
  auto part = kLayer.find(part_name);
  if (part == kLayer.end()) return std::nullopt;
  TensorTarget target{"model.layers." + std::to_string(layer) + "." + part->second + "." + suffix, 0};
  if (llama && part->first == "attn_q") target.rope_heads = config.num_heads;
  if (llama && part->first == "attn_k") target.rope_heads = config.num_kv_heads;
  return target;
}

// llama.cpp's convert_hf_to_gguf.py permutes the rows of each llama Q/K head from HF's
// half-split RoPE layout to adjacent pairs; this is the inverse: row h*D + k*D/2 + i of the
// result is row h*D + 2i + k of the input. weight [heads * D, ...] (a weight or a bias).
at::Tensor rope_rows_to_half_split(const at::Tensor& weight, int64_t heads, const std::string& where) {
  const int64_t rows = weight.size(0);
  if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
    throw std::runtime_error(where + ": " + std::to_string(rows) + " rows are not " + std::to_string(heads) +
                             " heads of an even size");
  }
  std::vector<int64_t> split = {heads, rows / heads / 2, 2};
  for (int64_t d = 1; d < weight.dim(); ++d) split.push_back(weight.size(d));
  return weight.reshape(split).transpose(1, 2).reshape(weight.sizes()).contiguous();
}

// Calls emit(hf_name, tensor) for every tensor of the file, in file order, dequantized to dtype.
template <class Emit>
void for_each_hf_tensor(const GgufFile& file, const ModelConfig& config, c10::ScalarType dtype, Emit&& emit) {
  const bool llama = file.string("general.architecture") == "llama";
  const c10::ScalarType read_dtype = dtype == c10::kBFloat16 ? c10::kBFloat16 : c10::kFloat;
  for (const GgufTensorInfo& info : file.tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // read into the config (Llama 3 RoPE scaling)
    std::optional<TensorTarget> target = hf_target(info.name, config, llama);
    if (!target) {
      fail(file, "tensor '" + info.name + "' is not part of a " + config.architecture +
                     " (precept maps token_embd, output_norm, output and blk.N.{attn_norm, attn_q, attn_k, attn_v, "
                     "attn_output, attn_q_norm, attn_k_norm, ffn_norm, ffn_gate, ffn_up, ffn_down} for N < " +
                     std::to_string(config.num_layers) + ")");
    }
    at::Tensor tensor;
    if (target->rope_heads > 0) {
      // Permute in fp32 so that the bf16 rounding happens once, after.
      tensor = rope_rows_to_half_split(file.dequantize(info, c10::kFloat), target->rope_heads,
                                       file.path().string() + ": tensor '" + info.name + "'");
      if (dtype != c10::kFloat) tensor = tensor.to(dtype);
    } else {
      tensor = file.dequantize(info, read_dtype);
      if (tensor.scalar_type() != dtype) tensor = tensor.to(dtype);
    }
    emit(target->hf_name, info, std::move(tensor));
  }
}

std::string join(const std::vector<std::string>& names, size_t limit = 12) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

// The parameters a model of this config has, with their shapes: a Transformer on the meta
// device (no memory is allocated).
std::map<std::string, std::vector<int64_t>> expected_parameters(const ModelConfig& config) {
  Transformer model(config, at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& item : model->named_parameters()) shapes[item.key()] = item.value().sizes().vec();
  return shapes;
}

// Every tensor the file maps to must be a parameter of the model with its shape, and every
// parameter must come from the file. Checked on the tensor infos, before any data is read.
void check_tensor_set(const GgufFile& file, const ModelConfig& config) {
  const auto expected = expected_parameters(config);
  const bool llama = file.string("general.architecture") == "llama";
  std::set<std::string> seen;
  std::vector<std::string> unexpected;
  for (const GgufTensorInfo& info : file.tensors()) {
    if (info.name == "rope_freqs.weight") continue;
    std::optional<TensorTarget> target = hf_target(info.name, config, llama);
    if (!target) continue;  // for_each_hf_tensor names it
    auto found = expected.find(target->hf_name);
    if (found == expected.end()) {
      unexpected.push_back(info.name + " (" + target->hf_name + ")");
      continue;
    }
    if (!seen.insert(target->hf_name).second) fail(file, "tensor '" + info.name + "' maps to " + target->hf_name + " a second time");
    if (info.shape() != found->second) {
      fail(file, "tensor '" + info.name + "' has shape " + c10::str(at::IntArrayRef(info.shape())) + " but " +
                     target->hf_name + " of this config is " + c10::str(at::IntArrayRef(found->second)));
    }
  }
  std::vector<std::string> missing;
  for (const auto& [name, shape] : expected) {
    if (!seen.count(name)) missing.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string message = "tensors do not match a " + config.architecture + " of this metadata";
    if (!missing.empty()) message += "; missing: " + join(missing);
    if (!unexpected.empty()) message += "; not used by the model: " + join(unexpected);
    fail(file, message);
  }
}

// ---------------------------------------------------------------------------------------------
// Tokenizer

// Token types of llama.cpp (llama_token_type), the same numbers as SentencePiece's piece types.
enum TokenType : int64_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// llama.cpp's GPT-2 regex (without the trailing \s+ alternative of Hugging Face's ByteLevel, which
// makes no difference when the unmatched text between matches is kept, as Split does).
const char* const kLlamaCppGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
// Llama 3's tokenizer.json pattern.
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

json split_step(const std::string& pattern) {
  return json{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}};
}
json byte_level_step(bool use_regex) {
  return json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

struct PreTokenizerRule {
  json normalizer;     // null for none
  json pre_tokenizer;  // a Sequence
  bool ignore_merges = false;
  bool add_bos = false;  // llama.cpp's default for tokenizer.ggml.add_bos_token
};

PreTokenizerRule pre_tokenizer_rule(const GgufFile& file, const std::string& pre) {
  PreTokenizerRule rule;
  if (pre == "smollm") {  // llama.cpp: \p{N} isolated, then the GPT-2 regex
    rule.pre_tokenizer = {{"type", "Sequence"},
                          {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level_step(true)}}};
  } else if (pre == "gpt-2" || pre == "gpt2") {
    rule.pre_tokenizer = {{"type", "Sequence"}, {"pretokenizers", {byte_level_step(true)}}};
  } else if (pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3") {
    rule.pre_tokenizer = {{"type", "Sequence"}, {"pretokenizers", {split_step(kLlama3Pattern), byte_level_step(false)}}};
    rule.ignore_merges = true;
    rule.add_bos = true;
  } else if (pre == "qwen2" || pre == "deepseek-r1-qwen") {
    rule.normalizer = {{"type", "NFC"}};
    rule.pre_tokenizer = {{"type", "Sequence"},
                          {"pretokenizers", {split_step(text::kQwen2PreTokenizerPattern), byte_level_step(false)}}};
  } else if (pre == "default") {  // llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT chain
    rule.pre_tokenizer = {{"type", "Sequence"},
                          {"pretokenizers",
                           {split_step(R"([\p{P}\$\+<=>\^~\|]+)"), split_step(kLlamaCppGpt2Pattern), split_step(R"(\p{N}+)"),
                            split_step("[0-9][0-9][0-9]"), byte_level_step(false)}}};
  } else {
    throw UnsupportedTokenizerError(file.path().string() + ": metadata key 'tokenizer.ggml.pre' is '" + pre +
                                    "', a pre-tokenizer precept does not implement (supported: smollm, gpt-2, "
                                    "llama-bpe, qwen2, default)");
  }
  return rule;
}

struct Vocabulary {
  std::vector<std::string> tokens;
  std::vector<int64_t> types;
  std::optional<int64_t> bos, eos, unk, pad;
  std::vector<int64_t> extra_eos;  // end-of-turn / end-of-message ids llama.cpp also stops at
};

// Text that goes into JSON files must be UTF-8; a byte-level or SentencePiece vocabulary is.
void check_utf8(const GgufFile& file, const std::string& key, const std::string& text, std::optional<size_t> index = {}) {
  if (core::utf8::is_valid_utf8(text)) return;
  fail(file, "metadata key '" + key + "'" + (index ? "[" + std::to_string(*index) + "]" : "") + " is not valid UTF-8");
}

Vocabulary read_vocabulary(const GgufFile& file) {
  Vocabulary vocab;
  vocab.tokens = file.string_array("tokenizer.ggml.tokens");
  if (vocab.tokens.empty()) fail(file, "metadata key 'tokenizer.ggml.tokens' is empty");
  for (size_t id = 0; id < vocab.tokens.size(); ++id) check_utf8(file, "tokenizer.ggml.tokens", vocab.tokens[id], id);
  if (file.contains("tokenizer.ggml.token_type")) {
    vocab.types = file.integer_array("tokenizer.ggml.token_type");
    if (vocab.types.size() != vocab.tokens.size()) {
      fail(file, "metadata key 'tokenizer.ggml.token_type' has " + std::to_string(vocab.types.size()) +
                     " entries for " + std::to_string(vocab.tokens.size()) + " tokens");
    }
  } else {
    vocab.types.assign(vocab.tokens.size(), kNormal);
  }
  for (size_t id = 0; id < vocab.types.size(); ++id) {
    if (vocab.types[id] < kNormal || vocab.types[id] > kByte) {
      fail(file, "metadata key 'tokenizer.ggml.token_type'[" + std::to_string(id) + "] is " +
                     std::to_string(vocab.types[id]) + ", not a token type (1..6)");
    }
  }
  auto id_key = [&](const char* name) -> std::optional<int64_t> {
    const std::string key = std::string("tokenizer.ggml.") + name;
    std::optional<int64_t> id = file.optional_integer(key);
    if (id && (*id < 0 || *id >= static_cast<int64_t>(vocab.tokens.size()))) {
      fail(file, "metadata key '" + key + "' is " + std::to_string(*id) + ", outside the " +
                     std::to_string(vocab.tokens.size()) + " tokens");
    }
    return id;
  };
  vocab.bos = id_key("bos_token_id");
  vocab.eos = id_key("eos_token_id");
  vocab.unk = id_key("unknown_token_id");
  vocab.pad = id_key("padding_token_id");
  for (const char* name : {"eot_token_id", "eom_token_id"}) {
    if (auto id = id_key(name); id && id != vocab.eos) vocab.extra_eos.push_back(*id);
  }
  return vocab;
}

json byte_level_tokenizer_json(const GgufFile& file, const Vocabulary& vocab, const PreTokenizerRule& rule,
                               bool add_bos, bool add_eos) {
  json model_vocab = json::object();
  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    auto [place, inserted] = model_vocab.emplace(vocab.tokens[id], static_cast<int64_t>(id));
    if (!inserted) {
      fail(file, "metadata key 'tokenizer.ggml.tokens': token " + std::to_string(id) + " " + json(vocab.tokens[id]).dump() +
                     " appears twice (also id " + std::to_string(place->get<int64_t>()) + ")");
    }
  }
  const std::vector<std::string>& merge_lines = file.string_array("tokenizer.ggml.merges");
  json merges = json::array();
  for (size_t rank = 0; rank < merge_lines.size(); ++rank) {
    const std::string& line = merge_lines[rank];
    check_utf8(file, "tokenizer.ggml.merges", line, rank);
    const size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size() || line.find(' ', space + 1) != std::string::npos) {
      fail(file, "metadata key 'tokenizer.ggml.merges'[" + std::to_string(rank) + "] " + json(line).dump() +
                     " is not two tokens separated by one space");
    }
    merges.push_back({line.substr(0, space), line.substr(space + 1)});
  }
  json added = json::array();
  for (size_t id = 0; id < vocab.tokens.size(); ++id) {
    const int64_t type = vocab.types[id];
    if (type != kControl && type != kUserDefined && type != kUnknown) continue;
    added.push_back({{"id", id},
                     {"content", vocab.tokens[id]},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", type != kUserDefined}});
  }
  json single = json::array(), special_tokens = json::object();
  auto special = [&](int64_t id) {
    const std::string& content = vocab.tokens[id];
    special_tokens[content] = {{"id", content}, {"ids", {id}}, {"tokens", {content}}};
    return json{{"SpecialToken", {{"id", content}, {"type_id", 0}}}};
  };
  if (add_bos && vocab.bos) single.push_back(special(*vocab.bos));
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  if (add_eos && vocab.eos) single.push_back(special(*vocab.eos));
  json pair = single;
  pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
  return json{{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", added},
              {"normalizer", rule.normalizer},
              {"pre_tokenizer", rule.pre_tokenizer},
              {"post_processor", {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", special_tokens}}},
              {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
              {"model",
               {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", nullptr},
                {"end_of_word_suffix", nullptr},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", rule.ignore_merges},
                {"vocab", model_vocab},
                {"merges", merges}}}};
}

std::string sentencepiece_model_bytes(const GgufFile& file, const Vocabulary& vocab) {
  if (!file.optional_boolean("tokenizer.ggml.add_space_prefix").value_or(true)) {
    throw UnsupportedTokenizerError(file.path().string() + ": metadata key 'tokenizer.ggml.add_space_prefix' is false; "
                                    "precept's SentencePiece vocabularies always add the dummy prefix");
  }
  const std::vector<float> scores = file.float_array("tokenizer.ggml.scores");
  if (scores.size() != vocab.tokens.size()) {
    fail(file, "metadata key 'tokenizer.ggml.scores' has " + std::to_string(scores.size()) + " entries for " +
                   std::to_string(vocab.tokens.size()) + " tokens");
  }
  std::vector<SentencePieceEntry> pieces(vocab.tokens.size());
  for (size_t id = 0; id < pieces.size(); ++id) {
    pieces[id].piece = vocab.tokens[id];
    pieces[id].score = scores[id];
    pieces[id].type = static_cast<SentencePieceType>(vocab.types[id]);
  }
  try {
    return text::serialize_sentencepiece_bpe_model(pieces);
  } catch (const std::runtime_error& error) {
    fail(file, std::string("the tokenizer.ggml.* vocabulary is not a valid SentencePiece model: ") + error.what());
  }
}

std::string temporary_directory() {
  std::string pattern = (fs::temp_directory_path() / "precept_gguf_XXXXXX").string();
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a temporary directory like " + pattern);
  return pattern;
}

// A plain write, for the temporary directory gguf_tokenizer reads back at once (what a user keeps
// is written with core::replace_file_atomically).
void write_temporary_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out << bytes;
  if (!out) throw std::runtime_error("write failed for " + path.string());
}

void write_tokenizer_files(const GgufTokenizerFiles& files, const fs::path& dir,
                           void (*write)(const fs::path&, const std::string&)) {
  fs::create_directories(dir);
  if (!files.tokenizer_model.empty()) write(dir / "tokenizer.model", files.tokenizer_model);
  if (!files.tokenizer_json.is_null()) write(dir / "tokenizer.json", files.tokenizer_json.dump(2) + "\n");
  write(dir / "tokenizer_config.json", files.tokenizer_config.dump(2) + "\n");
  write(dir / "generation_config.json", files.generation_config.dump(2) + "\n");
}

void write_atomically(const fs::path& path, const std::string& bytes) { core::replace_file_atomically(path, bytes); }

}  // namespace

// ---------------------------------------------------------------------------------------------

json gguf_hf_config(const GgufFile& file) {
  const std::string arch = architecture_of(file);
  auto key = [&](const std::string& name) { return arch + "." + name; };
  const int64_t hidden = file.integer(key("embedding_length"));
  const int64_t heads = file.integer(key("attention.head_count"));
  const int64_t layers = file.integer(key("block_count"));
  if (hidden <= 0 || heads <= 0 || layers <= 0) {
    fail(file, "metadata keys '" + key("embedding_length") + "', '" + key("attention.head_count") + "' and '" +
                   key("block_count") + "' must be positive (they are " + std::to_string(hidden) + ", " +
                   std::to_string(heads) + ", " + std::to_string(layers) + ")");
  }
  const int64_t kv_heads = file.optional_integer(key("attention.head_count_kv")).value_or(heads);
  // Bounds that no real model reaches, so that a corrupted number fails here and not as a
  // model of a billion layers: every layer needs tensors, heads divide evenly.
  auto check_range = [&](const std::string& name, int64_t value, int64_t low, int64_t high) {
    if (value < low || value > high) {
      fail(file, "metadata key '" + name + "' is " + std::to_string(value) + ", outside [" + std::to_string(low) + ", " +
                     std::to_string(high) + "]");
    }
  };
  check_range(key("block_count"), layers, 1, std::max<int64_t>(1, static_cast<int64_t>(file.tensors().size())));
  check_range(key("attention.head_count"), heads, 1, 1 << 14);
  check_range(key("attention.head_count_kv"), kv_heads, 1, heads);
  if (heads % kv_heads != 0) {
    fail(file, "metadata key '" + key("attention.head_count") + "' (" + std::to_string(heads) + ") is not a multiple of '" +
                   key("attention.head_count_kv") + "' (" + std::to_string(kv_heads) + ")");
  }
  int64_t head_dim = hidden / heads;
  if (auto key_length = file.optional_integer(key("attention.key_length"))) head_dim = *key_length;
  else if (auto rope_dims = file.optional_integer(key("rope.dimension_count"))) head_dim = *rope_dims;
  check_range(key("attention.key_length"), head_dim, 2, 1 << 16);
  if (auto value_length = file.optional_integer(key("attention.value_length")); value_length && *value_length != head_dim) {
    fail(file, "metadata key '" + key("attention.value_length") + "' is " + std::to_string(*value_length) +
                   " but the key length is " + std::to_string(head_dim) + "; precept needs them equal");
  }
  if (auto rope_dims = file.optional_integer(key("rope.dimension_count")); rope_dims && *rope_dims != head_dim) {
    fail(file, "metadata key '" + key("rope.dimension_count") + "' is " + std::to_string(*rope_dims) +
                   ", not the head size " + std::to_string(head_dim) + " (partial rotary embeddings are not supported)");
  }
  int64_t vocab_size = 0;
  if (auto stored = file.optional_integer(key("vocab_size"))) {
    vocab_size = *stored;
  } else if (const GgufValue* tokens = file.find("tokenizer.ggml.tokens"); tokens && tokens->type == GgufValueType::array) {
    vocab_size = static_cast<int64_t>(tokens->count);
  } else if (const GgufTensorInfo* embedding = file.find_tensor("token_embd.weight"); embedding && embedding->dims.size() == 2) {
    vocab_size = embedding->dims[1];
  } else {
    fail(file, "has neither '" + key("vocab_size") + "' nor 'tokenizer.ggml.tokens' to give the vocabulary size");
  }
  check_range(key("vocab_size"), vocab_size, 1, 1 << 26);
  const int64_t intermediate = file.integer(key("feed_forward_length"));
  check_range(key("feed_forward_length"), intermediate, 1, 1 << 24);
  const int64_t context = file.integer(key("context_length"));
  check_range(key("context_length"), context, 1, int64_t{1} << 32);
  const double theta = file.optional_number(key("rope.freq_base")).value_or(10000.0);
  if (!(theta > 1.0) || !std::isfinite(theta)) fail(file, "metadata key '" + key("rope.freq_base") + "' must be a finite number > 1");
  const double eps = file.number(key("attention.layer_norm_rms_epsilon"));
  if (!(eps >= 0.0) || !std::isfinite(eps)) fail(file, "metadata key '" + key("attention.layer_norm_rms_epsilon") + "' must be a finite number >= 0");
  const bool attention_bias = has_tensor_suffix(file, ".attn_q.bias");

  static const std::map<std::string, std::pair<const char*, const char*>> kNames = {
      {"llama", {"LlamaForCausalLM", "llama"}}, {"qwen2", {"Qwen2ForCausalLM", "qwen2"}}, {"qwen3", {"Qwen3ForCausalLM", "qwen3"}}};
  const auto& [architecture, model_type] = kNames.at(arch);
  json config = {
      {"architectures", {architecture}},
      {"model_type", model_type},
      {"vocab_size", vocab_size},
      {"hidden_size", hidden},
      {"intermediate_size", intermediate},
      {"num_hidden_layers", layers},
      {"num_attention_heads", heads},
      {"num_key_value_heads", kv_heads},
      {"head_dim", head_dim},
      {"max_position_embeddings", context},
      {"rms_norm_eps", eps},
      {"rope_theta", theta},
      {"rope_parameters", rope_parameters(file, arch, theta, head_dim)},
      {"hidden_act", "silu"},
      {"tie_word_embeddings", file.find_tensor("output.weight") == nullptr},
      {"torch_dtype", "float32"},
  };
  if (arch == "llama") {
    config["attention_bias"] = attention_bias;
    config["mlp_bias"] = has_tensor_suffix(file, ".ffn_gate.bias");
  } else {
    if (arch == "qwen3") config["attention_bias"] = attention_bias;
    config["use_sliding_window"] = false;
    config["sliding_window"] = nullptr;
    config["max_window_layers"] = layers;
  }
  for (const auto& [name, hf] : std::vector<std::pair<std::string, std::string>>{
           {"bos_token_id", "bos_token_id"}, {"eos_token_id", "eos_token_id"}, {"padding_token_id", "pad_token_id"}}) {
    if (auto id = file.optional_integer("tokenizer.ggml." + name)) config[hf] = *id;
  }
  return config;
}

GgufTokenizerFiles gguf_tokenizer_files(const GgufFile& file) {
  const std::string model = file.string("tokenizer.ggml.model");
  if (model != "gpt2" && model != "llama") {
    throw UnsupportedTokenizerError(file.path().string() + ": metadata key 'tokenizer.ggml.model' is '" + model +
                                    "'; precept reads 'gpt2' (byte-level BPE) and 'llama' (SentencePiece) vocabularies");
  }
  const Vocabulary vocab = read_vocabulary(file);
  GgufTokenizerFiles files;
  files.source = file.path().string();
  json& config = files.tokenizer_config;
  bool add_bos = true;
  if (model == "gpt2") {
    const std::string pre = file.optional_string("tokenizer.ggml.pre").value_or("default");
    const PreTokenizerRule rule = pre_tokenizer_rule(file, pre);
    add_bos = file.optional_boolean("tokenizer.ggml.add_bos_token").value_or(rule.add_bos);
    const bool add_eos = file.optional_boolean("tokenizer.ggml.add_eos_token").value_or(false);
    files.tokenizer_json = byte_level_tokenizer_json(file, vocab, rule, add_bos, add_eos);
    config["tokenizer_class"] = "PreTrainedTokenizerFast";
    config["add_eos_token"] = add_eos;
  } else {
    files.tokenizer_model = sentencepiece_model_bytes(file, vocab);
    add_bos = file.optional_boolean("tokenizer.ggml.add_bos_token").value_or(true);
    config["tokenizer_class"] = "LlamaTokenizer";
    config["add_eos_token"] = file.optional_boolean("tokenizer.ggml.add_eos_token").value_or(false);
    config["legacy"] = false;
  }
  config["add_bos_token"] = add_bos;
  auto name_token = [&](const char* key, const std::optional<int64_t>& id) {
    config[key] = id ? json(vocab.tokens[*id]) : json(nullptr);
  };
  name_token("bos_token", vocab.bos);
  name_token("eos_token", vocab.eos);
  name_token("unk_token", vocab.unk);
  name_token("pad_token", vocab.pad);
  config["clean_up_tokenization_spaces"] = false;
  const std::string arch = file.optional_string("general.architecture").value_or("");
  if (auto context = file.optional_integer(arch + ".context_length")) config["model_max_length"] = *context;
  if (auto chat_template = file.optional_string("tokenizer.chat_template")) {
    check_utf8(file, "tokenizer.chat_template", *chat_template);
    config["chat_template"] = *chat_template;
  }

  json& generation = files.generation_config;
  generation = json::object();
  if (vocab.bos) generation["bos_token_id"] = *vocab.bos;
  if (vocab.eos) {
    if (vocab.extra_eos.empty()) {
      generation["eos_token_id"] = *vocab.eos;
    } else {
      std::vector<int64_t> ids = {*vocab.eos};
      ids.insert(ids.end(), vocab.extra_eos.begin(), vocab.extra_eos.end());
      generation["eos_token_id"] = ids;
    }
  }
  if (vocab.pad) generation["pad_token_id"] = *vocab.pad;
  return files;
}

NamedTensors gguf_hf_tensors(const GgufFile& file, const ModelConfig& config, c10::ScalarType dtype) {
  check_tensor_set(file, config);
  NamedTensors tensors;
  for_each_hf_tensor(file, config, dtype, [&](const std::string& name, const GgufTensorInfo&, at::Tensor tensor) {
    tensors.emplace_back(name, std::move(tensor));
  });
  return tensors;
}

GgufModel read_gguf_model(const fs::path& path, c10::ScalarType dtype) {
  GgufFile file(path);
  GgufModel model;
  model.architecture = architecture_of(file);
  json config = gguf_hf_config(file);
  config["torch_dtype"] = dtype_name(dtype);
  model.config = config_from_json(config, path.string() + " (its metadata as config.json)");
  model.tokenizer = gguf_tokenizer_files(file);
  model.tensors = gguf_hf_tensors(file, model.config, dtype);
  return model;
}

Transformer load_gguf(const fs::path& path, const LoadOptions& options) {
  GgufFile file(path);
  const c10::ScalarType dtype = loaded_dtype(path, options, ModelConfig{});
  json config_json = gguf_hf_config(file);
  config_json["torch_dtype"] = dtype_name(dtype);
  const ModelConfig config = config_from_json(config_json, path.string() + " (its metadata as config.json)");
  check_tensor_set(file, config);
  Transformer model(config, at::TensorOptions().dtype(dtype).device(options.device));
  auto parameters = model->named_parameters();
  at::NoGradGuard no_grad;
  // One tensor at a time, so that the peak is the model plus its largest tensor.
  for_each_hf_tensor(file, config, dtype, [&](const std::string& name, const GgufTensorInfo&, at::Tensor tensor) {
    parameters[name].copy_(tensor);
  });
  model->eval();
  return model;
}

void write_gguf_tokenizer_files(const GgufTokenizerFiles& files, const fs::path& dir) {
  write_tokenizer_files(files, dir, write_atomically);
}

std::unique_ptr<text::Tokenizer> gguf_tokenizer(const GgufTokenizerFiles& files) {
  const fs::path dir = temporary_directory();
  auto clean_up = [&] {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  };
  // Errors name the GGUF, not the temporary files the tokenizer was read back from.
  const std::string prefix = files.source + ": the tokenizer of its tokenizer.ggml.* metadata: ";
  auto strip = [&](std::string message) {
    const std::string temporary = (dir / "").string();
    for (size_t at; (at = message.find(temporary)) != std::string::npos;) message.erase(at, temporary.size());
    return message;
  };
  try {
    write_tokenizer_files(files, dir, write_temporary_file);
    std::unique_ptr<text::Tokenizer> tokenizer = text::load_tokenizer(dir);
    clean_up();
    return tokenizer;
  } catch (const UnsupportedTokenizerError& error) {
    clean_up();
    throw UnsupportedTokenizerError(prefix + strip(error.what()));
  } catch (const std::exception& error) {
    clean_up();
    throw std::runtime_error(prefix + strip(error.what()));
  }
}

std::unique_ptr<text::Tokenizer> gguf_tokenizer(const fs::path& path) {
  GgufFile file(path);
  return gguf_tokenizer(gguf_tokenizer_files(file));
}

text::ChatTemplate gguf_chat_template(const GgufTokenizerFiles& files) {
  const json& config = files.tokenizer_config;
  if (!config.contains("chat_template") || !config["chat_template"].is_string()) {
    throw std::runtime_error("the GGUF has no chat template (metadata key 'tokenizer.chat_template')");
  }
  auto token = [&](const char* key) { return config.value(key, json()).is_string() ? config[key].get<std::string>() : ""; };
  return text::ChatTemplate::from_source(config["chat_template"].get<std::string>(), token("bos_token"), token("eos_token"));
}

std::vector<int64_t> gguf_eos_ids(const GgufTokenizerFiles& files) {
  const json eos = files.generation_config.value("eos_token_id", json());
  if (eos.is_number_integer()) return {eos.get<int64_t>()};
  if (eos.is_array()) return eos.get<std::vector<int64_t>>();
  return {};
}

void convert_gguf(const fs::path& gguf_path, const fs::path& out_dir, c10::ScalarType dtype) {
  if (dtype != c10::kFloat && dtype != c10::kBFloat16) {
    throw std::invalid_argument("convert --gguf writes float32 or bfloat16, not " + std::string(c10::toString(dtype)));
  }
  GgufModel model = read_gguf_model(gguf_path, dtype);
  fs::create_directories(out_dir);
  write_checkpoint_tensors(out_dir, model.tensors, 5'000'000'000ull);  // transformers' default shard size
  model.config.dtype = dtype;
  core::replace_file_atomically(out_dir / "config.json", config_to_json(model.config).dump(2) + "\n");
  write_gguf_tokenizer_files(model.tokenizer, out_dir);
}

}  // namespace precept::lm
