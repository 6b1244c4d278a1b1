// Hugging Face model directories in and out: config.json + safetensors (single or sharded) +
// generation_config.json + tokenizer files. What precept saves loads in transformers unchanged.
// Used by the command line, the policy and the judge.
#pragma once

#include "lm/transformer.h"

#include <c10/core/Device.h>

#include <filesystem>
#include <optional>

namespace precept::lm {

struct LoadOptions {
  std::optional<c10::ScalarType> dtype;  // default: float32 on CPU, the checkpoint's dtype elsewhere
  c10::Device device = c10::kCPU;
};

// Builds the model from dir/config.json and fills every parameter from the safetensors.
// A missing or unexpected tensor, or a shape mismatch, is an error that lists the names.
Transformer load_pretrained(const std::filesystem::path& dir, const LoadOptions& options = {});

// Copies checkpoint tensors into an existing model's parameters (same checks as above).
void load_weights(TransformerImpl& model, const std::filesystem::path& dir);

struct SaveOptions {
  uint64_t max_shard_bytes = 5ull * 1000 * 1000 * 1000;  // transformers' default "5GB"
  std::optional<c10::ScalarType> dtype;  // default: the parameters' dtype
  // Tokenizer and generation files are copied from here when given (and not already there).
  std::optional<std::filesystem::path> source_dir;
};

// Writes config.json, generation_config.json, the safetensors and the tokenizer files.
void save_pretrained(TransformerImpl& model, const std::filesystem::path& dir, const SaveOptions& options = {});

// The tensors save_pretrained writes: named as in Hugging Face, tied weights written once.
std::vector<std::pair<std::string, at::Tensor>> state_dict_for_save(TransformerImpl& model);

}  // namespace precept::lm
