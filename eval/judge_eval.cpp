#include "eval/judge_eval.h"

#include "eval/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <stdexcept>

namespace precept::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool is_response(const data::ListwiseCase& item, const std::string& name) {
  return item.index_of(name) != data::ListwiseCase::npos;
}

// "masked2real" of a judgments line: shown name -> the case's name.
reward::ShownResponses shown_from_map(const ordered_json& map, const data::ListwiseCase& item, const std::string& where) {
  if (!map.is_object()) throw std::runtime_error(where + ": \"masked2real\" must be an object {shown name: response name}");
  reward::ShownResponses names;
  std::set<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (!it.value().is_string()) throw std::runtime_error(where + ": \"masked2real\"." + it.key() + " must be a string");
    const std::string real = it.value().get<std::string>();
    if (!is_response(item, real)) {
      throw std::runtime_error(where + ": \"masked2real\" maps '" + it.key() + "' to '" + real +
                               "', which is not a response of case '" + item.id + "'");
    }
    if (!seen.insert(real).second) throw std::runtime_error(where + ": \"masked2real\" maps two names to '" + real + "'");
    names.shown.push_back({it.key(), ""});
    names.real_names.push_back(real);
  }
  return names;
}

reward::Judgment parse_raw(const ordered_json& record, const data::ListwiseCase& item, size_t index,
                           const ShownNamesFor& shown_names, const std::string& where) {
  auto output = record.find("output");
  if (output == record.end() || !output->is_string()) throw std::runtime_error(where + ": \"output\" must be a string");
  auto map = record.find("masked2real");
  const reward::ShownResponses names =
      map != record.end() ? shown_from_map(*map, item, where) : shown_names(item, index);
  return reward::parse_judgment(output->get<std::string>(), names);
}

CaseJudgment judgment_from_scores(const ordered_json& record, const data::ListwiseCase& item, const std::string& where) {
  CaseJudgment out;
  out.parsed = true;
  const ordered_json& scores = record["scores"];
  if (!scores.is_object()) throw std::runtime_error(where + ": \"scores\" must be an object {response name: number}");
  for (auto it = scores.begin(); it != scores.end(); ++it) {
    if (!is_response(item, it.key())) {
      throw std::runtime_error(where + ": \"scores\" names '" + it.key() + "', which is not a response of case '" +
                               item.id + "'");
    }
    if (it.value().is_null()) continue;  // no score: the case counts as a parse failure
    if (!it.value().is_number()) {
      throw std::runtime_error(where + ": \"scores\"." + it.key() + " must be a number or null, got " +
                               data::json_type_name(it.value()));
    }
    out.scores[it.key()] = it.value().get<double>();
  }
  auto ranking = record.find("best-to-worst");
  if (ranking != record.end() && !ranking->is_null()) {
    if (!ranking->is_array()) throw std::runtime_error(where + ": \"best-to-worst\" must be an array of response names");
    for (const auto& name : *ranking) {
      if (!name.is_string()) throw std::runtime_error(where + ": \"best-to-worst\" must hold strings");
      if (!is_response(item, name.get<std::string>())) {
        throw std::runtime_error(where + ": \"best-to-worst\" names '" + name.get<std::string>() +
                                 "', which is not a response of case '" + item.id + "'");
      }
      out.ranking.push_back(name.get<std::string>());
    }
  }
  return out;
}

// The place of every response in a ranking that names each exactly once; empty otherwise.
std::vector<size_t> complete_places(const data::ListwiseCase& item, const std::vector<std::string>& ranking) {
  if (ranking.size() != item.response_names.size()) return {};
  std::vector<size_t> place(item.response_names.size(), data::ListwiseCase::npos);
  for (size_t p = 0; p < ranking.size(); ++p) {
    const size_t i = item.index_of(ranking[p]);
    if (i == data::ListwiseCase::npos || place[i] != data::ListwiseCase::npos) return {};
    place[i] = p;
  }
  return place;
}

double mean_of(const std::vector<double>& values) {
  if (values.empty()) return kNaN;
  double sum = 0.0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

// Score levels of one side of the confusion matrix: the value -> level index, and the labels.
struct Levels {
  std::vector<std::string> labels;
  std::vector<double> edges;  // binned: upper edges of bins 0..3 (bin 4 takes the rest)
  std::vector<double> values;  // exact: the distinct values
  size_t level_of(double v) const {
    if (!values.empty()) return static_cast<size_t>(std::lower_bound(values.begin(), values.end(), v) - values.begin());
    size_t bin = 0;
    while (bin < edges.size() && v > edges[bin]) ++bin;
    return bin;
  }
};

std::string level_label(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", v);
  return buffer;
}

Levels make_levels(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  Levels levels;
  if (values.size() <= 12) {
    levels.values = values;
    for (double v : values) levels.labels.push_back(level_label(v));
    return levels;
  }
  const double low = values.front(), high = values.back(), width = (high - low) / 5.0;
  for (int b = 0; b < 5; ++b) {
    const double from = low + width * b, to = b == 4 ? high : low + width * (b + 1);
    if (b < 4) levels.edges.push_back(to);
    levels.labels.push_back(level_label(from) + "-" + level_label(to));
  }
  return levels;
}

}  // namespace

CaseJudgment case_judgment_from(const std::vector<reward::Judgment>& calls, const data::ListwiseCase& item) {
  CaseJudgment out;
  out.parsed = !calls.empty();
  for (size_t c = 0; c < calls.size(); ++c) {
    const reward::Judgment& judgment = calls[c];
    const std::string prefix = calls.size() > 1 ? "call " + std::to_string(c + 1) + ": " : "";
    if (!judgment.json_parsed) {
      out.parsed = false;
      out.problems.push_back(prefix + "no judgment could be parsed");
    }
    for (const auto& [name, score] : judgment.scores) {
      if (is_response(item, name)) {
        out.scores[name] = score;
      } else {
        out.problems.push_back(prefix + "a score for '" + name + "', which is not a response, ignored");
      }
    }
    for (const auto& problem : judgment.problems) out.problems.push_back(prefix + problem);
  }
  if (calls.size() == 1 && calls[0].has_ranking_key && !calls[0].ranking_derived) out.ranking = calls[0].ranking;
  return out;
}

std::vector<CaseJudgment> read_case_judgments(const std::filesystem::path& path,
                                              const std::vector<data::ListwiseCase>& cases,
                                              const ShownNamesFor& shown_names) {
  std::map<std::string, size_t> index_of_id;
  for (size_t i = 0; i < cases.size(); ++i) index_of_id[cases[i].id] = i;
  std::vector<CaseJudgment> out(cases.size());
  std::vector<std::string> seen_at(cases.size());
  data::for_each_jsonl_object(path, [&](const ordered_json& record, const std::string& where, int64_t) {
    auto id_field = record.find("id");
    if (id_field == record.end()) throw std::runtime_error(where + ": missing \"id\"");
    if (!id_field->is_string() && !id_field->is_number_integer()) throw std::runtime_error(where + ": \"id\" must be a string or an integer");
    const std::string id = id_field->is_string() ? id_field->get<std::string>() : id_field->dump();
    auto found = index_of_id.find(id);
    if (found == index_of_id.end()) throw std::runtime_error(where + ": id '" + id + "' is not a case of the data");
    const size_t index = found->second;
    if (!seen_at[index].empty()) throw std::runtime_error(where + ": a second judgment for '" + id + "' (first at " + seen_at[index] + ")");
    seen_at[index] = where;
    const data::ListwiseCase& item = cases[index];
    const int forms = record.contains("output") + record.contains("calls") + record.contains("scores");
    if (forms != 1) throw std::runtime_error(where + ": give exactly one of \"output\", \"calls\" or \"scores\"");
    if (record.contains("scores")) {
      out[index] = judgment_from_scores(record, item, where);
    } else if (record.contains("output")) {
      out[index] = case_judgment_from({parse_raw(record, item, index, shown_names, where)}, item);
    } else {
      const ordered_json& calls = record["calls"];
      if (!calls.is_array() || calls.empty()) throw std::runtime_error(where + ": \"calls\" must be a non-empty array");
      std::vector<reward::Judgment> judgments;
      for (size_t c = 0; c < calls.size(); ++c) {
        const std::string call_where = where + ": calls[" + std::to_string(c) + "]";
        if (!calls[c].is_object() || !calls[c].contains("masked2real")) {
          throw std::runtime_error(call_where + ": each call needs \"output\" and \"masked2real\"");
        }
        judgments.push_back(parse_raw(calls[c], item, index, shown_names, call_where));
      }
      out[index] = case_judgment_from(judgments, item);
    }
  });
  for (size_t i = 0; i < cases.size(); ++i) {
    if (seen_at[i].empty()) throw std::runtime_error(path.string() + ": no judgment for case '" + cases[i].id + "' (" + cases[i].where + ")");
  }
  return out;
}

CaseMetrics case_metrics(const data::ListwiseCase& item, const CaseJudgment& judgment) {
  CaseMetrics m;
  m.id = item.id;
  m.domain = item.domain;
  m.category = item.category;
  m.gold = item.gold_scores;
  if (!judgment.parsed) {
    m.parse_failure = true;
    m.failure = "the judgment could not be parsed";
    return m;
  }
  std::vector<double> predicted;
  for (const auto& name : item.response_names) {
    auto it = judgment.scores.find(name);
    if (it == judgment.scores.end() || !std::isfinite(it->second)) {
      m.parse_failure = true;
      m.failure = "no score for response '" + name + "'";
      return m;
    }
    predicted.push_back(it->second);
  }
  m.predicted = predicted;
  const std::vector<size_t> place = complete_places(item, judgment.ranking);
  m.ranking_used = !place.empty();
  m.pairs = m.ranking_used ? reward::pairwise_credit_from_ranking(m.gold, place)
                           : reward::pairwise_credit_from_scores(m.gold, predicted);
  m.kendall_tau = reward::kendall_tau_b(m.gold, predicted);
  m.ndcg = reward::ndcg_score(m.gold, predicted);
  m.score_variance = reward::population_variance(predicted);
  return m;
}

ordered_json case_metrics_json(const CaseMetrics& m) {
  ordered_json out;
  out["id"] = m.id;
  out["domain"] = m.domain;
  out["category"] = m.category;
  out["parse_failure"] = m.parse_failure;
  out["gold_scores"] = m.gold;
  if (m.parse_failure) {
    out["failure"] = m.failure;
    return out;
  }
  out["predicted_scores"] = m.predicted;
  out["ranking_used"] = m.ranking_used;
  out["pairs"] = m.pairs.pairs;
  out["pairwise_credit"] = m.pairs.credit;
  out["pairwise_accuracy"] = m.pairs.accuracy();
  out["kendall_tau"] = m.kendall_tau;
  out["ndcg"] = m.ndcg;
  out["score_variance"] = m.score_variance;
  return out;
}

ordered_json JudgeMetrics::to_json() const {
  ordered_json out;
  out["pairwise_accuracy"] = pairwise_accuracy;
  out["kendall_tau"] = kendall_tau;
  out["ndcg"] = ndcg;
  out["score_variance"] = score_variance;
  out["parse_failure_rate"] = parse_failure_rate;
  out["pairwise_accuracy_with_failures"] = pairwise_accuracy_with_failures;
  out["cases"] = cases;
  out["parse_failures"] = parse_failures;
  out["pairs"] = pairs;
  out["ranking_cases"] = ranking_cases;
  out["kendall_tau_undefined"] = kendall_tau_undefined;
  out["ndcg_undefined"] = ndcg_undefined;
  return out;
}

JudgeMetrics summarize_cases(const std::vector<const CaseMetrics*>& cases) {
  JudgeMetrics out;
  double credit = 0.0;
  double failed_credit = 0.0;  // 0.5 per gold-ordered pair of failed cases
  int64_t failed_pairs = 0;
  std::vector<double> taus, ndcgs, variances;
  for (const CaseMetrics* m : cases) {
    ++out.cases;
    if (m->parse_failure) {
      ++out.parse_failures;
      const reward::PairwiseCredit ties = reward::pairwise_credit_from_scores(m->gold, std::vector<double>(m->gold.size(), 0.0));
      failed_credit += ties.credit;
      failed_pairs += ties.pairs;
      continue;
    }
    credit += m->pairs.credit;
    out.pairs += m->pairs.pairs;
    out.ranking_cases += m->ranking_used;
    if (std::isnan(m->kendall_tau)) ++out.kendall_tau_undefined; else taus.push_back(m->kendall_tau);
    if (std::isnan(m->ndcg)) ++out.ndcg_undefined; else ndcgs.push_back(m->ndcg);
    variances.push_back(m->score_variance);
  }
  out.pairwise_accuracy = out.pairs > 0 ? credit / static_cast<double>(out.pairs) : kNaN;
  out.pairwise_accuracy_with_failures = out.pairs + failed_pairs > 0
                                            ? (credit + failed_credit) / static_cast<double>(out.pairs + failed_pairs)
                                            : kNaN;
  out.kendall_tau = mean_of(taus);
  out.ndcg = mean_of(ndcgs);
  out.score_variance = mean_of(variances);
  out.parse_failure_rate = out.cases > 0 ? static_cast<double>(out.parse_failures) / static_cast<double>(out.cases) : kNaN;
  return out;
}

ordered_json score_confusion(const std::vector<CaseMetrics>& cases) {
  std::vector<double> gold, predicted;
  for (const auto& m : cases) {
    if (m.parse_failure) continue;
    gold.insert(gold.end(), m.gold.begin(), m.gold.end());
    predicted.insert(predicted.end(), m.predicted.begin(), m.predicted.end());
  }
  const Levels gold_levels = make_levels(gold), predicted_levels = make_levels(predicted);
  std::vector<std::vector<int64_t>> counts(gold_levels.labels.size(), std::vector<int64_t>(predicted_levels.labels.size(), 0));
  for (size_t i = 0; i < gold.size(); ++i) ++counts[gold_levels.level_of(gold[i])][predicted_levels.level_of(predicted[i])];
  ordered_json out;
  out["gold_levels"] = gold_levels.labels;
  out["predicted_levels"] = predicted_levels.labels;
  out["counts"] = counts;
  return out;
}

ordered_json judge_report(const std::vector<CaseMetrics>& cases) {
  std::vector<const CaseMetrics*> all;
  std::map<std::string, std::vector<const CaseMetrics*>> by_domain, by_category;
  bool any_domain = false, any_category = false;
  for (const auto& m : cases) {
    any_domain |= !m.domain.empty();
    any_category |= !m.category.empty();
  }
  for (const auto& m : cases) {
    all.push_back(&m);
    if (any_domain) by_domain[m.domain.empty() ? "(none)" : m.domain].push_back(&m);
    if (any_category) by_category[m.category.empty() ? "(none)" : m.category].push_back(&m);
  }
  ordered_json report;
  report["overall"] = summarize_cases(all).to_json();
  report["by_domain"] = ordered_json::object();
  for (const auto& [name, members] : by_domain) report["by_domain"][name] = summarize_cases(members).to_json();
  report["by_category"] = ordered_json::object();
  for (const auto& [name, members] : by_category) report["by_category"][name] = summarize_cases(members).to_json();
  report["confusion"] = score_confusion(cases);
  return report;
}

namespace {

const char* kMetricNames[] = {"pairwise_accuracy", "kendall_tau", "ndcg", "score_variance", "parse_failure_rate"};

double metric_value(const ordered_json& metrics, const std::string& name) {
  const auto& value = metrics.at(name);
  return value.is_number() ? value.get<double>() : kNaN;
}

std::vector<std::pair<std::string, const ordered_json*>> report_rows(const ordered_json& report) {
  std::vector<std::pair<std::string, const ordered_json*>> rows = {{"overall", &report.at("overall")}};
  for (auto it = report.at("by_domain").begin(); it != report.at("by_domain").end(); ++it) rows.push_back({"domain " + it.key(), &it.value()});
  for (auto it = report.at("by_category").begin(); it != report.at("by_category").end(); ++it) rows.push_back({"category " + it.key(), &it.value()});
  return rows;
}

}  // namespace

std::string judge_report_table(const ordered_json& report) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof line, "%-28s %7s %10s %12s %8s %9s %11s\n", "", "cases", "pairwise", "kendall_tau", "ndcg",
                "score_var", "parse_fail");
  out += line;
  for (const auto& [label, metrics] : report_rows(report)) {
    std::snprintf(line, sizeof line, "%-28.28s %7lld %10s %12s %8s %9s %11s\n", label.c_str(),
                  static_cast<long long>(metrics->at("cases").get<int64_t>()),
                  format_number(metric_value(*metrics, "pairwise_accuracy")).c_str(),
                  format_number(metric_value(*metrics, "kendall_tau")).c_str(),
                  format_number(metric_value(*metrics, "ndcg")).c_str(),
                  format_number(metric_value(*metrics, "score_variance")).c_str(),
                  format_number(metric_value(*metrics, "parse_failure_rate")).c_str());
    out += line;
  }
  return out;
}

std::string judge_report_html(const ordered_json& report, const std::string& subtitle) {
  HtmlPage page("precept eval judge", subtitle);
  std::vector<std::vector<std::string>> rows;
  for (const auto& [label, metrics] : report_rows(report)) {
    std::vector<std::string> row = {label, std::to_string(metrics->at("cases").get<int64_t>())};
    for (const char* name : kMetricNames) row.push_back(format_number(metric_value(*metrics, name)));
    rows.push_back(row);
  }
  page.section("Metrics", html_table({"", "cases", "pairwise_accuracy", "kendall_tau", "ndcg", "score_variance",
                                      "parse_failure_rate"}, rows) +
                              "<p class='note'>Definitions: docs/eval.md. Pairwise accuracy is pooled over the "
                              "gold-ordered pairs of parsed cases; tau and NDCG are means over parsed cases where "
                              "defined.</p>");
  for (const char* group : {"by_category", "by_domain"}) {
    const ordered_json& members = report.at(group);
    if (members.empty()) continue;
    BarChart chart;
    chart.title = std::string("metrics ") + (group == std::string("by_domain") ? "by domain" : "by category");
    chart.series = {"pairwise_accuracy", "kendall_tau", "ndcg", "parse_failure_rate"};
    chart.values.assign(chart.series.size(), {});
    chart.max_value = 1.0;
    for (auto it = members.begin(); it != members.end(); ++it) {
      chart.categories.push_back(it.key());
      for (size_t s = 0; s < chart.series.size(); ++s) chart.values[s].push_back(metric_value(it.value(), chart.series[s]));
    }
    page.section(group == std::string("by_domain") ? "By domain" : "By category", svg_bar_chart(chart));
  }
  const ordered_json& confusion = report.at("confusion");
  MatrixChart matrix;
  matrix.title = "gold vs predicted score levels (responses of parsed cases)";
  matrix.row_axis = "gold";
  matrix.column_axis = "predicted";
  matrix.rows = confusion.at("gold_levels").get<std::vector<std::string>>();
  matrix.columns = confusion.at("predicted_levels").get<std::vector<std::string>>();
  for (const auto& row : confusion.at("counts")) matrix.cells.push_back(row.get<std::vector<double>>());
  page.section("Confusion matrix", matrix.rows.empty() || matrix.columns.empty()
                                       ? std::string("<p>No parsed case.</p>")
                                       : svg_matrix(matrix));
  return page.render();
}

}  // namespace precept::eval
