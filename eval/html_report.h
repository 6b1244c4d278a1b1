// Self-contained HTML reports for the evaluation commands: one page, inline CSS, charts as
// inline SVG (grouped bar charts, a heat-map matrix), tables; no scripts, no external files, so
// a report can be mailed or archived as one file. Building blocks only: each eval module
// (eval/judge_eval.h, eval/rm_bench.h, eval/xstest.h, eval/win_rate.h) lays out its own page.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace precept::eval {

// &, <, >, " and ' escaped.
std::string html_escape(const std::string& text);

// A number for a report: NaN as "n/a", otherwise `digits` decimals.
std::string format_number(double value, int digits = 4);

// Bars grouped by category (x axis), one bar per series in each group, values on a linear
// axis from 0 (or the smallest negative value) to `max_value` (default: the largest value).
// NaN values draw no bar and are labelled "n/a".
struct BarChart {
  std::string title;
  std::vector<std::string> categories;     // groups along the x axis
  std::vector<std::string> series;         // bars within a group, with a legend
  std::vector<std::vector<double>> values;  // values[series][category]
  std::optional<double> max_value;          // e.g. 1.0 for rates
  std::string value_format = "%.2f";        // printf format of the labels on the bars
};
std::string svg_bar_chart(const BarChart& chart);

// Curves over a shared x axis (training steps): one polyline per series, with markers, a
// legend and linear axes fitted to the finite points (NaN points are skipped, so a curve may
// have gaps). Used for reward, loss and satisfaction curves in run reports.
struct LineChart {
  std::string title;
  std::string x_label;
  std::vector<std::string> series;            // with a legend
  std::vector<std::vector<double>> xs, ys;    // xs[series][i], ys[series][i]
  std::optional<double> min_value, max_value;  // fixed y range, e.g. [0, 1] for rates
};
std::string svg_line_chart(const LineChart& chart);

// A matrix of numbers drawn as a heat map with row and column labels: confusion matrices
// (counts) and RM-Bench's 3x3 accuracy matrix. Cell shade scales with the value between the
// smallest and largest cell.
struct MatrixChart {
  std::string title;
  std::string row_axis, column_axis;         // axis captions
  std::vector<std::string> rows, columns;    // labels
  std::vector<std::vector<double>> cells;    // cells[row][column]
  std::string value_format = "%.0f";
};
std::string svg_matrix(const MatrixChart& chart);

// A table with a header row; cells are escaped.
std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// The page: a title, a line under it, and sections (each a heading and raw HTML body).
class HtmlPage {
 public:
  explicit HtmlPage(std::string title, std::string subtitle = "");
  void section(const std::string& heading, const std::string& body_html);
  std::string render() const;

 private:
  std::string title_, subtitle_;
  std::vector<std::pair<std::string, std::string>> sections_;
};

// Writes text to a file, throwing std::runtime_error naming it on failure.
void write_text_file(const std::string& path, const std::string& text);

// The HTML path that goes next to a JSON report: "report.json" -> "report.html" (any other
// name gets ".html" appended).
std::string html_path_beside(const std::string& json_path);

}  // namespace precept::eval
