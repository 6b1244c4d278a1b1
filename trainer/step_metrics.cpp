// Reducing one step's metrics over ranks; see step_metrics.h.
#include "trainer/step_metrics.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>

namespace precept::trainer {

namespace {

// The counters of a step that are summed over ranks.
struct RankSums {
  double judge_failures = 0, judge_retries = 0, zero_variance_groups = 0, resampled_groups = 0;
  double generated_tokens = 0, truncated = 0, valid = 0, update_tokens = 0, loss_sum = 0;
  double sequence_tokens = 0, padded_tokens = 0, micro_batches = 0;
  std::map<std::string, double> policy_stats;
  std::map<std::string, double> reward_stats;  // GroupScores::metric_sums, plus "responses" that reported them
};

RankSums sum_over_ranks(Communicator& communicator, const RankSums& local) {
  std::vector<double> packed = {local.judge_failures,   local.judge_retries, local.zero_variance_groups,
                                local.resampled_groups, local.generated_tokens, local.truncated,
                                local.valid,            local.update_tokens,   local.loss_sum,
                                local.sequence_tokens,  local.padded_tokens,   local.micro_batches};
  const size_t scalars = packed.size();
  // Every rank runs the same reward, which reports the same keys for every group.
  for (const auto& [name, value] : local.policy_stats) packed.push_back(value);
  for (const auto& [name, value] : local.reward_stats) packed.push_back(value);
  const std::vector<double> sums = all_reduce_scalars(communicator, packed);
  RankSums out;
  double* fields[] = {&out.judge_failures,   &out.judge_retries, &out.zero_variance_groups,
                      &out.resampled_groups, &out.generated_tokens, &out.truncated,
                      &out.valid,            &out.update_tokens,   &out.loss_sum,
                      &out.sequence_tokens,  &out.padded_tokens,   &out.micro_batches};
  for (size_t i = 0; i < scalars; ++i) *fields[i] = sums[i];
  size_t i = scalars;
  for (const auto& [name, value] : local.policy_stats) out.policy_stats[name] = sums[i++];
  for (const auto& [name, value] : local.reward_stats) out.reward_stats[name] = sums[i++];
  return out;
}

std::vector<double> gather(Communicator& communicator, const std::vector<double>& local) {
  at::Tensor mine = at::tensor(local, at::kDouble);
  at::Tensor all = at::zeros({communicator.world_size() * mine.numel()}, at::kDouble);
  communicator.all_gather(all, mine);
  return std::vector<double>(all.data_ptr<double>(), all.data_ptr<double>() + all.numel());
}

}  // namespace

std::map<std::string, double> reward_term_means(const std::map<std::string, double>& sums) {
  std::map<std::string, double> out;
  const auto responses = sums.find("responses");
  for (const auto& [name, value] : sums) {
    if (name == "responses" || (name.size() > 6 && name.compare(name.size() - 6, 6, "_count") == 0)) continue;
    const auto count = sums.find(name + "_count");
    const double denominator = count != sums.end() ? count->second : responses != sums.end() ? responses->second : 0.0;
    out[name] = denominator > 0 ? value / denominator : std::nan("");
  }
  return out;
}

Summary summarize(const std::vector<double>& values) {
  Summary out;
  if (values.empty()) return out;
  out.min = *std::min_element(values.begin(), values.end());
  out.max = *std::max_element(values.begin(), values.end());
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  double squares = 0;
  for (double v : values) squares += (v - out.mean) * (v - out.mean);
  out.std = values.size() > 1 ? std::sqrt(squares / (values.size() - 1)) : 0.0;
  return out;
}

double peak_rss_gib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib / (1024.0 * 1024.0);
    }
    status.ignore(1 << 12, '\n');
  }
  return 0.0;
}

StepMetrics reduce_step_metrics(const StepContext& context, const Trajectory& trajectory, const UpdateTotals& update,
                                double lr, double step_seconds, double optimizer_state_gib) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const int64_t G = trajectory.group_size, S = trajectory.sequences();
  std::vector<double> lengths, advantages;
  RankSums local;
  for (int64_t s = 0; s < S; ++s) {
    lengths.push_back(static_cast<double>(trajectory.length(s)));
    local.truncated += trajectory.completions[s].finish == rollout::FinishReason::length;
    local.valid += trajectory.scores[s / G].valid[s % G];
    advantages.push_back(trajectory.advantages[s].item<double>());
  }
  for (const auto& scores : trajectory.scores) {
    local.judge_failures += static_cast<double>(scores.failures);
    local.judge_retries += static_cast<double>(scores.retries);
    if (scores.metric_sums.empty()) continue;
    for (const auto& [name, value] : scores.metric_sums) local.reward_stats[name] += value;
    local.reward_stats["responses"] += static_cast<double>(scores.rewards.size());
  }
  local.zero_variance_groups = static_cast<double>(trajectory.zero_variance_first);
  local.resampled_groups = static_cast<double>(trajectory.resampled);
  local.generated_tokens = static_cast<double>(trajectory.generated_tokens);
  local.update_tokens = update.tokens;
  local.sequence_tokens = update.sequence_tokens;
  local.padded_tokens = update.padded_tokens;
  local.micro_batches = update.micro_batches;
  local.loss_sum = update.loss_sum;
  local.policy_stats = update.stat_sums;

  StepMetrics out;
  Communicator& communicator = context.communicator;
  out.reward = summarize(gather(communicator, trajectory.raw_rewards()));
  out.shaped_reward = summarize(gather(communicator, trajectory.rewards));
  out.response_length = summarize(gather(communicator, lengths));
  out.advantage = summarize(gather(communicator, advantages));
  const RankSums sums = sum_over_ranks(communicator, local);
  const double total_sequences = static_cast<double>(context.config.rollout.prompts_per_step * G);
  out.valid_fraction = sums.valid / total_sequences;
  out.truncated_fraction = sums.truncated / total_sequences;
  out.judge_failures = sums.judge_failures;
  out.judge_retries = sums.judge_retries;
  out.zero_variance_groups = sums.zero_variance_groups;
  out.zero_variance_fraction = sums.zero_variance_groups / static_cast<double>(context.config.rollout.prompts_per_step);
  out.resampled_groups = sums.resampled_groups;
  const double update_tokens = std::max(1.0, sums.update_tokens);
  for (const auto& [name, value] : sums.policy_stats) out.policy[name] = value / update_tokens;
  out.reward_terms = reward_term_means(sums.reward_stats);
  out.loss_total = sums.loss_sum / static_cast<double>(algorithm.epochs * algorithm.mini_batches);
  out.report_shaped = algorithm.overlong || algorithm.kl_mode == KlMode::reward;
  out.kl_in_reward = algorithm.kl_mode == KlMode::reward;
  out.kl_reward_mean = trajectory.kl_reward_mean;
  out.grad_norm = update.last_grad_norm;
  out.lr = lr;
  out.seconds = trajectory.seconds;
  out.seconds.update = update.seconds;
  out.step_seconds = step_seconds;
  out.generated_tokens = sums.generated_tokens;
  out.update_sequence_tokens = sums.sequence_tokens;
  out.update_padded_tokens = sums.padded_tokens;
  out.micro_batches = sums.micro_batches;
  out.peak_rss_gib = peak_rss_gib();
  out.optimizer_state_gib = optimizer_state_gib;
  return out;
}

Metrics StepMetrics::to_metrics() const {
  Metrics m;
  m["reward/mean"] = reward.mean;
  m["reward/std"] = reward.std;
  m["reward/min"] = reward.min;
  m["reward/max"] = reward.max;
  m["reward/valid_fraction"] = valid_fraction;
  for (const auto& [name, value] : reward_terms) m["reward/" + name] = value;
  if (report_shaped) m["reward/shaped_mean"] = shaped_reward.mean;
  m["advantage/mean"] = advantage.mean;
  m["advantage/std"] = advantage.std;
  m["advantage/min"] = advantage.min;
  m["advantage/max"] = advantage.max;
  m["judge/failures"] = judge_failures;
  m["judge/retries"] = judge_retries;
  m["groups/zero_variance"] = zero_variance_groups;
  m["groups/zero_variance_fraction"] = zero_variance_fraction;
  m["groups/resampled"] = resampled_groups;
  m["response/length_mean"] = response_length.mean;
  m["response/length_min"] = response_length.min;
  m["response/length_max"] = response_length.max;
  m["response/truncated_fraction"] = truncated_fraction;
  for (const auto& [name, value] : policy) m["policy/" + name] = value;
  m["loss/total"] = loss_total;
  if (kl_in_reward) m["kl/reward_mean"] = kl_reward_mean;
  m["optim/grad_norm"] = grad_norm;
  m["optim/lr"] = lr;
  m["time/generate"] = seconds.generate;
  m["time/reward"] = seconds.reward;
  m["time/reference"] = seconds.reference;
  m["time/update"] = seconds.update;
  m["time/step"] = step_seconds;
  m["throughput/generated_tokens"] = generated_tokens;
  m["throughput/tokens_per_s"] = generated_tokens / std::max(1e-9, step_seconds);
  m["throughput/update_tokens"] = update_sequence_tokens;
  m["throughput/update_tokens_per_s"] = update_sequence_tokens / std::max(1e-9, seconds.update);
  m["update/micro_batches"] = micro_batches;
  m["update/padding_fraction"] = update_padded_tokens > 0 ? 1.0 - update_sequence_tokens / update_padded_tokens : 0.0;
  m["memory/peak_rss_gib"] = peak_rss_gib;
  m["memory/optimizer_state_gib"] = optimizer_state_gib;
  return m;
}

}  // namespace precept::trainer
