// Points where a test steps into training: fault injection for the distributed and kill tests
// (tests/support/fault_hooks.cpp installs them in the test-only `precept_fault` binary from
// PRECEPT_FAULT). Empty in production, where the trainer only checks that they are unset.
// Not a plugin interface.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

namespace precept::trainer {

struct TrainerHooks {
  // At the start of a step (1-based number), on every rank. May throw, exit or hang.
  std::function<void(int64_t step, int rank)> before_step;
  // After each micro-batch's loss is computed, before backward. May poison the loss.
  std::function<void(int64_t step, int rank, at::Tensor& loss)> on_loss;
  // Inside the write of checkpoint `step` on the rank that writes it, after each stage
  // (CheckpointManager::set_stage_hook names them). May kill the process, as a power cut would.
  std::function<void(int64_t step, const char* stage)> during_checkpoint;
};

}  // namespace precept::trainer
