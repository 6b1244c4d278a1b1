// `precept eval rm-bench`: RM-Bench's accuracy (eval/rm_bench.h) of the RewardAnything judge,
// which sees a prompt's six responses in one listwise call (or, --pairwise, each of the nine
// chosen/rejected pairs in its own call), or of scores given in a file (--judgments, e.g. a
// reward model's): {"domain", "id", "score_chosen": [3], "score_rejected": [3]} per prompt, or
// {"domain", "id", "correct": [[3] x 3]}.
#include "apps/commands/eval_commands.h"
#include "apps/commands/judge_options.h"
#include "core/progress.h"
#include "data/jsonl.h"
#include "data/rm_bench.h"
#include "eval/judge_runs.h"
#include "eval/rm_bench.h"
#include "reward/masking.h"
#include "rollout/sampler.h"

#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <sstream>

namespace precept::apps {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::array<double, 3> three_scores(const data::ordered_json& record, const char* key, const std::string& where, int64_t& unscored) {
  auto it = record.find(key);
  if (it == record.end() || !it->is_array() || it->size() != 3) {
    throw std::runtime_error(where + ": field '" + key + "': expected 3 scores [concise, detailed, markdown]");
  }
  std::array<double, 3> out;
  for (size_t i = 0; i < 3; ++i) {
    const auto& value = (*it)[i];
    if (value.is_null()) {
      out[i] = kNaN;
      ++unscored;
    } else if (value.is_number()) {
      out[i] = value.get<double>();
    } else {
      throw std::runtime_error(where + ": field '" + key + "[" + std::to_string(i) + "]': expected a number or null, got " +
                               data::json_type_name(value));
    }
  }
  return out;
}

eval::RmBenchResult result_from_record(const data::ordered_json& record, const std::string& where) {
  eval::RmBenchResult result;
  const bool scores = record.contains("score_chosen") || record.contains("score_rejected");
  if (!scores && !record.contains("correct")) {
    throw std::runtime_error(where + ": give \"score_chosen\" and \"score_rejected\", or \"correct\"");
  }
  if (scores) {  // the scores decide; a "correct" matrix beside them (as --save-judgments writes) is ignored
    result.chosen_scores = three_scores(record, "score_chosen", where, result.unscored);
    result.rejected_scores = three_scores(record, "score_rejected", where, result.unscored);
    result.correct = eval::rm_bench_correct(result.chosen_scores, result.rejected_scores);
    return result;
  }
  const auto& matrix = record["correct"];
  if (!matrix.is_array() || matrix.size() != 3) throw std::runtime_error(where + ": field 'correct': expected a 3x3 matrix");
  result.chosen_scores.fill(kNaN);
  result.rejected_scores.fill(kNaN);
  for (size_t i = 0; i < 3; ++i) {
    if (!matrix[i].is_array() || matrix[i].size() != 3) throw std::runtime_error(where + ": field 'correct': expected a 3x3 matrix");
    for (size_t j = 0; j < 3; ++j) {
      const auto& cell = matrix[i][j];
      if (cell.is_null()) {
        ++result.unscored;
        result.correct[i][j] = 0.0;
        result.unscored_pairs[i][j] = true;
      } else if (cell.is_number() && (cell.get<double>() == 0.0 || cell.get<double>() == 1.0)) {
        result.correct[i][j] = cell.get<double>();
      } else {
        throw std::runtime_error(where + ": field 'correct[" + std::to_string(i) + "][" + std::to_string(j) +
                                 "]': expected 0, 1 or null");
      }
    }
  }
  return result;
}

data::ordered_json scores_json(const std::array<double, 3>& scores) {
  data::ordered_json out = data::ordered_json::array();
  for (double s : scores) out.push_back(std::isnan(s) ? data::ordered_json(nullptr) : data::ordered_json(s));
  return out;
}

data::ordered_json result_record(const data::RmBenchItem& item, const eval::RmBenchResult& result, bool pairwise) {
  data::ordered_json record;
  record["domain"] = item.domain;
  record["id"] = item.id;
  if (!pairwise) {
    record["score_chosen"] = scores_json(result.chosen_scores);
    record["score_rejected"] = scores_json(result.rejected_scores);
  }
  data::ordered_json matrix = data::ordered_json::array();
  for (size_t i = 0; i < 3; ++i) {
    data::ordered_json row = data::ordered_json::array();
    for (size_t j = 0; j < 3; ++j) row.push_back(result.unscored_pairs[i][j] ? data::ordered_json(nullptr) : data::ordered_json(result.correct[i][j]));
    matrix.push_back(row);
  }
  record["correct"] = matrix;
  record["unscored"] = result.unscored;
  return record;
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ','))
    if (!part.empty()) out.push_back(part);
  return out;
}

}  // namespace

int cmd_eval_rm_bench(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string data_dir, model_dir, judgments_path, principle_text, principle_file, domains_text, save_path;
  int64_t limit = 0;
  ReportOutputs outputs;
  JudgeCommandOptions judge;
  judge.settings.max_retries = 0;
  judge.conversion = "score";  // RM-Bench compares raw scores strictly: a tie is wrong
  options.add_options()
      ("data-dir", po::value(&data_dir)->required(), "RM-Bench's data folder (<domain>_filtered.json files)")
      ("model", po::value(&model_dir), "judge model directory")
      ("judgments", po::value(&judgments_path),
       "JSONL scores instead of a model: {domain, id, score_chosen[3], score_rejected[3]} or {domain, id, correct[3][3]}")
      ("pairwise", po::bool_switch(), "--model: judge each of the 9 chosen/rejected pairs alone instead of all 6 at once")
      ("principle", po::value(&principle_text), "the principle text")
      ("principle-file", po::value(&principle_file), "a principle TOML file (default: configs/principles/correct_safe.toml)")
      ("domains", po::value(&domains_text), "only these domains, comma-separated (e.g. chat,code)")
      ("limit", po::value(&limit)->default_value(0), "only the first N prompts of each domain (0 = all)")
      ("save-judgments", po::value(&save_path), "--model: write the scores as a --judgments file");
  add_report_options(options, outputs);
  po::options_description judge_group("judge options (--model)");
  add_judge_options(judge_group, judge, "", JudgeOptionGroups{true, false});
  options.add(judge_group);
  po::variables_map values;
  if (!parse_options("eval rm-bench", "--data-dir DIR (--model DIR [judge options] | --judgments FILE) [--pairwise] [-o report.json]",
                     options, args, values)) {
    return 0;
  }
  if (model_dir.empty() == judgments_path.empty()) throw std::runtime_error("give --model DIR or --judgments FILE (one of them)");
  if (!save_path.empty() && model_dir.empty()) throw std::runtime_error("--save-judgments needs --model");
  const bool pairwise = values["pairwise"].as<bool>();
  if (pairwise && model_dir.empty()) throw std::runtime_error("--pairwise needs --model");
  finish_judge_options(values, judge);

  std::vector<data::RmBenchItem> items;
  {
    const auto wanted = split_commas(domains_text);
    std::map<std::string, int64_t> taken;
    for (auto& item : data::read_rm_bench_dir(data_dir)) {
      if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), item.domain) == wanted.end()) continue;
      if (limit > 0 && taken[item.domain] >= limit) continue;
      ++taken[item.domain];
      items.push_back(std::move(item));
    }
    for (const auto& domain : wanted) {
      if (!taken.count(domain)) throw std::runtime_error("--domains: no prompts of domain '" + domain + "' in " + data_dir);
    }
  }
  if (items.empty()) throw std::runtime_error(data_dir + ": no RM-Bench prompts selected");

  std::vector<eval::RmBenchResult> results(items.size());
  if (!judgments_path.empty()) {
    std::map<std::string, size_t> index;
    for (size_t n = 0; n < items.size(); ++n) index[items[n].key()] = n;
    std::vector<std::string> seen(items.size());
    data::for_each_jsonl_object(judgments_path, [&](const data::ordered_json& record, const std::string& where, int64_t) {
      if (!record.contains("domain") || !record["domain"].is_string()) throw std::runtime_error(where + ": field 'domain': expected a string");
      if (!record.contains("id") || !(record["id"].is_string() || record["id"].is_number_integer())) {
        throw std::runtime_error(where + ": field 'id': expected a string or an integer");
      }
      const std::string key = record["domain"].get<std::string>() + "/" +
                              (record["id"].is_string() ? record["id"].get<std::string>() : record["id"].dump());
      auto it = index.find(key);
      if (it == index.end()) return;  // a prompt outside --domains / --limit
      if (!seen[it->second].empty()) throw std::runtime_error(where + ": a second line for " + key + " (first at " + seen[it->second] + ")");
      seen[it->second] = where;
      results[it->second] = result_from_record(record, where);
    });
    for (size_t n = 0; n < items.size(); ++n) {
      if (seen[n].empty()) throw std::runtime_error(judgments_path + ": no line for " + items[n].key() + " (" + items[n].where + ")");
    }
  } else {
    const std::string principle = resolve_principle(principle_text, principle_file, "correct_safe");
    std::vector<reward::Group> groups;
    std::vector<std::vector<size_t>> slots;  // per group: the response (0-2 chosen, 3-5 rejected) in each position
    for (size_t n = 0; n < items.size(); ++n) {
      const auto text = [&](size_t r) { return r < 3 ? items[n].chosen[r] : items[n].rejected[r - 3]; };
      if (!pairwise) {
        // A seeded order, so that even unmasked (--no-mask) the chosen responses are not always first.
        std::vector<size_t> order = reward::python_shuffled_order(6, core::mix_seed(judge.settings.seed, n));
        reward::Group group;
        group.prompt = items[n].prompt;
        for (size_t k = 0; k < 6; ++k) {
          group.responses.push_back(text(order[k]));
          group.response_names.push_back("response-" + std::to_string(k + 1));
        }
        group.seed = n;
        groups.push_back(std::move(group));
        slots.push_back(order);
        continue;
      }
      for (size_t i = 0; i < 3; ++i) {
        for (size_t j = 0; j < 3; ++j) {
          const uint64_t pair_seed = core::mix_seed(judge.settings.seed, n * 9 + i * 3 + j);
          std::vector<size_t> order = (pair_seed & 1) ? std::vector<size_t>{3 + j, i} : std::vector<size_t>{i, 3 + j};
          reward::Group group;
          group.prompt = items[n].prompt;
          for (size_t k = 0; k < 2; ++k) {
            group.responses.push_back(text(order[k]));
            group.response_names.push_back("response-" + std::to_string(k + 1));
          }
          group.seed = n * 9 + i * 3 + j;
          groups.push_back(std::move(group));
          slots.push_back(order);
        }
      }
    }
    auto model = load_judge(model_dir, judge, principle);
    const auto judged = judge_with_progress(*model, groups, std::vector<std::string>(groups.size(), principle), "eval rm-bench");
    for (size_t g = 0; g < groups.size(); ++g) {
      std::array<double, 6> value;
      value.fill(kNaN);
      for (size_t k = 0; k < slots[g].size(); ++k) {
        if (judged[g].scores.valid[k]) value[slots[g][k]] = judged[g].scores.rewards[k];
      }
      if (!pairwise) {
        eval::RmBenchResult& result = results[g];
        for (size_t r = 0; r < 3; ++r) {
          result.chosen_scores[r] = value[r];
          result.rejected_scores[r] = value[3 + r];
        }
        for (double v : value) result.unscored += std::isnan(v);
        result.correct = eval::rm_bench_correct(result.chosen_scores, result.rejected_scores);
      } else {
        eval::RmBenchResult& result = results[g / 9];
        const size_t i = (g % 9) / 3, j = g % 3;
        result.chosen_scores.fill(kNaN);
        result.rejected_scores.fill(kNaN);
        const double chosen = value[i], rejected = value[3 + j];
        if (std::isnan(chosen) || std::isnan(rejected)) {
          ++result.unscored;
          result.unscored_pairs[i][j] = true;
        }
        result.correct[i][j] = chosen > rejected ? 1.0 : 0.0;
      }
    }
  }

  std::vector<nlohmann::ordered_json> per_case;
  for (size_t n = 0; n < items.size(); ++n) per_case.push_back(result_record(items[n], results[n], pairwise));
  if (!save_path.empty()) {
    write_jsonl(save_path, per_case);
    std::cerr << "judgments: " << save_path << "\n";
  }
  nlohmann::ordered_json report;
  report["benchmark"] = "RM-Bench";
  report["data_dir"] = data_dir;
  report["judge"] = model_dir.empty() ? nlohmann::ordered_json{{"judgments", judgments_path}}
                                      : nlohmann::ordered_json{{"model", model_dir},
                                                               {"mode", pairwise ? "pairwise" : "listwise"},
                                                               {"conversion", judge.conversion},
                                                               {"seed", judge.settings.seed}};
  const nlohmann::ordered_json scores = eval::rm_bench_report(items, results);
  for (auto it = scores.begin(); it != scores.end(); ++it) report[it.key()] = it.value();
  std::cout << eval::rm_bench_table(report);
  const std::string subtitle = data_dir + " judged by " + (model_dir.empty() ? "judgments " + judgments_path : model_dir);
  write_report_outputs(outputs, report, eval::rm_bench_html(report, subtitle), per_case);
  return 0;
}

}  // namespace precept::apps
