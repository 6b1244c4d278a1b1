// `precept eval compare`: the win rate of a candidate over a baseline under a principle. Each
// side is a model directory (completions generated here, under its chat template) or a
// completions JSONL file; the judge sees every prompt's two responses twice, in both orders,
// under the neutral names model-1 and model-2, so that position bias cancels; the 95% interval
// is Wilson's (eval/win_rate.h, docs/eval.md).
#include "apps/commands/eval_commands.h"
#include "apps/commands/judge_options.h"
#include "core/progress.h"
#include "data/jsonl.h"
#include "eval/judge_runs.h"
#include "eval/win_rate.h"
#include "data/prompt.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

namespace precept::apps {

namespace {

namespace fs = std::filesystem;

// The key of a record: its "id" (string or integer) when it has one, else "#index".
template <class Json>
std::string record_key(const Json& record, size_t index) {
  if (record.is_object() && record.contains("id")) {
    const auto& id = record["id"];
    if (id.is_string()) return id.template get<std::string>();
    if (id.is_number_integer()) return id.dump();
  }
  return "#" + std::to_string(index);
}

// Completions from a file, one per prompt: records {"completion" or "text", and "id" or
// "prompt_index"} (precept generate -o writes prompt_index and text); by line order otherwise.
std::vector<std::string> completions_from_file(const std::string& path, const std::vector<data::Prompt>& prompts) {
  std::map<std::string, size_t> by_key;
  for (size_t i = 0; i < prompts.size(); ++i) by_key[record_key(prompts[i].record, i)] = i;
  std::vector<std::string> out(prompts.size());
  std::vector<std::string> seen(prompts.size());
  size_t line_index = 0;
  data::for_each_jsonl_object(path, [&](const data::ordered_json& record, const std::string& where, int64_t) {
    std::string text;
    if (record.contains("completion") && record["completion"].is_string()) {
      text = record["completion"].get<std::string>();
    } else if (record.contains("text") && record["text"].is_string()) {
      text = record["text"].get<std::string>();
    } else {
      throw std::runtime_error(where + ": field 'completion' (or 'text'): expected a string");
    }
    size_t index;
    if (record.contains("id")) {
      const std::string key = record_key(record, 0);
      auto it = by_key.find(key);
      if (it == by_key.end()) throw std::runtime_error(where + ": id '" + key + "' is not the id of a prompt");
      index = it->second;
    } else if (record.contains("prompt_index")) {
      if (!record["prompt_index"].is_number_unsigned()) throw std::runtime_error(where + ": field 'prompt_index': expected an index");
      index = record["prompt_index"].get<size_t>();
      if (record.contains("sample") && record["sample"] != 0) return;  // only the first sample of each prompt
    } else {
      index = line_index;
    }
    ++line_index;
    if (index >= prompts.size()) throw std::runtime_error(where + ": prompt " + std::to_string(index) + " does not exist");
    if (!seen[index].empty()) throw std::runtime_error(where + ": a second completion for prompt " + std::to_string(index) + " (first at " + seen[index] + ")");
    seen[index] = where;
    out[index] = text;
  });
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (seen[i].empty()) throw std::runtime_error(path + ": no completion for prompt " + std::to_string(i) + " (" + prompts[i].where + ")");
  }
  return out;
}

// The text the judge is told the responses answer: the prompt, or a chat's last user turn.
std::string judged_prompt(const data::Prompt& prompt) {
  if (prompt.messages.empty()) return prompt.text;
  for (auto it = prompt.messages.rbegin(); it != prompt.messages.rend(); ++it)
    if (it->role == "user") return it->content;
  return prompt.messages.back().content;
}

}  // namespace

int cmd_eval_compare(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string baseline, candidate, judge_dir, principle_text, principle_file, prompts_path, field, save_path;
  ReportOutputs outputs;
  eval::CompletionSettings generation;
  JudgeCommandOptions judge;
  judge.settings.max_retries = 0;
  options.add_options()
      ("baseline", po::value(&baseline)->required(), "model directory or completions JSONL (A)")
      ("candidate", po::value(&candidate)->required(), "model directory or completions JSONL (B)")
      ("judge", po::value(&judge_dir)->required(), "judge model directory")
      ("principle", po::value(&principle_text), "the principle text")
      ("principle-file", po::value(&principle_file), "a principle TOML file")
      ("prompts", po::value(&prompts_path)->required(), "JSONL prompts (text or chat messages; optional \"id\")")
      ("field", po::value(&field)->default_value("prompt"), "the JSONL field holding each prompt")
      ("save-judgments", po::value(&save_path), "write every judgment (both orders, raw outputs) as JSONL");
  add_report_options(options, outputs);
  po::options_description policy_group("policy generation options (for a side given as a model directory)");
  add_completion_options(policy_group, generation);
  options.add(policy_group);
  po::options_description judge_group("judge options");
  add_judge_options(judge_group, judge, "judge-", JudgeOptionGroups{false, false});
  options.add(judge_group);
  po::variables_map values;
  if (!parse_options("eval compare", "--baseline A --candidate B --judge J --principle-file P --prompts FILE [-o report.json]",
                     options, args, values)) {
    return 0;
  }
  if (principle_text.empty() && principle_file.empty()) throw std::runtime_error("give --principle-file P (or --principle TEXT)");
  finish_completion_options(values, generation);
  finish_judge_options(values, judge, "judge-");
  const std::string principle = resolve_principle(principle_text, principle_file, "");
  const std::vector<data::Prompt> prompts = data::read_prompts_jsonl(prompts_path, field);
  if (prompts.empty()) throw std::runtime_error(prompts_path + ": no prompts");

  auto side = [&](const std::string& what, const std::string& path) {
    if (!fs::is_directory(path)) return completions_from_file(path, prompts);
    core::ProgressLine line("eval compare: " + what);
    auto texts = eval::generate_completions(path, prompts, generation, [&](const rollout::GenerationProgress& p) {
      line.update(p.sequences_done, p.sequences_total, p.tokens_generated, "tok", p.seconds, p.eta_seconds);
    });
    line.finish();
    for (auto& text : texts) text = eval::final_answer(text);
    return texts;
  };
  const std::vector<std::string> a = side("baseline", baseline), b = side("candidate", candidate);

  // Both orders, shown unmasked under neutral names: order 0 shows the baseline first.
  judge.settings.mask = false;
  judge.settings.conversion = reward::ListwiseMode::kScore;
  std::vector<reward::Group> groups;
  for (size_t p = 0; p < prompts.size(); ++p) {
    for (int order = 0; order < 2; ++order) {
      reward::Group group;
      group.prompt = judged_prompt(prompts[p]);
      group.responses = order == 0 ? std::vector<std::string>{a[p], b[p]} : std::vector<std::string>{b[p], a[p]};
      group.response_names = {"model-1", "model-2"};
      group.seed = groups.size();
      groups.push_back(std::move(group));
    }
  }
  auto model = load_judge(judge_dir, judge, principle);
  const auto judged = judge_with_progress(*model, groups, std::vector<std::string>(groups.size(), principle), "eval compare: judge");

  std::vector<eval::PromptCredits> credits(prompts.size());
  std::vector<nlohmann::ordered_json> per_case, dump;
  for (size_t p = 0; p < prompts.size(); ++p) {
    nlohmann::ordered_json record = {{"prompt", p}, {"id", record_key(prompts[p].record, p)}};
    for (int order = 0; order < 2; ++order) {
      const auto& scores = judged[2 * p + order].scores;
      const size_t candidate_slot = order == 0 ? 1 : 0, baseline_slot = 1 - candidate_slot;
      const double cs = scores.valid[candidate_slot] ? scores.rewards[candidate_slot] : NAN;
      const double bs = scores.valid[baseline_slot] ? scores.rewards[baseline_slot] : NAN;
      credits[p][order] = eval::candidate_credit(cs, bs);
      const std::string key = order == 0 ? "baseline_first" : "candidate_first";
      record[key] = {{"candidate_score", cs}, {"baseline_score", bs},
                     {"credit", credits[p][order] ? nlohmann::ordered_json(*credits[p][order]) : nlohmann::ordered_json(nullptr)}};
      nlohmann::ordered_json raw = eval::judgment_dump_record(record["id"].get<std::string>(), judged[2 * p + order].calls);
      raw["order"] = key;
      dump.push_back(raw);
    }
    per_case.push_back(record);
  }
  if (!save_path.empty()) {
    write_jsonl(save_path, dump);
    std::cerr << "judgments: " << save_path << "\n";
  }
  nlohmann::ordered_json report;
  report["benchmark"] = "win rate";
  report["baseline"] = baseline;
  report["candidate"] = candidate;
  report["judge"] = judge_dir;
  report["principle"] = principle;
  report["prompts"] = prompts_path;
  report["result"] = eval::win_rate(credits).to_json();
  std::cout << eval::win_rate_table(report);
  write_report_outputs(outputs, report, eval::win_rate_html(report, candidate + " vs " + baseline + " judged by " + judge_dir),
                       per_case);
  return 0;
}

}  // namespace precept::apps
