// Win rate of a candidate over a baseline under a principle, from a judge that saw each prompt's
// two responses in both orders (to cancel position bias), with a 95% Wilson score interval.
// Used by `precept eval compare`; docs/eval.md. No torch, no model.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace precept::eval {

// The credit of the candidate in one judged order: 1 when its score is strictly higher, 0.5
// equal, 0 lower; nullopt when either score is missing (NaN).
std::optional<double> candidate_credit(double candidate_score, double baseline_score);

struct Interval {
  double low = 0.0, high = 0.0;
};

// Wilson's score interval for a proportion p_hat observed over n trials, at z (1.959963984540054
// for 95%): (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n). NaN bounds when n = 0.
Interval wilson_interval(double p_hat, double n, double z = 1.959963984540054);

// One prompt: the candidate's credit with the baseline shown first ([0]) and with the
// candidate shown first ([1]).
using PromptCredits = std::array<std::optional<double>, 2>;

struct WinRate {
  int64_t prompts = 0;        // prompts given
  int64_t judged = 0;         // prompts with at least one usable order
  int64_t failed_orders = 0;  // judgments without both scores
  int64_t wins = 0, ties = 0, losses = 0;  // over usable orders
  double win_rate = 0.0;      // mean over judged prompts of the mean credit of their usable orders
  Interval ci95;              // Wilson at p = win_rate, n = judged (conservative with ties, docs/eval.md)
  double win_rate_candidate_first = 0.0, win_rate_baseline_first = 0.0;  // per order: position bias
  nlohmann::ordered_json to_json() const;
};
WinRate win_rate(const std::vector<PromptCredits>& prompts);

std::string win_rate_table(const nlohmann::ordered_json& report);
std::string win_rate_html(const nlohmann::ordered_json& report, const std::string& subtitle);

}  // namespace precept::eval
