// Synthetic listwise judge data whose gold scores a machine checks: for each criterion
// (reward/criteria.h) and each of its wordings (configs/paper/principles.toml), cases built
// from real model responses by controlled edits, scored 1-5 by the criterion's rule. Split as
// the paper in miniature needs: training cases from training wordings and training prompts;
// held-out cases from other wordings ("seen": a criterion trained on in other words) or from
// criteria absent from training ("unseen"), and from held-out prompts only. Not the model
// calls (apps/commands/data_synth.cpp generates the base responses) and not the listwise
// reader (data/listwise.h reads what this writes). docs/paper.md.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace precept::reward {

struct Criterion;

// One [[criterion]] of the wordings file. Errors name the file, the line and the key: an
// unknown criterion id, one given twice, a wording given twice anywhere, no held-out wording, a
// criterion with training wordings and `held_out_only`, or one with neither.
struct CriterionWordings {
  std::string criterion;              // a built-in id
  std::vector<std::string> train;     // empty when held_out_only
  std::vector<std::string> held_out;
  bool held_out_only = false;
  std::string where;                  // "file:line"
};
std::vector<CriterionWordings> load_criterion_wordings(const std::filesystem::path& path);

// A response a model wrote for a prompt: the material the edits start from.
struct BaseResponse {
  std::string prompt;
  std::string text;
};

struct SyntheticCasesConfig {
  int64_t responses_per_case = 4;
  int64_t train_cases_per_criterion = 24;
  int64_t held_out_cases_per_criterion = 8;
  uint64_t seed = 0;
};

// Responses for one case: the base, the criterion's edits and distractor edits of them, scored
// by the criterion, `count` of them chosen so that as many distinct scores as possible appear.
// nullopt when fewer than `count` distinct texts exist or the scores span less than 2 points.
struct ScoredResponse {
  std::string text;
  int score;
};
std::optional<std::vector<ScoredResponse>> spanning_responses(const Criterion& criterion, const std::string& base,
                                                              int64_t count, uint64_t seed);

struct SyntheticCases {
  std::vector<nlohmann::ordered_json> train;     // domain "train"
  std::vector<nlohmann::ordered_json> held_out;  // domain "seen" or "unseen"
};
// Records in data/listwise.h's shape plus "criterion" and "wording" (its index); domain is the
// split, category the criterion's category. Wordings take cases in turn; bases are drawn from
// the pools by a seeded stream, so the same inputs give the same files.
SyntheticCases build_synthetic_cases(const std::vector<CriterionWordings>& wordings,
                                     const std::vector<BaseResponse>& train_pool,
                                     const std::vector<BaseResponse>& held_out_pool, const SyntheticCasesConfig& config);

}  // namespace precept::reward
