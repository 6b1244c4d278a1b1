// The GRPO/PPO policy loss: clipped importance ratio with separate low and high clip ranges
// (DAPO clip-higher), optional dual clip for negative advantages, veRL's loss aggregation modes,
// an optional entropy bonus and KL-to-reference term, and the statistics a trainer logs.
// Not the log-probs (policy/logprobs.h) or advantages (trainer/advantages.h). Used by the GRPO
// trainer for every micro-batch; docs/grpo.md gives each formula and its TRL/veRL option name.
#pragma once

#include "trainer/kl.h"

#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <string_view>

namespace precept::trainer {

// How [B, T] per-token losses become one number (veRL `actor.loss_agg_mode`).
enum class LossAggregation {
  kTokenMean,           // "token-mean": sum over valid tokens / number of valid tokens (veRL default, DAPO)
  kSeqMeanTokenMean,    // "seq-mean-token-mean": mean over sequences of each one's token mean (GRPO paper)
  kSeqMeanTokenSum,     // "seq-mean-token-sum": mean over sequences of each one's token sum
  kSeqMeanTokenSumNorm, // "seq-mean-token-sum-norm": token sum / (sequences * max_length) (Dr. GRPO)
};

// The four names above; throws std::invalid_argument listing them for anything else.
LossAggregation parse_loss_aggregation(std::string_view name);
std::string loss_aggregation_name(LossAggregation mode);

// Global normalisers, so that a micro-batch's loss is its share of the whole step's loss when a
// step is split over micro-batches and ranks (veRL's batch_num_tokens / global_batch_size /
// loss_scale_factor). Zero means "this call's own count".
struct LossNormalizer {
  double num_tokens = 0;     // token-mean: valid tokens of the whole step
  double num_sequences = 0;  // seq-mean-*: sequences with >= 1 valid token in the whole step
  double max_length = 0;     // seq-mean-token-sum-norm: the constant length (0: T of this call)
  double scale = 1.0;        // multiplies the result (e.g. world size under an averaging all-reduce)
};

// per_token [B, T] floating, mask [B, T] bool or 0/1 -> scalar in per_token's dtype.
// Masked positions never contribute, even when they hold inf or NaN. Sequences without a valid
// token are left out of the sequence count (veRL).
at::Tensor aggregate_loss(const at::Tensor& per_token, const at::Tensor& mask, LossAggregation mode,
                          const LossNormalizer& normalizer = {});

struct PolicyLossConfig {
  double clip_low = 0.2;    // ratio floor 1 - clip_low   (veRL clip_ratio_low, TRL epsilon)
  double clip_high = 0.2;   // ratio ceiling 1 + clip_high (veRL clip_ratio_high, TRL epsilon_high; DAPO 0.28)
  double dual_clip = 0.0;   // veRL clip_ratio_c (its default 3.0; TRL delta, default off): negative advantages' loss capped at -A c; 0 = off
  double log_ratio_clamp = 20.0;  // |logp - old_logp| clamped before exp (veRL); 0 = off
  LossAggregation aggregation = LossAggregation::kTokenMean;
  double entropy_coef = 0.0;  // loss -= entropy_coef * aggregate(entropy) (veRL entropy_coeff)
  double kl_coef = 0.0;       // loss += kl_coef * aggregate(kl) (veRL kl_loss_coef, TRL beta); 0 = no term
  KlOptions kl;               // estimator for the loss term (veRL kl_loss_type, default low_var_kl = k3)
};

struct PolicyLossInputs {
  at::Tensor logprobs;            // [B, T] current policy, requires grad
  at::Tensor old_logprobs;        // [B, T] policy that sampled the tokens (no grad)
  at::Tensor advantages;          // [B] or [B, T]
  at::Tensor mask;                // [B, T] bool or 0/1: response tokens that count
  at::Tensor reference_logprobs;  // [B, T], needed when kl_coef != 0
  at::Tensor entropy;             // [B, T] per-token entropy, needed when entropy_coef != 0 (may require grad)
};

// Detached scalars, each a mean over this call's valid tokens (weight them by `tokens` to
// combine micro-batches or ranks). Undefined when the input they need was not given.
struct PolicyLossStats {
  at::Tensor policy_loss;         // the clipped term alone, aggregated as configured
  at::Tensor clip_fraction_low;   // ratio < 1 - clip_low with A < 0 (TRL clip_ratio/low_mean)
  at::Tensor clip_fraction_high;  // ratio > 1 + clip_high with A > 0 (TRL clip_ratio/high_mean)
  at::Tensor dual_clip_fraction;  // A < 0 and the dual clip bound the loss (veRL pg_clipfrac_lower)
  at::Tensor approx_kl;           // mean of old_logp - logp (veRL ppo_kl)
  at::Tensor ratio_mean;
  at::Tensor entropy_mean;        // token mean of the entropy, when given
  at::Tensor kl_mean;             // token mean of the KL estimate, when reference log-probs are given
  at::Tensor entropy_loss;        // aggregate(entropy) as configured, when given
  at::Tensor kl_loss;             // aggregate(kl) as configured, when given
  at::Tensor tokens;              // number of valid tokens
  // Name -> value for logging ("clip_fraction_low", ...), defined entries only (syncs the device).
  std::map<std::string, double> to_map() const;
};

struct PolicyLossResult {
  at::Tensor loss;           // scalar to call backward() on
  at::Tensor per_token_loss; // [B, T] the clipped term per token, before aggregation
  PolicyLossStats stats;
};

// Shapes are checked with errors naming the tensor; inputs of lower precision are upcast to
// fp32 (fp64 inputs stay fp64). Per token, with r = exp(clamp(logp - old_logp)):
//   l = max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high)); for A < 0 also l = min(l, -A dual_clip).
PolicyLossResult policy_loss(const PolicyLossInputs& inputs, const PolicyLossConfig& config,
                             const LossNormalizer& normalizer = {});

}  // namespace precept::trainer
