#include "trainer/advantages.h"

#include <cmath>
#include <stdexcept>

namespace precept::trainer {

AdvantageEstimator parse_advantage_estimator(std::string_view name) {
  if (name == "grpo") return AdvantageEstimator::kGrpo;
  if (name == "dr_grpo") return AdvantageEstimator::kDrGrpo;
  if (name == "rloo") return AdvantageEstimator::kRloo;
  if (name == "gae") return AdvantageEstimator::kGae;
  throw std::invalid_argument("unknown advantage estimator '" + std::string(name) +
                              "'; expected one of: grpo, dr_grpo, rloo, gae");
}

std::string advantage_estimator_name(AdvantageEstimator estimator) {
  switch (estimator) {
    case AdvantageEstimator::kGrpo: return "grpo";
    case AdvantageEstimator::kDrGrpo: return "dr_grpo";
    case AdvantageEstimator::kRloo: return "rloo";
    case AdvantageEstimator::kGae: return "gae";
  }
  return "?";
}

RewardScaling parse_reward_scaling(std::string_view name) {
  if (name == "group" || name == "true") return RewardScaling::kGroup;
  if (name == "batch") return RewardScaling::kBatch;
  if (name == "none" || name == "false") return RewardScaling::kNone;
  throw std::invalid_argument("unknown reward scaling '" + std::string(name) +
                              "'; expected one of: group, batch, none (or true = group, false = none)");
}

std::string reward_scaling_name(RewardScaling scaling) {
  switch (scaling) {
    case RewardScaling::kGroup: return "group";
    case RewardScaling::kBatch: return "batch";
    case RewardScaling::kNone: return "none";
  }
  return "?";
}

namespace {

struct Moments {
  int64_t count = 0;
  double mean = std::nan("");
  double std = 0.0;  // 0 when count < 2
  bool all_equal = true;
};

// Two-pass mean and standard deviation of the non-NaN values.
Moments moments_of(const double* values, int64_t size, bool unbiased) {
  Moments out;
  double sum = 0.0;
  double first = 0.0;
  for (int64_t i = 0; i < size; ++i) {
    if (std::isnan(values[i])) continue;
    if (out.count == 0) first = values[i];
    if (values[i] != first) out.all_equal = false;
    sum += values[i];
    ++out.count;
  }
  if (out.count == 0) return out;
  out.mean = sum / static_cast<double>(out.count);
  if (out.count < 2) return out;
  double squares = 0.0;
  for (int64_t i = 0; i < size; ++i) {
    if (!std::isnan(values[i])) squares += (values[i] - out.mean) * (values[i] - out.mean);
  }
  const double divisor = static_cast<double>(unbiased ? out.count - 1 : out.count);
  out.std = std::sqrt(squares / divisor);
  return out;
}

}  // namespace

GroupAdvantages compute_advantages(const at::Tensor& rewards, int64_t group_size, const AdvantageConfig& config) {
  if (!rewards.defined()) throw std::invalid_argument("compute_advantages: rewards tensor is undefined");
  if (!at::isFloatingType(rewards.scalar_type())) {
    throw std::invalid_argument("compute_advantages: rewards must be floating point, got " +
                                std::string(c10::toString(rewards.scalar_type())));
  }
  if (rewards.dim() == 2) {
    if (group_size != 0 && group_size != rewards.size(1)) {
      throw std::invalid_argument("compute_advantages: rewards are [" + std::to_string(rewards.size(0)) + ", " +
                                  std::to_string(rewards.size(1)) + "] but group_size is " +
                                  std::to_string(group_size));
    }
    group_size = rewards.size(1);
  } else if (rewards.dim() != 1) {
    throw std::invalid_argument("compute_advantages: rewards must be [N*G] or [N, G], got " +
                                std::to_string(rewards.dim()) + " dimensions");
  }
  if (group_size < 1) {
    throw std::invalid_argument("compute_advantages: group_size must be >= 1, got " + std::to_string(group_size));
  }
  const int64_t total = rewards.numel();
  if (total == 0 || total % group_size != 0) {
    throw std::invalid_argument("compute_advantages: " + std::to_string(total) +
                                " rewards do not split into groups of " + std::to_string(group_size));
  }
  if (config.estimator == AdvantageEstimator::kGae) {
    throw std::invalid_argument("compute_advantages: gae advantages come from a critic (trainer/gae.h), not from groups");
  }
  if (config.estimator == AdvantageEstimator::kRloo && group_size < 2) {
    throw std::invalid_argument(
        "compute_advantages: rloo needs at least 2 responses per prompt (it leaves one out), group_size is " +
        std::to_string(group_size));
  }
  if (!(config.epsilon >= 0.0)) {
    throw std::invalid_argument("compute_advantages: epsilon must be >= 0, got " + std::to_string(config.epsilon));
  }

  const at::Tensor values = rewards.detach().to(at::kCPU, at::kDouble).contiguous().view({-1});
  const double* r = values.data_ptr<double>();
  const int64_t groups = total / group_size;
  const bool scale = config.estimator == AdvantageEstimator::kGrpo && config.scaling != RewardScaling::kNone;
  const double batch_std = moments_of(r, total, config.unbiased_std).std;

  GroupAdvantages out;
  at::Tensor advantages = at::zeros({total}, at::kDouble);
  at::Tensor means = at::empty({groups}, at::kDouble), stds = at::ones({groups}, at::kDouble);
  double* a = advantages.data_ptr<double>();
  double* mean_of = means.data_ptr<double>();
  double* std_of = stds.data_ptr<double>();
  for (int64_t i = 0; i < total; ++i) out.invalid_rewards += std::isnan(r[i]) ? 1 : 0;
  for (int64_t g = 0; g < groups; ++g) {
    const double* group = r + g * group_size;
    double* group_advantages = a + g * group_size;
    const Moments m = moments_of(group, group_size, config.unbiased_std);
    if (group_size == 1) {
      // veRL: a lone response has mean 0 and std 1, so its advantage is its reward.
      mean_of[g] = 0.0;
      const double std = scale && config.scaling == RewardScaling::kBatch ? batch_std : 1.0;
      std_of[g] = scale ? std : 1.0;
      if (m.count == 1) group_advantages[0] = scale ? group[0] / (std + config.epsilon) : group[0];
      continue;
    }
    mean_of[g] = m.mean;
    if (m.count < 2 || m.all_equal) {
      out.zero_variance_groups.push_back(g);
      continue;
    }
    double divisor = 1.0;
    if (scale) {
      std_of[g] = config.scaling == RewardScaling::kBatch ? batch_std : m.std;
      divisor = std_of[g] + config.epsilon;
    }
    const double rloo_factor = static_cast<double>(m.count) / static_cast<double>(m.count - 1);
    for (int64_t i = 0; i < group_size; ++i) {
      if (std::isnan(group[i])) continue;
      const double centred = group[i] - m.mean;
      group_advantages[i] = config.estimator == AdvantageEstimator::kRloo ? centred * rloo_factor : centred / divisor;
    }
  }
  out.advantages = advantages.to(at::kFloat).view(rewards.sizes()).to(rewards.device());
  out.group_mean = means.to(at::kFloat);
  out.group_std = stds.to(at::kFloat);
  return out;
}

double overlong_penalty(int64_t response_length, const OverlongPenalty& config) {
  if (config.max_length <= 0 || config.buffer_length <= 0 || config.buffer_length > config.max_length) {
    throw std::invalid_argument("overlong_penalty: need 0 < buffer_length <= max_length, got buffer_length " +
                                std::to_string(config.buffer_length) + " and max_length " +
                                std::to_string(config.max_length));
  }
  if (response_length < 0) {
    throw std::invalid_argument("overlong_penalty: response length must be >= 0, got " +
                                std::to_string(response_length));
  }
  const int64_t expected = config.max_length - config.buffer_length;
  if (response_length <= expected) return 0.0;
  if (response_length >= config.max_length) return -config.penalty_factor;
  const double exceed = static_cast<double>(response_length - expected);
  return -exceed / static_cast<double>(config.buffer_length) * config.penalty_factor;
}

at::Tensor overlong_penalties(const at::Tensor& lengths, const OverlongPenalty& config) {
  if (!lengths.defined() || lengths.dim() != 1 || at::isFloatingType(lengths.scalar_type())) {
    throw std::invalid_argument("overlong_penalties: lengths must be a [B] integer tensor");
  }
  const at::Tensor cpu = lengths.to(at::kCPU, at::kLong).contiguous();
  at::Tensor out = at::empty({cpu.numel()}, at::kFloat);
  float* penalty = out.data_ptr<float>();
  const int64_t* length = cpu.data_ptr<int64_t>();
  for (int64_t i = 0; i < cpu.numel(); ++i) penalty[i] = static_cast<float>(overlong_penalty(length[i], config));
  return out.to(lengths.device());
}

}  // namespace precept::trainer
