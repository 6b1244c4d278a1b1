// The metrics of one RL step, reduced over ranks into a named struct, then flattened into the
// names the logs use (docs/metrics.md): "reward/mean", "policy/clip_fraction_high", ...
// Not the writers (trainer/metrics.h writes JSONL and TensorBoard).
#pragma once

#include "trainer/metrics.h"
#include "trainer/phases.h"
#include "trainer/update.h"

#include <map>
#include <string>
#include <vector>

namespace precept::trainer {

// mean, sample std (N - 1), min and max of values gathered from every rank.
struct Summary {
  double mean = 0, std = 0, min = 0, max = 0;
};
Summary summarize(const std::vector<double>& values);

// The means of a reward's metric_sums summed over groups and ranks, with "responses" the number
// of responses that reported them: each key K is sum / responses, or sum / K_count when a
// "K_count" key is there (a metric defined for only some responses); the counts themselves and
// "responses" are not reported. NaN where the denominator is 0.
std::map<std::string, double> reward_term_means(const std::map<std::string, double>& sums);

struct StepMetrics {
  Summary reward;           // the reward function's values
  Summary shaped_reward;    // after overlong shaping and KL in the reward
  Summary advantage;
  Summary response_length;  // tokens
  double valid_fraction = 0, truncated_fraction = 0;
  double judge_failures = 0, judge_retries = 0;
  double zero_variance_groups = 0, zero_variance_fraction = 0, resampled_groups = 0;
  std::map<std::string, double> policy;  // loss statistics, token-weighted over the update
  std::map<std::string, double> reward_terms;  // the reward's own per-response metrics (reward/reward.h metric_sums)
  double loss_total = 0;                 // mean loss per optimizer step
  bool report_shaped = false;            // shaping was on: report shaped_reward's mean
  bool kl_in_reward = false;
  double kl_reward_mean = 0;
  double grad_norm = 0, lr = 0;
  PhaseSeconds seconds;
  double step_seconds = 0, generated_tokens = 0;
  // The update's forward/backward passes over all ranks: prompt + response tokens, the same with
  // padding, micro-batches.
  double update_sequence_tokens = 0, update_padded_tokens = 0, micro_batches = 0;
  double peak_rss_gib = 0, optimizer_state_gib = 0;

  Metrics to_metrics() const;
};

// Sums and gathers over ranks (a collective: every rank calls it).
StepMetrics reduce_step_metrics(const StepContext& context, const Trajectory& trajectory, const UpdateTotals& update,
                                double lr, double step_seconds, double optimizer_state_gib);

// Resident memory high-water mark of this process, from /proc (0 when unknown).
double peak_rss_gib();

}  // namespace precept::trainer
