// Strict JSON option reading; see json_options.h.
#include "core/json_options.h"

#include <stdexcept>

namespace precept::core {

JsonOptions::JsonOptions(const nlohmann::json& options, std::string where, std::string subject)
    : options_(options), where_(std::move(where)), subject_(std::move(subject)) {}

const nlohmann::json* JsonOptions::find(const std::string& key) {
  used_.insert(key);
  auto it = options_.find(key);
  return it == options_.end() ? nullptr : &*it;
}

bool JsonOptions::has(const std::string& key) const { return options_.contains(key); }

std::string JsonOptions::string(const std::string& key, const std::string& fallback) {
  const auto* value = find(key);
  if (!value) return fallback;
  if (!value->is_string()) fail(key, "must be a string");
  return value->get<std::string>();
}

double JsonOptions::number(const std::string& key, double fallback) {
  const auto* value = find(key);
  if (!value) return fallback;
  if (!value->is_number()) fail(key, "must be a number");
  return value->get<double>();
}

int64_t JsonOptions::integer(const std::string& key, int64_t fallback) {
  const auto* value = find(key);
  if (!value) return fallback;
  if (!value->is_number_integer()) fail(key, "must be an integer");
  return value->get<int64_t>();
}

bool JsonOptions::boolean(const std::string& key, bool fallback) {
  const auto* value = find(key);
  if (!value) return fallback;
  if (!value->is_boolean()) fail(key, "must be true or false");
  return value->get<bool>();
}

std::vector<std::string> JsonOptions::strings(const std::string& key) {
  const auto* value = find(key);
  if (!value) return {};
  if (value->is_string()) return {value->get<std::string>()};
  if (!value->is_array()) fail(key, "must be a string or a list of strings");
  std::vector<std::string> out;
  for (const auto& item : *value) {
    if (!item.is_string()) fail(key, "must hold strings only");
    out.push_back(item.get<std::string>());
  }
  return out;
}

void JsonOptions::fail(const std::string& key, const std::string& message) const {
  throw std::runtime_error(where_ + ": " + subject_ + " key '" + key + "' " + message);
}

void JsonOptions::finish() const {
  for (auto it = options_.begin(); it != options_.end(); ++it) {
    if (used_.count(it.key())) continue;
    std::string known;
    for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
    throw std::runtime_error(where_ + ": unknown key '" + it.key() + "' for " + subject_ + " (it reads: " + known + ")");
  }
}

}  // namespace precept::core
