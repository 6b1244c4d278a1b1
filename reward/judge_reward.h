// The paper's training reward for one judgment of the judge being fine-tuned (RewardAnything,
// arXiv 2506.03637, "Group Relative Preference Learning"): r = format_weight * format +
// accuracy_weight * accuracy, graded against the case's gold scores. The format terms equal
// upstream's processing.format_reward; the accuracy is a mixture of four terms, the first of
// which is upstream's calculate_weighted_pair_penalty. Every formula: docs/judge-reward.md.
// Not the judge that produces judgments (reward/rewardanything.h) nor the conversion of a
// judgment into policy rewards (reward/listwise.h). Used by JudgeTrainingReward below and
// `precept judge --grade`. Pure text; no torch.
#pragma once

#include "reward/reward.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace precept::reward {

struct JudgeRewardConfig {
  // r = format_weight * format + accuracy_weight * accuracy (the paper's 0.15 and 0.85; not
  // renormalised, so r lies in [0, format_weight + accuracy_weight]).
  double format_weight = 0.15, accuracy_weight = 0.85;
  // false: the two think-tag terms are 0 and the other five format contributions are multiplied
  // by 1 / 0.80 (their most, 0.20 + 0.10 + 0.10 + 0.20 + 0.20), so a perfect output still has
  // format 1. For a judge trained without a thinking block.
  bool think_terms = true;
  // The accuracy mixture, normalised by the sum of the four: accuracy = sum(w_i * t_i) / sum(w_i).
  // The published pair penalty carries most weight; ranking agreement next (pairwise accuracy,
  // tau and the best response are what RABench measures); partial credit keeps the scores on
  // the gold scale; the distribution term only discourages compressed or shifted scores.
  double pair_penalty = 0.4, distribution = 0.1, partial_credit = 0.2, ranking_agreement = 0.3;
  // The top-k agreement inside ranking_agreement: the Jaccard overlap of the k best by gold
  // and by prediction (ties at the k-th score included). 1: "is the best response the best".
  int64_t top_k = 1;
  // ranking_agreement = (1 - top_k_share) * (tau_b + 1) / 2 + top_k_share * top_k_agreement.
  double top_k_share = 0.5;
  // The width of the score scale (RewardAnything scores 1..5): a mean off by score_range, or a
  // standard deviation off by score_range / 2, earns no distribution credit.
  double score_range = 4.0;
  // partial credit per gold response: max(0, 1 - |predicted - gold| / partial_credit_distance);
  // 2: exact 1, one point off 0.5, two or more 0.
  double partial_credit_distance = 2.0;

  // Throws std::invalid_argument naming the field: a negative or non-finite weight, an all-zero
  // accuracy mixture, format and accuracy weights both 0, top_k < 1, top_k_share outside [0, 1],
  // score_range or partial_credit_distance not positive.
  void validate() const;
};

struct JudgeGrade {
  double format = 0, accuracy = 0, reward = 0;
  bool valid = false;  // the judgment parsed and scored every gold response
  // Over the gold-differing pairs, from the predicted scores, a predicted tie 0.5; NaN when not
  // valid or when no such pair exists.
  double pairwise_accuracy = std::numeric_limits<double>::quiet_NaN();
  // Every term, in judge_reward_term_names() order, always all present: the format terms as their
  // contributions (their sum, capped at 1, is `format`), the accuracy terms in [0, 1] unweighted.
  std::vector<std::pair<std::string, double>> terms;
  // {"format", "accuracy", "reward", "terms": {name: value}, "valid"}
  nlohmann::ordered_json to_json() const;
};

// Grades one judgment. output: the raw judgment text (special tokens removed, think tags kept).
// gold_scores: the case's (real) names -> gold score. masked2real: shown name -> real name
// (empty: the names as the judge wrote them). Never throws because of what the output says; an
// unparseable judgment gets format credit for what is present and accuracy 0. Throws
// std::invalid_argument on an empty or non-finite gold map or an invalid config.
JudgeGrade grade_judgment(std::string_view output, const std::map<std::string, double>& gold_scores,
                          const std::map<std::string, std::string>& masked2real, const JudgeRewardConfig& config);

// format_think_tags, format_think_length, format_json, format_scores_key, format_ranking_key,
// format_coverage, format_consistency, pair_penalty, distribution, partial_credit,
// ranking_agreement: the same eleven for every config (with think_terms false the think terms
// are 0), so that every logged step has the same keys.
std::vector<std::string> judge_reward_term_names(const JudgeRewardConfig& config);

// ---- the accuracy terms, over the responses both maps score (the real names) ----------------

// Upstream's calculate_weighted_pair_penalty: over every pair of shared names, weight
// w = 1 + |gold_a - gold_b|; a reversed pair costs w, a predicted tie where gold differs w / 2;
// max(0, 1 - cost / sum(w)); 1 with fewer than two shared names.
double weighted_pair_penalty(const std::map<std::string, double>& predicted, const std::map<std::string, double>& gold);
// (mean_match + spread_match) / 2 over the shared names, see JudgeRewardConfig::score_range.
double distribution_match(const std::map<std::string, double>& predicted, const std::map<std::string, double>& gold,
                          double score_range);
// The mean over every gold name of max(0, 1 - |p - g| / distance); an unscored gold name earns 0.
double partial_credit(const std::map<std::string, double>& predicted, const std::map<std::string, double>& gold,
                      double distance);
// The Jaccard overlap of the gold top k (over all gold names) and the predicted top k (over the
// shared names), ties at the k-th score included; k is capped at the number of gold names.
double top_k_agreement(const std::map<std::string, double>& predicted, const std::map<std::string, double>& gold,
                       int64_t k);
// (1 - top_k_share) * tau_part + top_k_share * top_k_agreement, where tau_part is
// (kendall_tau_b + 1) / 2 over the shared names; 1 with fewer than two shared names or constant
// gold scores, 0.5 when only the predicted scores are constant.
double ranking_agreement(const std::map<std::string, double>& predicted, const std::map<std::string, double>& gold,
                         int64_t k, double top_k_share);

// ---- the trainer's reward --------------------------------------------------------------------

// The reward of a judge-training group: group.responses are G sampled judgments of one case;
// group.record["ground_truth"]["scores"] (name -> number) is the gold and
// group.record["masked2real"] (shown -> real; absent: the names as written) the masking.
// Every response is valid (a parse failure is rewarded, not a fallback) and failures stays 0;
// metric_sums holds every term, format, accuracy, parse_failure, pairwise_accuracy (summed
// where defined) and pairwise_accuracy_count, always all keys.
class JudgeTrainingReward : public Reward {
 public:
  explicit JudgeTrainingReward(JudgeRewardConfig config);
  std::string name() const override { return "judge_training"; }
  // Throws std::invalid_argument naming the key when the record has no usable ground truth.
  GroupScores score(const Group& group) override;

 private:
  JudgeRewardConfig config_;
};

}  // namespace precept::reward
