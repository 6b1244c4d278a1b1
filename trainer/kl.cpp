#include "trainer/kl.h"

#include <c10/util/StringUtil.h>

#include <stdexcept>

namespace precept::trainer {

namespace {

// "[2, 3]", as c10 prints sizes.
std::string shape_of(const at::Tensor& tensor) { return c10::str(tensor.sizes()); }

// fp32 at least: bf16/fp16 inputs are upcast, fp64 stays fp64 (gradient checks).
at::Tensor at_least_fp32(const at::Tensor& tensor) {
  return tensor.scalar_type() == at::kDouble ? tensor : tensor.to(at::kFloat);
}

void check_same_2d(const char* what, const at::Tensor& a, const char* a_name, const at::Tensor& b,
                   const char* b_name) {
  if (!a.defined() || !b.defined()) {
    throw std::invalid_argument(std::string(what) + ": " + (a.defined() ? b_name : a_name) + " is undefined");
  }
  if (a.dim() != 2 || a.sizes() != b.sizes()) {
    throw std::invalid_argument(std::string(what) + ": " + a_name + " " + shape_of(a) + " and " + b_name + " " +
                                shape_of(b) + " must both be [B, T]");
  }
  if (!at::isFloatingType(a.scalar_type()) || !at::isFloatingType(b.scalar_type())) {
    throw std::invalid_argument(std::string(what) + ": " + a_name + " and " + b_name + " must be floating point");
  }
}

}  // namespace

KlOptions parse_kl_estimator(std::string_view name) {
  KlOptions options;
  std::string_view base = name;
  if (!base.empty() && base.back() == '+') {
    options.straight_through = true;
    base.remove_suffix(1);
  }
  if (base == "k1" || base == "kl") {
    options.estimator = KlEstimator::kK1;
  } else if (base == "k2" || base == "mse") {
    options.estimator = KlEstimator::kK2;
  } else if (base == "k3" || base == "low_var_kl") {
    options.estimator = KlEstimator::kK3;
  } else {
    throw std::invalid_argument("unknown KL estimator '" + std::string(name) +
                                "'; expected one of: k1, k2, k3 (veRL aliases kl, mse, low_var_kl), "
                                "optionally with a '+' suffix for the straight-through gradient");
  }
  return options;
}

std::string kl_estimator_name(const KlOptions& options) {
  std::string name = options.estimator == KlEstimator::kK1 ? "k1" : options.estimator == KlEstimator::kK2 ? "k2" : "k3";
  return options.straight_through ? name + "+" : name;
}

at::Tensor kl_estimate(const at::Tensor& logprobs, const at::Tensor& reference_logprobs, const KlOptions& options) {
  check_same_2d("kl_estimate", logprobs, "logprobs", reference_logprobs, "reference_logprobs");
  const at::Tensor logp = at_least_fp32(logprobs);
  const at::Tensor ref = at_least_fp32(reference_logprobs).to(logp.scalar_type()).detach();
  at::Tensor value;
  switch (options.estimator) {
    case KlEstimator::kK1:
      value = logp - ref;
      break;
    case KlEstimator::kK2:
      value = 0.5 * (logp - ref).square();
      break;
    case KlEstimator::kK3: {
      at::Tensor log_ratio = ref - logp;  // log(pi_ref / pi)
      if (options.clamp) log_ratio = log_ratio.clamp(-20.0, 20.0);
      value = log_ratio.exp() - log_ratio - 1.0;
      if (options.clamp) value = value.clamp(-10.0, 10.0);
      break;
    }
  }
  if (options.straight_through && options.estimator != KlEstimator::kK2) {
    const at::Tensor k2 = 0.5 * (logp - ref).square();
    value = k2 - k2.detach() + value.detach();
  }
  return value;
}

KlRewardPenalty kl_penalized_rewards(const at::Tensor& rewards, const at::Tensor& old_logprobs,
                                     const at::Tensor& reference_logprobs, const at::Tensor& mask, double coef,
                                     const KlOptions& options) {
  check_same_2d("kl_penalized_rewards", old_logprobs, "old_logprobs", reference_logprobs, "reference_logprobs");
  if (!mask.defined() || mask.sizes() != old_logprobs.sizes()) {
    throw std::invalid_argument("kl_penalized_rewards: mask " + (mask.defined() ? shape_of(mask) : "undefined") +
                                " must be " + shape_of(old_logprobs));
  }
  if (!rewards.defined() || rewards.dim() != 1 || rewards.size(0) != old_logprobs.size(0)) {
    throw std::invalid_argument("kl_penalized_rewards: rewards " + (rewards.defined() ? shape_of(rewards) : "undefined") +
                                " must be [B] with B = " + std::to_string(old_logprobs.size(0)));
  }
  at::NoGradGuard no_grad;
  const at::Tensor valid = mask.to(at::kBool);
  KlRewardPenalty out;
  out.token_kl = kl_estimate(old_logprobs.to(at::kFloat), reference_logprobs.to(at::kFloat), options)
                     .masked_fill(valid.logical_not(), 0.0);
  const at::Tensor per_response = out.token_kl.sum(1);                               // [B]
  const at::Tensor counts = valid.sum(1).to(at::kFloat);                             // [B]
  out.rewards = rewards.to(at::kFloat) - coef * per_response;
  out.mean_kl = (per_response / counts.clamp_min(1.0)).mean();
  return out;
}

}  // namespace precept::trainer
