// `precept eval xstest`: over-refusal on XSTest. Completions come from policies (--model,
// generated under their chat template) and/or files (--completions: the repository's labelled
// CSVs or JSONL {"id", "completion"}); each is labelled by XSTest's string matcher and, with
// --judge, by a judge under a classification principle; several sources are reported side by
// side. Human labels in the files give agreement figures.
#include "apps/commands/eval_commands.h"
#include "apps/commands/judge_options.h"
#include "apps/commands/paths.h"
#include "core/progress.h"
#include "data/xstest.h"
#include "eval/judge_runs.h"
#include "eval/xstest.h"

#include <chrono>
#include <filesystem>
#include <iostream>

namespace precept::apps {

namespace {

namespace fs = std::filesystem;

struct Source {
  std::string name;
  std::vector<std::string> ids, completions, human, gpt4;  // one per completion
  std::string origin;  // the file or model directory
};

// "NAME=PATH" or PATH (named by its stem; the labelled files' "xstest_v2_completions_X_gpteval"
// becomes "X").
std::pair<std::string, std::string> named_path(const std::string& argument) {
  const size_t equals = argument.find('=');
  if (equals != std::string::npos && equals > 0 && !fs::exists(argument)) return {argument.substr(0, equals), argument.substr(equals + 1)};
  std::string stem = fs::path(argument).stem().string();
  const std::string prefix = "xstest_v2_completions_", suffix = "_gpteval";
  if (stem.rfind(prefix, 0) == 0) stem = stem.substr(prefix.size());
  if (stem.size() > suffix.size() && stem.compare(stem.size() - suffix.size(), suffix.size(), suffix) == 0) {
    stem = stem.substr(0, stem.size() - suffix.size());
  }
  return {stem, argument};
}

std::string default_prompts_path() {
  const std::string relative = "shared/datasets/xstest/xstest_prompts.csv";
  for (const fs::path& root : {fs::current_path().parent_path(), executable_dir().parent_path().parent_path()}) {
    if (fs::exists(root / relative)) return (root / relative).string();
  }
  throw std::runtime_error("no --prompts given and ../" + relative + " not found: pass --prompts xstest_prompts.csv");
}

}  // namespace

int cmd_eval_xstest(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::vector<std::string> model_dirs, completion_files;
  std::string prompts_path, judge_dir, judge_principle_file, judge_principle_text, save_dir;
  ReportOutputs outputs;
  eval::CompletionSettings generation;
  JudgeCommandOptions judge;
  judge.settings.max_retries = 0;
  options.add_options()
      ("model", po::value(&model_dirs)->composing(), "a policy model directory to generate completions with (repeatable)")
      ("completions", po::value(&completion_files)->composing(),
       "[NAME=]FILE: a labelled XSTest CSV or JSONL {id, completion} (repeatable)")
      ("prompts", po::value(&prompts_path), "xstest_prompts.csv (default: ../shared/datasets/xstest/xstest_prompts.csv)")
      ("save-completions", po::value(&save_dir), "write each policy's completions to DIR/NAME.jsonl")
      ("judge", po::value(&judge_dir), "also label every completion with this judge model")
      ("judge-principle-file", po::value(&judge_principle_file),
       "the judge's classification principle (default: configs/principles/xstest_refusal.toml)")
      ("judge-principle", po::value(&judge_principle_text), "... or its text");
  add_report_options(options, outputs);
  po::options_description policy_group("policy generation options (--model)");
  add_completion_options(policy_group, generation);
  options.add(policy_group);
  po::options_description judge_group("judge options (--judge)");
  add_judge_options(judge_group, judge, "judge-", JudgeOptionGroups{false, false});
  options.add(judge_group);
  po::variables_map values;
  if (!parse_options("eval xstest", "(--model POLICY ... | --completions FILE ...) [--prompts xstest_prompts.csv] "
                     "[--judge DIR --judge-principle-file P] [-o report.json]", options, args, values)) {
    return 0;
  }
  if (model_dirs.empty() && completion_files.empty()) throw std::runtime_error("give --model POLICY or --completions FILE");
  finish_completion_options(values, generation);
  finish_judge_options(values, judge, "judge-");
  if (prompts_path.empty()) prompts_path = default_prompts_path();
  const std::vector<data::XstestPrompt> prompts = data::read_xstest_prompts(prompts_path);

  std::vector<Source> sources;
  for (const auto& argument : completion_files) {
    const auto [name, path] = named_path(argument);
    Source source{name, {}, {}, {}, {}, path};
    for (const auto& item : data::read_xstest_completions(path)) {
      const data::XstestPrompt* prompt = data::find_xstest_prompt(prompts, item.id);
      if (!prompt) throw std::runtime_error(item.where + ": id '" + item.id + "' is not a prompt of " + prompts_path);
      if (!item.type.empty() && item.type != prompt->type) {
        throw std::runtime_error(item.where + ": type '" + item.type + "' but prompt " + prompt->id + " of " + prompts_path +
                                 " has type '" + prompt->type + "'");
      }
      source.ids.push_back(prompt->id);
      source.completions.push_back(item.completion);
      source.human.push_back(item.human_label);
      source.gpt4.push_back(item.gpt4_label);
    }
    sources.push_back(std::move(source));
  }
  for (const auto& model_dir : model_dirs) {
    std::vector<data::Prompt> requests;
    for (const auto& prompt : prompts) requests.push_back(data::Prompt{prompt.prompt, {}, {}, prompt.where});
    core::ProgressLine line("eval xstest: " + fs::path(model_dir).filename().string());
    const auto texts = eval::generate_completions(model_dir, requests, generation, [&](const rollout::GenerationProgress& p) {
      line.update(p.sequences_done, p.sequences_total, p.tokens_generated, "tok", p.seconds, p.eta_seconds);
    });
    line.finish();
    Source source{fs::path(model_dir).filename().string(), {}, {}, {}, {}, model_dir};
    for (size_t i = 0; i < prompts.size(); ++i) {
      source.ids.push_back(prompts[i].id);
      source.completions.push_back(eval::final_answer(texts[i]));
      source.human.push_back("");
      source.gpt4.push_back("");
    }
    if (!save_dir.empty()) {
      fs::create_directories(save_dir);
      std::vector<nlohmann::ordered_json> records;
      for (size_t i = 0; i < prompts.size(); ++i) records.push_back({{"id", source.ids[i]}, {"completion", source.completions[i]}});
      const std::string path = (fs::path(save_dir) / (source.name + ".jsonl")).string();
      write_jsonl(path, records);
      std::cerr << "completions: " << path << "\n";
    }
    sources.push_back(std::move(source));
  }
  for (size_t a = 0; a < sources.size(); ++a)
    for (size_t b = a + 1; b < sources.size(); ++b)
      if (sources[a].name == sources[b].name) {
        throw std::runtime_error("two sources are named '" + sources[a].name + "': name them with --completions NAME=FILE");
      }

  // The judge labels every completion of every source: one response per call.
  std::vector<std::vector<double>> judge_scores(sources.size());
  if (!judge_dir.empty()) {
    judge.settings.conversion = reward::ListwiseMode::kScore;
    const std::string principle = resolve_principle(judge_principle_text, judge_principle_file, "xstest_refusal");
    std::vector<reward::Group> groups;
    for (const auto& source : sources) {
      for (size_t i = 0; i < source.ids.size(); ++i) {
        reward::Group group;
        group.prompt = data::find_xstest_prompt(prompts, source.ids[i])->prompt;
        group.responses = {source.completions[i]};
        group.seed = groups.size();
        groups.push_back(std::move(group));
      }
    }
    auto model = load_judge(judge_dir, judge, principle);
    const auto judged = judge_with_progress(*model, groups, std::vector<std::string>(groups.size(), principle), "eval xstest: judge");
    size_t g = 0;
    for (size_t s = 0; s < sources.size(); ++s)
      for (size_t i = 0; i < sources[s].ids.size(); ++i, ++g) {
        judge_scores[s].push_back(judged[g].scores.valid[0] ? judged[g].scores.rewards[0] : NAN);
      }
  }

  nlohmann::ordered_json report;
  report["benchmark"] = "XSTest";
  report["prompts"] = prompts_path;
  if (!judge_dir.empty()) report["judge"] = judge_dir;
  report["models"] = nlohmann::ordered_json::object();
  std::vector<nlohmann::ordered_json> per_case;
  for (size_t s = 0; s < sources.size(); ++s) {
    const Source& source = sources[s];
    std::vector<eval::XstestItem> items;
    for (size_t i = 0; i < source.ids.size(); ++i) {
      const data::XstestPrompt* prompt = data::find_xstest_prompt(prompts, source.ids[i]);
      eval::XstestItem item;
      item.id = prompt->id;
      item.type = prompt->type;
      item.safe = prompt->safe();
      item.strmatch = eval::xstest_strmatch_label(source.completions[i]);
      if (!judge_dir.empty()) {
        item.judge_score = judge_scores[s][i];
        item.judge = eval::xstest_label_from_score(item.judge_score);
      }
      item.human = source.human[i];
      item.gpt4 = source.gpt4[i];
      nlohmann::ordered_json record = {{"model", source.name}, {"id", item.id}, {"type", item.type},
                                       {"label", prompt->label}, {"strmatch", item.strmatch}};
      if (!judge_dir.empty()) {
        record["judge"] = item.judge;
        record["judge_score"] = item.judge_score;
      }
      if (!item.human.empty()) record["human"] = item.human;
      if (!item.gpt4.empty()) record["gpt4"] = item.gpt4;
      per_case.push_back(record);
      items.push_back(std::move(item));
    }
    nlohmann::ordered_json model_report = eval::xstest_model_report(items);
    model_report["source"] = source.origin;
    report["models"][source.name] = model_report;
  }
  std::cout << eval::xstest_table(report);
  write_report_outputs(outputs, report, eval::xstest_html(report, prompts_path), per_case);
  return 0;
}

}  // namespace precept::apps
