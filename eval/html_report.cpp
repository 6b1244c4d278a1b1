#include "eval/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace precept::eval {

namespace {

// A colour-blind-safe palette (Okabe-Ito), cycled over series.
const char* kPalette[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"};

std::string printf_double(const std::string& format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format.c_str(), value);
  return buffer;
}

std::string number(double value) { return printf_double("%.1f", value); }

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_number(double value, int digits) {
  if (std::isnan(value)) return "n/a";
  return printf_double("%." + std::to_string(digits) + "f", value);
}

std::string svg_bar_chart(const BarChart& chart) {
  const size_t groups = chart.categories.size(), series = chart.series.size();
  double top = chart.max_value.value_or(0.0), bottom = 0.0;
  for (const auto& row : chart.values)
    for (double v : row)
      if (!std::isnan(v)) {
        if (!chart.max_value) top = std::max(top, v);
        bottom = std::min(bottom, v);
      }
  if (top <= bottom) top = bottom + 1.0;
  const double bar = 18.0, gap = 14.0, left = 56.0, plot_height = 220.0, top_margin = 34.0;
  const double group_width = bar * static_cast<double>(std::max<size_t>(series, 1)) + gap;
  const double width = std::max(360.0, left + group_width * static_cast<double>(groups) + 20.0);
  const double legend_y = top_margin + plot_height + 96.0;
  const double height = legend_y + 18.0 * static_cast<double>((series + 3) / 4) + 10.0;
  auto y_of = [&](double v) { return top_margin + plot_height * (top - v) / (top - bottom); };
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + number(width) + "' height='" + number(height) +
                    "' font-family='sans-serif' font-size='11'>";
  svg += "<text x='" + number(left) + "' y='18' font-size='13' font-weight='bold'>" + html_escape(chart.title) + "</text>";
  for (int t = 0; t <= 4; ++t) {  // grid lines and axis labels
    const double v = bottom + (top - bottom) * t / 4.0, y = y_of(v);
    svg += "<line x1='" + number(left) + "' x2='" + number(width - 10) + "' y1='" + number(y) + "' y2='" + number(y) +
           "' stroke='#ddd'/><text x='" + number(left - 6) + "' y='" + number(y + 4) + "' text-anchor='end'>" +
           printf_double("%.2f", v) + "</text>";
  }
  for (size_t g = 0; g < groups; ++g) {
    const double x0 = left + gap / 2 + group_width * static_cast<double>(g);
    for (size_t s = 0; s < series; ++s) {
      const double v = s < chart.values.size() && g < chart.values[s].size() ? chart.values[s][g] : NAN;
      const double x = x0 + bar * static_cast<double>(s);
      if (std::isnan(v)) {
        svg += "<text x='" + number(x + bar / 2) + "' y='" + number(y_of(0) - 3) + "' text-anchor='middle' fill='#999'>n/a</text>";
        continue;
      }
      const double y = std::min(y_of(v), y_of(0)), h = std::abs(y_of(v) - y_of(0));
      svg += "<rect x='" + number(x) + "' y='" + number(y) + "' width='" + number(bar - 2) + "' height='" +
             number(std::max(h, 0.5)) + "' fill='" + kPalette[s % 8] + "'><title>" + html_escape(chart.series[s]) + ", " +
             html_escape(chart.categories[g]) + ": " + printf_double(chart.value_format, v) + "</title></rect>";
      svg += "<text x='" + number(x + bar / 2 - 1) + "' y='" + number(y - 3) + "' text-anchor='middle' font-size='8'>" +
             printf_double(chart.value_format, v) + "</text>";
    }
    const double label_x = x0 + bar * static_cast<double>(series) / 2, label_y = top_margin + plot_height + 12;
    svg += "<text x='" + number(label_x) + "' y='" + number(label_y) + "' text-anchor='end' transform='rotate(-35 " +
           number(label_x) + " " + number(label_y) + ")'>" + html_escape(chart.categories[g]) + "</text>";
  }
  svg += "<line x1='" + number(left) + "' x2='" + number(width - 10) + "' y1='" + number(y_of(0)) + "' y2='" +
         number(y_of(0)) + "' stroke='#333'/>";
  for (size_t s = 0; s < series; ++s) {  // legend, four entries a row
    const double x = left + 150.0 * static_cast<double>(s % 4), y = legend_y + 18.0 * static_cast<double>(s / 4);
    svg += "<rect x='" + number(x) + "' y='" + number(y - 9) + "' width='10' height='10' fill='" + kPalette[s % 8] +
           "'/><text x='" + number(x + 14) + "' y='" + number(y) + "'>" + html_escape(chart.series[s]) + "</text>";
  }
  return svg + "</svg>";
}

std::string svg_matrix(const MatrixChart& chart) {
  const size_t rows = chart.rows.size(), columns = chart.columns.size();
  double low = INFINITY, high = -INFINITY;
  for (const auto& row : chart.cells)
    for (double v : row)
      if (!std::isnan(v)) low = std::min(low, v), high = std::max(high, v);
  if (!(high > low)) high = low + 1.0;
  const double cell = 54.0, left = 130.0, top = 70.0;
  const double width = std::max(left + cell * static_cast<double>(columns) + 20, 20 + 7.5 * static_cast<double>(chart.title.size()));
  const double height = top + cell * static_cast<double>(rows) + 40;
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + number(width) + "' height='" + number(height) +
                    "' font-family='sans-serif' font-size='11'>";
  svg += "<text x='4' y='16' font-size='13' font-weight='bold'>" + html_escape(chart.title) + "</text>";
  svg += "<text x='" + number(left + cell * static_cast<double>(columns) / 2) + "' y='36' text-anchor='middle' font-style='italic'>" +
         html_escape(chart.column_axis) + "</text>";
  svg += "<text x='4' y='" + number(top - 8) + "' font-style='italic'>" + html_escape(chart.row_axis) + "</text>";
  for (size_t c = 0; c < columns; ++c) {
    svg += "<text x='" + number(left + cell * (static_cast<double>(c) + 0.5)) + "' y='" + number(top - 8) +
           "' text-anchor='middle'>" + html_escape(chart.columns[c]) + "</text>";
  }
  for (size_t r = 0; r < rows; ++r) {
    const double y = top + cell * static_cast<double>(r);
    svg += "<text x='" + number(left - 6) + "' y='" + number(y + cell / 2 + 4) + "' text-anchor='end'>" +
           html_escape(chart.rows[r]) + "</text>";
    for (size_t c = 0; c < columns; ++c) {
      const double v = r < chart.cells.size() && c < chart.cells[r].size() ? chart.cells[r][c] : NAN;
      const double shade = std::isnan(v) ? 0.0 : (v - low) / (high - low);
      const int red = static_cast<int>(255 - 200 * shade), green = static_cast<int>(255 - 140 * shade);
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", red, green, 255);
      const double x = left + cell * static_cast<double>(c);
      svg += "<rect x='" + number(x) + "' y='" + number(y) + "' width='" + number(cell - 2) + "' height='" +
             number(cell - 2) + "' fill='" + fill + "'/>";
      svg += "<text x='" + number(x + cell / 2 - 1) + "' y='" + number(y + cell / 2 + 4) + "' text-anchor='middle' fill='" +
             (shade > 0.6 ? "#fff" : "#000") + "'>" + (std::isnan(v) ? "n/a" : printf_double(chart.value_format, v)) +
             "</text>";
    }
  }
  return svg + "</svg>";
}

std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::string html = "<table><tr>";
  for (const auto& cell : header) html += "<th>" + html_escape(cell) + "</th>";
  html += "</tr>";
  for (const auto& row : rows) {
    html += "<tr>";
    for (const auto& cell : row) html += "<td>" + html_escape(cell) + "</td>";
    html += "</tr>";
  }
  return html + "</table>";
}

HtmlPage::HtmlPage(std::string title, std::string subtitle) : title_(std::move(title)), subtitle_(std::move(subtitle)) {}

void HtmlPage::section(const std::string& heading, const std::string& body_html) { sections_.emplace_back(heading, body_html); }

std::string HtmlPage::render() const {
  std::string html =
      "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>" + html_escape(title_) +
      "</title><style>body{font-family:sans-serif;margin:2em;max-width:1200px;color:#222}"
      "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:90%}"
      "svg{margin:0.5em 1em 0.5em 0}</style></head><body>\n<h1>" + html_escape(title_) + "</h1>\n";
  if (!subtitle_.empty()) html += "<p class='note'>" + html_escape(subtitle_) + "</p>\n";
  for (const auto& [heading, body] : sections_) html += "<h2>" + html_escape(heading) + "</h2>\n" + body + "\n";
  return html + "</body></html>\n";
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error(path + ": cannot write");
  out << text;
  out.close();
  if (!out) throw std::runtime_error(path + ": write failed");
}

std::string html_path_beside(const std::string& json_path) {
  const std::string suffix = ".json";
  if (json_path.size() > suffix.size() && json_path.compare(json_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return json_path.substr(0, json_path.size() - suffix.size()) + ".html";
  }
  return json_path + ".html";
}

}  // namespace precept::eval
