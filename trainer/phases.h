// The phases of an RL step, each a function over a Trajectory (trainer/trajectory.h):
//
//   collect_rollouts -> score -> refill_zero_variance_groups (DAPO) -> shape_rewards
//     -> old_and_reference_logprobs -> kl_in_reward -> group_advantages -> update (trainer/update.h)
//     -> reduce_step_metrics (trainer/step_metrics.h)
//
// A loop is a sequence of these calls (GrpoTrainer::step); another algorithm reuses them in
// another order or with another advantage phase. Not the math (advantages.h, kl.h,
// policy_loss.h) and not the optimizer (update.h).
#pragma once

#include "lm/transformer.h"
#include "policy/sequences.h"
#include "reward/reward.h"
#include "rollout/generator.h"
#include "text/tokenizer.h"
#include "trainer/config.h"
#include "trainer/dist/communicator.h"
#include "trainer/prompt_data.h"
#include "trainer/trajectory.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <vector>

namespace precept::trainer {

// What the phases of one step read: the run's parts and the step being taken.
struct StepContext {
  const RunConfig& config;
  Communicator& communicator;
  c10::Device device;
  lm::TransformerImpl& policy;
  lm::TransformerImpl* reference;  // the frozen reference (with LoRA: `policy`); null when KL is off
  rollout::Generator& generator;
  const text::Tokenizer& tokenizer;
  const PromptDataset& data;
  reward::Reward& reward;
  const std::vector<int64_t>& stop_ids;
  int64_t step;  // 1-based number of the step being taken
  bool reference_is_base = false;  // LoRA: the reference is the policy with its adapters off
  double kl_coef = 0;              // the KL-in-reward coefficient of this step (adaptive with algorithm.kl_target)
};

// G responses for each of `prompts` (dataset indices) from the policy itself (no grad, KV
// cache). The groups take positions first_position, first_position + 1, ...; each sample's
// random stream is a function of (run seed, step, position, sample).
Trajectory collect_rollouts(const StepContext& context, const std::vector<int64_t>& prompts, int64_t first_position);

// One batched reward call over the trajectory's groups.
void score(const StepContext& context, Trajectory& trajectory);

// collect_rollouts then score.
Trajectory collect_scored_rollouts(const StepContext& context, const std::vector<int64_t>& prompts,
                                   int64_t first_position);

// The reward of every sequence plus the overlong penalty when it is on: [S].
std::vector<double> shape_rewards(const AlgorithmSection& algorithm, const Trajectory& trajectory);

// DAPO dynamic sampling: groups without signal (all rewards equal) are replaced with groups of
// fresh prompts, drawn in the same order on every rank, for up to max_resample_rounds rounds.
// Records zero_variance_first and resampled. Off unless filter_zero_variance is set.
void refill_zero_variance_groups(const StepContext& context, PromptSampler& sampler, Trajectory& trajectory);

// Log-probs that need no gradient: the policy before the update (when the update takes several
// optimizer steps, or KL goes into the reward) and the frozen reference (when KL is on).
void old_and_reference_logprobs(const StepContext& context, Trajectory& trajectory);
bool needs_old_logprobs(const AlgorithmSection& algorithm);

// The KL in the reward's per-token estimates k(old, ref) of every response ([length] each), for
// kl = "reward". Records in the trajectory the mean over all ranks' responses of each one's
// token mean (a collective) and the step's coefficient, context.kl_coef.
std::vector<at::Tensor> rollout_kl(const StepContext& context, Trajectory& trajectory);

// veRL's use_kl_in_reward: each response's reward loses kl_coef * sum_t k(old, ref) (rollout_kl,
// the step's coefficient). Does nothing unless kl = "reward".
void kl_in_reward(const StepContext& context, Trajectory& trajectory);

// Group-relative advantages of the shaped rewards; with filter_zero_variance, the groups without
// signal sit out the update.
void group_advantages(const StepContext& context, Trajectory& trajectory);

// The training sequences (prompt + response) of some of the trajectory's sequences.
policy::SequenceBatch sequence_batch(const StepContext& context, const Trajectory& trajectory,
                                     const std::vector<int64_t>& members);

// `members` as micro-batches, longest first (ties keep their order), so that each pads little:
// at most `size` sequences each and, when max_tokens > 0, at most max_tokens padded tokens (rows
// x the longest row; a sequence longer than that goes alone). length(m) is member m's tokens.
std::vector<std::vector<int64_t>> length_bucketed_micro_batches(std::vector<int64_t> members,
                                                                const std::function<int64_t(int64_t)>& length,
                                                                int64_t size, int64_t max_tokens = 0);

// Prompt + response tokens of the trajectory's local sequence s.
int64_t trajectory_tokens(const StepContext& context, const Trajectory& trajectory, int64_t s);

// The trajectory's local sequences `members` as micro-batches of algorithm.micro_batch_size:
// consecutive, or with algorithm.micro_batch_tokens > 0 length_bucketed_micro_batches by prompt
// + response tokens under that cap (N ranks and 1 rank then bucket differently, so their weights
// agree to fp32 rounding, not bit for bit).
std::vector<std::vector<int64_t>> trajectory_micro_batches(const StepContext& context, const Trajectory& trajectory,
                                                           std::vector<int64_t> members);
// The same over all of the trajectory's local sequences.
std::vector<std::vector<int64_t>> trajectory_micro_batches(const StepContext& context, const Trajectory& trajectory);

// Time since `start`, in seconds.
double seconds_since(std::chrono::steady_clock::time_point start);

}  // namespace precept::trainer
