// The memory planner: before a run loads anything, what each part of it will cost per rank, in
// CPU RAM and in GPU memory, from the models' config.json alone: policy weights, fp32 masters,
// AdamW moments, gradients, LoRA adapters, the reference, the judge, the KV caches and the
// activations (with and without recompute). `precept train --check` and `precept plan` print it;
// a run whose plan exceeds its budget is refused with the numbers. Estimates, not measurements:
// each part states its formula (docs/memory.md), and the allocator's fragmentation and the
// framework's own overhead (CUDA context, LibTorch) are a separate line. Not the trainer.
#pragma once

#include "lm/model_config.h"
#include "policy/lora_config.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace precept::trainer {

// What the planner needs to know of a run (filled from a RunConfig by plan_inputs_of in
// trainer/memory_plan_run.h, or by hand in tests).
struct PlanInputs {
  lm::ModelConfig policy;                  // the trained model's config.json
  c10::ScalarType policy_dtype = c10::kFloat;
  std::optional<policy::LoraConfig> lora;  // adapters instead of full fine-tuning
  bool reference = false;                  // KL on: a reference model (free with LoRA: the base, adapters off)
  bool recompute = false;                  // activation recomputation per decoder layer
  int64_t logprob_chunk = 1024;            // tokens per chunk of the fp32 log-softmax

  // Rollouts: KV-cache slots of the policy and the longest sequence (prompt + response).
  int64_t rollout_slots = 64;
  int64_t sequence_length = 0;             // max prompt tokens + max new tokens
  bool release_cache = false;              // the KV cache is freed before the update

  // The update: sequences per forward/backward.
  int64_t micro_batch_size = 8;

  // An in-process judge (RewardAnything) or reward model, when the reward has one.
  std::optional<lm::ModelConfig> judge;
  c10::ScalarType judge_dtype = c10::kBFloat16;
  int64_t judge_slots = 0;                 // KV-cache slots of the judge
  int64_t judge_sequence_length = 0;       // its longest prompt + judgment

  int world_size = 1;
  bool zero1 = false;
  bool gpu = false;                        // the model state lives in GPU memory (else CPU RAM)
};

// One line of the plan: bytes per rank in each memory.
struct PlanPart {
  std::string name;      // "policy weights", "fp32 masters", "Adam moments", ...
  int64_t gpu_bytes = 0;
  int64_t cpu_bytes = 0;
  std::string formula;   // how it was computed, e.g. "7.57e9 params x 2 B (bf16)"
};

struct MemoryPlan {
  std::vector<PlanPart> parts;
  int64_t gpu_total = 0, cpu_total = 0;        // per rank
  int64_t policy_parameters = 0;               // all of the policy's parameters
  int64_t trainable_parameters = 0;            // full fine-tuning: all; LoRA: the adapters'
  int64_t activations_without_recompute = 0;   // per rank, for the comparison line
  int64_t activations_with_recompute = 0;
};

// Parameter counts from a config, as lm::Transformer builds the model (embedding, per layer
// q/k/v/o with their biases, q/k norms, the MLP, two norms; the final norm; lm_head unless tied;
// a classifier's score).
int64_t parameter_count(const lm::ModelConfig& config);
// The adapter parameters LoRA adds to `config`'s linear modules for `lora` (r * (in + out) each).
int64_t lora_parameter_count(const lm::ModelConfig& config, const policy::LoraConfig& lora);

MemoryPlan plan_memory(const PlanInputs& inputs);

// The plan as a table: one row per part, GiB per rank in GPU memory and CPU RAM, the formula;
// totals; and against the budgets (0 = not known, not compared).
std::string format_plan(const MemoryPlan& plan, const PlanInputs& inputs, double gpu_budget_gib, double cpu_budget_gib);

// Throws, with the table, when a total exceeds its (non-zero) budget: "does not fit: GPU needs
// X GiB per rank, Y GiB available".
void require_fits(const MemoryPlan& plan, const PlanInputs& inputs, double gpu_budget_gib, double cpu_budget_gib);

}  // namespace precept::trainer
