#include "trainer/policy_loss.h"

#include <stdexcept>

namespace precept::trainer {

namespace {

std::string shape_string(at::IntArrayRef sizes) {
  std::string out = "[";
  for (size_t i = 0; i < sizes.size(); ++i) out += (i ? ", " : "") + std::to_string(sizes[i]);
  return out + "]";
}

std::string shape_of(const at::Tensor& tensor) { return tensor.defined() ? shape_string(tensor.sizes()) : "undefined"; }

// The compute dtype: fp64 if the policy log-probs are fp64 (gradient checks), else fp32.
at::ScalarType compute_dtype(const at::Tensor& tensor) {
  return tensor.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

void check_bt(const at::Tensor& tensor, const char* name, at::IntArrayRef expected) {
  if (!tensor.defined() || tensor.sizes() != expected) {
    throw std::invalid_argument(std::string("policy_loss: ") + name + " is " + shape_of(tensor) + ", expected [B, T] = " +
                                shape_string(expected));
  }
}

// Masked token mean of a [B, T] tensor as a detached scalar.
at::Tensor token_mean(const at::Tensor& values, const at::Tensor& valid, const at::Tensor& tokens) {
  return values.detach().masked_fill(valid.logical_not(), 0.0).sum() / tokens.clamp_min(1.0);
}

}  // namespace

LossAggregation parse_loss_aggregation(std::string_view name) {
  if (name == "token-mean") return LossAggregation::kTokenMean;
  if (name == "seq-mean-token-mean") return LossAggregation::kSeqMeanTokenMean;
  if (name == "seq-mean-token-sum") return LossAggregation::kSeqMeanTokenSum;
  if (name == "seq-mean-token-sum-norm") return LossAggregation::kSeqMeanTokenSumNorm;
  throw std::invalid_argument("unknown loss aggregation '" + std::string(name) +
                              "'; expected one of: token-mean, seq-mean-token-mean, seq-mean-token-sum, "
                              "seq-mean-token-sum-norm");
}

std::string loss_aggregation_name(LossAggregation mode) {
  switch (mode) {
    case LossAggregation::kTokenMean: return "token-mean";
    case LossAggregation::kSeqMeanTokenMean: return "seq-mean-token-mean";
    case LossAggregation::kSeqMeanTokenSum: return "seq-mean-token-sum";
    case LossAggregation::kSeqMeanTokenSumNorm: return "seq-mean-token-sum-norm";
  }
  return "?";
}

at::Tensor aggregate_loss(const at::Tensor& per_token, const at::Tensor& mask, LossAggregation mode,
                          const LossNormalizer& normalizer) {
  if (!per_token.defined() || per_token.dim() != 2) {
    throw std::invalid_argument("aggregate_loss: per-token values are " + shape_of(per_token) + ", expected [B, T]");
  }
  if (!mask.defined() || mask.sizes() != per_token.sizes()) {
    throw std::invalid_argument("aggregate_loss: mask is " + shape_of(mask) + ", expected " + shape_of(per_token));
  }
  const at::Tensor valid = mask.to(at::kBool);
  const at::Tensor zeroed = per_token.masked_fill(valid.logical_not(), 0.0);  // inf/NaN at padding stay out
  const auto dtype = per_token.scalar_type();
  at::Tensor result;
  if (mode == LossAggregation::kTokenMean) {
    const at::Tensor tokens = normalizer.num_tokens > 0 ? at::scalar_tensor(normalizer.num_tokens, zeroed.options())
                                                        : valid.sum().to(dtype).clamp_min(1.0);
    result = zeroed.sum() / tokens;
  } else {
    const at::Tensor lengths = valid.sum(1).to(dtype);  // [B]
    const at::Tensor sequences = normalizer.num_sequences > 0
                                     ? at::scalar_tensor(normalizer.num_sequences, zeroed.options())
                                     : (lengths > 0).sum().to(dtype).clamp_min(1.0);
    at::Tensor per_sequence = zeroed.sum(1);  // [B]
    if (mode == LossAggregation::kSeqMeanTokenMean) per_sequence = per_sequence / lengths.clamp_min(1.0);
    result = per_sequence.sum() / sequences;
    if (mode == LossAggregation::kSeqMeanTokenSumNorm) {
      const double max_length = normalizer.max_length > 0 ? normalizer.max_length : double(per_token.size(1));
      result = result / max_length;
    }
  }
  return normalizer.scale == 1.0 ? result : result * normalizer.scale;
}

std::map<std::string, double> PolicyLossStats::to_map() const {
  std::map<std::string, double> out;
  const std::pair<const char*, const at::Tensor*> fields[] = {
      {"policy_loss", &policy_loss},   {"clip_fraction_low", &clip_fraction_low},
      {"clip_fraction_high", &clip_fraction_high}, {"dual_clip_fraction", &dual_clip_fraction},
      {"approx_kl", &approx_kl},       {"ratio_mean", &ratio_mean},
      {"entropy_mean", &entropy_mean}, {"kl_mean", &kl_mean},
      {"entropy_loss", &entropy_loss}, {"kl_loss", &kl_loss},
      {"tokens", &tokens}};
  for (const auto& [name, tensor] : fields) {
    if (tensor->defined()) out[name] = tensor->item<double>();
  }
  return out;
}

PolicyLossResult policy_loss(const PolicyLossInputs& in, const PolicyLossConfig& config,
                             const LossNormalizer& normalizer) {
  if (!in.logprobs.defined() || in.logprobs.dim() != 2) {
    throw std::invalid_argument("policy_loss: logprobs is " + shape_of(in.logprobs) + ", expected [B, T]");
  }
  const at::IntArrayRef bt = in.logprobs.sizes();
  check_bt(in.old_logprobs, "old_logprobs", bt);
  check_bt(in.mask, "mask", bt);
  if (!in.advantages.defined() ||
      !((in.advantages.dim() == 1 && in.advantages.size(0) == bt[0]) || in.advantages.sizes() == bt)) {
    throw std::invalid_argument("policy_loss: advantages is " + shape_of(in.advantages) + ", expected [B] or [B, T] with B = " +
                                std::to_string(bt[0]) + ", T = " + std::to_string(bt[1]));
  }
  if (config.kl_coef != 0.0) check_bt(in.reference_logprobs, "reference_logprobs (kl_coef is not 0)", bt);
  if (config.entropy_coef != 0.0) check_bt(in.entropy, "entropy (entropy_coef is not 0)", bt);
  if (in.reference_logprobs.defined()) check_bt(in.reference_logprobs, "reference_logprobs", bt);
  if (in.entropy.defined()) check_bt(in.entropy, "entropy", bt);
  if (!(config.clip_low >= 0.0 && config.clip_low < 1.0) || !(config.clip_high >= 0.0)) {
    throw std::invalid_argument("policy_loss: need 0 <= clip_low < 1 and clip_high >= 0, got clip_low " +
                                std::to_string(config.clip_low) + ", clip_high " + std::to_string(config.clip_high));
  }
  if (config.dual_clip != 0.0 && !(config.dual_clip > 1.0)) {
    throw std::invalid_argument("policy_loss: dual_clip (veRL clip_ratio_c) must be > 1, or 0 for off, got " +
                                std::to_string(config.dual_clip));
  }

  const auto dtype = compute_dtype(in.logprobs);
  const at::Tensor valid = in.mask.to(at::kBool);
  const at::Tensor padding = valid.logical_not();
  // Padding becomes 0 before any arithmetic: whatever it holds (inf, NaN) reaches neither the
  // loss nor the gradient.
  auto clean = [&](const at::Tensor& tensor) { return tensor.to(dtype).masked_fill(padding, 0.0); };
  const at::Tensor logp = clean(in.logprobs);
  const at::Tensor old_logp = clean(in.old_logprobs.detach());
  const at::Tensor advantages =
      clean(in.advantages.dim() == 1 ? in.advantages.detach().unsqueeze(1).expand(bt) : in.advantages.detach());

  // Per-token clipped loss (veRL compute_policy_loss_vanilla; TRL's "two-sided" with delta).
  at::Tensor log_ratio = logp - old_logp;
  if (config.log_ratio_clamp > 0) log_ratio = log_ratio.clamp(-config.log_ratio_clamp, config.log_ratio_clamp);
  const at::Tensor ratio = log_ratio.exp();
  const at::Tensor unclipped = -advantages * ratio;
  const at::Tensor clipped = -advantages * ratio.clamp(1.0 - config.clip_low, 1.0 + config.clip_high);
  at::Tensor per_token = at::maximum(unclipped, clipped);
  const at::Tensor negative = advantages < 0;
  at::Tensor dual_bound;
  if (config.dual_clip != 0.0) {
    const at::Tensor cap = -advantages * config.dual_clip;
    dual_bound = negative & (per_token > cap);
    per_token = at::where(negative, at::minimum(per_token, cap), per_token);
  }

  PolicyLossResult out;
  out.per_token_loss = per_token;
  at::Tensor loss = aggregate_loss(per_token, valid, config.aggregation, normalizer);
  PolicyLossStats& stats = out.stats;
  stats.policy_loss = loss.detach();

  if (in.entropy.defined()) {
    const at::Tensor entropy = clean(in.entropy);
    const at::Tensor entropy_loss = aggregate_loss(entropy, valid, config.aggregation, normalizer);
    stats.entropy_loss = entropy_loss.detach();
    if (config.entropy_coef != 0.0) loss = loss - config.entropy_coef * entropy_loss;
  }
  at::Tensor kl;
  if (in.reference_logprobs.defined()) {
    kl = kl_estimate(logp, clean(in.reference_logprobs.detach()), config.kl);
    const at::Tensor kl_loss = aggregate_loss(kl, valid, config.aggregation, normalizer);
    stats.kl_loss = kl_loss.detach();
    if (config.kl_coef != 0.0) loss = loss + config.kl_coef * kl_loss;
  }
  out.loss = loss;

  // Statistics: token means over this call's valid tokens.
  at::NoGradGuard no_grad;
  const at::Tensor tokens = valid.sum().to(dtype);
  stats.tokens = tokens;
  const at::Tensor r = ratio.detach();
  const at::Tensor positive = advantages > 0;
  stats.clip_fraction_low = token_mean(((r < 1.0 - config.clip_low) & negative).to(dtype), valid, tokens);
  stats.clip_fraction_high = token_mean(((r > 1.0 + config.clip_high) & positive).to(dtype), valid, tokens);
  stats.dual_clip_fraction =
      dual_bound.defined() ? token_mean(dual_bound.to(dtype), valid, tokens) : at::zeros({}, r.options());
  stats.approx_kl = token_mean(-log_ratio, valid, tokens);
  stats.ratio_mean = token_mean(r, valid, tokens);
  if (in.entropy.defined()) stats.entropy_mean = token_mean(clean(in.entropy), valid, tokens);
  if (kl.defined()) stats.kl_mean = token_mean(kl, valid, tokens);
  return out;
}

}  // namespace precept::trainer
