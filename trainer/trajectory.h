// The typed batch one training step works on: this rank's rollouts, group-major (sequence
// s = group g * G + sample j), and what the phases add to it (rewards, log-probs, advantages).
// Not the phases themselves (trainer/phases.h) and not the metrics (trainer/step_metrics.h).
// Used by the GRPO loop and by every loop built from the same phases.
#pragma once

#include "reward/reward.h"
#include "rollout/generator.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace precept::trainer {

// Wall time of the phases, summed over refill rounds.
struct PhaseSeconds {
  double generate = 0, reward = 0, reference = 0, update = 0, critic = 0;
};

struct Trajectory {
  int64_t group_size = 0;                          // G
  // Per group: the dataset index and the group's position in the step's global batch (its
  // random streams and its global sequence ids derive from the position).
  std::vector<int64_t> prompt_index, position;     // [groups]
  std::vector<rollout::Completion> completions;    // [groups * G]
  std::vector<std::string> texts;                  // [groups * G] decoded, stop string cut
  std::vector<reward::GroupScores> scores;         // [groups]
  int64_t generated_tokens = 0;

  // Added by the phases after scoring.
  std::vector<double> rewards;                     // [S] shaped: overlong penalty, KL in the reward
  std::vector<at::Tensor> old_logprobs;            // [S] each [length]; empty when not needed
  std::vector<at::Tensor> reference_logprobs;      // [S] each [length]; empty without KL
  at::Tensor advantages;                           // [S] fp32 on the CPU (group estimators)
  // PPO (advantage = "gae"), per sequence, each [length] fp32 on the CPU (trainer/ppo.h).
  std::vector<at::Tensor> old_values;              // the critic's values before the update
  std::vector<at::Tensor> token_advantages;        // GAE, whitened over the step's batch when asked
  std::vector<at::Tensor> returns;                 // GAE + old values (the critic's targets)
  std::vector<bool> included;                      // [S] false: the sequence sits out the update
  std::vector<int64_t> zero_variance_groups;       // groups whose rewards were all equal (last computation)

  // Counters of the step, for its metrics.
  int64_t zero_variance_first = 0;                 // before any DAPO refill
  int64_t resampled = 0;                           // groups replaced by DAPO refills
  double kl_reward_mean = 0;                       // mean per-token KL charged in the reward (KL in reward)
  double kl_coef = 0;                              // the coefficient it was charged with (adaptive under PPO)
  PhaseSeconds seconds;

  int64_t groups() const { return static_cast<int64_t>(prompt_index.size()); }
  int64_t sequences() const { return static_cast<int64_t>(completions.size()); }
  int64_t length(int64_t s) const { return static_cast<int64_t>(completions[s].tokens.size()); }
  // The sequence's number in the step's global batch, the same whatever the world size.
  int64_t global_id(int64_t s) const { return position[s / group_size] * group_size + s % group_size; }
  // The reward each sequence got from the reward function, unshaped.
  std::vector<double> raw_rewards() const;
};

}  // namespace precept::trainer
