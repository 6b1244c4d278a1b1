// The update phase of an RL step: epochs x mini-batches optimizer steps over a trajectory's
// included sequences, each mini-batch run as micro-batches whose gradients accumulate, summed
// over ranks, clipped, then one AdamW step; a non-finite loss or gradient stops training before
// the step. Mini-batches are sets of global sequence ids (the same whatever the world size),
// permuted per epoch by the mini-batch stream. The loss of a micro-batch is a callback, so GRPO,
// PPO and judge training share this loop. Not the loss math (trainer/policy_loss.h).
#pragma once

#include "trainer/dist/data_parallel.h"
#include "trainer/hooks.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/phases.h"
#include "trainer/policy_loss.h"

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace precept::trainer {

// Training cannot go on: a NaN or inf in the loss or the gradients, named with the step.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The optimizer a loop trains with, and its step counter (it drives the schedule).
struct Optimization {
  DataParallelOptimizer& optimizer;
  const LrSchedule& schedule;
  int64_t& optimizer_steps;
  double max_grad_norm = 1.0;
};

// One optimizer step once every rank has back-propagated its micro-batches: gradients summed
// over ranks, checked, clipped and applied at the schedule's rate; throws TrainingDiverged
// (naming `step`, the ranks or the parameter) instead of stepping on a NaN or inf.
DataParallelStep optimizer_step(Optimization& optimization, int64_t step, double nonfinite_losses);

// What the update did on this rank, summed over its micro-batches.
struct UpdateTotals {
  double loss_sum = 0;        // sum of the micro-batch losses
  double tokens = 0;          // valid response tokens seen
  double last_grad_norm = 0;  // of the last optimizer step (the same on every rank)
  std::map<std::string, double> stat_sums;  // each loss statistic weighted by its micro-batch's tokens
  double seconds = 0;
  // The forward/backward passes: prompt + response tokens, the tokens with padding (rows x the
  // longest row, per micro-batch), and the micro-batches, over all epochs and mini-batches.
  double sequence_tokens = 0, padded_tokens = 0, micro_batches = 0;
};

// What a micro-batch's loss callback returns: the loss to back-propagate, its valid tokens, and
// statistics (token means) to log, each weighted by the tokens when micro-batches are combined.
struct MicroBatchResult {
  at::Tensor loss;
  double tokens = 0;
  std::map<std::string, double> stats;
};
MicroBatchResult micro_batch_result(const PolicyLossResult& result);

// The loss of a micro-batch of local sequences, given the whole mini-batch's normaliser.
using MicroBatchLoss = std::function<MicroBatchResult(const std::vector<int64_t>& members, const LossNormalizer& normalizer)>;

UpdateTotals run_update(const StepContext& context, const Trajectory& trajectory, Optimization& optimization,
                        const MicroBatchLoss& loss_of, const TrainerHooks& hooks);

// The members' per-sequence tensors (log-probs, advantages, values, returns of [length] each)
// as [B, R] rows, zero-padded, in `options`.
at::Tensor padded_members(const std::vector<at::Tensor>& per_sequence, const std::vector<int64_t>& members, int64_t R,
                          const at::TensorOptions& options);

// GRPO's micro-batch loss: the policy's log-probs (and entropy) now against the old and the
// reference log-probs, with the sequences' advantages (PPO: each token's).
PolicyLossResult grpo_micro_batch_loss(const StepContext& context, const Trajectory& trajectory,
                                       const std::vector<int64_t>& members, const LossNormalizer& normalizer);

}  // namespace precept::trainer
