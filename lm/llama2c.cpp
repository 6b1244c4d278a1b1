// llama2.c -> Hugging Face Llama conversion: see llama2c.h. The file layouts are llama2.c's
// run.c (legacy) and export.py (version 1); every size is checked against the header before
// a weight is read.
#include "lm/llama2c.h"
#include "core/files.h"

#include <ATen/ATen.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace precept::lm {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "llama2.c files are little-endian and are read here by memcpy");

// export.py writes struct.pack('I', 0x616b3432), i.e. the bytes "24ka"; llama2.zig (the source
// of stories260K.v1.bin) writes the bytes "ak42". Both mean the versioned format.
constexpr uint32_t kMagic = 0x616b3432;
constexpr char kMagicBytes[4] = {'a', 'k', '4', '2'};
constexpr uint64_t kLegacyHeaderBytes = 7 * sizeof(int32_t);
constexpr uint64_t kVersionedHeaderBytes = 256;
// The largest model.safetensors before the converter shards (the transformers default of 5 GB).
constexpr uint64_t kMaxShardBytes = 5'000'000'000ull;

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw std::runtime_error("llama2.c checkpoint " + path.string() + ": " + what);
}

std::string describe(const Llama2cConfig& c) {
  std::ostringstream text;
  text << (c.format == Llama2cFormat::kLegacy ? "legacy format (no \"ak42\" magic)" : "version 1 format") << ", dim " << c.dim
       << ", hidden_dim " << c.hidden_dim << ", n_layers " << c.n_layers << ", n_heads " << c.n_heads
       << ", n_kv_heads " << c.n_kv_heads << ", vocab_size " << c.vocab_size << ", seq_len " << c.seq_len << ", "
       << (c.shared_classifier ? "shared" : "separate") << " classifier";
  return text.str();
}

int32_t int32_at(const std::vector<char>& bytes, size_t offset) {
  int32_t value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

void check_header(const Llama2cConfig& c, const fs::path& path) {
  auto require = [&](bool ok, const std::string& what) {
    if (!ok) fail(path, "implausible header (" + describe(c) + "): " + what);
  };
  require(c.dim > 0 && c.hidden_dim > 0 && c.n_layers > 0 && c.n_heads > 0 && c.n_kv_heads > 0 &&
              c.vocab_size > 0 && c.seq_len > 0,
          "every size must be positive");
  require(c.dim % c.n_heads == 0, "dim must be a multiple of n_heads");
  require(c.head_size() % 2 == 0, "head size dim / n_heads must be even for RoPE");
  require(c.n_kv_heads <= c.n_heads && c.n_heads % c.n_kv_heads == 0, "n_heads must be a multiple of n_kv_heads");
}

// The bytes the header implies. Computed in 128 bits: a garbage header must give a clean
// size mismatch, not an overflow.
using Wide = unsigned __int128;

Wide expected_bytes(const Llama2cConfig& c) {
  const Wide D = c.dim, F = c.hidden_dim, L = c.n_layers, V = c.vocab_size, KV = c.kv_dim();
  Wide floats = V * D                        // tok_embeddings
                + 2 * L * D                  // rms_att, rms_ffn
                + L * (2 * D * D + 2 * KV * D)  // wq, wo, wk, wv
                + 3 * L * F * D              // w1, w2, w3
                + D;                         // rms_final
  if (!c.shared_classifier) floats += V * D;
  if (c.format == Llama2cFormat::kLegacy) {
    floats += Wide(c.seq_len) * Wide(c.head_size());  // freq_cis_real and freq_cis_imag, S * hs / 2 each
  }
  const Wide header = c.format == Llama2cFormat::kLegacy ? kLegacyHeaderBytes : kVersionedHeaderBytes;
  return header + 4 * floats;
}

std::string wide_to_string(Wide value) {
  if (value == 0) return "0";
  std::string digits;
  for (; value > 0; value /= 10) digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(value % 10)));
  return digits;
}

// Sequential fp32 reads from a checkpoint whose size has already been checked.
class FloatReader {
 public:
  FloatReader(const fs::path& path, uint64_t offset) : path_(path), in_(path, std::ios::binary) {
    if (!in_) fail(path_, "cannot open");
    in_.seekg(static_cast<std::streamoff>(offset));
  }
  at::Tensor read(at::IntArrayRef shape, const char* name) {
    at::Tensor tensor = at::empty(shape, at::kFloat);
    in_.read(static_cast<char*>(tensor.data_ptr()), static_cast<std::streamsize>(tensor.nbytes()));
    if (!in_) fail(path_, std::string("read failed in ") + name);
    return tensor;
  }
  void skip(int64_t floats) { in_.seekg(static_cast<std::streamoff>(floats * 4), std::ios::cur); }

 private:
  fs::path path_;
  std::ifstream in_;
};

Llama2cConfig read_header(const fs::path& path, uint64_t file_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open");
  std::vector<char> header(std::min<uint64_t>(file_bytes, kVersionedHeaderBytes));
  in.read(header.data(), static_cast<std::streamsize>(header.size()));
  if (file_bytes < kLegacyHeaderBytes) {
    fail(path, "is " + std::to_string(file_bytes) + " bytes, too short for a llama2.c header (" +
                   std::to_string(kLegacyHeaderBytes) + " bytes)");
  }
  uint32_t magic;
  std::memcpy(&magic, header.data(), sizeof magic);
  const bool versioned = magic == kMagic || std::memcmp(header.data(), kMagicBytes, 4) == 0;

  Llama2cConfig c;
  size_t params_offset = 0;
  if (versioned) {
    if (file_bytes < kVersionedHeaderBytes) {
      fail(path, "has the \"ak42\" magic but is " + std::to_string(file_bytes) +
                     " bytes, too short for its 256-byte header");
    }
    const int32_t version = int32_at(header, 4);
    if (version == 2) {
      fail(path, "is llama2.c export version 2 (int8 quantized); precept converts the legacy format "
                 "and version 1 (fp32)");
    }
    if (version != 1) {
      fail(path, "has llama2.c export version " + std::to_string(version) +
                     "; precept converts the legacy format and version 1 (fp32)");
    }
    c.format = Llama2cFormat::kVersion1;
    params_offset = 8;
  }
  c.dim = int32_at(header, params_offset + 0);
  c.hidden_dim = int32_at(header, params_offset + 4);
  c.n_layers = int32_at(header, params_offset + 8);
  c.n_heads = int32_at(header, params_offset + 12);
  c.n_kv_heads = int32_at(header, params_offset + 16);
  c.vocab_size = int32_at(header, params_offset + 20);
  c.seq_len = int32_at(header, params_offset + 24);
  if (versioned) {
    const auto shared = static_cast<uint8_t>(header[params_offset + 28]);
    if (shared > 1) fail(path, "shared_classifier byte is " + std::to_string(shared) + ", expected 0 or 1");
    c.shared_classifier = shared == 1;
  } else {
    // run.c: a negative vocab_size marks an unshared classifier.
    c.shared_classifier = c.vocab_size > 0;
    c.vocab_size = c.vocab_size < 0 ? -c.vocab_size : c.vocab_size;
  }
  check_header(c, path);
  return c;
}

}  // namespace

Llama2cCheckpoint read_llama2c_checkpoint(const fs::path& path) {
  if (!fs::is_regular_file(path)) fail(path, "does not exist or is not a file");
  const uint64_t file_bytes = fs::file_size(path);
  Llama2cCheckpoint w;
  w.config = read_header(path, file_bytes);
  const Llama2cConfig& c = w.config;
  const Wide expected = expected_bytes(c);
  if (expected != file_bytes) {
    fail(path, "should be " + wide_to_string(expected) + " bytes for its header (" + describe(c) + ") but is " +
                   std::to_string(file_bytes) + " bytes");
  }
  const int64_t D = c.dim, F = c.hidden_dim, L = c.n_layers, V = c.vocab_size, KV = c.kv_dim();
  if (c.format == Llama2cFormat::kLegacy) {
    FloatReader in(path, kLegacyHeaderBytes);
    w.tok_embeddings = in.read({V, D}, "tok_embeddings");
    w.rms_att = in.read({L, D}, "rms_att_weight");
    w.wq = in.read({L, D, D}, "wq");
    w.wk = in.read({L, KV, D}, "wk");
    w.wv = in.read({L, KV, D}, "wv");
    w.wo = in.read({L, D, D}, "wo");
    w.rms_ffn = in.read({L, D}, "rms_ffn_weight");
    w.w1 = in.read({L, F, D}, "w1");
    w.w2 = in.read({L, D, F}, "w2");
    w.w3 = in.read({L, F, D}, "w3");
    w.rms_final = in.read({D}, "rms_final_weight");
    in.skip(c.seq_len * c.head_size());  // freq_cis_real, freq_cis_imag: RoPE tables HF recomputes
    if (!c.shared_classifier) w.wcls = in.read({V, D}, "wcls");
  } else {
    FloatReader in(path, kVersionedHeaderBytes);
    w.rms_att = in.read({L, D}, "attention_norm");
    w.rms_ffn = in.read({L, D}, "ffn_norm");
    w.rms_final = in.read({D}, "norm");
    w.tok_embeddings = in.read({V, D}, "tok_embeddings");
    w.wq = in.read({L, D, D}, "wq");
    w.wk = in.read({L, KV, D}, "wk");
    w.wv = in.read({L, KV, D}, "wv");
    w.wo = in.read({L, D, D}, "wo");
    w.w1 = in.read({L, F, D}, "w1");
    w.w2 = in.read({L, D, F}, "w2");
    w.w3 = in.read({L, F, D}, "w3");
    if (!c.shared_classifier) w.wcls = in.read({V, D}, "output");
  }
  return w;
}

at::Tensor rope_pairs_to_half_split(const at::Tensor& weight, int64_t heads) {
  if (weight.dim() != 2 || heads <= 0 || weight.size(0) % heads != 0 || (weight.size(0) / heads) % 2 != 0) {
    throw std::invalid_argument("rope_pairs_to_half_split: weight of shape " + c10::str(weight.sizes()) +
                                " is not [heads * even head_size, in] for " + std::to_string(heads) + " heads");
  }
  const int64_t rows = weight.size(0), in = weight.size(1);
  const int64_t head_size = rows / heads;
  // Row 2i + j of a head (pair i, member j) moves to row j * head_size/2 + i.
  return weight.reshape({heads, head_size / 2, 2, in}).transpose(1, 2).reshape({rows, in}).contiguous();
}

NamedTensors llama2c_to_hf_tensors(const Llama2cCheckpoint& w) {
  const Llama2cConfig& c = w.config;
  NamedTensors tensors;
  tensors.emplace_back("model.embed_tokens.weight", w.tok_embeddings);
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string layer = "model.layers." + std::to_string(i) + ".";
    tensors.emplace_back(layer + "input_layernorm.weight", w.rms_att[i].contiguous());
    tensors.emplace_back(layer + "self_attn.q_proj.weight", rope_pairs_to_half_split(w.wq[i], c.n_heads));
    tensors.emplace_back(layer + "self_attn.k_proj.weight", rope_pairs_to_half_split(w.wk[i], c.n_kv_heads));
    tensors.emplace_back(layer + "self_attn.v_proj.weight", w.wv[i].contiguous());
    tensors.emplace_back(layer + "self_attn.o_proj.weight", w.wo[i].contiguous());
    tensors.emplace_back(layer + "post_attention_layernorm.weight", w.rms_ffn[i].contiguous());
    tensors.emplace_back(layer + "mlp.gate_proj.weight", w.w1[i].contiguous());
    tensors.emplace_back(layer + "mlp.up_proj.weight", w.w3[i].contiguous());
    tensors.emplace_back(layer + "mlp.down_proj.weight", w.w2[i].contiguous());
  }
  tensors.emplace_back("model.norm.weight", w.rms_final);
  if (!c.shared_classifier) tensors.emplace_back("lm_head.weight", w.wcls);
  return tensors;
}

json llama2c_hf_config(const Llama2cConfig& c) {
  // run.c's constants: RMSNorm eps 1e-5, RoPE theta 10000, SiLU-gated FFN, BOS 1, EOS 2.
  return json{
      {"architectures", {"LlamaForCausalLM"}},
      {"model_type", "llama"},
      {"hidden_size", c.dim},
      {"intermediate_size", c.hidden_dim},
      {"num_hidden_layers", c.n_layers},
      {"num_attention_heads", c.n_heads},
      {"num_key_value_heads", c.n_kv_heads},
      {"head_dim", c.head_size()},
      {"vocab_size", c.vocab_size},
      {"max_position_embeddings", c.seq_len},
      {"rms_norm_eps", 1e-5},
      {"rope_theta", 10000.0},
      // transformers 5 reads rope_parameters; rope_theta above is for older readers.
      {"rope_parameters", {{"rope_type", "default"}, {"rope_theta", 10000.0}}},
      {"hidden_act", "silu"},
      {"attention_bias", false},
      {"mlp_bias", false},
      {"tie_word_embeddings", c.shared_classifier},
      {"torch_dtype", "float32"},
      {"bos_token_id", 1},
      {"eos_token_id", 2},
  };
}

// ----------------------------------------------------------------------------------------------
// tokenizer.bin

Llama2cVocab read_llama2c_tokenizer(const fs::path& path) {
  auto fail_tokenizer = [&](const std::string& what) -> void {
    throw std::runtime_error("llama2.c tokenizer " + path.string() + ": " + what);
  };
  if (!fs::is_regular_file(path)) fail_tokenizer("does not exist or is not a file");
  const std::string bytes = core::read_file(path);

  Llama2cVocab vocab;
  size_t offset = 0;
  auto take = [&](void* out, size_t size, const std::string& what) {
    if (bytes.size() - offset < size) {
      fail_tokenizer("truncated in " + what + " (at byte " + std::to_string(offset) + " of " +
                     std::to_string(bytes.size()) + ")");
    }
    std::memcpy(out, bytes.data() + offset, size);
    offset += size;
  };
  take(&vocab.max_token_length, sizeof(int32_t), "the max_token_length header");
  if (vocab.max_token_length <= 0) {
    fail_tokenizer("max_token_length is " + std::to_string(vocab.max_token_length) + ", expected > 0");
  }
  while (offset < bytes.size()) {
    const std::string token = "token " + std::to_string(vocab.pieces.size());
    float score;
    int32_t length;
    take(&score, sizeof score, token + " (score)");
    take(&length, sizeof length, token + " (length)");
    if (length <= 0 || length > vocab.max_token_length) {
      fail_tokenizer(token + " has length " + std::to_string(length) + ", expected 1.." +
                     std::to_string(vocab.max_token_length) + " (max_token_length)");
    }
    std::string piece(static_cast<size_t>(length), '\0');
    take(piece.data(), piece.size(), token + " (bytes)");
    vocab.pieces.push_back(std::move(piece));
    vocab.scores.push_back(score);
  }
  return vocab;
}

std::vector<text::SentencePieceEntry> llama2c_sentencepiece_pieces(const Llama2cVocab& vocab, const fs::path& where) {
  const std::string space_symbol = "\xE2\x96\x81";  // "▁"
  const char* expected_specials[] = {"<unk>", "\n<s>\n", "\n</s>\n"};
  for (size_t id = 0; id < 3; ++id) {
    if (vocab.pieces.size() <= id || vocab.pieces[id] != expected_specials[id]) {
      throw std::runtime_error("llama2.c tokenizer " + where.string() + ": token " + std::to_string(id) +
                               " must be " + json(expected_specials[id]).dump() +
                               " (run.c uses 0 = <unk>, 1 = BOS, 2 = EOS), found " +
                               (vocab.pieces.size() <= id ? std::string("nothing") : json(vocab.pieces[id]).dump()));
    }
  }
  std::vector<text::SentencePieceEntry> pieces;
  pieces.reserve(vocab.pieces.size());
  for (size_t id = 0; id < vocab.pieces.size(); ++id) {
    const std::string& text = vocab.pieces[id];
    text::SentencePieceEntry entry;
    entry.score = vocab.scores[id];
    if (id == 0) {
      entry.piece = "<unk>";
      entry.type = text::SentencePieceType::kUnknown;
    } else if (id == 1 || id == 2) {
      entry.piece = id == 1 ? "<s>" : "</s>";
      entry.type = text::SentencePieceType::kControl;
    } else if (text.size() == 6 && text.compare(0, 3, "<0x") == 0 && text[5] == '>') {
      entry.piece = text;
      entry.type = text::SentencePieceType::kByte;
    } else {
      for (char ch : text) {
        if (ch == ' ') {
          entry.piece += space_symbol;
        } else {
          entry.piece += ch;
        }
      }
    }
    pieces.push_back(std::move(entry));
  }
  return pieces;
}

void convert_llama2c(const fs::path& checkpoint_path, const fs::path& tokenizer_path, const fs::path& out_dir) {
  const Llama2cCheckpoint checkpoint = read_llama2c_checkpoint(checkpoint_path);
  const Llama2cVocab vocab = read_llama2c_tokenizer(tokenizer_path);
  const int64_t vocab_size = checkpoint.config.vocab_size;
  if (static_cast<int64_t>(vocab.pieces.size()) != vocab_size) {
    throw std::runtime_error("llama2.c tokenizer " + tokenizer_path.string() + " holds " +
                             std::to_string(vocab.pieces.size()) + " tokens but checkpoint " +
                             checkpoint_path.string() + " has vocab_size " + std::to_string(vocab_size));
  }
  std::string sentencepiece_model;
  try {
    sentencepiece_model = text::serialize_sentencepiece_bpe_model(llama2c_sentencepiece_pieces(vocab, tokenizer_path));
  } catch (const std::runtime_error& error) {
    throw std::runtime_error("llama2.c tokenizer " + tokenizer_path.string() + ": " + error.what());
  }

  fs::create_directories(out_dir);
  auto write_text = [&](const std::string& name, const std::string& text) {
    core::replace_file_atomically(out_dir / name, text);
  };
  write_checkpoint_tensors(out_dir, llama2c_to_hf_tensors(checkpoint), kMaxShardBytes);
  write_text("config.json", llama2c_hf_config(checkpoint.config).dump(2) + "\n");
  write_text("generation_config.json", json{{"bos_token_id", 1}, {"eos_token_id", 2}}.dump(2) + "\n");
  write_text("tokenizer.model", sentencepiece_model);
  const json tokenizer_config = {
      {"tokenizer_class", "LlamaTokenizer"},
      {"add_bos_token", true},
      {"add_eos_token", false},
      {"bos_token", "<s>"},
      {"eos_token", "</s>"},
      {"unk_token", "<unk>"},
      {"pad_token", nullptr},
      {"model_max_length", checkpoint.config.seq_len},
      {"clean_up_tokenization_spaces", false},
      {"legacy", false},
  };
  write_text("tokenizer_config.json", tokenizer_config.dump(2) + "\n");
}

}  // namespace precept::lm
