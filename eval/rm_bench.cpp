#include "eval/rm_bench.h"

#include "eval/html_report.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <stdexcept>

namespace precept::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* kLevels[] = {"concise", "detailed", "markdown"};

nlohmann::ordered_json matrix_json(const StyleMatrix& m) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : m) rows.push_back({row[0], row[1], row[2]});
  return rows;
}

double number_or_nan(const nlohmann::ordered_json& value) { return value.is_number() ? value.get<double>() : kNaN; }

}  // namespace

StyleMatrix rm_bench_correct(const std::array<double, 3>& chosen, const std::array<double, 3>& rejected) {
  StyleMatrix m{};
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j) m[i][j] = chosen[i] > rejected[j] ? 1.0 : 0.0;
  return m;
}

RmBenchAccuracy rm_bench_accuracy(const std::vector<StyleMatrix>& per_prompt) {
  RmBenchAccuracy out;
  out.prompts = static_cast<int64_t>(per_prompt.size());
  if (per_prompt.empty()) {
    for (auto& row : out.matrix) row.fill(kNaN);
    out.hard = out.normal = out.easy = out.average = kNaN;
    return out;
  }
  // As compute_accuracy: sum the matrices, divide by the number of prompts, then average the
  // triangles (3 cells each) and the diagonal.
  for (const auto& m : per_prompt)
    for (size_t i = 0; i < 3; ++i)
      for (size_t j = 0; j < 3; ++j) out.matrix[i][j] += m[i][j];
  for (auto& row : out.matrix)
    for (double& cell : row) cell /= static_cast<double>(per_prompt.size());
  const StyleMatrix& a = out.matrix;
  out.hard = (a[0][1] + a[0][2] + a[1][2]) / 3.0;
  out.normal = (a[0][0] + a[1][1] + a[2][2]) / 3.0;
  out.easy = (a[1][0] + a[2][0] + a[2][1]) / 3.0;
  out.average = (out.easy + out.normal + out.hard) / 3.0;
  return out;
}

nlohmann::ordered_json RmBenchAccuracy::to_json() const {
  nlohmann::ordered_json out;
  out["easy"] = easy;
  out["normal"] = normal;
  out["hard"] = hard;
  out["average"] = average;
  out["prompts"] = prompts;
  out["matrix"] = matrix_json(matrix);
  return out;
}

nlohmann::ordered_json rm_bench_report(const std::vector<data::RmBenchItem>& items, const std::vector<RmBenchResult>& results) {
  if (items.size() != results.size()) throw std::invalid_argument("rm_bench_report: one result per item");
  std::vector<StyleMatrix> all;
  std::map<std::string, std::vector<StyleMatrix>> by_domain, by_paper_domain;
  std::vector<std::string> domain_order;
  int64_t unscored = 0, failed = 0;
  for (size_t n = 0; n < items.size(); ++n) {
    all.push_back(results[n].correct);
    const std::string& domain = items[n].domain;
    if (!by_domain.count(domain)) domain_order.push_back(domain);
    by_domain[domain].push_back(results[n].correct);
    const std::string paper = domain.rfind("safety", 0) == 0 ? "safety" : domain;
    by_paper_domain[paper].push_back(results[n].correct);
    unscored += results[n].unscored;
    failed += results[n].unscored > 0;
  }
  nlohmann::ordered_json report;
  report["overall"] = rm_bench_accuracy(all).to_json();
  report["by_domain"] = nlohmann::ordered_json::object();
  for (const auto& domain : domain_order) report["by_domain"][domain] = rm_bench_accuracy(by_domain[domain]).to_json();
  report["paper_domains"] = nlohmann::ordered_json::object();
  report["domains_missing"] = nlohmann::ordered_json::array();
  double sum = 0.0;
  int present = 0;
  for (const char* paper : {"chat", "code", "math", "safety"}) {
    auto it = by_paper_domain.find(paper);
    if (it == by_paper_domain.end()) {
      report["domains_missing"].push_back(paper);
      continue;
    }
    const RmBenchAccuracy accuracy = rm_bench_accuracy(it->second);
    report["paper_domains"][paper] = accuracy.to_json();
    sum += accuracy.average;
    ++present;
  }
  report["domain_mean"] = present ? sum / present : kNaN;
  report["unscored"] = unscored;
  report["failed_prompts"] = failed;
  return report;
}

std::string rm_bench_table(const nlohmann::ordered_json& report) {
  std::string out;
  char line[200];
  std::snprintf(line, sizeof line, "%-24s %8s %8s %8s %8s %8s\n", "", "prompts", "easy", "normal", "hard", "average");
  out += line;
  auto row = [&](const std::string& label, const nlohmann::ordered_json& a) {
    std::snprintf(line, sizeof line, "%-24.24s %8lld %8s %8s %8s %8s\n", label.c_str(),
                  static_cast<long long>(a.at("prompts").get<int64_t>()), format_number(number_or_nan(a.at("easy"))).c_str(),
                  format_number(number_or_nan(a.at("normal"))).c_str(), format_number(number_or_nan(a.at("hard"))).c_str(),
                  format_number(number_or_nan(a.at("average"))).c_str());
    out += line;
  };
  row("overall (all prompts)", report.at("overall"));
  for (auto it = report.at("by_domain").begin(); it != report.at("by_domain").end(); ++it) row("  " + it.key(), it.value());
  for (auto it = report.at("paper_domains").begin(); it != report.at("paper_domains").end(); ++it) row("paper " + it.key(), it.value());
  std::string missing;
  for (const auto& name : report.at("domains_missing")) missing += (missing.empty() ? "" : ", ") + name.get<std::string>();
  out += "domain mean (RM-Bench's overall): " + format_number(number_or_nan(report.at("domain_mean"))) +
         (missing.empty() ? "" : "  (missing: " + missing + ")") + "\n";
  out += "unscored responses/pairs: " + std::to_string(report.at("unscored").get<int64_t>()) + " in " +
         std::to_string(report.at("failed_prompts").get<int64_t>()) + " prompt(s)\n";
  return out;
}

std::string rm_bench_html(const nlohmann::ordered_json& report, const std::string& subtitle) {
  HtmlPage page("precept eval rm-bench", subtitle);
  std::vector<std::vector<std::string>> rows;
  auto add = [&](const std::string& label, const nlohmann::ordered_json& a) {
    rows.push_back({label, std::to_string(a.at("prompts").get<int64_t>()), format_number(number_or_nan(a.at("easy"))),
                    format_number(number_or_nan(a.at("normal"))), format_number(number_or_nan(a.at("hard"))),
                    format_number(number_or_nan(a.at("average")))});
  };
  add("overall (all prompts)", report.at("overall"));
  for (auto it = report.at("by_domain").begin(); it != report.at("by_domain").end(); ++it) add(it.key(), it.value());
  for (auto it = report.at("paper_domains").begin(); it != report.at("paper_domains").end(); ++it) add("paper: " + it.key(), it.value());
  page.section("Accuracy", html_table({"", "prompts", "easy", "normal", "hard", "average"}, rows) +
                               "<p class='note'>Domain mean (RM-Bench's headline overall, the mean of the paper "
                               "domains' averages): " + format_number(number_or_nan(report.at("domain_mean"))) +
                               ". It differs from the overall row, which pools every prompt.</p>");
  BarChart chart;
  chart.title = "easy / normal / hard by domain";
  chart.series = {"easy", "normal", "hard"};
  chart.values.assign(3, {});
  chart.max_value = 1.0;
  for (auto it = report.at("by_domain").begin(); it != report.at("by_domain").end(); ++it) {
    chart.categories.push_back(it.key());
    for (size_t s = 0; s < 3; ++s) chart.values[s].push_back(number_or_nan(it.value().at(chart.series[s])));
  }
  page.section("By domain", svg_bar_chart(chart));
  auto matrix_of = [&](const std::string& title, const nlohmann::ordered_json& a) {
    MatrixChart m;
    m.title = title;
    m.row_axis = "chosen style";
    m.column_axis = "rejected style";
    m.rows = m.columns = {kLevels[0], kLevels[1], kLevels[2]};
    m.value_format = "%.3f";
    for (const auto& row : a.at("matrix")) {
      std::vector<double> cells;
      for (const auto& cell : row) cells.push_back(number_or_nan(cell));
      m.cells.push_back(cells);
    }
    return svg_matrix(m);
  };
  std::string matrices = matrix_of("all prompts", report.at("overall"));
  for (auto it = report.at("by_domain").begin(); it != report.at("by_domain").end(); ++it) matrices += matrix_of(it.key(), it.value());
  page.section("3x3 accuracy matrices (upper triangle hard, diagonal normal, lower triangle easy)", matrices);
  return page.render();
}

}  // namespace precept::eval
