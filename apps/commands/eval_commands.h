// `precept eval` and its subcommands (apps/commands/eval_*.cpp), and what they share: where
// the reports go, the policy's generation options, the principle. The metrics live in eval/.
#pragma once

#include "apps/commands/options.h"
#include "eval/completions.h"
#include "eval/judge_runs.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace precept::apps {

int cmd_eval_judge(const std::vector<std::string>& args);
int cmd_eval_rm_bench(const std::vector<std::string>& args);
int cmd_eval_xstest(const std::vector<std::string>& args);
int cmd_eval_compare(const std::vector<std::string>& args);
int cmd_eval_criterion(const std::vector<std::string>& args);
int cmd_eval_paper(const std::vector<std::string>& args);

// -o report.json, --html (default: beside the JSON), --per-case FILE.jsonl.
struct ReportOutputs {
  std::string json, html, per_case;
};
void add_report_options(po::options_description& options, ReportOutputs& outputs);

// Writes the JSON report (-o), the HTML page (--html, or beside -o) and the per-case JSONL
// (--per-case) that were asked for, and says where on stderr.
void write_report_outputs(const ReportOutputs& outputs, const nlohmann::ordered_json& report, const std::string& html,
                          const std::vector<nlohmann::ordered_json>& per_case);

// Judges every group under principles[g] (eval::judge_groups) with a progress line named
// `label`: judge calls done/total in the current batch, tokens, rate, ETA, and groups done.
std::vector<eval::JudgedGroup> judge_with_progress(reward::RewardAnythingJudge& judge,
                                                   const std::vector<reward::Group>& groups,
                                                   const std::vector<std::string>& principles, const std::string& label);

// One JSON record per line.
void write_jsonl(const std::string& path, const std::vector<nlohmann::ordered_json>& records);

// The policy's generation options (plain names: --max-new-tokens, --temperature, ...).
void add_completion_options(po::options_description& options, eval::CompletionSettings& settings);
void finish_completion_options(const po::variables_map& values, eval::CompletionSettings& settings);

// The principle text from --principle or --principle-file (not both; the file may also be the
// name of a shipped principle, "concise"), else from the shipped principle `default_name`
// (configs/principles/NAME.toml).
std::string resolve_principle(const std::string& text, const std::string& file, const std::string& default_name);

}  // namespace precept::apps
