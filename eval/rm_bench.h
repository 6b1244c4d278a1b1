// RM-Bench's scoring (THU-KEG/RM-Bench README, compute_accuracy): for each prompt a 3x3 matrix
// over chosen style level i and rejected style level j (0 concise, 1 detailed plain, 2 detailed
// markdown), 1 where score(chosen_i) > score(rejected_j) strictly (a tie is wrong), averaged
// over prompts; hard = mean of the strict upper triangle (the chosen response is plainer than
// the rejected one), normal = mean of the diagonal, easy = mean of the strict lower triangle.
// Plus the report (per domain, the paper's four domains, HTML with the matrix). Used by
// `precept eval rm-bench`; docs/eval.md. No torch.
#pragma once

#include "data/rm_bench.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace precept::eval {

using StyleMatrix = std::array<std::array<double, 3>, 3>;  // [chosen level][rejected level]

// One prompt's matrix from its six scores. A NaN score (a response the judge left unscored)
// compares false, so every comparison it is in counts as wrong.
StyleMatrix rm_bench_correct(const std::array<double, 3>& chosen, const std::array<double, 3>& rejected);

struct RmBenchAccuracy {
  StyleMatrix matrix{};  // mean over prompts of the per-prompt matrices
  double hard = 0.0, normal = 0.0, easy = 0.0;
  double average = 0.0;  // (easy + normal + hard) / 3
  int64_t prompts = 0;
  nlohmann::ordered_json to_json() const;
};

// compute_accuracy over a set of prompts (NaN everything when empty).
RmBenchAccuracy rm_bench_accuracy(const std::vector<StyleMatrix>& per_prompt);

// What a judge gave one prompt: its six scores (listwise or a reward model), or, judged in
// pairs, the nine comparisons directly.
struct RmBenchResult {
  StyleMatrix correct{};
  std::array<double, 3> chosen_scores{}, rejected_scores{};  // NaN in pairwise mode
  int64_t unscored = 0;  // responses (or pairs) the judge gave no usable score
  std::array<std::array<bool, 3>, 3> unscored_pairs{};  // pairwise: the pairs without both scores (counted wrong)
};

// The report: {"overall": accuracy over every prompt, "by_domain": {domain: accuracy},
// "paper_domains": {"chat", "code", "math", "safety"} (safety = safety-refuse and
// safety-response pooled; a domain without data is absent), "domain_mean": the mean of the
// paper domains' averages (RM-Bench's headline "overall", which differs from "overall" here),
// "domains_missing": paper domains without data, "unscored": total, "failed_prompts"}.
nlohmann::ordered_json rm_bench_report(const std::vector<data::RmBenchItem>& items,
                                       const std::vector<RmBenchResult>& results);
std::string rm_bench_table(const nlohmann::ordered_json& report);
std::string rm_bench_html(const nlohmann::ordered_json& report, const std::string& subtitle);

}  // namespace precept::eval
