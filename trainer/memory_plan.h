// What a GRPO run will hold in memory, per rank, worked out before anything is allocated: the
// policy's weights, LoRA adapters, gradients, fp32 masters and AdamW moments (replicated or
// ZeRO-1 sharded, as trainer/dist/data_parallel.h lays them out), the reference, each judge or
// reward model, the KV caches, and the work of each phase (rollout, judging, the update's
// activations with or without recompute, the optimizer step). Parameter counts come from the
// real modules built on the meta device (no memory), so they are exact; caches use the
// generator's own arithmetic; activations follow from the tensors autograd saves per decoder
// layer (docs/memory.md derives them, tests/test_memory_plan.cpp measures them).
//
// Held parts are summed; of the phases only the largest counts, since they run one after
// another. `precept train` prints the plan and refuses a run whose total exceeds the memory
// there is; `precept train --check` and `precept plan` print it. Not the trainer.
#pragma once

#include "lm/model_config.h"
#include "trainer/config.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace precept::trainer {

struct MemoryItem {
  std::string part;    // "policy weights"
  std::string detail;  // how it was counted: "134.5M x 4 B (float32)"
  int64_t bytes = 0;   // per rank
  std::string phase;   // "" = held for the whole run, else the phase it exists in ("rollout", "update", ...)
};

struct MemoryPlan {
  std::string memory;      // "CPU RAM" or "GPU memory (cuda)"
  std::string summary;     // the run in one line: ranks, models, dtypes, LoRA, ZeRO-1
  std::vector<MemoryItem> items;
  int64_t ranks_sharing = 1;   // ranks whose plans share this memory (local ranks on one CPU machine)
  int64_t limit_bytes = 0;     // what they may use together; 0 = unknown (no check)
  std::string limit_source;    // "MemAvailable", "--memory-gb", "run.memory_limit_gb", ...
  std::string host_note;       // a GPU run: what it holds in CPU RAM

  int64_t held_bytes() const;                 // the parts held for the whole run
  std::pair<std::string, int64_t> peak_phase() const;  // the largest phase and its bytes
  int64_t total_bytes() const;                // per rank: held + the largest phase
  bool fits() const;                          // total x ranks_sharing <= limit (true when unknown)
  std::string table() const;                  // the printed plan
  nlohmann::json to_json() const;             // the same, with exact bytes (precept plan --json)
};

// A model's shape from a recipe's model path (a model directory, config.json or .gguf file).
// `role` ("policy", "judge", "reward model") says which, so that `precept plan` can substitute a
// shape for a model that is not on this machine.
using ShapeSource = std::function<lm::ModelConfig(const std::string& path, const std::string& role)>;
lm::ModelConfig model_shape(const std::string& path);

struct MemoryPlanOptions {
  int64_t world_size = 1;
  int64_t ranks_sharing = 1;       // see MemoryPlan
  int64_t longest_prompt = 0;      // tokens; 0 = data.max_prompt_tokens, an upper bound
  int64_t limit_bytes = -1;        // -1: run.memory_limit_gb, else what the device has
  std::string limit_source;        // names where limit_bytes came from when it is given
  ShapeSource shape;               // default: model_shape
};

MemoryPlan plan_run_memory(const RunConfig& config, const MemoryPlanOptions& options = {});

// The bytes autograd keeps per token of one decoder layer in training (docs/memory.md derives
// them from the tensors each op saves).
struct LayerActivations {
  int64_t element_bytes = 4;       // the activations' dtype
  bool frozen_base = false;        // LoRA: the base weights do not train
  std::set<std::string> adapted;   // LoRA: the module kinds with adapters
  int64_t adapter_bytes = 4;       // LoRA: the adapters' dtype
  int64_t rank = 0;                // LoRA: r
};
int64_t layer_activation_bytes(const lm::ModelConfig& config, const LayerActivations& kind);

// The policy generator's slots: rollout.slots, but no more than the sequences a rank generates
// at once (its share of rollout.prompts_per_step x group_size; a refill round makes fewer), so
// that no rank allocates KV cache it can never use.
int64_t rollout_slots(const RunConfig& config, int64_t world_size);

// The number of ranks on this machine from the launcher's environment (LOCAL_WORLD_SIZE,
// SLURM_NTASKS_PER_NODE), else 1; and the world size (WORLD_SIZE, SLURM_NTASKS), else 1.
int64_t local_ranks_from_environment();
int64_t world_size_from_environment();

}  // namespace precept::trainer
