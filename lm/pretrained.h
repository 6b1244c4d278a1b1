// Hugging Face model directories in and out: config.json + safetensors (single or sharded) +
// generation_config.json + tokenizer files. What precept saves loads in transformers unchanged.
// open_pretrained is the one way a model directory is opened (the trainer's policy, the judge,
// reward models, `precept generate` and `tokenize`): one rule for the chat template, the stop
// ids and the context length. Not the GGUF reader and not the tokenizers themselves (text/).
#pragma once

#include "lm/transformer.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

#include <c10/core/Device.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace precept::lm {

struct LoadOptions {
  std::optional<c10::ScalarType> dtype;  // default: float32 on CPU, the checkpoint's dtype elsewhere
  c10::Device device = c10::kCPU;
};

// The longest context precept gives a model by default: max_position_embeddings, capped here
// (Qwen3 declares 40,960 positions; a judge call or a rollout rarely needs more, and every KV-cache
// slot is sized by it). OpenOptions::max_context raises or lowers it.
constexpr int64_t kDefaultMaxContext = 16384;

struct OpenOptions {
  LoadOptions load;
  // false: no model, only the tokenizer, the template, the stops and config.json when there is
  // one (a tokenizer-only directory has none: then config is default and context_length 0).
  bool weights = true;
  std::string chat_template = "default";  // the named template of tokenizer_config.json to use
  int64_t max_context = kDefaultMaxContext;
};

// A model directory, opened.
struct Pretrained {
  std::filesystem::path dir;
  ModelConfig config;
  Transformer model{nullptr};                       // null when OpenOptions::weights is false
  std::unique_ptr<text::Tokenizer> tokenizer;
  std::optional<text::ChatTemplate> chat_template;  // absent when the directory has none (or a bad one)
  std::string chat_template_problem;                // why it is absent
  // generation_config.json's eos_token_id (an int or a list), else config.json's, else the
  // tokenizer's EOS; empty when none is known.
  std::vector<int64_t> stop_ids;
  int64_t context_length = 0;                       // min(max_position_embeddings, max_context)

  // The chat template, or an error naming the directory, what needs it and why it is absent.
  const text::ChatTemplate& require_chat_template(const std::string& needed_by) const;
};

// `dir` is a Hugging Face model directory or a .gguf file (read in memory, no conversion step).
Pretrained open_pretrained(const std::filesystem::path& dir, const OpenOptions& options = {});

// The stop ids of a model directory by the rule above.
std::vector<int64_t> stop_ids_of(const std::filesystem::path& dir, const ModelConfig& config, const text::Tokenizer* tokenizer);

// The dtype load_pretrained gives the model of `dir` (config: its config.json, or a GGUF's):
// options.dtype, else float32 on CPU, else the checkpoint's dtype (bfloat16 for a .gguf).
c10::ScalarType loaded_dtype(const std::filesystem::path& dir, const LoadOptions& options, const ModelConfig& config);

// Builds the model from dir/config.json and fills every parameter from the safetensors.
// A missing or unexpected tensor, or a shape mismatch, is an error that lists the names.
Transformer load_pretrained(const std::filesystem::path& dir, const LoadOptions& options = {});

// Copies checkpoint tensors into an existing model's parameters (same checks as above).
void load_weights(TransformerImpl& model, const std::filesystem::path& dir);

struct SaveOptions {
  uint64_t max_shard_bytes = 5ull * 1000 * 1000 * 1000;  // transformers' default "5GB"
  std::optional<c10::ScalarType> dtype;  // default: the parameters' dtype
  // Tokenizer and generation files are copied from here when given (and not already there); a
  // .gguf source has them written from its metadata.
  std::optional<std::filesystem::path> source_dir;
};

// Writes config.json, generation_config.json, the safetensors and the tokenizer files.
void save_pretrained(TransformerImpl& model, const std::filesystem::path& dir, const SaveOptions& options = {});

// The tensors save_pretrained writes: named as in Hugging Face, tied weights written once.
std::vector<std::pair<std::string, at::Tensor>> state_dict_for_save(TransformerImpl& model);

}  // namespace precept::lm
