#include "data/listwise.h"

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

namespace precept::data {

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& field, const std::string& message) {
  throw std::runtime_error(where + ": field '" + field + "': " + message);
}

const ordered_json& required(const ordered_json& object, const std::string& key, const std::string& where,
                             const std::string& field) {
  auto it = object.find(key);
  if (it == object.end()) fail(where, field, "missing");
  return *it;
}

std::string required_string(const ordered_json& object, const std::string& key, const std::string& where) {
  const ordered_json& value = required(object, key, where, key);
  if (!value.is_string()) fail(where, key, "expected a string, got " + json_type_name(value));
  return value.get<std::string>();
}

std::string optional_string(const ordered_json& object, const std::string& key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  if (!it->is_string()) fail(where, key, "expected a string, got " + json_type_name(*it));
  return it->get<std::string>();
}

std::string case_id(const ordered_json& record, const std::string& where) {
  const std::string id = record_id(record, where);
  if (id.empty()) fail(where, "id", "is empty");
  return id;
}

}  // namespace

size_t ListwiseCase::index_of(const std::string& name) const {
  for (size_t i = 0; i < response_names.size(); ++i)
    if (response_names[i] == name) return i;
  return npos;
}

ListwiseCase parse_listwise_case(const ordered_json& record, const std::string& where) {
  if (!record.is_object()) throw std::runtime_error(where + ": expected a JSON object, got " + json_type_name(record));
  ListwiseCase out;
  out.where = where;
  out.id = case_id(record, where);
  out.principle = required_string(record, "principle", where);
  if (out.principle.find_first_not_of(" \t\r\n") == std::string::npos) fail(where, "principle", "is blank");
  out.prompt = required_string(record, "prompt", where);

  const ordered_json& responses = required(record, "responses", where, "responses");
  if (!responses.is_object()) fail(where, "responses", "expected an object {name: text}, got " + json_type_name(responses));
  for (auto it = responses.begin(); it != responses.end(); ++it) {
    if (!it.value().is_string()) {
      fail(where, "responses." + it.key(), "expected a string, got " + json_type_name(it.value()));
    }
    out.response_names.push_back(it.key());
    out.responses.push_back(it.value().get<std::string>());
  }
  if (out.responses.size() < 2) {
    fail(where, "responses", "a listwise case needs at least 2 responses, got " + std::to_string(out.responses.size()));
  }

  const ordered_json& truth = required(record, "ground_truth", where, "ground_truth");
  if (!truth.is_object()) fail(where, "ground_truth", "expected an object, got " + json_type_name(truth));
  const ordered_json& scores = required(truth, "scores", where, "ground_truth.scores");
  if (!scores.is_object()) fail(where, "ground_truth.scores", "expected an object {name: score}, got " + json_type_name(scores));
  for (auto it = scores.begin(); it != scores.end(); ++it) {
    if (out.index_of(it.key()) == ListwiseCase::npos) {
      fail(where, "ground_truth.scores." + it.key(), "scores a response that is not in \"responses\"");
    }
  }
  for (const auto& name : out.response_names) {
    auto it = scores.find(name);
    if (it == scores.end()) fail(where, "ground_truth.scores", "missing score for response '" + name + "'");
    if (!it->is_number()) fail(where, "ground_truth.scores." + name, "expected a number, got " + json_type_name(*it));
    out.gold_scores.push_back(it->get<double>());
  }

  auto ranking = truth.find("best-to-worst");
  if (ranking != truth.end() && !ranking->is_null()) {
    const std::string field = "ground_truth.best-to-worst";
    if (!ranking->is_array()) fail(where, field, "expected an array of response names, got " + json_type_name(*ranking));
    std::set<std::string> seen;
    for (const auto& name : *ranking) {
      if (!name.is_string()) fail(where, field, "expected response names (strings), got " + json_type_name(name));
      const std::string text = name.get<std::string>();
      if (out.index_of(text) == ListwiseCase::npos) fail(where, field, "names '" + text + "', which is not a response");
      if (!seen.insert(text).second) fail(where, field, "names '" + text + "' twice");
      out.gold_ranking.push_back(text);
    }
    if (out.gold_ranking.size() != out.response_names.size()) {
      for (const auto& name : out.response_names) {
        if (!seen.count(name)) fail(where, field, "does not rank response '" + name + "'");
      }
    }
  }
  out.domain = optional_string(record, "domain", where);
  out.category = optional_string(record, "category", where);
  return out;
}

std::vector<ListwiseCase> read_listwise_jsonl(const std::filesystem::path& path) {
  std::vector<ListwiseCase> cases;
  std::map<std::string, std::string> first_seen;  // id -> where
  for_each_jsonl_object(path, [&](const ordered_json& record, const std::string& where, int64_t) {
    ListwiseCase item = parse_listwise_case(record, where);
    auto [it, inserted] = first_seen.emplace(item.id, where);
    if (!inserted) fail(where, "id", "duplicate id '" + item.id + "' (first at " + it->second + ")");
    cases.push_back(std::move(item));
  });
  if (cases.empty()) throw std::runtime_error(path.string() + ": holds no listwise cases");
  return cases;
}

}  // namespace precept::data
