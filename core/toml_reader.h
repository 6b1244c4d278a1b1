// Strict reading of TOML configuration: every key a reader asks for is marked, and whatever is
// left unread is an error naming the key, its file and its line; a wrong type names the same.
// `--set section.key=value` overrides are applied to the document before reading. Used by the
// run config (trainer/config.h) and `precept init-model` presets. Not a schema language: the
// readers say what they expect, key by key.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace precept::core {

class TomlSection;

// A parsed TOML file. Throws std::runtime_error naming file:line:column on a syntax error, and
// naming the file when it cannot be read.
class TomlDocument {
 public:
  static TomlDocument from_file(const std::string& path);
  static TomlDocument from_text(const std::string& text, const std::string& source);
  TomlDocument(TomlDocument&&) noexcept;
  TomlDocument& operator=(TomlDocument&&) noexcept;
  ~TomlDocument();

  // "section.key=value": value parsed as a TOML value (42, 0.5, true, "text", [1, 2]); anything
  // that does not parse is taken as a bare string. Tables on the path are created as needed.
  void set(const std::string& assignment);
  TomlSection root() const;
  std::string to_toml() const;  // the document as it now stands (overrides included)
  const std::string& source() const;

 private:
  TomlDocument();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A table within a document. Getters return the default when the key is absent and throw when
// it has another type; required_* throw when absent. finish() throws on unread keys.
class TomlSection {
 public:
  TomlSection(const void* table, std::string source, std::string path);

  bool has(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;  // integers accepted
  bool get_bool(const std::string& key, bool fallback) const;
  std::vector<std::string> get_strings(const std::string& key) const;  // absent: empty
  std::vector<double> get_doubles(const std::string& key, std::vector<double> fallback) const;
  std::string required_string(const std::string& key) const;
  int64_t required_int(const std::string& key) const;

  TomlSection section(const std::string& key) const;              // absent: an empty section
  std::vector<TomlSection> sections(const std::string& key) const;  // an array of tables
  std::vector<std::string> keys() const;

  // "file:line" of a key (or of the section when key is empty), for messages of callers that
  // check values themselves, e.g. "must be positive".
  std::string where(const std::string& key = "") const;
  std::string name(const std::string& key) const;  // "section.key"
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

  // Throws, naming file:line, for every key of this section that no getter asked for.
  void finish() const;

 private:
  const void* node(const std::string& key) const;
  const void* table_;
  std::string source_, path_;
  std::shared_ptr<std::set<std::string>> used_;
};

}  // namespace precept::core
