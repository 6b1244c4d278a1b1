// The math of PPO with a critic: per-token rewards, generalised advantage estimation with its
// returns, masked whitening, the clipped value loss, the critic's explained variance and the
// adaptive KL controller. Tensors in, tensors out; no model and no trainer (the PPO phases are
// trainer/ppo.h). Each formula is veRL's (verl/trainer/ppo/core_algos.py,
// verl/utils/torch_functional.py) and is written out in docs/ppo.md beside OpenRLHF's and TRL's.
#pragma once

#include "trainer/policy_loss.h"

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace precept::trainer {

// Per-token rewards of right-padded responses: r_t = -kl_coef * kl_t on every valid token, and
// the sequence's score added at its last valid token (veRL apply_kl_penalty with the score at
// valid_length - 1; OpenRLHF compute_reward). scores [B]; mask [B, T] bool or 0/1; kl [B, T] or
// undefined (no KL in the reward). A response without a valid token gets no reward. fp64 in
// when any input is fp64, else fp32; zero on padding.
at::Tensor token_level_rewards(const at::Tensor& scores, const at::Tensor& mask, const at::Tensor& kl, double kl_coef);

struct GaeResult {
  at::Tensor advantages;  // [B, T], zero on padding (before any whitening)
  at::Tensor returns;     // [B, T] advantages + values, zero on padding
};

// veRL's compute_gae_advantage_return, the masked recursion: from the last position back,
//   delta_t = r_t + gamma * V_next - V_t,  A_t = delta_t + gamma * lam * A_next,
// where V_next and A_next carry over masked positions unchanged (so padding, or tokens inside a
// response that are not trained, neither add a TD error nor break the chain), and R_t = A_t + V_t.
// token_rewards, values [B, T] floating; mask [B, T] bool or 0/1.
GaeResult gae_advantages(const at::Tensor& token_rewards, const at::Tensor& values, const at::Tensor& mask, double gamma,
                         double lam);

// veRL's masked_whiten (shift_mean = true): (x - mean) / sqrt(var + 1e-8) with the mean and the
// unbiased (n - 1) variance over the valid positions; zero on padding. Throws when fewer than
// two positions are valid (the variance is undefined).
at::Tensor masked_whiten(const at::Tensor& values, const at::Tensor& mask);

struct ValueLossResult {
  at::Tensor loss;           // 0.5 * aggregate(max((v - R)^2, (clip(v, V_old - c, V_old + c) - R)^2))
  at::Tensor clip_fraction;  // token mean of (clipped loss > unclipped loss), detached (veRL vf_clipfrac)
  at::Tensor value_mean;     // token mean of v, detached
  at::Tensor token_mean_loss;  // 0.5 * token mean of the per-token loss, detached (whatever the aggregation)
  at::Tensor tokens;         // valid tokens
};

// veRL's compute_value_loss. values [B, T] (requires grad), old_values, returns, mask [B, T];
// clip c >= 0 (0 turns the clipped branch into the unclipped one); aggregated like the policy
// loss (trainer/policy_loss.h) with the same global normaliser.
ValueLossResult value_loss(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                           const at::Tensor& mask, double clip, LossAggregation aggregation,
                           const LossNormalizer& normalizer = {});

// 1 - Var(R - V) / (Var(R) + 1e-5) over the valid positions, unbiased variances (veRL's
// critic/vf_explained_var). NaN when fewer than two positions are valid.
double explained_variance(const at::Tensor& returns, const at::Tensor& values, const at::Tensor& mask);

// veRL's AdaptiveKLController (after Ziegler et al. 2019): after each step,
//   coef *= 1 + clip(kl / target - 1, -0.2, 0.2) * n_steps / horizon,
// with kl the step's mean KL and n_steps its number of sequences. The coefficient is part of the
// trainer's state (checkpointed), so a resumed run continues with it.
double adapted_kl_coef(double coef, double current_kl, double target, int64_t n_steps, int64_t horizon);

}  // namespace precept::trainer
