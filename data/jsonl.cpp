#include "data/jsonl.h"

#include <fstream>
#include <set>
#include <stdexcept>
#include <vector>

namespace precept::data {

ordered_json parse_json_text(const std::string& text, const std::string& where) {
  // The parser callback sees every key before its value; one set of keys per open object.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  auto check = [&](int /*depth*/, ordered_json::parse_event_t event, ordered_json& parsed) {
    switch (event) {
      case ordered_json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case ordered_json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case ordered_json::parse_event_t::key:
        if (!open_objects.empty() && !open_objects.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  ordered_json value;
  try {
    value = ordered_json::parse(text, check);
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(where + ": not valid JSON: " + error.what());
  }
  if (!duplicate.empty()) throw std::runtime_error(where + ": duplicate key '" + duplicate + "'");
  return value;
}

void for_each_jsonl_object(const std::filesystem::path& path,
                           const std::function<void(const ordered_json&, const std::string&, int64_t)>& visit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    const std::string where = path.string() + ":" + std::to_string(number);
    ordered_json record = parse_json_text(line, where);
    if (!record.is_object()) throw std::runtime_error(where + ": expected a JSON object, got " + json_type_name(record));
    visit(record, where, number);
  }
}

std::string record_id(const ordered_json& record, const std::string& where) {
  auto id = record.find("id");
  if (id == record.end()) throw std::runtime_error(where + ": field 'id': missing");
  if (id->is_string()) return id->get<std::string>();
  if (id->is_number_integer()) return id->dump();
  throw std::runtime_error(where + ": field 'id': expected a string or an integer, got " + json_type_name(*id));
}

std::string json_type_name(const ordered_json& value) {
  if (value.is_object()) return "an object";
  if (value.is_array()) return "an array";
  if (value.is_string()) return "a string";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  return "null";
}

}  // namespace precept::data
