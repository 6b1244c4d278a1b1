// Evaluating a listwise judge on a listwise dataset (data/listwise.h): what the judge said
// about each case (a CaseJudgment, from a parsed RewardAnything judgment or from a judgments
// file), the per-case metrics (reward/rank_metrics.h), their aggregation overall, by domain and
// by category, and the report as JSON, a text table and an HTML page. Used by
// `precept eval judge`; the definitions are in docs/eval.md. Not the running of the judge model
// (eval/judge_runs.h) and no torch.
#pragma once

#include "data/listwise.h"
#include "reward/rank_metrics.h"
#include "reward/judge_parser.h"
#include "reward/masking.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace precept::eval {

using ordered_json = nlohmann::ordered_json;

// A judge's verdict on one case, under the case's response names.
struct CaseJudgment {
  bool parsed = false;                   // a judgment object was read
  std::map<std::string, double> scores;  // the case's responses that got a score (no other names)
  // The judge's own best-to-worst list as it wrote it (empty when it gave none, or when the
  // parser derived one from the scores). Used for pairwise accuracy only when complete.
  std::vector<std::string> ranking;
  std::vector<std::string> problems;  // what was wrong or ignored, one line each
};

// From RewardAnything judgments already mapped back to the caller's names (one per judge call
// for the case; more than one when a long list was split). Scores from every call are merged;
// a ranking is kept only from a single call (rankings of different calls cannot be joined).
// Names the judge invented are dropped, with a problem line.
CaseJudgment case_judgment_from(const std::vector<reward::Judgment>& calls, const data::ListwiseCase& item);

// The names the judge was shown for a case, used to map raw outputs of a judgments file back
// when a line carries no "masked2real" (eval judge passes the judge's own masking, see
// reward::judge_call_shown).
using ShownNamesFor = std::function<reward::ShownResponses(const data::ListwiseCase& item, size_t case_index)>;

// One judgment per case from a JSONL file, one line per case, in any order:
//   {"id": ID, "output": RAW[, "masked2real": {"model-1": NAME, ...}]}      a raw judge output
//   {"id": ID, "calls": [{"output": RAW, "masked2real": {...}}, ...]}         several calls
//   {"id": ID, "scores": {NAME: number | null, ...}[, "best-to-worst": [NAME, ...]]}
// RAW is parsed with reward::parse_judgment. Errors (std::runtime_error naming file and line):
// an id that is not a case, an id twice, a case without a line, a name that is not a response
// of the case (in "scores", "best-to-worst" or as a "masked2real" value), wrong types.
std::vector<CaseJudgment> read_case_judgments(const std::filesystem::path& path,
                                              const std::vector<data::ListwiseCase>& cases,
                                              const ShownNamesFor& shown_names);

// One case's metrics. Failed cases (parse_failure) carry no metric values.
struct CaseMetrics {
  std::string id, domain, category;
  bool parse_failure = false;
  std::string failure;                  // why, when it failed
  std::vector<double> gold, predicted;  // in the case's response order (predicted empty when failed)
  bool ranking_used = false;            // pairwise credit came from the judge's complete ranking
  reward::PairwiseCredit pairs;
  double kendall_tau = 0.0;             // NaN when undefined
  double ndcg = 0.0;                    // NaN when undefined
  double score_variance = 0.0;
};
CaseMetrics case_metrics(const data::ListwiseCase& item, const CaseJudgment& judgment);
ordered_json case_metrics_json(const CaseMetrics& metrics);

// Aggregates over a set of cases (docs/eval.md):
//   pairwise_accuracy = sum of pair credits / number of gold-ordered pairs, over parsed cases
//   kendall_tau, ndcg = mean of the per-case values over parsed cases where they are defined
//   score_variance    = mean of the per-case variances over parsed cases
//   parse_failure_rate = failed cases / cases
//   pairwise_accuracy_with_failures = the same as pairwise_accuracy over every case, a failed
//                        case giving each of its gold-ordered pairs 0.5 (a judge that says
//                        nothing ranks no better than a tie), so judges that fail often compare
// A metric with nothing to average is NaN (null in JSON).
struct JudgeMetrics {
  double pairwise_accuracy = 0.0, kendall_tau = 0.0, ndcg = 0.0, score_variance = 0.0, parse_failure_rate = 0.0;
  double pairwise_accuracy_with_failures = 0.0;
  int64_t cases = 0, parse_failures = 0, pairs = 0, ranking_cases = 0;
  int64_t kendall_tau_undefined = 0, ndcg_undefined = 0;
  ordered_json to_json() const;
};
JudgeMetrics summarize_cases(const std::vector<const CaseMetrics*>& cases);

// {"overall": JudgeMetrics, "by_domain": {name: JudgeMetrics}, "by_category": {...},
//  "confusion": {"gold_levels", "predicted_levels", "counts"}}. by_domain / by_category are
// empty objects when no case names one; cases without one are grouped under "(none)".
ordered_json judge_report(const std::vector<CaseMetrics>& cases);

// Gold score levels against predicted score levels over the responses of parsed cases. A side
// with at most 12 distinct values uses them as levels; one with more is cut into 5 bins of
// equal width between its smallest and largest value.
ordered_json score_confusion(const std::vector<CaseMetrics>& cases);

std::string judge_report_table(const ordered_json& report);
std::string judge_report_html(const ordered_json& report, const std::string& subtitle);

}  // namespace precept::eval
