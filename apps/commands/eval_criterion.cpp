// `precept eval criterion`: how often completions satisfy a machine-checked criterion
// (reward/criteria.h, eval/satisfaction.h): the rate scored 5 with Wilson's 95% interval, the
// mean 1-5 score, the histogram and the mean length. Each source is a completions JSONL
// (NAME=FILE: "completion" or "text" per line, the first sample of each prompt_index when
// `precept generate -o` wrote it) or a model that answers --prompts here. No judge.
#include "apps/commands/eval_commands.h"
#include "core/progress.h"
#include "data/jsonl.h"
#include "eval/html_report.h"
#include "eval/satisfaction.h"
#include "reward/criteria.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace precept::apps {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> read_completion_texts(const std::string& path) {
  std::vector<std::string> out;
  data::for_each_jsonl_object(path, [&](const data::ordered_json& record, const std::string& where, int64_t) {
    if (record.contains("sample") && record["sample"] != 0) return;  // the first sample of each prompt
    for (const char* field : {"completion", "text"}) {
      if (record.contains(field) && record[field].is_string()) {
        out.push_back(eval::final_answer(record[field].get<std::string>()));
        return;
      }
    }
    throw std::runtime_error(where + ": field 'completion' (or 'text'): expected a string");
  });
  if (out.empty()) throw std::runtime_error(path + ": no completions");
  return out;
}

}  // namespace

int cmd_eval_criterion(const std::vector<std::string>& args) {
  std::string criterion_id, prompts_path;
  std::vector<std::string> completion_files, model_dirs;
  eval::CompletionSettings generation;
  ReportOutputs outputs;
  po::options_description options("precept eval criterion");
  options.add_options()
      ("criterion", po::value(&criterion_id)->required(), "a built-in criterion id (docs/paper.md lists them)")
      ("completions", po::value(&completion_files)->composing(), "NAME=FILE.jsonl of completions (repeatable)")
      ("model", po::value(&model_dirs)->composing(), "NAME=DIR: a policy that answers --prompts (repeatable)")
      ("prompts", po::value(&prompts_path), "JSONL prompts for --model");
  add_completion_options(options, generation);
  add_report_options(options, outputs);
  po::variables_map values;
  if (!parse_options("eval criterion", "--criterion ID (--completions NAME=FILE ... | --model NAME=DIR --prompts FILE)",
                     options, args, values)) {
    return 0;
  }
  finish_completion_options(values, generation);
  if (completion_files.empty() && model_dirs.empty()) throw std::runtime_error("give --completions NAME=FILE or --model NAME=DIR");
  if (!model_dirs.empty() && prompts_path.empty()) throw std::runtime_error("--model needs --prompts FILE.jsonl");
  const reward::Criterion& criterion = reward::find_criterion(criterion_id);
  auto split_name = [](const std::string& argument) {
    const size_t equals = argument.find('=');
    if (equals == std::string::npos || equals == 0) return std::pair{fs::path(argument).stem().string(), argument};
    return std::pair{argument.substr(0, equals), argument.substr(equals + 1)};
  };

  std::vector<std::pair<std::string, eval::Satisfaction>> results;
  for (const auto& argument : completion_files) {
    const auto [name, path] = split_name(argument);
    results.emplace_back(name, eval::measure_satisfaction(criterion, read_completion_texts(path)));
  }
  for (const auto& argument : model_dirs) {
    const auto [name, dir] = split_name(argument);
    const auto prompts = data::read_prompts_jsonl(prompts_path);
    core::ProgressLine line("eval criterion: " + name);
    auto texts = eval::generate_completions(dir, prompts, generation, [&](const rollout::GenerationProgress& p) {
      line.update(p.sequences_done, p.sequences_total, p.tokens_generated, "tok", p.seconds, p.eta_seconds);
    });
    line.finish();
    for (auto& text : texts) text = eval::final_answer(text);
    results.emplace_back(name, eval::measure_satisfaction(criterion, texts));
  }
  for (size_t a = 0; a < results.size(); ++a)
    for (size_t b = a + 1; b < results.size(); ++b)
      if (results[a].first == results[b].first) throw std::runtime_error("two sources are named '" + results[a].first + "'");

  std::printf("criterion %s (%s): %s\n", criterion.id.c_str(), reward::criterion_category_name(criterion.category).c_str(),
              criterion.rule.c_str());
  std::printf("%-24s %6s %9s %8s %17s %10s %10s\n", "source", "n", "satisfied", "rate", "95% CI", "mean 1-5", "words");
  nlohmann::ordered_json report = {{"criterion", criterion.id},
                                   {"category", reward::criterion_category_name(criterion.category)},
                                   {"rule", criterion.rule},
                                   {"sources", nlohmann::ordered_json::object()}};
  eval::BarChart chart{"satisfaction rate (scored 5 by the rule)", {}, {"rate"}, {{}}, 1.0, "%.2f"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& [name, s] : results) {
    std::printf("%-24s %6lld %9lld %8.3f   [%5.3f, %5.3f] %10.2f %10.1f\n", name.c_str(), (long long)s.completions,
                (long long)s.satisfied, s.rate, s.ci95.low, s.ci95.high, s.mean_score, s.mean_words);
    report["sources"][name] = s.to_json();
    chart.categories.push_back(name);
    chart.values[0].push_back(s.rate);
    rows.push_back({name, std::to_string(s.completions), std::to_string(s.satisfied), eval::format_number(s.rate, 3),
                    "[" + eval::format_number(s.ci95.low, 3) + ", " + eval::format_number(s.ci95.high, 3) + "]",
                    eval::format_number(s.mean_score, 2), eval::format_number(s.mean_words, 1)});
  }
  eval::HtmlPage page("precept eval criterion: " + criterion.id, criterion.rule);
  page.section("Satisfaction", eval::svg_bar_chart(chart) +
                                   eval::html_table({"source", "n", "satisfied", "rate", "95% CI", "mean 1-5", "words"}, rows));
  write_report_outputs(outputs, report, page.render(), {});
  return 0;
}

}  // namespace precept::apps
