#include "core/toml_reader.h"
#include "core/files.h"

#include <toml++/toml.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace precept::core {

namespace {

const toml::table* as_table(const void* p) { return static_cast<const toml::table*>(p); }

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    default: return "a date or time";
  }
}

toml::table parse_or_throw(std::string_view text, const std::string& source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    std::ostringstream message;
    message << source << ":" << error.source().begin.line << ":" << error.source().begin.column
            << ": TOML syntax error: " << error.description();
    throw std::runtime_error(message.str());
  }
}

}  // namespace

struct TomlDocument::Impl {
  toml::table table;
  std::string source;
};

TomlDocument::TomlDocument() : impl_(std::make_unique<Impl>()) {}
TomlDocument::TomlDocument(TomlDocument&&) noexcept = default;
TomlDocument& TomlDocument::operator=(TomlDocument&&) noexcept = default;
TomlDocument::~TomlDocument() = default;

TomlDocument TomlDocument::from_text(const std::string& text, const std::string& source) {
  TomlDocument document;
  document.impl_->table = parse_or_throw(text, source);
  document.impl_->source = source;
  return document;
}

TomlDocument TomlDocument::from_file(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw std::runtime_error(path + ": cannot open the config file");
  return from_text(read_file(path), path);
}

void TomlDocument::set(const std::string& assignment) {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw std::runtime_error("--set '" + assignment + "': expected section.key=value");
  }
  const std::string path = assignment.substr(0, equals), value = assignment.substr(equals + 1);
  std::vector<std::string> parts;
  std::stringstream stream(path);
  for (std::string part; std::getline(stream, part, '.');) {
    if (part.empty()) throw std::runtime_error("--set '" + assignment + "': empty key in '" + path + "'");
    parts.push_back(part);
  }
  toml::table parsed;
  try {
    parsed = toml::parse("value = " + value, "--set " + path);
  } catch (const toml::parse_error&) {
    parsed = toml::table{{"value", value}};  // a bare word: the string itself
  }
  toml::table* table = &impl_->table;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    toml::node* child = table->get(parts[i]);
    if (!child) {
      table->insert(parts[i], toml::table{});
      child = table->get(parts[i]);
    }
    if (!child->is_table()) {
      throw std::runtime_error("--set " + path + ": '" + parts[i] + "' is " + type_name(*child) + ", not a section");
    }
    table = child->as_table();
  }
  table->insert_or_assign(parts.back(), *parsed.get("value"));
}

TomlSection TomlDocument::root() const { return TomlSection(&impl_->table, impl_->source, ""); }

std::string TomlDocument::to_toml() const {
  std::ostringstream out;
  out << toml::toml_formatter(impl_->table);
  return out.str();
}

const std::string& TomlDocument::source() const { return impl_->source; }

TomlSection::TomlSection(const void* table, std::string source, std::string path)
    : table_(table), source_(std::move(source)), path_(std::move(path)), used_(std::make_shared<std::set<std::string>>()) {}

const void* TomlSection::node(const std::string& key) const {
  if (!table_) return nullptr;
  used_->insert(key);
  return as_table(table_)->get(key);
}

bool TomlSection::has(const std::string& key) const { return table_ && as_table(table_)->contains(key); }

std::string TomlSection::name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

std::string TomlSection::where(const std::string& key) const {
  const toml::node* found = nullptr;
  if (table_ && !key.empty()) found = as_table(table_)->get(key);
  const toml::source_region region = found ? found->source() : (table_ ? as_table(table_)->source() : toml::source_region{});
  std::string out = region.path ? std::string(*region.path) : source_;
  if (region.begin.line > 0) out += ":" + std::to_string(region.begin.line);
  return out;
}

void TomlSection::fail(const std::string& key, const std::string& message) const {
  throw std::runtime_error(where(key) + ": " + name(key) + " " + message);
}

namespace {
template <class T>
std::optional<T> typed(const TomlSection& section, const toml::node* node, const std::string& key, const char* wanted) {
  if (!node) return std::nullopt;
  if (auto value = node->value_exact<T>()) return *value;
  section.fail(key, std::string("must be ") + wanted + ", not " + type_name(*node));
}
}  // namespace

std::string TomlSection::get_string(const std::string& key, const std::string& fallback) const {
  return typed<std::string>(*this, static_cast<const toml::node*>(node(key)), key, "a string").value_or(fallback);
}

int64_t TomlSection::get_int(const std::string& key, int64_t fallback) const {
  return typed<int64_t>(*this, static_cast<const toml::node*>(node(key)), key, "an integer").value_or(fallback);
}

double TomlSection::get_double(const std::string& key, double fallback) const {
  auto* found = static_cast<const toml::node*>(node(key));
  if (!found) return fallback;
  if (auto value = found->value_exact<double>()) return *value;
  if (auto value = found->value_exact<int64_t>()) return static_cast<double>(*value);
  fail(key, "must be a number, not " + type_name(*found));
}

bool TomlSection::get_bool(const std::string& key, bool fallback) const {
  return typed<bool>(*this, static_cast<const toml::node*>(node(key)), key, "true or false").value_or(fallback);
}

std::vector<std::string> TomlSection::get_strings(const std::string& key) const {
  auto* found = static_cast<const toml::node*>(node(key));
  std::vector<std::string> out;
  if (!found) return out;
  if (found->is_string()) return {*found->value<std::string>()};
  const toml::array* array = found->as_array();
  if (!array) fail(key, "must be a string or a list of strings, not " + type_name(*found));
  for (const auto& item : *array) {
    if (!item.is_string()) fail(key, "must hold strings only");
    out.push_back(*item.value<std::string>());
  }
  return out;
}

std::vector<double> TomlSection::get_doubles(const std::string& key, std::vector<double> fallback) const {
  auto* found = static_cast<const toml::node*>(node(key));
  if (!found) return fallback;
  const toml::array* array = found->as_array();
  if (!array) fail(key, "must be a list of numbers, not " + type_name(*found));
  std::vector<double> out;
  for (const auto& item : *array) {
    if (auto value = item.value<double>()) {
      out.push_back(*value);
    } else {
      fail(key, "must hold numbers only");
    }
  }
  return out;
}

std::string TomlSection::required_string(const std::string& key) const {
  if (!has(key)) fail(key, "is required (a string)");
  return get_string(key, "");
}

int64_t TomlSection::required_int(const std::string& key) const {
  if (!has(key)) fail(key, "is required (an integer)");
  return get_int(key, 0);
}

TomlSection TomlSection::section(const std::string& key) const {
  auto* found = static_cast<const toml::node*>(node(key));
  if (!found) return TomlSection(nullptr, source_, name(key));
  if (!found->is_table()) fail(key, "must be a section (a table), not " + type_name(*found));
  return TomlSection(found->as_table(), source_, name(key));
}

std::vector<TomlSection> TomlSection::sections(const std::string& key) const {
  auto* found = static_cast<const toml::node*>(node(key));
  std::vector<TomlSection> out;
  if (!found) return out;
  const toml::array* array = found->as_array();
  if (!array) fail(key, "must be an array of tables ([[" + name(key) + "]]), not " + type_name(*found));
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    if (!item.is_table()) fail(key, "must hold tables only");
    out.emplace_back(item.as_table(), source_, name(key) + "[" + std::to_string(i) + "]");
  }
  return out;
}

std::vector<std::string> TomlSection::keys() const {
  std::vector<std::string> out;
  if (!table_) return out;
  for (auto&& [key, value] : *as_table(table_)) out.emplace_back(key.str());
  return out;
}

void TomlSection::finish() const {
  if (!table_) return;
  for (auto&& [key, value] : *as_table(table_)) {
    const std::string text(key.str());
    if (used_->count(text)) continue;
    std::string known;
    for (const auto& k : *used_) known += (known.empty() ? "" : ", ") + k;
    std::string out = key.source().path ? std::string(*key.source().path) : source_;
    if (key.source().begin.line > 0) {
      out += ":" + std::to_string(key.source().begin.line);
    } else {
      out += " (--set " + name(text) + ")";  // added by an override
    }
    throw std::runtime_error(out + ": unknown key '" + name(text) + "'" +
                             (known.empty() ? "" : " (known in " + (path_.empty() ? std::string("the top level") : "[" + path_ + "]") + ": " + known + ")"));
  }
}

}  // namespace precept::core
