// PPO's phases; see ppo.h.
#include "trainer/ppo.h"

#include "trainer/gae.h"
#include "trainer/kl.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace precept::trainer {

namespace {

using Clock = std::chrono::steady_clock;

at::Tensor ones_of_length(int64_t length) { return at::ones({length}, at::kDouble); }

}  // namespace

at::Tensor gather_global_rows(const StepContext& context, const Trajectory& trajectory,
                              const std::vector<at::Tensor>& per_sequence) {
  const int64_t rows = context.config.rollout.prompts_per_step * context.config.rollout.group_size;
  const int64_t R = context.config.rollout.max_new_tokens;
  at::Tensor global = at::zeros({rows, R}, at::kDouble);
  for (int64_t s = 0; s < trajectory.sequences(); ++s) {
    const at::Tensor row = per_sequence[s].detach().to(at::kCPU, at::kDouble);
    if (row.numel() > 0) global[trajectory.global_id(s)].narrow(0, 0, row.numel()).copy_(row);
  }
  // Each row is written by one rank and zero elsewhere, so the sum is exact.
  std::vector<at::Tensor> tensors{global};
  context.communicator.all_reduce_sum(tensors);
  return tensors[0];
}

void critic_values(const StepContext& context, Critic& critic, Trajectory& trajectory) {
  const auto start = Clock::now();
  const int64_t S = trajectory.sequences();
  trajectory.old_values.assign(S, at::Tensor());
  at::NoGradGuard no_grad;
  for (const auto& members : trajectory_micro_batches(context, trajectory)) {
    const policy::SequenceBatch batch = sequence_batch(context, trajectory, members);
    const at::Tensor values = critic.values(batch).cpu();
    for (size_t i = 0; i < members.size(); ++i) {
      trajectory.old_values[members[i]] = values[static_cast<int64_t>(i)].narrow(0, 0, trajectory.length(members[i])).clone();
    }
  }
  trajectory.seconds.critic += seconds_since(start);
}

void gae_phase(const StepContext& context, Trajectory& trajectory) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const auto start = Clock::now();
  const int64_t S = trajectory.sequences();
  const bool kl_in_reward = algorithm.kl_mode == KlMode::reward;
  trajectory.token_advantages.assign(S, at::Tensor());
  trajectory.returns.assign(S, at::Tensor());
  const std::vector<at::Tensor> kl = kl_in_reward ? rollout_kl(context, trajectory) : std::vector<at::Tensor>();
  for (int64_t s = 0; s < S; ++s) {
    const int64_t L = trajectory.length(s);
    double score = trajectory.rewards[s];
    if (algorithm.reward_clip > 0) score = std::clamp(score, -algorithm.reward_clip, algorithm.reward_clip);
    const at::Tensor mask = at::ones({1, L}, at::kBool);
    const at::Tensor token_kl = kl_in_reward ? kl[s].detach().cpu().view({1, L}) : at::Tensor();
    const at::Tensor rewards = token_level_rewards(at::full({1}, score, at::kDouble), mask, token_kl, trajectory.kl_coef);
    const GaeResult gae = gae_advantages(rewards, trajectory.old_values[s].to(at::kDouble).view({1, L}), mask,
                                         algorithm.gamma, algorithm.lam);
    trajectory.token_advantages[s] = gae.advantages.view({L});
    trajectory.returns[s] = gae.returns.view({L}).to(at::kFloat);
  }

  if (algorithm.whiten_advantages) {
    std::vector<at::Tensor> valid(S);
    for (int64_t s = 0; s < S; ++s) valid[s] = ones_of_length(trajectory.length(s));
    const at::Tensor global = gather_global_rows(context, trajectory, trajectory.token_advantages);
    const at::Tensor global_mask = gather_global_rows(context, trajectory, valid);
    if (global_mask.sum().item<double>() >= 2) {
      const at::Tensor whitened = masked_whiten(global, global_mask);
      for (int64_t s = 0; s < S; ++s) {
        trajectory.token_advantages[s] = whitened[trajectory.global_id(s)].narrow(0, 0, trajectory.length(s)).clone();
      }
    }
  }
  std::vector<float> means(S, 0.0f);
  for (int64_t s = 0; s < S; ++s) {
    trajectory.token_advantages[s] = trajectory.token_advantages[s].to(at::kFloat).contiguous();
    if (trajectory.length(s) > 0) means[s] = trajectory.token_advantages[s].mean().item<float>();
  }
  trajectory.advantages = at::tensor(means, at::kFloat);
  trajectory.included.assign(S, true);
  trajectory.seconds.critic += seconds_since(start);
}

MicroBatchResult critic_micro_batch_loss(const StepContext& context, Critic& critic, const Trajectory& trajectory,
                                         const std::vector<int64_t>& members, const LossNormalizer& normalizer) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const policy::SequenceBatch batch = sequence_batch(context, trajectory, members);
  const at::Tensor values = critic.values(batch);
  const int64_t R = batch.targets.size(1);
  const at::TensorOptions constant = values.options().requires_grad(false);
  const at::Tensor old_values = padded_members(trajectory.old_values, members, R, constant);
  const at::Tensor returns = padded_members(trajectory.returns, members, R, constant);
  const ValueLossResult result =
      value_loss(values, old_values, returns, batch.mask, algorithm.value_clip, algorithm.loss.aggregation, normalizer);
  MicroBatchResult out;
  out.loss = result.loss;
  out.tokens = result.tokens.item<double>();
  out.stats = {{"value_loss", result.token_mean_loss.item<double>()},
               {"value_clip_fraction", result.clip_fraction.item<double>()},
               {"value_mean", result.value_mean.item<double>()}};
  return out;
}

std::map<std::string, double> ppo_metrics(const StepContext& context, const Trajectory& trajectory,
                                          const UpdateTotals& critic_update, double critic_lr, bool warmup) {
  const int64_t S = trajectory.sequences();
  std::vector<at::Tensor> valid(S), raw_advantages(S);
  for (int64_t s = 0; s < S; ++s) {
    valid[s] = ones_of_length(trajectory.length(s));
    raw_advantages[s] = trajectory.returns[s].to(at::kDouble) - trajectory.old_values[s].to(at::kDouble);
  }
  const at::Tensor mask = gather_global_rows(context, trajectory, valid);
  const at::Tensor returns = gather_global_rows(context, trajectory, trajectory.returns);
  const at::Tensor values = gather_global_rows(context, trajectory, trajectory.old_values);
  const at::Tensor advantages = gather_global_rows(context, trajectory, raw_advantages);
  const double tokens = std::max(1.0, mask.sum().item<double>());

  const std::vector<std::string> names{"value_loss", "value_clip_fraction", "value_mean"};
  std::vector<double> sums{critic_update.tokens};
  for (const auto& name : names) {
    auto it = critic_update.stat_sums.find(name);
    sums.push_back(it == critic_update.stat_sums.end() ? 0.0 : it->second);
  }
  sums = all_reduce_scalars(context.communicator, sums);
  std::map<std::string, double> out;
  for (size_t i = 0; i < names.size(); ++i) out["critic/" + names[i]] = sums[i + 1] / std::max(1.0, sums[0]);
  out["critic/explained_variance"] = explained_variance(returns, values, mask);
  out["critic/return_mean"] = returns.sum().item<double>() / tokens;
  out["critic/advantage_mean"] = advantages.sum().item<double>() / tokens;
  out["critic/grad_norm"] = critic_update.last_grad_norm;
  out["critic/lr"] = critic_lr;
  out["critic/warmup"] = warmup ? 1.0 : 0.0;
  out["time/critic"] = trajectory.seconds.critic + critic_update.seconds;
  return out;
}

}  // namespace precept::trainer
