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

std::string svg_line_chart(const LineChart& chart) {
  double x_low = INFINITY, x_high = -INFINITY, y_low = INFINITY, y_high = -INFINITY;
  for (size_t s = 0; s < chart.series.size() && s < chart.xs.size() && s < chart.ys.size(); ++s)
    for (size_t i = 0; i < chart.xs[s].size() && i < chart.ys[s].size(); ++i)
      if (std::isfinite(chart.xs[s][i]) && std::isfinite(chart.ys[s][i])) {
        x_low = std::min(x_low, chart.xs[s][i]), x_high = std::max(x_high, chart.xs[s][i]);
        y_low = std::min(y_low, chart.ys[s][i]), y_high = std::max(y_high, chart.ys[s][i]);
      }
  if (!std::isfinite(x_low)) x_low = 0, x_high = 1, y_low = 0, y_high = 1;
  if (chart.min_value) y_low = *chart.min_value;
  if (chart.max_value) y_high = *chart.max_value;
  if (x_high <= x_low) x_high = x_low + 1;
  if (y_high <= y_low) y_high = y_low + 1;
  const double left = 56.0, top_margin = 34.0, plot_width = 420.0, plot_height = 200.0;
  const double width = left + plot_width + 20.0, legend_y = top_margin + plot_height + 40.0;
  const double height = legend_y + 18.0 * static_cast<double>((chart.series.size() + 2) / 3) + 6.0;
  auto x_of = [&](double x) { return left + plot_width * (x - x_low) / (x_high - x_low); };
  auto y_of = [&](double y) { return top_margin + plot_height * (y_high - y) / (y_high - y_low); };
  std::string svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + number(width) + "' height='" + number(height) +
                    "' font-family='sans-serif' font-size='11'>";
  svg += "<text x='" + number(left) + "' y='18' font-size='13' font-weight='bold'>" + html_escape(chart.title) + "</text>";
  for (int t = 0; t <= 4; ++t) {
    const double v = y_low + (y_high - y_low) * t / 4.0, y = y_of(v);
    svg += "<line x1='" + number(left) + "' x2='" + number(left + plot_width) + "' y1='" + number(y) + "' y2='" +
           number(y) + "' stroke='#ddd'/><text x='" + number(left - 6) + "' y='" + number(y + 4) +
           "' text-anchor='end'>" + printf_double("%.3g", v) + "</text>";
    const double xv = x_low + (x_high - x_low) * t / 4.0;
    svg += "<text x='" + number(x_of(xv)) + "' y='" + number(top_margin + plot_height + 14) + "' text-anchor='middle'>" +
           printf_double("%.3g", xv) + "</text>";
  }
  svg += "<text x='" + number(left + plot_width / 2) + "' y='" + number(top_margin + plot_height + 28) +
         "' text-anchor='middle'>" + html_escape(chart.x_label) + "</text>";
  svg += "<rect x='" + number(left) + "' y='" + number(top_margin) + "' width='" + number(plot_width) + "' height='" +
         number(plot_height) + "' fill='none' stroke='#333'/>";
  for (size_t s = 0; s < chart.series.size() && s < chart.xs.size() && s < chart.ys.size(); ++s) {
    std::string points, marks;
    for (size_t i = 0; i < chart.xs[s].size() && i < chart.ys[s].size(); ++i) {
      const double x = chart.xs[s][i], y = chart.ys[s][i];
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      points += number(x_of(x)) + "," + number(y_of(y)) + " ";
      marks += "<circle cx='" + number(x_of(x)) + "' cy='" + number(y_of(y)) + "' r='2.5' fill='" + kPalette[s % 8] +
               "'><title>" + html_escape(chart.series[s]) + " at " + printf_double("%g", x) + ": " +
               printf_double("%.4g", y) + "</title></circle>";
    }
    svg += "<polyline fill='none' stroke-width='1.5' stroke='" + std::string(kPalette[s % 8]) + "' points='" + points + "'/>" + marks;
    const double lx = left + 150.0 * static_cast<double>(s % 3), ly = legend_y + 18.0 * static_cast<double>(s / 3);
    svg += "<rect x='" + number(lx) + "' y='" + number(ly - 9) + "' width='10' height='10' fill='" + kPalette[s % 8] +
           "'/><text x='" + number(lx + 14) + "' y='" + number(ly) + "'>" + html_escape(chart.series[s]) + "</text>";
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
