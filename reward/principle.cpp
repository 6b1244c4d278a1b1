// Principles from TOML files (toml++); see principle.h.
#include "reward/principle.h"
#include "core/files.h"

#include <toml++/toml.h>

#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace precept::reward {

namespace {

constexpr const char* kKeys = "name, text, description";

std::string where(const std::string& source, const toml::source_region& region) {
  std::string out = source;
  if (region.begin.line > 0) out += ":" + std::to_string(region.begin.line);
  return out;
}

std::string type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "nothing";
  }
}

std::string strip(std::string text) {
  const char* space = " \t\r\n";
  const size_t first = text.find_first_not_of(space);
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(space) - first + 1);
}

}  // namespace

Principle parse_principle(std::string_view toml_text, const std::string& source) {
  toml::table table;
  try {
    table = toml::parse(toml_text, source);
  } catch (const toml::parse_error& error) {
    std::ostringstream message;
    message << "principle " << where(source, error.source()) << ":" << error.source().begin.column
            << ": TOML syntax error: " << error.description();
    throw std::runtime_error(message.str());
  }

  Principle principle;
  principle.source = source;
  bool has_name = false;
  bool has_text = false;
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    std::string* target = nullptr;
    if (name == "name") {
      target = &principle.name;
      has_name = true;
    } else if (name == "text") {
      target = &principle.text;
      has_text = true;
    } else if (name == "description") {
      target = &principle.description;
    } else {
      throw std::runtime_error("principle " + where(source, key.source()) + ": unknown key '" + name +
                               "' (a principle file has only " + kKeys + ")");
    }
    if (!node.is_string())
      throw std::runtime_error("principle " + where(source, node.source()) + ": key '" + name +
                               "' must be a string, not " + type_name(node.type()));
    *target = strip(*node.value<std::string>());
    if (target == &principle.text && target->empty())
      throw std::runtime_error("principle " + where(source, node.source()) + ": key 'text' is empty");
    if (target == &principle.name && target->empty())
      throw std::runtime_error("principle " + where(source, node.source()) + ": key 'name' is empty");
  }
  if (!has_text)
    throw std::runtime_error("principle " + source + ": the required key 'text' (the principle itself) is missing");
  if (!has_name) principle.name = std::filesystem::path(source).stem().string();
  return principle;
}

Principle load_principle(const std::filesystem::path& file) {
  if (!std::filesystem::is_regular_file(file)) {
    throw std::runtime_error("principle file " + file.string() + " does not exist or cannot be read");
  }
  return parse_principle(core::read_file(file), file.string());
}

}  // namespace precept::reward
