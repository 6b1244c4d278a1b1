// The report of the paper in miniature (scripts/paper.sh, docs/paper.md): reads what each stage
// left in its run directory (the judge evaluations before and after training, the training
// metrics, the policy's completions before and after, its satisfaction, win rate and XSTest
// reports, the stage times) and lays out one JSON report, a stdout table and a self-contained
// HTML page with the curves. It computes two things itself, both from files: the rule
// satisfaction of the policy's training rollouts per step (samples.jsonl, a check the loop never
// used) and the targets of issue 17 as met / not met. Not a stage runner.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace precept::eval {

struct PaperReportInputs {
  std::filesystem::path dir;  // the run directory scripts/paper.sh wrote (OUT)
  std::string criterion;      // the policy's criterion id
  std::string principle;      // its held-out wording, as the judge saw it
};

// The report: {"config", "data", "judge": {model: {split: metrics}}, "judge_curves",
// "policy": {...}, "policy_curves", "samples", "times", "targets"}. Throws naming the file
// when a stage's output is missing or malformed.
nlohmann::ordered_json paper_report(const PaperReportInputs& inputs);

// The stdout table and the HTML page of a report.
std::string paper_report_table(const nlohmann::ordered_json& report);
std::string paper_report_html(const nlohmann::ordered_json& report);

}  // namespace precept::eval
