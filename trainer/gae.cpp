// PPO's critic math; see gae.h.
#include "trainer/gae.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace precept::trainer {

namespace {

void check_bt(const at::Tensor& tensor, const char* name, const at::Tensor& mask) {
  if (!tensor.defined()) throw std::invalid_argument(std::string(name) + " is undefined");
  if (tensor.dim() != 2 || tensor.sizes() != mask.sizes()) {
    throw std::invalid_argument(std::string(name) + " must be [B, T] like the mask [" + std::to_string(mask.size(0)) + ", " +
                                std::to_string(mask.dim() > 1 ? mask.size(1) : 0) + "], got " +
                                std::to_string(tensor.dim()) + " dimensions");
  }
}

void check_mask(const at::Tensor& mask) {
  if (!mask.defined() || mask.dim() != 2) throw std::invalid_argument("mask must be [B, T]");
}

at::ScalarType math_type(std::initializer_list<at::Tensor> tensors) {
  for (const auto& t : tensors) {
    if (t.defined() && t.scalar_type() == at::kDouble) return at::kDouble;
  }
  return at::kFloat;
}

// A CPU fp64 contiguous copy, for the loops below.
at::Tensor host_double(const at::Tensor& t) { return t.detach().to(at::kCPU, at::kDouble).contiguous(); }

}  // namespace

at::Tensor token_level_rewards(const at::Tensor& scores, const at::Tensor& mask, const at::Tensor& kl, double kl_coef) {
  check_mask(mask);
  if (!scores.defined() || scores.dim() != 1 || scores.size(0) != mask.size(0)) {
    throw std::invalid_argument("token_level_rewards: scores must be [B] with B = " + std::to_string(mask.size(0)));
  }
  if (kl.defined()) check_bt(kl, "token_level_rewards: kl", mask);
  const at::ScalarType type = math_type({scores, kl});
  const at::Tensor valid = mask.to(at::kCPU, at::kBool).contiguous();
  at::Tensor out = kl.defined() ? host_double(kl).mul(-kl_coef).masked_fill(valid.logical_not(), 0.0)
                                : at::zeros(mask.sizes(), at::TensorOptions().dtype(at::kDouble));
  const at::Tensor score = host_double(scores);
  auto r = out.accessor<double, 2>();
  auto v = valid.accessor<bool, 2>();
  auto s = score.accessor<double, 1>();
  for (int64_t b = 0; b < mask.size(0); ++b) {
    for (int64_t t = mask.size(1) - 1; t >= 0; --t) {
      if (v[b][t]) {
        r[b][t] += s[b];
        break;
      }
    }
  }
  return out.to(mask.device(), type);
}

GaeResult gae_advantages(const at::Tensor& token_rewards, const at::Tensor& values, const at::Tensor& mask, double gamma,
                         double lam) {
  check_mask(mask);
  check_bt(token_rewards, "gae_advantages: token_rewards", mask);
  check_bt(values, "gae_advantages: values", mask);
  const at::ScalarType type = math_type({token_rewards, values});
  const at::Tensor rewards = host_double(token_rewards), value = host_double(values);
  const at::Tensor valid = mask.to(at::kCPU, at::kDouble).contiguous();
  at::Tensor advantages = at::zeros_like(rewards);
  auto r = rewards.accessor<double, 2>();
  auto V = value.accessor<double, 2>();
  auto m = valid.accessor<double, 2>();
  auto A = advantages.accessor<double, 2>();
  const int64_t B = mask.size(0), T = mask.size(1);
  for (int64_t b = 0; b < B; ++b) {
    double next_value = 0.0, last = 0.0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const double delta = r[b][t] + gamma * next_value - V[b][t];
      const double here = delta + gamma * lam * last;
      // Masked positions carry the next value and advantage through unchanged.
      next_value = V[b][t] * m[b][t] + (1.0 - m[b][t]) * next_value;
      last = here * m[b][t] + (1.0 - m[b][t]) * last;
      A[b][t] = last;
    }
  }
  at::Tensor returns = (advantages + value).mul_(valid);
  advantages.mul_(valid);
  return {advantages.to(mask.device(), type), returns.to(mask.device(), type)};
}

at::Tensor masked_whiten(const at::Tensor& values, const at::Tensor& mask) {
  check_mask(mask);
  check_bt(values, "masked_whiten: values", mask);
  // Sequential sums in row-major order: the same bits whatever the thread count, which the
  // data-parallel trainer relies on (every rank whitens the same gathered batch).
  const at::Tensor x = host_double(values), m = mask.to(at::kCPU, at::kDouble).contiguous();
  const double* xs = x.data_ptr<double>();
  const double* ms = m.data_ptr<double>();
  const int64_t count = x.numel();
  double n = 0, sum = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (ms[i] == 0) continue;  // padding never enters, whatever it holds
    n += 1;
    sum += xs[i];
  }
  if (n < 2) throw std::invalid_argument("masked_whiten: needs at least 2 valid positions, got " + std::to_string(int64_t(n)));
  const double mean = sum / n;
  double squares = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (ms[i] != 0) squares += (xs[i] - mean) * (xs[i] - mean);
  }
  const double variance = squares / (n - 1.0);  // veRL: masked_var * n / (n - 1)
  const double scale = 1.0 / std::sqrt(variance + 1e-8);
  at::Tensor out = at::empty_like(x);
  double* os = out.data_ptr<double>();
  for (int64_t i = 0; i < count; ++i) os[i] = ms[i] != 0 ? (xs[i] - mean) * scale : 0.0;
  return out.to(values.device(), math_type({values}));
}

ValueLossResult value_loss(const at::Tensor& values, const at::Tensor& old_values, const at::Tensor& returns,
                           const at::Tensor& mask, double clip, LossAggregation aggregation,
                           const LossNormalizer& normalizer) {
  check_mask(mask);
  check_bt(values, "value_loss: values", mask);
  check_bt(old_values, "value_loss: old_values", mask);
  check_bt(returns, "value_loss: returns", mask);
  const at::ScalarType type = math_type({values, old_values, returns});
  const at::Tensor v = values.to(type), old = old_values.detach().to(type), R = returns.detach().to(type);
  const at::Tensor clipped = at::max(at::min(v, old + clip), old - clip);
  const at::Tensor unclipped_loss = (v - R).square();
  const at::Tensor clipped_loss = (clipped - R).square();
  const at::Tensor per_token = at::max(unclipped_loss, clipped_loss);
  const at::Tensor valid = mask.to(at::kBool);
  ValueLossResult out;
  out.loss = 0.5 * aggregate_loss(per_token, valid, aggregation, normalizer);
  at::NoGradGuard no_grad;
  const at::Tensor weight = valid.to(type);
  out.tokens = weight.sum();
  const at::Tensor denominator = out.tokens.clamp_min(1.0);
  out.clip_fraction = (clipped_loss > unclipped_loss).to(type).mul(weight).sum() / denominator;
  out.value_mean = v.detach().masked_fill(valid.logical_not(), 0.0).sum() / denominator;
  out.token_mean_loss = 0.5 * per_token.detach().masked_fill(valid.logical_not(), 0.0).sum() / denominator;
  return out;
}

double explained_variance(const at::Tensor& returns, const at::Tensor& values, const at::Tensor& mask) {
  check_mask(mask);
  check_bt(returns, "explained_variance: returns", mask);
  check_bt(values, "explained_variance: values", mask);
  const at::Tensor valid = mask.to(at::kCPU, at::kBool);
  const at::Tensor R = host_double(returns).masked_select(valid), V = host_double(values).masked_select(valid);
  if (R.numel() < 2) return std::nan("");
  const double return_variance = R.var().item<double>();  // unbiased, as torch.var
  const double residual_variance = (R - V).var().item<double>();
  return 1.0 - residual_variance / (return_variance + 1e-5);
}

double adapted_kl_coef(double coef, double current_kl, double target, int64_t n_steps, int64_t horizon) {
  if (!(target > 0) || horizon <= 0) throw std::invalid_argument("adapted_kl_coef: target and horizon must be positive");
  const double error = std::clamp(current_kl / target - 1.0, -0.2, 0.2);
  return coef * (1.0 + error * static_cast<double>(n_steps) / static_cast<double>(horizon));
}

}  // namespace precept::trainer
