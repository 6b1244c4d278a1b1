// LoRA adapters on an lm::Transformer, as peft defines them: each adapted linear module gains
// A [r, in] (Kaiming-uniform, a = sqrt(5), as peft's default init) and B [out, r] (zeros), and
// computes W x + scale * B(A(dropout(x))) with scale = alpha / r (alpha / sqrt(r) with rsLoRA).
// The base weights are frozen in place (requires_grad false) and never copied; switching the
// adapters off gives the base model back exactly, which is how the trainer gets reference
// log-probs without a second model. Adapters are saved and read in peft's format
// (adapter_config.json + adapter_model.safetensors with keys
// "base_model.model.<module>.lora_A.weight"), and can be merged into the base weights.
// Not the training loop (trainer/) and not the model (lm/transformer.h holds the adapter slot).
#pragma once

#include "lm/transformer.h"
#include "policy/lora_config.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace precept::policy {

// Freezes every parameter of `model` and attaches adapters to the linear modules that
// config.target_modules names, A drawn from a generator seeded with `seed`. Adapters are fp32
// when the base is bf16 or fp16 (peft's autocast_adapter_dtype), else in the base's dtype, on
// its device. Returns the adapted module paths ("model.layers.0.self_attn.q_proj", ...). Throws
// when the model already has adapters, r or alpha is not positive, dropout is outside [0, 1),
// or a target name matches no module (listing the linear modules there are).
std::vector<std::string> attach_lora(lm::TransformerImpl& model, const LoraConfig& config, uint64_t seed);

// Whether any module of `model` carries an adapter.
bool has_lora(lm::TransformerImpl& model);

// The adapter parameters, named as model.named_parameters() names them.
std::vector<std::pair<std::string, at::Tensor>> lora_parameters(lm::TransformerImpl& model);

// Turns every adapter on or off (the model's own weights are untouched either way).
void set_lora_enabled(lm::TransformerImpl& model, bool enabled);

// The base model for the scope of the guard: adapters off, back on when it ends. Does nothing
// when `active` is false.
class LoraDisabled {
 public:
  LoraDisabled(lm::TransformerImpl& model, bool active = true);
  ~LoraDisabled();
  LoraDisabled(const LoraDisabled&) = delete;
  LoraDisabled& operator=(const LoraDisabled&) = delete;

 private:
  lm::TransformerImpl* model_;
};

// W += scale * B A for every adapted module (computed in fp32, stored in W's dtype), then the
// adapters are removed: the model is a plain model again (peft's merge_and_unload).
void merge_and_unload(lm::TransformerImpl& model);

// peft's file names.
inline constexpr const char* kAdapterConfigFile = "adapter_config.json";
inline constexpr const char* kAdapterWeightsFile = "adapter_model.safetensors";

// Writes `dir`/adapter_config.json and adapter_model.safetensors (in the adapters' dtype, or
// `dtype` when given). target_modules is written as the module names actually adapted, as peft
// writes an expanded "all-linear". `base_model` goes to base_model_name_or_path.
void save_adapter(lm::TransformerImpl& model, const LoraConfig& config, const std::filesystem::path& dir,
                  const std::string& base_model, std::optional<c10::ScalarType> dtype = std::nullopt);

// Reads a peft LoRA adapter_config.json. Throws naming the file and the key for what precept
// does not do (DoRA, bias training, modules_to_save, rank or alpha patterns, layers_to_transform,
// fan_in_fan_out, another peft_type) and for malformed values.
LoraConfig read_adapter_config(const std::filesystem::path& dir);

// Attaches adapters as `dir`'s config says (unless `model` already has adapters of that
// shape) and fills them from its safetensors. Every adapted module must have both tensors with
// the right shapes; a missing, unexpected or misshapen tensor is an error naming it and the file.
// Returns the config read.
LoraConfig load_adapter(lm::TransformerImpl& model, const std::filesystem::path& dir);

// Copies the adapter tensors of `dir` into `model`'s existing adapters (the same checks).
void load_adapter_weights(lm::TransformerImpl& model, const std::filesystem::path& dir);

}  // namespace precept::policy
