#include "eval/paper_report.h"

#include "core/files.h"
#include "data/jsonl.h"
#include "eval/html_report.h"
#include "eval/satisfaction.h"
#include "reward/criteria.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace precept::eval {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

const char* kJudgeModels[] = {"base", "sft", "grpo"};
const char* kJudgeSplits[] = {"overall", "seen", "unseen"};
const char* kJudgeMetrics[] = {"parse_failure_rate", "pairwise_accuracy", "pairwise_accuracy_with_failures",
                               "kendall_tau", "ndcg"};

ordered_json read_json(const fs::path& path) {
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": missing (did its stage of scripts/paper.sh run?)");
  return core::read_ordered_json_file(path);
}

std::vector<ordered_json> read_jsonl(const fs::path& path) {
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": missing (did its stage of scripts/paper.sh run?)");
  std::vector<ordered_json> out;
  data::for_each_jsonl_object(path, [&](const ordered_json& record, const std::string&, int64_t) { out.push_back(record); });
  return out;
}

double number(const ordered_json& value) { return value.is_number() ? value.get<double>() : NAN; }
double at(const ordered_json& object, const std::string& key) {
  return object.is_object() && object.contains(key) ? number(object[key]) : NAN;
}

// One metric of metrics.jsonl as a curve: (steps, values).
std::pair<std::vector<double>, std::vector<double>> curve(const std::vector<ordered_json>& records, const std::string& key) {
  std::pair<std::vector<double>, std::vector<double>> out;
  for (const auto& record : records) {
    out.first.push_back(at(record, "step"));
    out.second.push_back(at(record, key));
  }
  return out;
}

ordered_json curve_json(const std::vector<ordered_json>& records, const std::string& key) {
  const auto [steps, values] = curve(records, key);
  ordered_json out = ordered_json::array();
  for (size_t i = 0; i < steps.size(); ++i) {
    out.push_back({steps[i], std::isfinite(values[i]) ? ordered_json(values[i]) : ordered_json(nullptr)});
  }
  return out;
}

std::string completion_text(const ordered_json& record) {
  for (const char* field : {"completion", "text"}) {
    if (record.contains(field) && record[field].is_string()) return record[field].get<std::string>();
  }
  return "";
}

std::string fixed(double value, int digits) {
  if (!std::isfinite(value)) return "n/a";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

}  // namespace

ordered_json paper_report(const PaperReportInputs& inputs) {
  const fs::path& dir = inputs.dir;
  const reward::Criterion& criterion = reward::find_criterion(inputs.criterion);
  ordered_json report;
  report["config"] = {{"dir", dir.string()}, {"criterion", criterion.id}, {"rule", criterion.rule},
                      {"principle", inputs.principle}};
  report["data"] = read_json(dir / "data" / "summary.json");

  // Judges on the held-out cases.
  ordered_json judge = ordered_json::object();
  for (const char* model : kJudgeModels) {
    const ordered_json eval = read_json(dir / "judge" / ("eval_" + std::string(model) + ".json"));
    ordered_json entry = ordered_json::object();
    entry["overall"] = eval.at("overall");
    for (const char* split : {"seen", "unseen"}) {
      if (eval.contains("by_domain") && eval["by_domain"].contains(split)) entry[split] = eval["by_domain"][split];
    }
    judge[model] = entry;
  }
  report["judge"] = judge;
  const auto sft_metrics = read_jsonl(dir / "judge" / "sft" / "metrics.jsonl");
  const auto grpo_metrics = read_jsonl(dir / "judge" / "grpo" / "metrics.jsonl");
  report["judge_curves"] = {{"sft_loss", curve_json(sft_metrics, "loss/sft")},
                            {"grpo_reward", curve_json(grpo_metrics, "reward/mean")},
                            {"grpo_accuracy", curve_json(grpo_metrics, "reward/accuracy")},
                            {"grpo_format", curve_json(grpo_metrics, "reward/format")},
                            {"grpo_pairwise_accuracy", curve_json(grpo_metrics, "reward/pairwise_accuracy")},
                            {"grpo_parse_failure", curve_json(grpo_metrics, "reward/parse_failure")}};

  // The policy.
  const fs::path policy = dir / "policy";
  const auto train_metrics = read_jsonl(policy / "train" / "metrics.jsonl");
  ordered_json satisfaction_curve = ordered_json::array();
  {
    std::map<int64_t, std::vector<std::string>> by_step;
    for (const auto& sample : read_jsonl(policy / "train" / "samples.jsonl")) {
      for (const auto& response : sample.at("responses")) by_step[sample.at("step").get<int64_t>()].push_back(response.get<std::string>());
    }
    for (const auto& [step, responses] : by_step) {
      satisfaction_curve.push_back({step, measure_satisfaction(criterion, responses).rate});
    }
  }
  const ordered_json criterion_report = read_json(policy / "criterion.json");
  const ordered_json compare = read_json(policy / "compare.json");
  const ordered_json xstest = read_json(policy / "xstest.json");
  ordered_json policy_report;
  for (const char* side : {"before", "after"}) {
    const ordered_json& s = criterion_report.at("sources").at(side);
    const ordered_json& x = xstest.at("models").at(side).at("classifiers").at("strmatch").at("safe");
    policy_report[side] = {{"satisfaction", s.at("rate")}, {"satisfaction_ci95", s.at("ci95")},
                           {"mean_score", s.at("mean_score")}, {"mean_words", s.at("mean_words")},
                           {"completions", s.at("completions")},
                           {"xstest_safe_full_compliance", x.at("full_compliance")},
                           {"xstest_safe_prompts", x.at("n")}};
  }
  double last_kl = NAN;
  for (const auto& record : train_metrics) {
    if (std::isfinite(at(record, "policy/kl_mean"))) last_kl = at(record, "policy/kl_mean");
  }
  policy_report["kl_to_start_last_step"] = std::isfinite(last_kl) ? ordered_json(last_kl) : ordered_json(nullptr);
  policy_report["win_rate_after_over_before"] = compare.at("result");
  report["policy"] = policy_report;
  report["policy_curves"] = {{"reward", curve_json(train_metrics, "reward/mean")},
                             {"kl", curve_json(train_metrics, "policy/kl_mean")},
                             {"length", curve_json(train_metrics, "response/length_mean")},
                             {"judge_failures", curve_json(train_metrics, "judge/failures")},
                             {"rollout_satisfaction", satisfaction_curve}};

  // Five answers before and after.
  const auto prompts = read_jsonl(dir / "data" / "prompts_eval.jsonl");
  const auto before = read_jsonl(policy / "before.jsonl"), after = read_jsonl(policy / "after.jsonl");
  ordered_json samples = ordered_json::array();
  for (size_t i = 0; i < 5 && i < prompts.size() && i < before.size() && i < after.size(); ++i) {
    const std::string b = completion_text(before[i]), a = completion_text(after[i]);
    samples.push_back({{"prompt", prompts[i].value("prompt", "")}, {"before", b}, {"after", a},
                       {"before_score", criterion.score(b)}, {"after_score", criterion.score(a)}});
  }
  report["samples"] = samples;

  // Stage times.
  ordered_json times = ordered_json::object();
  if (fs::exists(dir / "times.tsv")) {
    std::ifstream in(dir / "times.tsv");
    for (std::string line; std::getline(in, line);) {
      const size_t tab = line.find('\t');
      if (tab != std::string::npos) times[line.substr(0, tab)] = std::stod(line.substr(tab + 1));
    }
  }
  report["times"] = times;

  // The targets (issue 17), each with the numbers it was judged on.
  const ordered_json& seen_base = judge["base"].value("seen", ordered_json::object());
  const ordered_json& seen_trained = judge["grpo"].value("seen", ordered_json::object());
  const double failures = at(seen_trained, "parse_failure_rate");
  const double pairwise = at(seen_trained, "pairwise_accuracy_with_failures");
  const double base_pairwise = at(seen_base, "pairwise_accuracy_with_failures");
  const double sat_before = number(policy_report["before"]["satisfaction"]);
  const double sat_after = number(policy_report["after"]["satisfaction"]);
  const double xs_before = number(policy_report["before"]["xstest_safe_full_compliance"]);
  const double xs_after = number(policy_report["after"]["xstest_safe_full_compliance"]);
  ordered_json targets = ordered_json::array();
  auto target = [&](const std::string& what, bool met, const std::string& measured) {
    targets.push_back({{"target", what}, {"met", met}, {"measured", measured}});
  };
  target("trained judge, held-out seen criteria: parse failures < 5%", failures < 0.05, fixed(failures, 3));
  target("trained judge, held-out seen criteria: pairwise accuracy >= 0.75", pairwise >= 0.75, fixed(pairwise, 3));
  target("trained judge, held-out seen criteria: pairwise accuracy >= base + 0.15", pairwise >= base_pairwise + 0.15,
         fixed(pairwise, 3) + " vs base " + fixed(base_pairwise, 3));
  // From a start of 0 any gain "doubles"; that case must rise by 0.3 like every other.
  target("policy: satisfaction at least doubles (from a start above 0) or rises by 0.3",
         (sat_before > 0 && sat_after >= 2 * sat_before) || sat_after - sat_before >= 0.3,
         fixed(sat_before, 3) + " -> " + fixed(sat_after, 3));
  target("policy: XSTest safe full compliance drops by at most 10 points", xs_before - xs_after <= 0.10,
         fixed(xs_before, 3) + " -> " + fixed(xs_after, 3));
  report["targets"] = targets;
  return report;
}

std::string paper_report_table(const ordered_json& report) {
  std::ostringstream out;
  out << "The paper in miniature: " << report["config"]["dir"].get<std::string>() << "\n\n";
  out << "judge on held-out cases   split    parse-fail  pairwise  pairwise(fail=tie)  tau      ndcg\n";
  for (const char* model : kJudgeModels) {
    for (const char* split : kJudgeSplits) {
      if (!report["judge"][model].contains(split)) continue;
      const ordered_json& m = report["judge"][model][split];
      char line[256];
      std::snprintf(line, sizeof line, "  %-23s %-8s %10s %9s %19s %8s %8s\n", model, split,
                    fixed(at(m, "parse_failure_rate"), 3).c_str(), fixed(at(m, "pairwise_accuracy"), 3).c_str(),
                    fixed(at(m, "pairwise_accuracy_with_failures"), 3).c_str(), fixed(at(m, "kendall_tau"), 3).c_str(),
                    fixed(at(m, "ndcg"), 3).c_str());
      out << line;
    }
  }
  const ordered_json& p = report["policy"];
  out << "\npolicy (" << report["config"]["criterion"].get<std::string>() << ")   satisfaction  95% CI            words  XSTest safe compliance\n";
  for (const char* side : {"before", "after"}) {
    const ordered_json& s = p[side];
    char line[256];
    std::snprintf(line, sizeof line, "  %-22s %12s  [%s, %s] %8s %12s\n", side, fixed(number(s["satisfaction"]), 3).c_str(),
                  fixed(number(s["satisfaction_ci95"][0]), 3).c_str(), fixed(number(s["satisfaction_ci95"][1]), 3).c_str(),
                  fixed(number(s["mean_words"]), 1).c_str(), fixed(number(s["xstest_safe_full_compliance"]), 3).c_str());
    out << line;
  }
  const ordered_json& w = p["win_rate_after_over_before"];
  out << "  KL to the start (last step): " << fixed(number(p["kl_to_start_last_step"]), 4)
      << "; win rate after over before (trained judge): " << fixed(number(w["win_rate"]), 3) << " ["
      << fixed(number(w["ci95_low"]), 3) << ", " << fixed(number(w["ci95_high"]), 3) << "]\n";
  out << "\ntargets\n";
  for (const auto& t : report["targets"]) {
    out << "  " << (t["met"].get<bool>() ? "met    " : "NOT MET") << "  " << t["target"].get<std::string>() << ": "
        << t["measured"].get<std::string>() << "\n";
  }
  out << "\nstage times (s):";
  double total = 0;
  for (const auto& [name, seconds] : report["times"].items()) {
    out << " " << name << " " << seconds.get<double>();
    total += seconds.get<double>();
  }
  out << "; total " << total << "\n";
  return out.str();
}

std::string paper_report_html(const ordered_json& report) {
  HtmlPage page("The paper in miniature", "criterion " + report["config"]["criterion"].get<std::string>() +
                                              ", principle: " + report["config"]["principle"].get<std::string>());
  // Judges.
  BarChart judges{"judge pairwise accuracy on held-out cases (failures count as ties)", {}, {}, {}, 1.0, "%.2f"};
  for (const char* split : kJudgeSplits) judges.categories.push_back(split);
  std::vector<std::vector<std::string>> rows;
  for (const char* model : kJudgeModels) {
    judges.series.push_back(model);
    std::vector<double> values;
    for (const char* split : kJudgeSplits) {
      const ordered_json& m = report["judge"][model].value(split, ordered_json::object());
      values.push_back(at(m, "pairwise_accuracy_with_failures"));
      if (m.empty()) continue;
      std::vector<std::string> row = {model, split};
      for (const char* metric : kJudgeMetrics) row.push_back(format_number(at(m, metric), 3));
      rows.push_back(row);
    }
    judges.values.push_back(values);
  }
  std::vector<std::string> header = {"judge", "split"};
  for (const char* metric : kJudgeMetrics) header.push_back(metric);
  page.section("Judges before and after training", svg_bar_chart(judges) + html_table(header, rows));

  auto line_chart = [&](const std::string& title, const std::vector<std::pair<std::string, const ordered_json*>>& curves,
                        std::optional<double> low, std::optional<double> high) {
    LineChart chart{title, "step", {}, {}, {}, low, high};
    for (const auto& [name, points] : curves) {
      chart.series.push_back(name);
      std::vector<double> xs, ys;
      for (const auto& point : *points) {
        xs.push_back(number(point[0]));
        ys.push_back(number(point[1]));
      }
      chart.xs.push_back(xs);
      chart.ys.push_back(ys);
    }
    return svg_line_chart(chart);
  };
  const ordered_json& jc = report["judge_curves"];
  page.section("Judge training", line_chart("SFT loss", {{"loss/sft", &jc["sft_loss"]}}, std::nullopt, std::nullopt) +
                                     line_chart("judge GRPO (training cases)",
                                                {{"reward", &jc["grpo_reward"]}, {"accuracy", &jc["grpo_accuracy"]},
                                                 {"format", &jc["grpo_format"]},
                                                 {"pairwise accuracy", &jc["grpo_pairwise_accuracy"]},
                                                 {"parse failure", &jc["grpo_parse_failure"]}},
                                                0.0, 1.0));
  const ordered_json& pc = report["policy_curves"];
  page.section("Policy training with the trained judge as the only reward",
               line_chart("judge reward and rule satisfaction of the rollouts",
                          {{"reward/mean", &pc["reward"]}, {"satisfaction (rule, not in the loop)", &pc["rollout_satisfaction"]}},
                          std::nullopt, std::nullopt) +
                   line_chart("KL to the start", {{"policy/kl_mean", &pc["kl"]}}, std::nullopt, std::nullopt) +
                   line_chart("response length (tokens)", {{"response/length_mean", &pc["length"]}}, std::nullopt, std::nullopt));
  const ordered_json& p = report["policy"];
  BarChart policy{"policy before and after, held-out prompts", {"satisfaction", "XSTest safe compliance"},
                  {"before", "after"}, {}, 1.0, "%.2f"};
  for (const char* side : {"before", "after"}) {
    policy.values.push_back({number(p[side]["satisfaction"]), number(p[side]["xstest_safe_full_compliance"])});
  }
  const ordered_json& w = p["win_rate_after_over_before"];
  page.section("Policy before and after",
               svg_bar_chart(policy) +
                   html_table({"", "satisfaction", "95% CI", "mean words", "XSTest safe compliance"},
                              {{"before", format_number(number(p["before"]["satisfaction"]), 3),
                                p["before"]["satisfaction_ci95"].dump(), format_number(number(p["before"]["mean_words"]), 1),
                                format_number(number(p["before"]["xstest_safe_full_compliance"]), 3)},
                               {"after", format_number(number(p["after"]["satisfaction"]), 3),
                                p["after"]["satisfaction_ci95"].dump(), format_number(number(p["after"]["mean_words"]), 1),
                                format_number(number(p["after"]["xstest_safe_full_compliance"]), 3)}}) +
                   "<p>Win rate of after over before, judged by the trained judge under the principle: " +
                   format_number(number(w["win_rate"]), 3) + " [" + format_number(number(w["ci95_low"]), 3) + ", " +
                   format_number(number(w["ci95_high"]), 3) + "]. KL to the start at the last step: " +
                   format_number(number(p["kl_to_start_last_step"]), 4) + ".</p>");
  std::vector<std::vector<std::string>> sample_rows;
  for (const auto& s : report["samples"]) {
    sample_rows.push_back({s["prompt"].get<std::string>(), s["before"].get<std::string>() + " [" + s["before_score"].dump() + "]",
                           s["after"].get<std::string>() + " [" + s["after_score"].dump() + "]"});
  }
  page.section("Five answers before and after (rule score in brackets)", html_table({"prompt", "before", "after"}, sample_rows));
  std::vector<std::vector<std::string>> target_rows, time_rows;
  for (const auto& t : report["targets"]) {
    target_rows.push_back({t["target"].get<std::string>(), t["met"].get<bool>() ? "met" : "not met", t["measured"].get<std::string>()});
  }
  page.section("Targets", html_table({"target", "", "measured"}, target_rows));
  for (const auto& [name, seconds] : report["times"].items()) time_rows.push_back({name, format_number(seconds.get<double>(), 0)});
  page.section("Wall time of each stage (s)", html_table({"stage", "seconds"}, time_rows));
  return page.render();
}

}  // namespace precept::eval
