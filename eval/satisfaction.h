// Principle satisfaction by rule: the share of a policy's completions that a machine-checked
// criterion (reward/criteria.h) scores 5, with Wilson's 95% interval, the mean 1-5 score, the
// score histogram and the mean length in words. What `precept eval criterion` reports and the
// paper in miniature measures before and after alignment, with a checker the training loop
// never used. Not a judge evaluation (eval/judge_eval.h).
#pragma once

#include "eval/win_rate.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace precept::reward {
struct Criterion;
}

namespace precept::eval {

struct Satisfaction {
  int64_t completions = 0;
  int64_t satisfied = 0;         // scored 5
  double rate = 0.0;             // satisfied / completions (NaN when there are none)
  Interval ci95;                 // Wilson at rate, n = completions
  double mean_score = 0.0;       // of the 1-5 scores
  double mean_words = 0.0;       // reward::count_words
  std::array<int64_t, 5> histogram{};  // histogram[s - 1] = completions scored s
  nlohmann::ordered_json to_json() const;
};

Satisfaction measure_satisfaction(const reward::Criterion& criterion, const std::vector<std::string>& completions);

}  // namespace precept::eval
