// llama2.c checkpoints (the legacy format and export version 1 "ak42", both fp32) and llama2.c
// tokenizer.bin files, converted into a Hugging Face Llama model directory. Not an inference
// path: the converted directory is loaded like any other. Used by `precept convert`.
#pragma once

#include "lm/safetensors.h"
#include "text/sentencepiece_tokenizer.h"

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace precept::lm {

enum class Llama2cFormat {
  kLegacy,    // 7 x int32 header, then fp32 weights with freq_cis tables (run.c reads this)
  kVersion1,  // 256-byte "ak42" header, version 1, fp32 weights, norms first (export.py)
};

// The header of a llama2.c checkpoint. D = dim, F = hidden_dim, L = n_layers, V = vocab_size.
struct Llama2cConfig {
  Llama2cFormat format = Llama2cFormat::kLegacy;
  int64_t dim = 0;
  int64_t hidden_dim = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t vocab_size = 0;
  int64_t seq_len = 0;
  bool shared_classifier = true;  // the output projection is tok_embeddings

  int64_t head_size() const { return dim / n_heads; }
  int64_t kv_dim() const { return head_size() * n_kv_heads; }
};

// The weights in llama2.c's names and layout (PyTorch Linear [out, in]; RoPE on adjacent pairs),
// layers stacked on the first axis. KV = n_kv_heads * head_size.
struct Llama2cCheckpoint {
  Llama2cConfig config;
  at::Tensor tok_embeddings;  // [V, D]
  at::Tensor rms_att;         // [L, D]
  at::Tensor wq;              // [L, D, D]
  at::Tensor wk;              // [L, KV, D]
  at::Tensor wv;              // [L, KV, D]
  at::Tensor wo;              // [L, D, D]
  at::Tensor rms_ffn;         // [L, D]
  at::Tensor w1;              // [L, F, D]  gate
  at::Tensor w2;              // [L, D, F]  down
  at::Tensor w3;              // [L, F, D]  up
  at::Tensor rms_final;       // [D]
  at::Tensor wcls;            // [V, D]; undefined when config.shared_classifier
};

// Reads either format (told apart by the magic). Throws, naming the file, on a bad magic or
// version, an implausible header, or a size other than the header implies (expected and
// actual bytes in the message).
Llama2cCheckpoint read_llama2c_checkpoint(const std::filesystem::path& path);

// Reorders the output rows of a query or key projection from llama2.c's RoPE pairs
// (2i, 2i+1) to Hugging Face's half-split pairs (i, i + head_size/2), within each head.
// weight: [heads * head_size, in] -> [heads * head_size, in]
at::Tensor rope_pairs_to_half_split(const at::Tensor& weight, int64_t heads);

// The Hugging Face LlamaForCausalLM tensors: model.embed_tokens.weight, model.layers.{i}.*,
// model.norm.weight, and lm_head.weight only when the classifier is not shared.
NamedTensors llama2c_to_hf_tensors(const Llama2cCheckpoint& checkpoint);

// config.json of the converted model (LlamaForCausalLM, rope_theta 10000, eps 1e-5, BOS 1, EOS 2).
nlohmann::json llama2c_hf_config(const Llama2cConfig& config);

// A llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length
// and the bytes. Spaces are ' ' (not "▁"), BOS is "\n<s>\n", EOS "\n</s>\n".
struct Llama2cVocab {
  int32_t max_token_length = 0;
  std::vector<std::string> pieces;
  std::vector<float> scores;
};

// Reads every token up to the end of the file. Throws, naming the file and the token, on a
// truncated entry or a length outside [1, max_token_length].
Llama2cVocab read_llama2c_tokenizer(const std::filesystem::path& path);

// The SentencePiece pieces of a llama2.c vocabulary: ' ' back to "▁", "<unk>" UNKNOWN,
// "\n<s>\n" / "\n</s>\n" the CONTROL pieces "<s>" / "</s>", "<0xNN>" BYTE, the rest NORMAL.
// Ids 0, 1, 2 must be <unk>, BOS, EOS (run.c hard-codes BOS = 1, EOS = 2).
std::vector<text::SentencePieceEntry> llama2c_sentencepiece_pieces(const Llama2cVocab& vocab,
                                                              const std::filesystem::path& where);

// Writes out_dir/{config.json, generation_config.json, model.safetensors, tokenizer.model,
// tokenizer_config.json}. Reads and checks both inputs (including that the tokenizer has the
// checkpoint's vocab_size) before it writes anything.
void convert_llama2c(const std::filesystem::path& checkpoint, const std::filesystem::path& tokenizer_bin,
                     const std::filesystem::path& out_dir);

}  // namespace precept::lm
