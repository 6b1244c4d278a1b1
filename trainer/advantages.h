// Group-relative advantages: per-response rewards of G responses per prompt in, one advantage
// per response out (GRPO z-score, Dr. GRPO mean-only, RLOO leave-one-out), plus the groups that
// carry no learning signal (DAPO's dynamic sampling drops them) and DAPO's overlong penalty.
// Not the loss (trainer/policy_loss.h) and not the rewards themselves (reward/). Used by the
// GRPO trainer between scoring and the update; docs/grpo.md gives every formula.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace precept::trainer {

enum class AdvantageEstimator {
  kGrpo,    // "grpo": (r - mean_group) / (std + epsilon), std as chosen by RewardScaling
  kDrGrpo,  // "dr_grpo": r - mean_group (Dr. GRPO; "grpo" with scaling "none")
  kRloo,    // "rloo": r - mean of the other G-1 = G/(G-1) (r - mean_group)
  kGae,     // "gae": PPO with a critic, per-token advantages (trainer/gae.h), not computed here
};

// Which standard deviation divides GRPO advantages (TRL's `scale_rewards`; veRL's
// `norm_adv_by_std_in_grpo` is "group" when true and "none" when false).
enum class RewardScaling {
  kGroup,  // "group": std of the response's own group (GRPO, veRL and TRL default)
  kBatch,  // "batch": std of every valid reward in the batch (TRL "batch"; mean stays per group)
  kNone,   // "none": no division (Dr. GRPO)
};

// "grpo", "dr_grpo", "rloo", "gae"; throws std::invalid_argument listing them for anything else.
AdvantageEstimator parse_advantage_estimator(std::string_view name);
std::string advantage_estimator_name(AdvantageEstimator estimator);
// "group", "batch", "none" (also "true" = group and "false" = none, as veRL's boolean).
RewardScaling parse_reward_scaling(std::string_view name);
std::string reward_scaling_name(RewardScaling scaling);

struct AdvantageConfig {
  AdvantageEstimator estimator = AdvantageEstimator::kGrpo;
  RewardScaling scaling = RewardScaling::kGroup;  // used by kGrpo only
  double epsilon = 1e-6;     // added to the std (veRL 1e-6; TRL uses 1e-4)
  bool unbiased_std = true;  // Bessel's correction (N-1), as torch.std in veRL and TRL's nanstd
};

struct GroupAdvantages {
  at::Tensor advantages;  // the shape of the rewards ([N*G] or [N, G]), fp32; 0 where the reward is NaN
  at::Tensor group_mean;  // [N] mean of the valid rewards of each group (NaN for a group with none)
  at::Tensor group_std;   // [N] the std that divided the group (1 where nothing divided), fp32
  // Groups that carry no learning signal: all valid rewards equal (zero variance), or fewer than
  // two valid rewards when G >= 2. Every advantage in them is 0. Ascending group indices.
  std::vector<int64_t> zero_variance_groups;
  int64_t invalid_rewards = 0;  // NaN rewards (excluded from means and stds, advantage 0)
};

// rewards: [N*G] with each prompt's G responses consecutive, or [N, G]; any floating dtype (the
// math runs in fp64 on the CPU copy and returns fp32 on the rewards' device). NaN marks a
// reward that could not be computed: it is left out of its group's statistics and gets 0.
// group_size: G for flat rewards; for [N, G] rewards pass G or 0. G = 1: "grpo" and "dr_grpo"
// use mean 0 and std 1 as veRL does (the advantage is the reward itself, REINFORCE without a
// baseline); "rloo" throws, since it has no other response to leave out.
GroupAdvantages compute_advantages(const at::Tensor& rewards, int64_t group_size, const AdvantageConfig& config);

// DAPO's soft overlong punishment (veRL `reward_model.overlong_buffer.{len, penalty_factor}`,
// max_length = `data.max_response_length`): 0 for length <= max_length - buffer_length, then
// linear down to -penalty_factor at length == max_length, and -penalty_factor beyond it.
struct OverlongPenalty {
  int64_t max_length = 0;     // L_max, the longest response the rollout allows
  int64_t buffer_length = 0;  // L_cache, the soft zone before L_max (0 < L_cache <= L_max)
  double penalty_factor = 1.0;
};
double overlong_penalty(int64_t response_length, const OverlongPenalty& config);
// lengths [B] integer -> penalties [B] fp32 (added to the rewards before advantages).
at::Tensor overlong_penalties(const at::Tensor& lengths, const OverlongPenalty& config);

}  // namespace precept::trainer
