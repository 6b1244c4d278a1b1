// `precept judge`: the RewardAnything judge from the command line. One group (--prompt and
// --responses) or a JSONL batch in; one JSON object per group out (rewards, scores, ranking,
// reasoning, raw text, failures). Two debugging modes: --print-prompt prints the exact text the
// judge model would see and stops; --parse FILE reads raw judge outputs and prints what precept
// makes of them, with no model loaded. --grade FILE grades raw judgments against ground truth with
// the judge-training reward (reward/judge_reward.h, docs/judge-reward.md), also with no model.
#include "apps/commands/commands.h"
#include "apps/commands/judge_options.h"
#include "apps/commands/options.h"
#include "core/files.h"
#include "core/progress.h"
#include "data/jsonl.h"
#include "reward/judge_parser.h"
#include "reward/judge_reward.h"
#include "reward/principle.h"
#include "reward/rewardanything.h"
#include "trainer/step_metrics.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>

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

// --grade: {"output": RAW, "ground_truth": {"scores": {name: number}}, "masked2real": {...}} per
// line in, {"format", "accuracy", "reward", "terms", "valid"} per line out, in input order. Every
// line is read and checked before anything is written.
struct GradeInput {
  std::string output;
  std::map<std::string, double> gold;
  std::map<std::string, std::string> masked2real;
};

GradeInput read_grade_input(const ordered_json& record, const std::string& where) {
  GradeInput input;
  if (!record.contains("output") || !record["output"].is_string())
    throw std::runtime_error(where + ": key \"output\" must be a string (the raw judgment)");
  input.output = record["output"].get<std::string>();
  if (!record.contains("ground_truth") || !record["ground_truth"].is_object())
    throw std::runtime_error(where + ": key \"ground_truth\" must be an object {\"scores\": {name: number}}");
  const ordered_json& truth = record["ground_truth"];
  if (!truth.contains("scores") || !truth["scores"].is_object() || truth["scores"].empty())
    throw std::runtime_error(where + ": key \"ground_truth.scores\" must be a non-empty object {name: number}");
  for (auto it = truth["scores"].begin(); it != truth["scores"].end(); ++it) {
    if (!it.value().is_number() || !std::isfinite(it.value().get<double>()))
      throw std::runtime_error(where + ": key \"ground_truth.scores." + it.key() + "\" must be a finite number, not " +
                               data::json_type_name(it.value()));
    input.gold[it.key()] = it.value().get<double>();
  }
  if (record.contains("masked2real")) {
    if (!record["masked2real"].is_object())
      throw std::runtime_error(where + ": key \"masked2real\" must be an object {shown name: real name}");
    for (auto it = record["masked2real"].begin(); it != record["masked2real"].end(); ++it) {
      if (!it.value().is_string())
        throw std::runtime_error(where + ": key \"masked2real." + it.key() + "\" must be a string");
      input.masked2real[it.key()] = it.value().get<std::string>();
    }
  }
  return input;
}

int grade_outputs(const std::string& path, const std::string& output_path, const reward::JudgeRewardConfig& config) {
  config.validate();
  std::vector<GradeInput> inputs;
  data::for_each_jsonl_object(path, [&](const ordered_json& record, const std::string& where, int64_t) {
    inputs.push_back(read_grade_input(record, where));
  });
  std::ofstream file;
  if (!output_path.empty()) {
    file.open(output_path, std::ios::trunc);
    if (!file) throw std::runtime_error(output_path + ": cannot write");
  }
  std::ostream& out = output_path.empty() ? std::cout : file;
  int64_t valid = 0;
  double reward_sum = 0.0;
  for (const GradeInput& input : inputs) {
    const reward::JudgeGrade grade = reward::grade_judgment(input.output, input.gold, input.masked2real, config);
    valid += grade.valid;
    reward_sum += grade.reward;
    out << grade.to_json().dump(-1, ' ', false, ordered_json::error_handler_t::replace) << "\n";
  }
  out.flush();
  if (!out) throw std::runtime_error((output_path.empty() ? std::string("stdout") : output_path) + ": write failed");
  std::cerr << "[precept judge --grade] " << inputs.size() << " graded, " << valid << " valid, mean reward "
            << (inputs.empty() ? 0.0 : reward_sum / static_cast<double>(inputs.size())) << "\n";
  return 0;
}

}  // namespace

int cmd_judge(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string model_dir, principle_text, principle_file, prompt, responses_file, batch_path;
  std::string output_path, parse_path, grade_path;
  reward::JudgeRewardConfig grade_config;
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
      ("print-calls", po::bool_switch(),
       "print every call as a JSON line {\"group\", \"call\", \"prompt\"} (the exact text), then stop")
      ("parse", po::value(&parse_path), "parse raw outputs (JSONL {\"output\"[, \"masked2real\"]}); no model")
      ("grade", po::value(&grade_path),
       "grade raw judgments against ground truth (JSONL {\"output\", \"ground_truth\": {\"scores\"}[, \"masked2real\"]}); "
       "no model; see docs/judge-reward.md");
  po::options_description grading("grading (--grade; the judge-training reward)");
  grading.add_options()
      ("format-weight", po::value(&grade_config.format_weight)->default_value(grade_config.format_weight),
       "reward = format-weight * format + accuracy-weight * accuracy")
      ("accuracy-weight", po::value(&grade_config.accuracy_weight)->default_value(grade_config.accuracy_weight), "")
      ("no-think-terms", po::bool_switch(), "drop the think-tag format terms and renormalise the others")
      ("pair-penalty-weight", po::value(&grade_config.pair_penalty)->default_value(grade_config.pair_penalty),
       "accuracy mixture weight of the weighted reversed-pair penalty")
      ("distribution-weight", po::value(&grade_config.distribution)->default_value(grade_config.distribution),
       "accuracy mixture weight of the score-distribution match")
      ("partial-credit-weight", po::value(&grade_config.partial_credit)->default_value(grade_config.partial_credit),
       "accuracy mixture weight of the partial credit for close scores")
      ("ranking-agreement-weight",
       po::value(&grade_config.ranking_agreement)->default_value(grade_config.ranking_agreement),
       "accuracy mixture weight of the ranking agreement (Kendall tau-b and top-k)")
      ("agreement-top-k", po::value(&grade_config.top_k)->default_value(grade_config.top_k),
       "k of the top-k agreement in the ranking agreement (--top-k is the judge sampler's)")
      ("top-k-share", po::value(&grade_config.top_k_share)->default_value(grade_config.top_k_share),
       "share of the top-k agreement in the ranking agreement (the rest is tau-b)")
      ("score-range", po::value(&grade_config.score_range)->default_value(grade_config.score_range),
       "width of the score scale, for the distribution match")
      ("partial-credit-distance",
       po::value(&grade_config.partial_credit_distance)->default_value(grade_config.partial_credit_distance),
       "score distance at which the partial credit reaches 0");
  options.add(grading);
  add_judge_options(options, judge_options);
  po::variables_map values;
  if (!parse_options("judge", "--model DIR --principle TEXT --prompt TEXT --responses FILE.json [options]", options,
                     args, values)) {
    return 0;
  }
  if (!parse_path.empty()) return parse_outputs(parse_path);
  if (!grade_path.empty()) {
    grade_config.think_terms = !values["no-think-terms"].as<bool>();
    return grade_outputs(grade_path, output_path, grade_config);
  }
  if (model_dir.empty()) throw std::runtime_error("--model is required (except with --parse or --grade)");
  if (!principle_text.empty() && !principle_file.empty()) throw std::runtime_error("give --principle or --principle-file, not both");
  if (!principle_file.empty()) principle_text = reward::load_principle(principle_file).text;
  settings.principle = principle_text;
  finish_judge_options(values, judge_options);

  // The groups, each with its own principle where the batch line gives one (Group::principle;
  // empty means --principle's).
  std::vector<reward::Group> groups;
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
      if (record.contains("principle")) {
        if (!record["principle"].is_string() || record["principle"].get<std::string>().find_first_not_of(" \t\r\n") ==
                                                    std::string::npos) {
          throw std::runtime_error(where + ": \"principle\" must be a non-empty string");
        }
        group.principle = record["principle"].get<std::string>();
      } else if (settings.principle.empty()) {
        throw std::runtime_error(where + ": no principle (give \"principle\" or --principle / --principle-file)");
      }
      groups.push_back(std::move(group));
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
    if (settings.principle.empty()) throw std::runtime_error("give --principle TEXT or --principle-file FILE");
    groups.push_back(std::move(group));
  }
  // The judge's own principle: --principle's, or else the first group's (every group then
  // carries its own).
  if (settings.principle.empty()) settings.principle = groups.front().principle;

  const auto start = std::chrono::steady_clock::now();
  auto judge = load_judge(model_dir, judge_options, settings.principle);

  if (values["print-prompt"].as<bool>() || values["print-calls"].as<bool>()) {
    const bool as_json = values["print-calls"].as<bool>();
    for (size_t g = 0; g < groups.size(); ++g) {
      int64_t number = 0;
      for (const auto& call : judge->plan_calls(groups[g], g)) {
        if (!as_json) {
          std::cout << call.prompt.text;
          continue;
        }
        const json record = {{"group", g}, {"call", number++}, {"prompt", call.prompt.text}};
        std::cout << record.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
      }
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
  int64_t failures = 0, retries = 0;
  // One batch for every group, whatever its principle, so that all calls share the slots.
  const int64_t total = static_cast<int64_t>(groups.size());
  judge->set_progress([&](const rollout::GenerationProgress& p) {
    line.update(0, total, p.tokens_generated, "tok", p.seconds, p.eta_seconds,
                std::to_string(p.sequences_done) + "/" + std::to_string(p.sequences_total) + " calls");
  });
  const auto scoring_start = std::chrono::steady_clock::now();
  const auto scores = judge->score_batch(groups);
  const double scoring_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - scoring_start).count();
  for (size_t i = 0; i < groups.size(); ++i) {
    const auto names = reward::response_names_of(groups[i]);
    ordered_json record;
    record["prompt"] = groups[i].prompt;
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
  line.finish();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cerr << "[precept judge] " << groups.size() << " group(s) in " << seconds << " s (" << groups.size() / seconds
            << " groups/s; scoring " << scoring_seconds << " s, peak RSS " << trainer::peak_rss_gib() << " GiB), " << failures << " failed call(s) after " << retries << " retr"
            << (retries == 1 ? "y" : "ies") << (output_path.empty() ? "" : ", results in " + output_path) << "\n";
  return 0;
}

}  // namespace precept::apps
