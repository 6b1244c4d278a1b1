// `precept judge`: the RewardAnything judge from the command line. One group (--prompt and
// --responses) or a JSONL batch in; one JSON object per group out (rewards, scores, ranking,
// reasoning, raw text, failures). Two debugging modes: --print-prompt prints the exact text the
// judge model would see and stops; --parse FILE reads raw judge outputs and prints what precept
// makes of them, with no model loaded.
#include "apps/commands/commands.h"
#include "apps/commands/judge_options.h"
#include "apps/commands/options.h"
#include "core/files.h"
#include "core/progress.h"
#include "reward/judge_parser.h"
#include "reward/principle.h"
#include "reward/rewardanything.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

namespace precept::apps {
namespace {
using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;


// Responses as a JSON list of strings or an object {name: text}, into a group.
void fill_responses(const ordered_json& value, reward::Group& group, const std::string& where) {
  if (value.is_array()) {
    for (const auto& item : value) {
      if (!item.is_string()) throw std::runtime_error(where + ": responses must be strings");
      group.responses.push_back(item.get<std::string>());
    }
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (!it.value().is_string()) throw std::runtime_error(where + ": response '" + it.key() + "' must be a string");
      group.response_names.push_back(it.key());
      group.responses.push_back(it.value().get<std::string>());
    }
  } else {
    throw std::runtime_error(where + ": responses must be a list of strings or an object {name: text}");
  }
  if (group.responses.empty()) throw std::runtime_error(where + ": no responses");
}

// --parse: {"output": RAW, "masked2real": {"model-1": "a", ...}} per line.
int parse_outputs(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open");
  std::string line;
  int64_t parsed = 0, complete = 0;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(number);
    ordered_json record;
    try {
      record = ordered_json::parse(line);
    } catch (const std::exception& error) {
      throw std::runtime_error(where + ": not valid JSON: " + error.what());
    }
    if (!record.is_object() || !record.contains("output") || !record["output"].is_string()) {
      throw std::runtime_error(where + ": each line needs a string \"output\" (and optionally \"masked2real\")");
    }
    reward::Judgment judgment;
    if (record.contains("masked2real")) {
      if (!record["masked2real"].is_object()) throw std::runtime_error(where + ": \"masked2real\" must be an object");
      reward::ShownResponses names;
      for (auto it = record["masked2real"].begin(); it != record["masked2real"].end(); ++it) {
        if (!it.value().is_string()) throw std::runtime_error(where + ": masked2real values must be strings");
        names.shown.push_back({it.key(), ""});
        names.real_names.push_back(it.value().get<std::string>());
      }
      judgment = reward::parse_judgment(record["output"].get<std::string>(), names);
    } else {
      judgment = reward::parse_judgment(record["output"].get<std::string>());
    }
    json out = judgment.to_json();
    out["line"] = number;
    out["valid"] = judgment.json_parsed && judgment.complete;
    parsed += judgment.json_parsed;
    complete += judgment.json_parsed && judgment.complete;
    std::cout << out.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  }
  std::cerr << "[precept judge --parse] " << parsed << " parsed, " << complete << " complete\n";
  return 0;
}

}  // namespace

int cmd_judge(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string model_dir, principle_text, principle_file, prompt, responses_file, batch_path;
  std::string output_path, parse_path;
  std::vector<std::string> response_texts;
  JudgeCommandOptions judge_options;
  reward::JudgeSettings& settings = judge_options.settings;
  options.add_options()
      ("model", po::value(&model_dir), "judge model directory (a Qwen3 checkpoint such as RewardAnything-8B)")
      ("principle", po::value(&principle_text), "the principle text")
      ("principle-file", po::value(&principle_file), "a principle TOML file (configs/principles/*.toml)")
      ("prompt", po::value(&prompt), "the prompt the responses answer")
      ("responses", po::value(&responses_file), "JSON file: a list of strings or an object {name: text}")
      ("response", po::value(&response_texts)->composing(), "a response (repeatable), instead of --responses")
      ("batch", po::value(&batch_path), "JSONL: {\"prompt\", \"responses\"[, \"principle\"]} per line")
      ("output,o", po::value(&output_path), "write the results here (JSONL) instead of stdout")
      ("print-prompt", po::bool_switch(), "print the exact text the judge model would see, then stop")
      ("parse", po::value(&parse_path), "parse raw outputs (JSONL {\"output\"[, \"masked2real\"]}); no model");
  add_judge_options(options, judge_options);
  po::variables_map values;
  if (!parse_options("judge", "--model DIR --principle TEXT --prompt TEXT --responses FILE.json [options]", options,
                     args, values)) {
    return 0;
  }
  if (!parse_path.empty()) return parse_outputs(parse_path);
  if (model_dir.empty()) throw std::runtime_error("--model is required (except with --parse)");
  if (!principle_text.empty() && !principle_file.empty()) throw std::runtime_error("give --principle or --principle-file, not both");
  if (!principle_file.empty()) principle_text = reward::load_principle(principle_file).text;
  settings.principle = principle_text;
  finish_judge_options(values, judge_options);

  // The groups, and a principle per group where the batch gives one.
  std::vector<reward::Group> groups;
  std::vector<std::string> principles;
  if (!batch_path.empty()) {
    if (values.count("prompt") || values.count("responses") || values.count("response")) {
      throw std::runtime_error("--batch replaces --prompt/--responses/--response");
    }
    std::ifstream in(batch_path);
    if (!in) throw std::runtime_error(batch_path + ": cannot open");
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = batch_path + ":" + std::to_string(number);
      ordered_json record;
      try {
        record = ordered_json::parse(line);
      } catch (const std::exception& error) {
        throw std::runtime_error(where + ": not valid JSON: " + error.what());
      }
      if (!record.is_object() || !record.contains("prompt") || !record["prompt"].is_string() || !record.contains("responses")) {
        throw std::runtime_error(where + ": each line needs a string \"prompt\" and \"responses\"");
      }
      reward::Group group;
      group.prompt = record["prompt"].get<std::string>();
      fill_responses(record["responses"], group, where);
      group.seed = static_cast<uint64_t>(groups.size());
      groups.push_back(std::move(group));
      principles.push_back(record.contains("principle") && record["principle"].is_string()
                               ? record["principle"].get<std::string>() : settings.principle);
      if (principles.back().empty()) throw std::runtime_error(where + ": no principle (give \"principle\" or --principle)");
    }
    if (groups.empty()) throw std::runtime_error(batch_path + ": holds no groups");
  } else {
    if (!values.count("prompt")) throw std::runtime_error("--prompt is required (or --batch)");
    if (values.count("responses") == values.count("response") && values.count("responses")) {
      throw std::runtime_error("give --responses FILE or --response TEXT..., not both");
    }
    reward::Group group;
    group.prompt = prompt;
    if (!responses_file.empty()) {
      fill_responses(core::read_ordered_json_file(responses_file), group, responses_file);
    } else {
      group.responses = response_texts;
    }
    if (group.responses.empty()) throw std::runtime_error("no responses: give --responses FILE or --response TEXT");
    groups.push_back(std::move(group));
    principles.push_back(settings.principle);
  }
  if (principles.front().empty()) throw std::runtime_error("give --principle TEXT or --principle-file FILE");
  settings.principle = principles.front();

  const auto start = std::chrono::steady_clock::now();
  auto judge = load_judge(model_dir, judge_options, settings.principle);

  if (values["print-prompt"].as<bool>()) {
    for (size_t g = 0; g < groups.size(); ++g) {
      judge->set_principle(principles[g]);
      for (const auto& call : judge->plan_calls(groups[g], g)) std::cout << call.prompt.text;
    }
    return 0;
  }

  std::ofstream file;
  if (!output_path.empty()) {
    file.open(output_path, std::ios::trunc);
    if (!file) throw std::runtime_error(output_path + ": cannot write");
  }
  std::ostream& out = output_path.empty() ? std::cout : file;
  core::ProgressLine line("judge");
  int64_t failures = 0, retries = 0, done = 0;
  // Groups that share a principle are judged in one batch, so their calls share the slots.
  size_t begin = 0;
  while (begin < groups.size()) {
    size_t end = begin;
    while (end < groups.size() && principles[end] == principles[begin]) ++end;
    judge->set_principle(principles[begin]);
    const int64_t batch_done = done, total = static_cast<int64_t>(groups.size());
    judge->set_progress([&](const rollout::GenerationProgress& p) {
      line.update(batch_done, total, p.tokens_generated, "tok", p.seconds, p.eta_seconds,
                  std::to_string(p.sequences_done) + "/" + std::to_string(p.sequences_total) + " calls");
    });
    std::vector<reward::Group> batch(groups.begin() + begin, groups.begin() + end);
    auto scores = judge->score_batch(batch);
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto names = reward::response_names_of(batch[i]);
      ordered_json record;
      record["prompt"] = batch[i].prompt;
      ordered_json rewards = ordered_json::object(), valid = ordered_json::object();
      for (size_t r = 0; r < names.size(); ++r) {
        rewards[names[r]] = scores[i].rewards[r];
        valid[names[r]] = static_cast<bool>(scores[i].valid[r]);
      }
      record["rewards"] = rewards;
      record["valid"] = valid;
      const auto& calls = scores[i].diagnostics["calls"];
      if (calls.size() == 1) {
        record["scores"] = calls[0]["judgment"]["scores"];
        record["ranking"] = calls[0]["judgment"]["ranking"];
        record["reasoning"] = calls[0]["judgment"]["reasoning"];
      }
      record["failures"] = scores[i].failures;
      record["retries"] = scores[i].retries;
      record["calls"] = calls;
      out << record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      failures += scores[i].failures;
      retries += scores[i].retries;
    }
    done += static_cast<int64_t>(batch.size());
    begin = end;
  }
  line.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "[precept judge] " << groups.size() << " group(s) in " << seconds << " s (" << groups.size() / seconds
            << " groups/s), " << failures << " failed call(s) after " << retries << " retr"
            << (retries == 1 ? "y" : "ies") << (output_path.empty() ? "" : ", results in " + output_path) << "\n";
  return 0;
}

}  // namespace precept::apps
