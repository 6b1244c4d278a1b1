// Per-token estimators of KL(policy || reference) from sampled tokens' log-probs (Schulman's
// k1, k2, k3), for the KL term in the loss and for the "KL in reward" penalty. Not the policy
// loss itself (trainer/policy_loss.h). Used by the GRPO trainer; formulas in docs/grpo.md.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <string_view>

namespace precept::trainer {

enum class KlEstimator {
  kK1,  // "k1" (veRL "kl"):          logp - logp_ref
  kK2,  // "k2" (veRL "mse"):         0.5 (logp - logp_ref)^2
  kK3,  // "k3" (veRL "low_var_kl"):  exp(logp_ref - logp) - (logp_ref - logp) - 1
};

struct KlOptions {
  KlEstimator estimator = KlEstimator::kK3;
  // veRL's clamping of k3: the log-ratio logp_ref - logp to [-20, 20] before exp, the estimate
  // to [-10, 10] after (TRL clamps nothing). k1 and k2 are never clamped.
  bool clamp = true;
  // veRL's "+" names ("k1+", "k3+"): the value of the estimator, the gradient of k2 (a
  // straight-through estimator whose expected gradient is the KL's).
  bool straight_through = false;
};

// "k1", "k2", "k3" and veRL's aliases "kl", "mse", "low_var_kl", each optionally with a "+"
// suffix (straight-through, see KlOptions). The clamp stays at its default. Throws
// std::invalid_argument listing the valid names for anything else.
KlOptions parse_kl_estimator(std::string_view name);
std::string kl_estimator_name(const KlOptions& options);

// logprobs, reference_logprobs: [B, T] (same shape and device) -> [B, T] per-token estimates in
// the inputs' dtype (fp32 at least). Differentiable in logprobs; masking is the caller's.
at::Tensor kl_estimate(const at::Tensor& logprobs, const at::Tensor& reference_logprobs, const KlOptions& options);

// "KL in reward" (veRL `algorithm.use_kl_in_reward`, `kl_penalty`, `kl_ctrl.kl_coef`): each
// response's reward minus coef times the sum over its valid tokens of the per-token KL of the
// rollout policy (old_logprobs) to the reference. Equal to veRL's token-level
// `token_level_scores - beta * kld` once GRPO sums a response's token rewards into one score.
struct KlRewardPenalty {
  at::Tensor rewards;    // [B] fp32: rewards - coef * sum_t kl[b, t] * mask[b, t]
  at::Tensor token_kl;   // [B, T] fp32, zero where mask is false
  at::Tensor mean_kl;    // scalar: mean over responses of each response's token-mean KL (veRL's metric)
};
// rewards [B]; old_logprobs, reference_logprobs, mask [B, T] (mask bool or 0/1 floats).
KlRewardPenalty kl_penalized_rewards(const at::Tensor& rewards, const at::Tensor& old_logprobs,
                                     const at::Tensor& reference_logprobs, const at::Tensor& mask, double coef,
                                     const KlOptions& options = {KlEstimator::kK1, true, false});

}  // namespace precept::trainer
