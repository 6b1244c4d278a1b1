// CSV as RFC 4180 writes it (and pandas and Python's csv module read it): comma-separated
// fields, records ended by LF or CRLF, fields in double quotes may hold commas, quotes doubled
// ("") and line breaks. A UTF-8 byte-order mark is skipped. Errors name the source, the line
// and the column (1-based, in bytes): an unclosed quote, text after a closing quote, a record
// with more or fewer fields than the header, a missing column. Hand-written because none of the
// project's libraries reads CSV, and datasets such as XSTest ship it. Used by data/xstest.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace precept::data {

struct CsvTable {
  std::string source;                          // the file, for error messages
  std::vector<std::string> header;             // the first record
  std::vector<std::vector<std::string>> rows;  // every later record, each as long as the header
  std::vector<int64_t> row_lines;              // the line each row starts on (1-based)

  // The index of a column; throws std::runtime_error naming the source and listing the
  // columns when there is none.
  size_t column(const std::string& name) const;
  // "source:line" of a row.
  std::string where(size_t row) const;
};

// Parses CSV text; the first record is the header. Blank lines between records are skipped
// (as pandas does); a blank line inside quotes is part of the field.
CsvTable parse_csv(const std::string& text, const std::string& source);
CsvTable read_csv(const std::filesystem::path& path);

// Throws std::runtime_error "source:1: missing column 'x' (the header has: a, b, c)" unless the
// header has every one of `names`.
void require_columns(const CsvTable& table, const std::vector<std::string>& names);

}  // namespace precept::data
