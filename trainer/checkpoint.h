// Training checkpoints: under <output_dir>/checkpoints/step-NNNNNNNN/ a Hugging Face model
// directory (loadable by transformers as is), the optimizer state (safetensors), and
// trainer_state.json (step, data position, seeds, RNG state, world size). Every checkpoint is
// written into a temporary folder and renamed into place, then `latest` is replaced atomically,
// so an interrupted write never damages an earlier checkpoint; only the last K are kept.
// Not the model format itself (lm/pretrained.h).
#pragma once

#include "lm/transformer.h"
#include "policy/lora_config.h"

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace precept::trainer {

struct CheckpointContents {
  std::filesystem::path dir;
  nlohmann::json state;                        // trainer_state.json
  std::map<std::string, at::Tensor> optimizer;  // optimizer.safetensors, by name
  std::filesystem::path model_dir() const { return dir / "model"; }
  // PPO: the critic (trainer/critic.h) and its optimizer state, when the run has one.
  std::filesystem::path critic_dir() const { return dir / "critic"; }
  std::filesystem::path critic_optimizer_file() const { return dir / "critic_optimizer.safetensors"; }
  std::filesystem::path adapter_dir() const { return dir / "adapter"; }  // LoRA runs: peft's format
  bool has_adapter() const;
};

class CheckpointManager {
 public:
  CheckpointManager(std::filesystem::path output_dir, int64_t keep_last);

  // Writes checkpoint `step` and returns its folder. `model_source` supplies the tokenizer and
  // generation files copied next to the weights. The model is written in `dtype` (fp32 keeps
  // resumption exact). With `lora` only the adapters are written, as a peft adapter folder
  // `adapter/` (the base is the unchanged `model_source`). Older checkpoints beyond keep_last
  // are removed after the new one is in place. `extra` writes more parts (the PPO critic) into
  // the folder before it is moved into place, so they are as atomic as the rest.
  std::filesystem::path save(int64_t step, lm::TransformerImpl& model, const std::filesystem::path& model_source,
                             const std::map<std::string, at::Tensor>& optimizer_state, const nlohmann::json& state,
                             std::optional<c10::ScalarType> dtype = std::nullopt,
                             const std::optional<policy::LoraConfig>& lora = std::nullopt,
                             const std::function<void(const std::filesystem::path&)>& extra = {});

  // Called after each stage of save(), in order: "model" (weights or adapter written), "optimizer",
  // "state" (trainer_state.json; the folder is complete but still partial), "moved" (in place,
  // `latest` not yet updated), "latest". For the kill tests (TrainerHooks::during_checkpoint).
  void set_stage_hook(std::function<void(const char* stage)> hook) { stage_hook_ = std::move(hook); }

  // The newest complete checkpoint (from `latest`, else the highest step folder), if any.
  std::optional<std::filesystem::path> latest() const;
  std::filesystem::path directory() const { return root_; }

 private:
  void prune();
  void stage_done(const char* stage) const {
    if (stage_hook_) stage_hook_(stage);
  }
  std::filesystem::path root_;
  int64_t keep_last_;
  std::function<void(const char* stage)> stage_hook_;
};

// Writes named tensors as safetensors (the optimizer states' file format), copied to the CPU.
void write_tensor_file(const std::filesystem::path& path, const std::map<std::string, at::Tensor>& tensors);
// Reads such a file back, every tensor cloned out of the mapping. Throws naming a missing file.
std::map<std::string, at::Tensor> read_tensor_file(const std::filesystem::path& path);

// Reads a checkpoint folder (or a run's output folder, meaning its latest checkpoint). Throws
// naming the file when something is missing or malformed.
CheckpointContents load_checkpoint(const std::filesystem::path& path);

}  // namespace precept::trainer
