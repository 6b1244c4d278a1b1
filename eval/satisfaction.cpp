#include "eval/satisfaction.h"

#include "reward/criteria.h"
#include "reward/rule_rewards.h"

#include <cmath>
#include <limits>

namespace precept::eval {

Satisfaction measure_satisfaction(const reward::Criterion& criterion, const std::vector<std::string>& completions) {
  Satisfaction out;
  out.completions = static_cast<int64_t>(completions.size());
  double score_sum = 0, word_sum = 0;
  for (const auto& completion : completions) {
    const int score = criterion.score(completion);
    out.histogram[static_cast<size_t>(score - 1)] += 1;
    out.satisfied += score == 5;
    score_sum += score;
    word_sum += static_cast<double>(reward::count_words(completion));
  }
  const double n = static_cast<double>(out.completions);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  out.rate = n > 0 ? double(out.satisfied) / n : nan;
  out.mean_score = n > 0 ? score_sum / n : nan;
  out.mean_words = n > 0 ? word_sum / n : nan;
  out.ci95 = wilson_interval(n > 0 ? out.rate : 0.0, n);
  return out;
}

nlohmann::ordered_json Satisfaction::to_json() const {
  auto number = [](double x) { return std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr); };
  return {{"completions", completions}, {"satisfied", satisfied},  {"rate", number(rate)},
          {"ci95", {number(ci95.low), number(ci95.high)}},        {"mean_score", number(mean_score)},
          {"mean_words", number(mean_words)},                      {"histogram", histogram}};
}

}  // namespace precept::eval
