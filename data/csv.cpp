#include "data/csv.h"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace precept::data {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

size_t CsvTable::column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i)
    if (header[i] == name) return i;
  throw std::runtime_error(source + ":1: missing column '" + name + "' (the header has: " + joined(header) + ")");
}

std::string CsvTable::where(size_t row) const { return source + ":" + std::to_string(row_lines.at(row)); }

CsvTable parse_csv(const std::string& text, const std::string& source) {
  CsvTable table;
  table.source = source;
  size_t i = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  int64_t line = 1;
  size_t line_start = i;  // offset of the current line's first byte, for columns
  auto column_at = [&](size_t offset) { return std::to_string(offset - line_start + 1); };
  bool have_header = false;
  while (i < text.size()) {
    // One record.
    const int64_t record_line = line;
    std::vector<std::string> fields;
    std::string field;
    bool record_done = false, blank = true;
    while (!record_done) {
      if (i < text.size() && text[i] == '"') {  // a quoted field
        blank = false;
        const int64_t open_line = line;
        const std::string open_column = column_at(i);
        ++i;
        while (true) {
          if (i >= text.size()) {
            throw std::runtime_error(source + ":" + std::to_string(open_line) + ": column " + open_column +
                                     ": the quoted field opened here is never closed");
          }
          const char c = text[i];
          if (c == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n') {
            ++line;
            line_start = i + 1;
          }
          field += c;
          ++i;
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') {
          throw std::runtime_error(source + ":" + std::to_string(line) + ": column " + column_at(i) +
                                   ": unexpected character after the closing quote of a field (a quote inside a "
                                   "quoted field must be doubled)");
        }
      } else {  // an unquoted field: up to the next comma or line end
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r') field += text[i++];
        if (!field.empty()) blank = false;
      }
      // After a field: a comma, a line end, or the end of the text.
      if (i < text.size() && text[i] == ',') {
        blank = false;
        fields.push_back(std::move(field));
        field.clear();
        ++i;
        continue;
      }
      fields.push_back(std::move(field));
      field.clear();
      if (i < text.size() && text[i] == '\r') ++i;
      if (i < text.size() && text[i] == '\n') ++i;
      ++line;
      line_start = i;
      record_done = true;
    }
    if (blank && fields.size() == 1) continue;  // a blank line
    if (!have_header) {
      table.header = std::move(fields);
      have_header = true;
      continue;
    }
    if (fields.size() != table.header.size()) {
      throw std::runtime_error(source + ":" + std::to_string(record_line) + ": " + std::to_string(fields.size()) +
                               " fields, but the header has " + std::to_string(table.header.size()) + " (" +
                               joined(table.header) + ")");
    }
    table.rows.push_back(std::move(fields));
    table.row_lines.push_back(record_line);
  }
  if (!have_header) throw std::runtime_error(source + ": empty CSV (no header)");
  return table;
}

CsvTable read_csv(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  return parse_csv(std::string(std::istreambuf_iterator<char>(in), {}), path.string());
}

void require_columns(const CsvTable& table, const std::vector<std::string>& names) {
  for (const auto& name : names) table.column(name);
}

}  // namespace precept::data
