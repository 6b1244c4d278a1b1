// The judge-training reward; the formulas are in judge_reward.h and docs/judge-reward.md. The
// format terms read the output with upstream's own steps (reward/judge_parser.h: step 2's text,
// safe_parse_json) so that they equal upstream's format_reward; the accuracy terms read it with
// precept's parser, which accepts more and maps masked names back.
#include "reward/judge_reward.h"

#include "core/python_strings.h"
#include "core/utf8.h"
#include "reward/judge_parser.h"
#include "reward/rank_metrics.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

namespace precept::reward {

namespace {

using Json = nlohmann::ordered_json;
using Scores = std::map<std::string, double>;

// Upstream's format weights (processing.format_reward).
constexpr double kThinkBothTags = 0.15, kThinkOneTag = 0.05, kThinkLength = 0.05;
constexpr size_t kThinkMinChars = 50;  // "longer than 50 characters", in code points after strip
constexpr double kJson = 0.20, kJsonBraceFallback = 0.15, kScoresKey = 0.10, kRankingKey = 0.10;
constexpr double kCoverage = 0.20, kConsistency = 0.20;
// The most the five terms after the think terms can give; with think_terms off they are scaled to 1.
constexpr double kWithoutThink = kJson + kScoresKey + kRankingKey + kCoverage + kConsistency;

enum Term : size_t {
  kTermThinkTags, kTermThinkLength, kTermJson, kTermScoresKey, kTermRankingKey, kTermCoverage,
  kTermConsistency, kTermPairPenalty, kTermDistribution, kTermPartialCredit, kTermRankingAgreement, kTermCount
};
const char* const kTermNames[kTermCount] = {
    "format_think_tags", "format_think_length", "format_json",    "format_scores_key",
    "format_ranking_key", "format_coverage",    "format_consistency", "pair_penalty",
    "distribution",       "partial_credit",     "ranking_agreement"};

void require(bool ok, const std::string& field, const std::string& what) {
  if (!ok) throw std::invalid_argument("judge reward: " + field + " " + what);
}

// The names both maps hold, with the two scores, in name order.
struct Shared {
  std::vector<double> predicted, gold;
};
Shared shared_scores(const Scores& predicted, const Scores& gold) {
  Shared out;
  for (const auto& [name, score] : gold) {
    auto it = predicted.find(name);
    if (it == predicted.end()) continue;
    out.predicted.push_back(it->second);
    out.gold.push_back(score);
  }
  return out;
}

double mean_of(const std::vector<double>& values) {
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

// The names whose score is at least the k-th highest (all of them when there are k or fewer).
std::set<std::string> top_names(const Scores& scores, int64_t k) {
  std::vector<double> values;
  for (const auto& [name, score] : scores) values.push_back(score);
  std::sort(values.begin(), values.end(), std::greater<double>());
  std::set<std::string> out;
  if (values.empty()) return out;
  const double threshold = values[std::min<size_t>(static_cast<size_t>(k), values.size()) - 1];
  for (const auto& [name, score] : scores)
    if (score >= threshold) out.insert(name);
  return out;
}

// ---- format ------------------------------------------------------------------------------------

// The consistency of a judgment object with itself (upstream calls check_ranking_consistency,
// which it never shipped; this is precept's definition, docs/judge-reward.md): S the names in
// "scores" whose value is a JSON number (not a boolean, not a string), n = |S|; R the ranking
// ("best-to-worst", else "best-to-worse") reduced to its string entries in S, first occurrence
// each. n = 0: 0; n = 1: 1 when R names it, else 0; otherwise the number of adjacent pairs of R
// whose scores are not inverted (score[R_i] >= score[R_i+1]) divided by n - 1, so a ranking
// that leaves scored names out loses their pairs. 0 when scores is not an object or the ranking
// not a list.
double ranking_consistency(const Json& object) {
  const Json& scores = object["scores"];
  const Json& ranking = object.contains("best-to-worst") ? object["best-to-worst"] : object["best-to-worse"];
  if (!scores.is_object() || !ranking.is_array()) return 0.0;
  Scores numeric;
  for (auto it = scores.begin(); it != scores.end(); ++it)
    if (it.value().is_number() && std::isfinite(it.value().get<double>())) numeric[it.key()] = it.value().get<double>();
  const size_t n = numeric.size();
  if (n == 0) return 0.0;
  std::vector<double> ranked;
  std::set<std::string> seen;
  for (const Json& item : ranking) {
    if (!item.is_string()) continue;
    const std::string& name = item.get_ref<const std::string&>();
    auto it = numeric.find(name);
    if (it != numeric.end() && seen.insert(name).second) ranked.push_back(it->second);
  }
  if (n == 1) return ranked.size() == 1 ? 1.0 : 0.0;
  size_t in_order = 0;
  for (size_t i = 0; i + 1 < ranked.size(); ++i) in_order += ranked[i] >= ranked[i + 1];
  return static_cast<double>(in_order) / static_cast<double>(n - 1);
}

// Upstream's format_reward term by term (before the cap), on valid UTF-8 text.
void format_terms(const std::string& text, const Scores& gold, const std::map<std::string, std::string>& masked2real,
                  std::vector<double>& terms) {
  const size_t open = text.find("<think>"), close = text.find("</think>");
  if (open != std::string::npos && close != std::string::npos) {
    terms[kTermThinkTags] = kThinkBothTags;
    // re.search(r'<think>(.*?)</think>', DOTALL): the first <think> followed by a </think>.
    const size_t end = text.find("</think>", open + 7);
    if (end != std::string::npos &&
        core::utf8::utf8_decode(core::python_strip(std::string_view(text).substr(open + 7, end - open - 7))).size() >
            kThinkMinChars)
      terms[kTermThinkLength] = kThinkLength;
  } else if (open != std::string::npos || close != std::string::npos) {
    terms[kTermThinkTags] = kThinkOneTag;
  }

  const std::optional<UpstreamJson> parsed = upstream_safe_parse_json(upstream_json_text(text));
  if (!parsed || !python_truthy(parsed->value)) return;
  terms[kTermJson] = parsed->used_brace_fallback ? kJsonBraceFallback : kJson;
  // Keys only in an object. (Upstream's `in` also tests list members and substrings of a
  // string, and then fails on pred_json["scores"]; precept gives such output JSON credit only.)
  const Json& object = parsed->value;
  if (!object.is_object()) return;
  const bool has_scores = object.contains("scores");
  const bool has_ranking = object.contains("best-to-worst") || object.contains("best-to-worse");
  if (has_scores) terms[kTermScoresKey] = kScoresKey;
  if (has_ranking) terms[kTermRankingKey] = kRankingKey;
  if (has_scores && object["scores"].is_object() && !object["scores"].empty()) {
    // Coverage counts names present, whatever their value (as upstream), under the real names.
    size_t covered = 0;
    std::set<std::string> counted;
    for (auto it = object["scores"].begin(); it != object["scores"].end(); ++it) {
      auto mapped = masked2real.find(it.key());
      const std::string& name = mapped == masked2real.end() ? it.key() : mapped->second;
      if (gold.count(name) && counted.insert(name).second) ++covered;
    }
    terms[kTermCoverage] = kCoverage * (static_cast<double>(covered) / static_cast<double>(gold.size()));
  }
  if (has_scores && has_ranking) terms[kTermConsistency] = kConsistency * ranking_consistency(object);
}

ShownResponses shown_names(const std::map<std::string, std::string>& masked2real) {
  ShownResponses names;
  for (const auto& [shown, real] : masked2real) {
    names.shown.push_back({shown, ""});
    names.real_names.push_back(real);
  }
  return names;
}

}  // namespace

void JudgeRewardConfig::validate() const {
  const std::pair<const char*, double> weights[] = {
      {"format_weight", format_weight}, {"accuracy_weight", accuracy_weight}, {"pair_penalty", pair_penalty},
      {"distribution", distribution},   {"partial_credit", partial_credit},   {"ranking_agreement", ranking_agreement}};
  for (const auto& [field, value] : weights)
    require(std::isfinite(value) && value >= 0.0, field, "must be a finite number >= 0, got " + core::float_repr(value));
  require(pair_penalty + distribution + partial_credit + ranking_agreement > 0.0,
          "pair_penalty + distribution + partial_credit + ranking_agreement", "must not all be 0");
  require(format_weight + accuracy_weight > 0.0, "format_weight + accuracy_weight", "must not both be 0");
  require(top_k >= 1, "top_k", "must be at least 1, got " + std::to_string(top_k));
  require(std::isfinite(top_k_share) && top_k_share >= 0.0 && top_k_share <= 1.0, "top_k_share",
          "must lie in [0, 1], got " + core::float_repr(top_k_share));
  require(std::isfinite(score_range) && score_range > 0.0, "score_range",
          "must be a finite number > 0, got " + core::float_repr(score_range));
  require(std::isfinite(partial_credit_distance) && partial_credit_distance > 0.0, "partial_credit_distance",
          "must be a finite number > 0, got " + core::float_repr(partial_credit_distance));
}

double weighted_pair_penalty(const Scores& predicted, const Scores& gold) {
  const Shared shared = shared_scores(predicted, gold);
  const size_t n = shared.gold.size();
  if (n < 2) return 1.0;
  double penalty = 0.0, total = 0.0;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double weight = 1.0 + std::fabs(shared.gold[i] - shared.gold[j]);
      const double predicted_order = shared.predicted[i] - shared.predicted[j];
      const double gold_order = shared.gold[i] - shared.gold[j];
      if (predicted_order * gold_order < 0) penalty += weight;
      else if (predicted_order == 0 && gold_order != 0) penalty += 0.5 * weight;
      total += weight;
    }
  }
  if (total == 0.0) return 0.0;  // upstream's edge case; unreachable with finite scores (w >= 1)
  return std::max(0.0, 1.0 - penalty / total);
}

double distribution_match(const Scores& predicted, const Scores& gold, double score_range) {
  const Shared shared = shared_scores(predicted, gold);
  if (shared.gold.empty()) return 0.0;
  const double mean_match =
      std::max(0.0, 1.0 - std::fabs(mean_of(shared.predicted) - mean_of(shared.gold)) / score_range);
  const double spread_match =
      std::max(0.0, 1.0 - std::fabs(std::sqrt(population_variance(shared.predicted)) -
                                    std::sqrt(population_variance(shared.gold))) /
                              (score_range / 2.0));
  return 0.5 * (mean_match + spread_match);
}

double partial_credit(const Scores& predicted, const Scores& gold, double distance) {
  if (gold.empty()) return 0.0;
  double credit = 0.0;
  for (const auto& [name, score] : gold) {
    auto it = predicted.find(name);
    if (it != predicted.end()) credit += std::max(0.0, 1.0 - std::fabs(it->second - score) / distance);
  }
  return credit / static_cast<double>(gold.size());
}

double top_k_agreement(const Scores& predicted, const Scores& gold, int64_t k) {
  Scores shared_predicted;
  for (const auto& [name, score] : predicted)
    if (gold.count(name)) shared_predicted[name] = score;
  const int64_t capped = std::min<int64_t>(k, static_cast<int64_t>(gold.size()));
  const std::set<std::string> gold_top = top_names(gold, capped), predicted_top = top_names(shared_predicted, capped);
  size_t both = 0;
  for (const std::string& name : predicted_top) both += gold_top.count(name);
  const size_t either = gold_top.size() + predicted_top.size() - both;
  return either == 0 ? 0.0 : static_cast<double>(both) / static_cast<double>(either);
}

double ranking_agreement(const Scores& predicted, const Scores& gold, int64_t k, double top_k_share) {
  const Shared shared = shared_scores(predicted, gold);
  double tau_part = 1.0;  // fewer than two shared names, or constant gold: no gold order to break
  if (shared.gold.size() >= 2 &&
      std::any_of(shared.gold.begin(), shared.gold.end(), [&](double g) { return g != shared.gold.front(); })) {
    const double tau = kendall_tau_b(shared.gold, shared.predicted);
    tau_part = std::isnan(tau) ? 0.5 : (tau + 1.0) / 2.0;  // NaN here: every prediction tied
  }
  return (1.0 - top_k_share) * tau_part + top_k_share * top_k_agreement(predicted, gold, k);
}

std::vector<std::string> judge_reward_term_names(const JudgeRewardConfig& /*config*/) {
  return std::vector<std::string>(std::begin(kTermNames), std::end(kTermNames));
}

nlohmann::ordered_json JudgeGrade::to_json() const {
  nlohmann::ordered_json out;
  out["format"] = format;
  out["accuracy"] = accuracy;
  out["reward"] = reward;
  out["terms"] = nlohmann::ordered_json::object();
  for (const auto& [name, value] : terms) out["terms"][name] = value;
  out["valid"] = valid;
  return out;
}

JudgeGrade grade_judgment(std::string_view output, const Scores& gold_scores,
                          const std::map<std::string, std::string>& masked2real, const JudgeRewardConfig& config) {
  config.validate();
  require(!gold_scores.empty(), "gold_scores", "must not be empty");
  for (const auto& [name, score] : gold_scores)
    require(std::isfinite(score), "gold_scores['" + name + "']", "must be finite, got " + core::float_repr(score));

  const std::string text = core::utf8::to_valid_utf8(output);
  std::vector<double> terms(kTermCount, 0.0);
  format_terms(text, gold_scores, masked2real, terms);
  if (!config.think_terms) {
    terms[kTermThinkTags] = terms[kTermThinkLength] = 0.0;
    for (size_t t = kTermJson; t <= kTermConsistency; ++t) terms[t] /= kWithoutThink;
  }
  JudgeGrade grade;
  double format = 0.0;
  for (size_t t = kTermThinkTags; t <= kTermConsistency; ++t) format += terms[t];
  grade.format = std::min(1.0, format);

  const Judgment judgment = masked2real.empty() ? parse_judgment(text) : parse_judgment(text, shown_names(masked2real));
  const Scores& predicted = judgment.scores;
  size_t scored = 0;
  for (const auto& [name, score] : gold_scores) scored += predicted.count(name);
  grade.valid = scored == gold_scores.size();
  if (scored > 0) {  // else nothing usable: every accuracy term stays 0
    terms[kTermPairPenalty] = weighted_pair_penalty(predicted, gold_scores);
    terms[kTermDistribution] = distribution_match(predicted, gold_scores, config.score_range);
    terms[kTermPartialCredit] = partial_credit(predicted, gold_scores, config.partial_credit_distance);
    terms[kTermRankingAgreement] = ranking_agreement(predicted, gold_scores, config.top_k, config.top_k_share);
    const double mixture = config.pair_penalty + config.distribution + config.partial_credit + config.ranking_agreement;
    grade.accuracy = (config.pair_penalty * terms[kTermPairPenalty] + config.distribution * terms[kTermDistribution] +
                      config.partial_credit * terms[kTermPartialCredit] +
                      config.ranking_agreement * terms[kTermRankingAgreement]) /
                     mixture;
  }
  if (grade.valid) {
    std::vector<double> gold, predicted_list;
    for (const auto& [name, score] : gold_scores) {
      gold.push_back(score);
      predicted_list.push_back(predicted.at(name));
    }
    grade.pairwise_accuracy = pairwise_credit_from_scores(gold, predicted_list).accuracy();
  }
  grade.reward = config.format_weight * grade.format + config.accuracy_weight * grade.accuracy;
  for (size_t t = 0; t < kTermCount; ++t) grade.terms.emplace_back(kTermNames[t], terms[t]);
  return grade;
}

// ---- JudgeTrainingReward -----------------------------------------------------------------------

namespace {

Scores record_gold_scores(const nlohmann::json& record) {
  auto bad = [](const std::string& key, const std::string& what) {
    return std::invalid_argument("judge-training record: " + key + " " + what);
  };
  if (!record.is_object() || !record.contains("ground_truth")) throw bad("\"ground_truth\"", "is missing");
  const nlohmann::json& truth = record["ground_truth"];
  if (!truth.is_object() || !truth.contains("scores")) throw bad("\"ground_truth.scores\"", "is missing");
  const nlohmann::json& scores = truth["scores"];
  if (!scores.is_object() || scores.empty()) throw bad("\"ground_truth.scores\"", "must be a non-empty object {name: score}");
  Scores gold;
  for (auto it = scores.begin(); it != scores.end(); ++it) {
    if (!it.value().is_number() || !std::isfinite(it.value().get<double>()))
      throw bad("\"ground_truth.scores." + it.key() + "\"", "must be a finite number, got " + it.value().dump());
    gold[it.key()] = it.value().get<double>();
  }
  return gold;
}

std::map<std::string, std::string> record_masked2real(const nlohmann::json& record) {
  std::map<std::string, std::string> out;
  if (!record.contains("masked2real")) return out;
  const nlohmann::json& map = record["masked2real"];
  if (!map.is_object()) throw std::invalid_argument("judge-training record: \"masked2real\" must be an object {shown: real}");
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it.value().is_string())
      throw std::invalid_argument("judge-training record: \"masked2real." + it.key() + "\" must be a string");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

}  // namespace

JudgeTrainingReward::JudgeTrainingReward(JudgeRewardConfig config) : config_(config) { config_.validate(); }

GroupScores JudgeTrainingReward::score(const Group& group) {
  if (group.responses.empty()) throw std::invalid_argument("judge-training reward: a group without responses");
  const Scores gold = record_gold_scores(group.record);
  const std::map<std::string, std::string> masked2real = record_masked2real(group.record);
  GroupScores out;
  for (const std::string& name : judge_reward_term_names(config_)) out.metric_sums[name] = 0.0;
  for (const char* key : {"format", "accuracy", "parse_failure", "pairwise_accuracy", "pairwise_accuracy_count"})
    out.metric_sums[key] = 0.0;
  for (const std::string& response : group.responses) {
    const JudgeGrade grade = grade_judgment(response, gold, masked2real, config_);
    out.rewards.push_back(grade.reward);
    out.valid.push_back(true);
    out.explanations.emplace_back();
    for (const auto& [name, value] : grade.terms) out.metric_sums[name] += value;
    out.metric_sums["format"] += grade.format;
    out.metric_sums["accuracy"] += grade.accuracy;
    out.metric_sums["parse_failure"] += grade.valid ? 0.0 : 1.0;
    if (!std::isnan(grade.pairwise_accuracy)) {
      out.metric_sums["pairwise_accuracy"] += grade.pairwise_accuracy;
      out.metric_sums["pairwise_accuracy_count"] += 1.0;
    }
  }
  return out;
}

}  // namespace precept::reward
