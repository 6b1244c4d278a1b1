#include "eval/win_rate.h"

#include "eval/html_report.h"

#include <cmath>
#include <cstdio>

namespace precept::eval {

std::optional<double> candidate_credit(double candidate_score, double baseline_score) {
  if (std::isnan(candidate_score) || std::isnan(baseline_score)) return std::nullopt;
  return candidate_score > baseline_score ? 1.0 : candidate_score == baseline_score ? 0.5 : 0.0;
}

Interval wilson_interval(double p_hat, double n, double z) {
  if (!(n > 0)) return {NAN, NAN};
  const double z2 = z * z;
  const double center = p_hat + z2 / (2 * n);
  const double spread = z * std::sqrt(p_hat * (1 - p_hat) / n + z2 / (4 * n * n));
  const double denominator = 1 + z2 / n;
  return {(center - spread) / denominator, (center + spread) / denominator};
}

WinRate win_rate(const std::vector<PromptCredits>& prompts) {
  WinRate out;
  out.prompts = static_cast<int64_t>(prompts.size());
  double total = 0.0, order_sum[2] = {0, 0};
  int64_t order_n[2] = {0, 0};
  for (const auto& credits : prompts) {
    double sum = 0.0;
    int usable = 0;
    for (int order = 0; order < 2; ++order) {
      if (!credits[order]) {
        ++out.failed_orders;
        continue;
      }
      const double c = *credits[order];
      sum += c;
      ++usable;
      order_sum[order] += c;
      ++order_n[order];
      if (c == 1.0) ++out.wins; else if (c == 0.0) ++out.losses; else ++out.ties;
    }
    if (usable == 0) continue;
    ++out.judged;
    total += sum / usable;
  }
  out.win_rate = out.judged ? total / static_cast<double>(out.judged) : NAN;
  out.ci95 = wilson_interval(out.win_rate, static_cast<double>(out.judged));
  out.win_rate_baseline_first = order_n[0] ? order_sum[0] / static_cast<double>(order_n[0]) : NAN;
  out.win_rate_candidate_first = order_n[1] ? order_sum[1] / static_cast<double>(order_n[1]) : NAN;
  return out;
}

nlohmann::ordered_json WinRate::to_json() const {
  nlohmann::ordered_json out;
  out["win_rate"] = win_rate;
  out["ci95_low"] = ci95.low;
  out["ci95_high"] = ci95.high;
  out["ci_method"] = "wilson";
  out["prompts"] = prompts;
  out["judged_prompts"] = judged;
  out["failed_orders"] = failed_orders;
  out["wins"] = wins;
  out["ties"] = ties;
  out["losses"] = losses;
  out["win_rate_baseline_shown_first"] = win_rate_baseline_first;
  out["win_rate_candidate_shown_first"] = win_rate_candidate_first;
  return out;
}

namespace {
double number_or_nan(const nlohmann::ordered_json& value) { return value.is_number() ? value.get<double>() : NAN; }
}  // namespace

std::string win_rate_table(const nlohmann::ordered_json& report) {
  const auto& r = report.at("result");
  char line[512];
  std::snprintf(line, sizeof line,
                "win rate of candidate over baseline: %s  (95%% Wilson CI %s .. %s)\n"
                "prompts %lld, judged %lld; orders: %lld wins, %lld ties, %lld losses, %lld failed\n"
                "per order (position bias): baseline shown first %s, candidate shown first %s\n",
                format_number(number_or_nan(r.at("win_rate"))).c_str(), format_number(number_or_nan(r.at("ci95_low"))).c_str(),
                format_number(number_or_nan(r.at("ci95_high"))).c_str(), static_cast<long long>(r.at("prompts").get<int64_t>()),
                static_cast<long long>(r.at("judged_prompts").get<int64_t>()), static_cast<long long>(r.at("wins").get<int64_t>()),
                static_cast<long long>(r.at("ties").get<int64_t>()), static_cast<long long>(r.at("losses").get<int64_t>()),
                static_cast<long long>(r.at("failed_orders").get<int64_t>()),
                format_number(number_or_nan(r.at("win_rate_baseline_shown_first"))).c_str(),
                format_number(number_or_nan(r.at("win_rate_candidate_shown_first"))).c_str());
  return line;
}

std::string win_rate_html(const nlohmann::ordered_json& report, const std::string& subtitle) {
  HtmlPage page("precept eval compare", subtitle);
  const auto& r = report.at("result");
  page.section("Win rate", "<pre>" + html_escape(win_rate_table(report)) + "</pre>");
  BarChart chart;
  chart.title = "candidate win rate (overall and per order)";
  chart.categories = {"overall", "baseline shown first", "candidate shown first"};
  chart.series = {"win rate"};
  chart.values = {{number_or_nan(r.at("win_rate")), number_or_nan(r.at("win_rate_baseline_shown_first")),
                   number_or_nan(r.at("win_rate_candidate_shown_first"))}};
  chart.max_value = 1.0;
  page.section("Chart", svg_bar_chart(chart));
  return page.render();
}

}  // namespace precept::eval
