// Strict reading of options held as a JSON object (a recipe's [reward] section, the judge
// options of `precept judge`): typed getters that fall back to the caller's default, and
// finish(), which refuses every key no getter asked for. Errors name where the options came
// from (file:line), what they configure, and the key. Not a schema language, and not the TOML
// reader (core/toml_reader.h), which reads a recipe's other sections.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace precept::core {

class JsonOptions {
 public:
  // `where`: "recipe.toml:12"; `subject`: what the options configure, e.g. "reward (type \"regex\")".
  JsonOptions(const nlohmann::json& options, std::string where, std::string subject);

  std::string string(const std::string& key, const std::string& fallback);
  double number(const std::string& key, double fallback);
  int64_t integer(const std::string& key, int64_t fallback);
  bool boolean(const std::string& key, bool fallback);
  std::vector<std::string> strings(const std::string& key);  // a string or a list of strings; absent: empty
  bool has(const std::string& key) const;

  const std::string& where() const { return where_; }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  // Throws, naming the first key that no getter asked for and the keys that were read.
  void finish() const;

 private:
  const nlohmann::json* find(const std::string& key);
  const nlohmann::json& options_;
  std::string where_, subject_;
  std::set<std::string> used_;
};

}  // namespace precept::core
