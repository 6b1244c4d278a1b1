// `precept eval judge`: a listwise judge against a listwise dataset's gold scores. The judge is
// the in-process RewardAnything model (--model) or a file of its judgments (--judgments: raw
// outputs or scores, one line per case). Table on stdout, JSON with -o, HTML beside it.
#include "apps/commands/eval_commands.h"
#include "apps/commands/judge_options.h"
#include "core/progress.h"
#include "data/listwise.h"
#include "eval/judge_eval.h"
#include "eval/judge_runs.h"

#include <chrono>
#include <iostream>

namespace precept::apps {

int cmd_eval_judge(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string data_path, model_dir, judgments_path, save_path;
  ReportOutputs outputs;
  JudgeCommandOptions judge;
  // Evaluation defaults: a judgment that does not parse is the judge's failure, counted, not
  // retried; lists of up to 16 responses are judged in one call.
  judge.settings.max_retries = 0;
  judge.settings.max_responses_per_call = 16;
  options.add_options()
      ("data", po::value(&data_path)->required(), "listwise JSONL: {id, principle, prompt, responses, ground_truth, ...}")
      ("model", po::value(&model_dir), "judge model directory (RewardAnything or any Qwen3 checkpoint)")
      ("judgments", po::value(&judgments_path),
       "JSONL judgments instead of a model: {id, output[, masked2real]} or {id, scores[, best-to-worst]} per case")
      ("save-judgments", po::value(&save_path), "--model: write the raw outputs as a --judgments file");
  add_report_options(options, outputs);
  po::options_description judge_group("judge options (--model; with --judgments, the masking options say how raw "
                                      "outputs without masked2real were masked)");
  add_judge_options(judge_group, judge, "", JudgeOptionGroups{false, false});
  options.add(judge_group);
  po::variables_map values;
  if (!parse_options("eval judge", "--data LISTWISE.jsonl (--model DIR [judge options] | --judgments FILE.jsonl) [-o report.json]",
                     options, args, values)) {
    return 0;
  }
  if (model_dir.empty() == judgments_path.empty()) throw std::runtime_error("give --model DIR or --judgments FILE (one of them)");
  if (!save_path.empty() && model_dir.empty()) throw std::runtime_error("--save-judgments needs --model");
  finish_judge_options(values, judge);

  const std::vector<data::ListwiseCase> cases = data::read_listwise_jsonl(data_path);
  std::vector<eval::CaseJudgment> judgments;
  if (!judgments_path.empty()) {
    const reward::JudgeSettings settings = judge.settings;
    judgments = eval::read_case_judgments(judgments_path, cases, [&](const data::ListwiseCase& item, size_t index) {
      std::vector<reward::NamedResponse> responses;
      for (size_t i = 0; i < item.responses.size(); ++i) responses.push_back({item.response_names[i], item.responses[i]});
      return reward::judge_call_shown(settings, responses, /*group_seed=*/index, /*first_member=*/0);
    });
  } else {
    std::vector<reward::Group> groups;
    std::vector<std::string> principles;
    for (size_t i = 0; i < cases.size(); ++i) {
      reward::Group group;
      group.prompt = cases[i].prompt;
      group.responses = cases[i].responses;
      group.response_names = cases[i].response_names;
      group.seed = i;  // the case's index: what --judgments assumes when it re-derives the masks
      groups.push_back(std::move(group));
      principles.push_back(cases[i].principle);
    }
    auto model = load_judge(model_dir, judge, principles.front());
    const auto judged = judge_with_progress(*model, groups, principles, "eval judge");
    std::vector<nlohmann::ordered_json> dump;
    for (size_t i = 0; i < cases.size(); ++i) {
      judgments.push_back(eval::case_judgment_from(eval::judgments_of(judged[i].calls), cases[i]));
      dump.push_back(eval::judgment_dump_record(cases[i].id, judged[i].calls));
    }
    if (!save_path.empty()) {
      write_jsonl(save_path, dump);
      std::cerr << "judgments: " << save_path << "\n";
    }
  }

  std::vector<eval::CaseMetrics> metrics;
  std::vector<nlohmann::ordered_json> per_case;
  for (size_t i = 0; i < cases.size(); ++i) {
    metrics.push_back(eval::case_metrics(cases[i], judgments[i]));
    per_case.push_back(eval::case_metrics_json(metrics.back()));
    if (!judgments[i].problems.empty()) per_case.back()["problems"] = judgments[i].problems;
  }
  nlohmann::ordered_json report;
  report["benchmark"] = "listwise judge";
  report["data"] = data_path;
  report["judge"] = model_dir.empty() ? nlohmann::ordered_json{{"judgments", judgments_path}}
                                      : nlohmann::ordered_json{{"model", model_dir},
                                                               {"seed", judge.settings.seed},
                                                               {"temperature", judge.settings.sampler.temperature},
                                                               {"mask", judge.settings.mask},
                                                               {"retries", judge.settings.max_retries}};
  const nlohmann::ordered_json metrics_report = eval::judge_report(metrics);
  for (auto it = metrics_report.begin(); it != metrics_report.end(); ++it) report[it.key()] = it.value();
  std::cout << eval::judge_report_table(report);
  const std::string subtitle = data_path + " judged by " + (model_dir.empty() ? "judgments " + judgments_path : model_dir);
  write_report_outputs(outputs, report, eval::judge_report_html(report, subtitle), per_case);
  return 0;
}

}  // namespace precept::apps
