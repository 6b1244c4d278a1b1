// jinja2's built-in filters, tests and globals and the sandbox's attribute lookup; see
// lm/jinja_builtins.h. Each follows jinja2/filters.py, tests.py and sandbox.py (3.1) and the
// Python str/dict/list methods it exposes. Case mapping covers ASCII, Latin-1, Greek and
// Cyrillic letters, not all of Unicode.
#include "text/jinja/builtins.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace precept::text::jinja {

namespace {

// ---- arguments ---------------------------------------------------------------------------

Value argument(const Arguments& arguments, size_t position, std::string_view name, Value fallback = Value()) {
  const Value* value = arguments.find(position, name);
  return value != nullptr ? *value : fallback;
}

std::string require_string(const Value& value, std::string_view what) {
  if (value.is_undefined()) raise_undefined(value);
  if (!value.is_string()) throw TemplateError(std::string(what) + " must be a string, not " + type_name(value));
  return value.as_string();
}

int64_t require_int(const Value& value, std::string_view what) {
  if (value.is_undefined()) raise_undefined(value);
  if (value.kind() != Value::Kind::Int && value.kind() != Value::Kind::Bool) {
    throw TemplateError(std::string(what) + " must be an integer, not " + type_name(value));
  }
  return value.as_int();
}

std::optional<std::string> optional_string(const Value& value, std::string_view what) {
  if (value.is_undefined() || value.is_none()) return std::nullopt;
  return require_string(value, what);
}

// ---- case and character classes ------------------------------------------------------------

bool is_upper_letter(char32_t c) {
  return (c >= U'A' && c <= U'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9) ||
         (c >= 0x400 && c <= 0x42F);
}
bool is_lower_letter(char32_t c) {
  return (c >= U'a' && c <= U'z') || (c >= 0xDF && c <= 0xFF && c != 0xF7) || (c >= 0x3B1 && c <= 0x3C9) ||
         (c >= 0x430 && c <= 0x45F);
}
bool is_letter(char32_t c) { return is_upper_letter(c) || is_lower_letter(c); }
bool is_decimal(char32_t c) { return c >= U'0' && c <= U'9'; }

char32_t to_lower(char32_t c) {
  if (c >= U'A' && c <= U'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c >= 0x391 && c <= 0x3A9) return c + 32;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  return c;
}
char32_t to_upper(char32_t c) {
  if (c >= U'a' && c <= U'z') return c - 32;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2) return c - 32;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  return c;
}

std::string map_case(const std::string& text, char32_t (*convert)(char32_t)) {
  std::u32string code_points = utf8_decode(text);
  for (char32_t& c : code_points) c = convert(c);
  return utf8_encode(code_points);
}
std::string lower(const std::string& text) { return map_case(text, to_lower); }
std::string upper(const std::string& text) { return map_case(text, to_upper); }

std::string title(const std::string& text) {  // str.title()
  std::u32string code_points = utf8_decode(text);
  bool previous_cased = false;
  for (char32_t& c : code_points) {
    c = previous_cased ? to_lower(c) : to_upper(c);
    previous_cased = is_letter(c);
  }
  return utf8_encode(code_points);
}

std::string capitalize(const std::string& text) {  // str.capitalize()
  std::u32string code_points = utf8_decode(text);
  for (size_t i = 0; i < code_points.size(); ++i)
    code_points[i] = i == 0 ? to_upper(code_points[i]) : to_lower(code_points[i]);
  return utf8_encode(code_points);
}

// str.islower() / str.isupper(): some cased character, and none of the other case.
bool has_case(const std::string& text, bool want_lower) {
  bool cased = false;
  for (char32_t c : utf8_decode(text)) {
    if (want_lower ? is_upper_letter(c) : is_lower_letter(c)) return false;
    if (is_letter(c)) cased = true;
  }
  return cased;
}

template <class Predicate>
bool all_of_code_points(const std::string& text, Predicate predicate) {
  const std::u32string code_points = utf8_decode(text);
  return !code_points.empty() && std::all_of(code_points.begin(), code_points.end(), predicate);
}

// ---- str methods ---------------------------------------------------------------------------

int64_t code_point_index(const std::string& text, size_t byte_index) {
  int64_t index = 0;
  for (size_t i = 0; i < byte_index; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++index;
  }
  return index;
}

Value split(const std::string& text, const std::optional<std::string>& separator, int64_t max_splits, bool from_right) {
  ValueList parts;
  if (separator) {
    if (separator->empty()) throw TemplateError("empty separator");
    if (!from_right) {
      size_t start = 0;
      for (size_t found; (max_splits < 0 || static_cast<int64_t>(parts.size()) < max_splits) &&
                         (found = text.find(*separator, start)) != std::string::npos;
           start = found + separator->size()) {
        parts.emplace_back(text.substr(start, found - start));
      }
      parts.emplace_back(text.substr(start));
      return Value::list(std::move(parts));
    }
    size_t end = text.size();
    while (max_splits < 0 || static_cast<int64_t>(parts.size()) < max_splits) {
      if (end < separator->size()) break;
      const size_t found = text.rfind(*separator, end - separator->size());
      if (found == std::string::npos) break;
      parts.emplace_back(text.substr(found + separator->size(), end - found - separator->size()));
      end = found;
    }
    parts.emplace_back(text.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return Value::list(std::move(parts));
  }
  // Runs of whitespace separate; leading and trailing whitespace make no empty parts.
  const std::u32string code_points = utf8_decode(text);
  const auto n = static_cast<int64_t>(code_points.size());
  std::vector<std::u32string> words;
  if (!from_right) {
    int64_t i = 0;
    while (true) {
      while (i < n && is_python_space(code_points[i])) ++i;
      if (i >= n) break;
      if (max_splits >= 0 && static_cast<int64_t>(words.size()) == max_splits) {
        words.push_back(code_points.substr(i));
        break;
      }
      int64_t j = i;
      while (j < n && !is_python_space(code_points[j])) ++j;
      words.push_back(code_points.substr(i, j - i));
      i = j;
    }
  } else {
    int64_t i = n - 1;
    while (true) {
      while (i >= 0 && is_python_space(code_points[i])) --i;
      if (i < 0) break;
      if (max_splits >= 0 && static_cast<int64_t>(words.size()) == max_splits) {
        words.push_back(code_points.substr(0, i + 1));
        break;
      }
      int64_t j = i;
      while (j >= 0 && !is_python_space(code_points[j])) --j;
      words.push_back(code_points.substr(j + 1, i - j));
      i = j;
    }
    std::reverse(words.begin(), words.end());
  }
  for (const auto& word : words) parts.emplace_back(utf8_encode(word));
  return Value::list(std::move(parts));
}

std::string replace(const std::string& text, const std::string& old, const std::string& replacement, int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old.empty()) {  // between every character, and at both ends
    const std::u32string code_points = utf8_decode(text);
    for (size_t i = 0; i <= code_points.size(); ++i) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
      }
      if (i < code_points.size()) out += utf8_encode(std::u32string(1, code_points[i]));
    }
    return out;
  }
  size_t start = 0;
  for (size_t found; (count < 0 || done < count) && (found = text.find(old, start)) != std::string::npos;
       start = found + old.size(), ++done) {
    out += text.substr(start, found - start) + replacement;
  }
  return out + text.substr(start);
}

// str.splitlines(keepends)
ValueList split_lines(const std::string& text, bool keep_ends) {
  const std::u32string code_points = utf8_decode(text);
  ValueList lines;
  size_t start = 0;
  for (size_t i = 0; i < code_points.size(); ++i) {
    const char32_t c = code_points[i];
    const bool breaks = c == U'\n' || c == U'\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) || c == 0x85 ||
                        c == 0x2028 || c == 0x2029;
    if (!breaks) continue;
    size_t end = i + 1;
    if (c == U'\r' && end < code_points.size() && code_points[end] == U'\n') ++end;
    lines.emplace_back(utf8_encode(code_points.substr(start, (keep_ends ? end : i) - start)));
    start = end;
    i = end - 1;
  }
  if (start < code_points.size()) lines.emplace_back(utf8_encode(code_points.substr(start)));
  return lines;
}

bool matches_affix(const std::string& text, const Value& affixes, bool prefix) {
  auto matches = [&](const Value& affix) {
    const std::string a = require_string(affix, prefix ? "startswith() argument" : "endswith() argument");
    if (a.size() > text.size()) return false;
    return prefix ? text.compare(0, a.size(), a) == 0 : text.compare(text.size() - a.size(), a.size(), a) == 0;
  };
  if (affixes.is_tuple()) return std::any_of(affixes.as_list().begin(), affixes.as_list().end(), matches);
  return matches(affixes);
}

Value string_method(const std::string& self, const std::string& name, const Arguments& a) {
  auto chars = [&] { return optional_string(argument(a, 0, "chars"), "strip() argument"); };
  if (name == "startswith" || name == "endswith") {
    a.check(name, 1, {});
    if (a.positional.empty()) throw TemplateError(name + "() takes at least 1 argument");
    return Value(matches_affix(self, a.positional[0], name == "startswith"));
  }
  if (name == "strip") return Value(python_strip(self, chars(), true, true));
  if (name == "lstrip") return Value(python_strip(self, chars(), true, false));
  if (name == "rstrip") return Value(python_strip(self, chars(), false, true));
  if (name == "split" || name == "rsplit") {
    a.check(name, 2, {"sep", "maxsplit"});
    return split(self, optional_string(argument(a, 0, "sep"), "separator"),
                 require_int(argument(a, 1, "maxsplit", Value(-1)), "maxsplit"), name == "rsplit");
  }
  if (name == "splitlines") return Value::list(split_lines(self, truthy(argument(a, 0, "keepends", Value(false)))));
  if (name == "replace") {
    a.check(name, 3, {"count"});
    if (a.positional.size() < 2) throw TemplateError("replace() takes at least 2 arguments");
    return Value(replace(self, require_string(a.positional[0], "replace() argument 1"),
                         require_string(a.positional[1], "replace() argument 2"),
                         require_int(argument(a, 2, "count", Value(-1)), "count")));
  }
  if (name == "lower") return Value(lower(self));
  if (name == "upper") return Value(upper(self));
  if (name == "title") return Value(title(self));
  if (name == "capitalize") return Value(capitalize(self));
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex") {
    const std::string needle = require_string(argument(a, 0, "sub"), name + "() argument");
    const size_t found = name[0] == 'r' ? self.rfind(needle) : self.find(needle);
    if (found == std::string::npos) {
      if (name == "index" || name == "rindex") throw TemplateError("substring not found");
      return Value(int64_t{-1});
    }
    return Value(code_point_index(self, found));
  }
  if (name == "count") {
    const std::string needle = require_string(argument(a, 0, "sub"), "count() argument");
    if (needle.empty()) return Value(static_cast<int64_t>(utf8_decode(self).size()) + 1);
    int64_t count = 0;
    for (size_t found = self.find(needle); found != std::string::npos;
         found = self.find(needle, found + needle.size())) {
      ++count;
    }
    return Value(count);
  }
  if (name == "join") {
    std::string out;
    bool first = true;
    for (const Value& item : iterate(argument(a, 0, "iterable"))) {
      out += (first ? "" : self) + require_string(item, "join() item");
      first = false;
    }
    return Value(out);
  }
  if (name == "removeprefix" || name == "removesuffix") {
    const std::string affix = require_string(argument(a, 0, "affix"), name + "() argument");
    if (name == "removeprefix" && self.compare(0, affix.size(), affix) == 0) return Value(self.substr(affix.size()));
    if (name == "removesuffix" && affix.size() <= self.size() &&
        self.compare(self.size() - affix.size(), affix.size(), affix) == 0) {
      return Value(self.substr(0, self.size() - affix.size()));
    }
    return Value(self);
  }
  if (name == "isdigit" || name == "isdecimal" || name == "isnumeric")
    return Value(all_of_code_points(self, is_decimal));
  if (name == "isalpha") return Value(all_of_code_points(self, is_letter));
  if (name == "isalnum") {
    return Value(all_of_code_points(self, [](char32_t c) { return is_letter(c) || is_decimal(c); }));
  }
  if (name == "isspace") return Value(all_of_code_points(self, is_python_space));
  if (name == "islower") return Value(has_case(self, true));
  if (name == "isupper") return Value(has_case(self, false));
  throw TemplateError("str." + name + "() is not supported by precept's Jinja interpreter");
}

bool is_string_method(const std::string& name) {
  static const std::set<std::string> kMethods = {
      "startswith", "endswith", "strip",   "lstrip",       "rstrip",       "split",   "rsplit",    "splitlines",
      "replace",    "lower",    "upper",   "title",        "capitalize",   "find",    "rfind",     "index",
      "rindex",     "count",    "join",    "removeprefix", "removesuffix", "isdigit", "isdecimal", "isnumeric",
      "isalpha",    "isalnum",  "isspace", "islower",      "isupper"};
  return kMethods.count(name) > 0;
}

// Methods of Python's str that exist (so `s.name is defined`) but are not implemented here.
bool is_unsupported_string_method(const std::string& name) {
  static const std::set<std::string> kMethods = {"format",     "casefold",  "center",       "encode",      "expandtabs",
                                                 "format_map", "isascii",   "isidentifier", "isprintable", "istitle",
                                                 "ljust",      "maketrans", "partition",    "rjust",       "rpartition",
                                                 "swapcase",   "translate", "zfill"};
  return kMethods.count(name) > 0;
}

Value bound(const std::string& type, const std::string& name, std::function<Value(const Arguments&)> call) {
  return Value::function(type + "." + name, std::move(call));
}

Value unsafe(const Value& object, const std::string& name) {
  return Value::undefined("access to attribute '" + name + "' of '" + type_name(object) + "' object is unsafe.");
}

// ---- helpers for filters -------------------------------------------------------------------

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then index 0.
Value attribute_path(const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool numeric =
        !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    current = get_item(current, numeric ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

// A sort key: the attribute if asked for, lowercased strings unless case-sensitive.
Value sort_key(const Value& item, const Value& attribute, bool case_sensitive) {
  Value key = attribute.is_undefined() || attribute.is_none() ? item : attribute_path(item, to_str(attribute));
  if (!case_sensitive && key.is_string()) return Value(lower(key.as_string()));
  return key;
}

// Arguments after the first `skip` positional ones (the test or filter name and its arguments).
Arguments rest(const Arguments& arguments, size_t skip) {
  Arguments out;
  for (size_t i = skip; i < arguments.positional.size(); ++i) out.positional.push_back(arguments.positional[i]);
  out.keywords = arguments.keywords;
  return out;
}

// select / reject / selectattr / rejectattr
Value select(const Value& input, const Arguments& arguments, const Environment& environment, bool keep,
             bool by_attribute) {
  size_t next = 0;
  std::string attribute;
  if (by_attribute) attribute = require_string(argument(arguments, next++, "attribute"), "attribute");
  std::optional<std::string> test_name;
  if (arguments.positional.size() > next) test_name = require_string(arguments.positional[next++], "test name");
  const Arguments test_arguments = rest(arguments, next);
  const Test* test = nullptr;
  if (test_name) {
    auto found = environment.tests.find(*test_name);
    if (found == environment.tests.end()) throw TemplateError("No test named '" + *test_name + "'.");
    test = &found->second;
  }
  ValueList kept;
  if (!truthy(input)) return Value::list({});  // jinja2 checks `if value:` before iterating
  for (const Value& item : iterate(input)) {
    const Value subject = by_attribute ? attribute_path(item, attribute) : item;
    const bool passes = test ? (*test)(subject, test_arguments, environment) : truthy(subject);
    if (passes == keep) kept.push_back(item);
  }
  return Value::list(std::move(kept));
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::optional<double> parse_float(const std::string& text) {
  const std::string trimmed = python_strip(text, std::nullopt, true, true);
  std::string digits = trimmed;
  digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
  if (digits.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(digits.c_str(), &end);
  if (end != digits.c_str() + digits.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> parse_int(const std::string& text, int base) {
  std::string digits = python_strip(text, std::nullopt, true, true);
  digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
  if (digits.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(digits.c_str(), &end, base);
  if (errno != 0 || end != digits.c_str() + digits.size()) return std::nullopt;
  return value;
}

// Python's round(value, digits): correctly rounded from the exact binary value, ties to even,
// which is what glibc's printf does for "%.*f".
double python_round(double value, int64_t digits) {
  if (!std::isfinite(value)) return value;
  if (digits >= 0) {
    char buffer[512];
    std::snprintf(buffer, sizeof buffer, "%.*f", static_cast<int>(std::min<int64_t>(digits, 300)), value);
    return std::strtod(buffer, nullptr);
  }
  const double scale = std::pow(10.0, static_cast<double>(-digits));
  return std::nearbyint(value / scale) * scale;
}

}  // namespace

// ---- attribute and item lookup -----------------------------------------------------------

Value get_attribute(const Value& object, const std::string& name) {
  switch (object.kind()) {
    case Value::Kind::Undefined: raise_undefined(object);
    case Value::Kind::String:
      if (is_unsupported_string_method(name)) {
        return bound("str", name, [name](const Arguments&) -> Value {
          throw TemplateError("str." + name + "() is not supported by precept's Jinja interpreter");
        });
      }
      if (is_string_method(name)) {
        const std::string self = object.as_string();
        return bound("str", name,
                     [self, name](const Arguments& arguments) { return string_method(self, name, arguments); });
      }
      return Value::undefined("'str object' has no attribute '" + name + "'");
    case Value::Kind::Dict: {
      static const std::set<std::string> kUnsafe = {"update", "pop", "popitem", "clear", "setdefault"};
      if (kUnsafe.count(name)) return unsafe(object, name);
      if (name == "items" || name == "keys" || name == "values") {
        const Value self = object;
        return bound("dict", name, [self, name](const Arguments&) {
          ValueList out;
          for (const auto& [key, value] : self.as_dict().items()) {
            if (name == "items")
              out.push_back(Value::tuple({key, value}));
            else
              out.push_back(name == "keys" ? key : value);
          }
          return Value::list(std::move(out));
        });
      }
      if (name == "get") {
        const Value self = object;
        return bound("dict", name, [self](const Arguments& arguments) {
          const Value* found = self.as_dict().find(argument(arguments, 0, "key"));
          return found != nullptr ? *found : argument(arguments, 1, "default", Value::none());
        });
      }
      if (name == "copy") {
        const Value self = object;
        return bound("dict", name, [self](const Arguments&) { return Value::dict(self.as_dict()); });
      }
      const Value* found = object.as_dict().find(name);
      return found != nullptr ? *found : Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    case Value::Kind::Namespace: {
      const Value* found = object.as_dict().find(name);
      return found != nullptr ? *found : Value::undefined("'Namespace object' has no attribute '" + name + "'");
    }
    case Value::Kind::List: {
      static const std::set<std::string> kUnsafe = {"append", "extend",  "insert", "pop",
                                                    "remove", "reverse", "sort",   "clear"};
      if (!object.is_tuple() && kUnsafe.count(name)) return unsafe(object, name);
      if (name == "index" || name == "count") {
        const Value self = object;
        return bound(type_name(object), name, [self, name](const Arguments& arguments) {
          const Value needle = argument(arguments, 0, "value");
          const ValueList& items = self.as_list();
          if (name == "count") {
            return Value(static_cast<int64_t>(
                std::count_if(items.begin(), items.end(), [&](const Value& item) { return equal(item, needle); })));
          }
          for (size_t i = 0; i < items.size(); ++i) {
            if (equal(items[i], needle)) return Value(static_cast<int64_t>(i));
          }
          throw TemplateError(repr(needle) + " is not in list");
        });
      }
      return Value::undefined("'" + type_name(object) + " object' has no attribute '" + name + "'");
    }
    default: return Value::undefined("'" + type_name(object) + " object' has no attribute '" + name + "'");
  }
}

Value get_item(const Value& object, const Value& key) {
  switch (object.kind()) {
    case Value::Kind::Undefined: raise_undefined(object);
    case Value::Kind::List:
    case Value::Kind::String:
      if (key.kind() == Value::Kind::Int || key.kind() == Value::Kind::Bool) {
        const int64_t size = length(object);
        int64_t index = key.as_int();
        if (index < 0) index += size;
        if (index < 0 || index >= size) {
          return Value::undefined(type_name(object) + " object has no element " + std::to_string(key.as_int()));
        }
        if (object.is_string()) {
          return Value(utf8_encode(std::u32string(1, utf8_decode(object.as_string())[static_cast<size_t>(index)])));
        }
        return object.as_list()[static_cast<size_t>(index)];
      }
      break;
    case Value::Kind::Dict: {
      const Value* found = object.as_dict().find(key);
      if (found != nullptr) return *found;
      break;
    }
    default: break;
  }
  if (key.is_string()) return get_attribute(object, key.as_string());
  return Value::undefined("'" + type_name(object) + " object' has no attribute " + repr(key));
}

// ---- filters -------------------------------------------------------------------------------

void add_builtin_filters(Environment& environment) {
  auto& filters = environment.filters;
  filters["abs"] = [](const Value& input, const Arguments&, const Environment&) {
    if (input.kind() == Value::Kind::Float) return Value(std::fabs(input.as_float()));
    const int64_t value = require_int(input, "abs() argument");
    return Value(value < 0 ? -value : value);
  };
  filters["attr"] = [](const Value& input, const Arguments& a, const Environment&) {
    return get_attribute(input, require_string(argument(a, 0, "name"), "attribute name"));
  };
  filters["capitalize"] = [](const Value& input, const Arguments&, const Environment&) {
    return Value(capitalize(to_str(input)));
  };
  filters["length"] = [](const Value& input, const Arguments&, const Environment&) { return Value(length(input)); };
  filters["count"] = filters["length"];
  filters["default"] = [](const Value& input, const Arguments& a, const Environment&) {
    a.check("default", 2, {"default_value", "boolean"});
    const bool use_default =
        input.is_undefined() || (truthy(argument(a, 1, "boolean", Value(false))) && !truthy(input));
    return use_default ? argument(a, 0, "default_value", Value("")) : input;
  };
  filters["d"] = filters["default"];
  filters["dictsort"] = [](const Value& input, const Arguments& a, const Environment&) {
    if (input.kind() != Value::Kind::Dict) throw TemplateError("You can only sort by either 'key' or 'value'");
    const bool case_sensitive = truthy(argument(a, 0, "case_sensitive", Value(false)));
    const std::string by = to_str(argument(a, 1, "by", Value("key")));
    const bool reverse = truthy(argument(a, 2, "reverse", Value(false)));
    if (by != "key" && by != "value") throw TemplateError("You can only sort by either 'key' or 'value'");
    ValueList items;
    for (const auto& [key, value] : input.as_dict().items()) items.push_back(Value::tuple({key, value}));
    const size_t position = by == "key" ? 0 : 1;
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      const Value kx = sort_key(x.as_list()[position], Value(), case_sensitive);
      const Value ky = sort_key(y.as_list()[position], Value(), case_sensitive);
      return reverse ? less(ky, kx) : less(kx, ky);
    });
    return Value::list(std::move(items));
  };
  filters["escape"] = [](const Value& input, const Arguments&, const Environment&) {
    return Value(html_escape(to_str(input)));
  };
  filters["e"] = filters["escape"];
  filters["first"] = [](const Value& input, const Arguments&, const Environment&) {
    const ValueList items = iterate(input);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
  };
  filters["last"] = [](const Value& input, const Arguments&, const Environment&) {
    const ValueList items = iterate(input);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
  };
  filters["float"] = [](const Value& input, const Arguments& a, const Environment&) {
    const Value fallback = argument(a, 0, "default", Value(0.0));
    if (input.is_undefined()) raise_undefined(input);
    if (input.is_number()) return Value(input.as_float());
    if (input.is_string()) {
      if (auto parsed = parse_float(input.as_string())) return Value(*parsed);
    }
    return fallback;
  };
  filters["int"] = [](const Value& input, const Arguments& a, const Environment&) {
    const Value fallback = argument(a, 0, "default", Value(0));
    const int base = static_cast<int>(require_int(argument(a, 1, "base", Value(10)), "base"));
    if (input.is_undefined()) raise_undefined(input);
    if (input.kind() == Value::Kind::Float) return Value(static_cast<int64_t>(std::trunc(input.as_float())));
    if (input.is_number()) return Value(input.as_int());
    if (input.is_string()) {
      if (auto parsed = parse_int(input.as_string(), base)) return Value(*parsed);
      if (auto parsed = parse_float(input.as_string())) return Value(static_cast<int64_t>(std::trunc(*parsed)));
    }
    return fallback;
  };
  filters["indent"] = [](const Value& input, const Arguments& a, const Environment&) {
    const Value width = argument(a, 0, "width", Value(4));
    const std::string indentation =
        width.is_string() ? width.as_string() : std::string(static_cast<size_t>(require_int(width, "width")), ' ');
    const bool first = truthy(argument(a, 1, "first", Value(false)));
    const bool blank = truthy(argument(a, 2, "blank", Value(false)));
    if (input.is_undefined()) raise_undefined(input);
    if (!input.is_string()) throw TemplateError("indent needs a string, not " + type_name(input));
    const ValueList lines = split_lines(input.as_string() + "\n", false);
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string& line = lines[i].as_string();
      if (i == 0) {
        out = line;
      } else {
        out += "\n" + ((blank || !line.empty()) ? indentation : "") + line;
      }
    }
    return Value(first ? indentation + out : out);
  };
  filters["items"] = [](const Value& input, const Arguments&, const Environment&) {
    if (input.is_undefined()) return Value::list({});
    if (input.kind() != Value::Kind::Dict) throw TemplateError("Can only get item pairs from a mapping.");
    ValueList items;
    for (const auto& [key, value] : input.as_dict().items()) items.push_back(Value::tuple({key, value}));
    return Value::list(std::move(items));
  };
  filters["join"] = [](const Value& input, const Arguments& a, const Environment&) {
    const std::string separator = to_str(argument(a, 0, "d", Value("")));
    const Value attribute = argument(a, 1, "attribute", Value::none());
    std::string out;
    bool first = true;
    for (const Value& item : iterate(input)) {
      out += (first ? "" : separator) + to_str(attribute.is_none() ? item : attribute_path(item, to_str(attribute)));
      first = false;
    }
    return Value(out);
  };
  filters["list"] = [](const Value& input, const Arguments&, const Environment&) {
    return Value::list(iterate(input));
  };
  filters["lower"] = [](const Value& input, const Arguments&, const Environment&) {
    return Value(lower(to_str(input)));
  };
  filters["upper"] = [](const Value& input, const Arguments&, const Environment&) {
    return Value(upper(to_str(input)));
  };
  // jinja2's title filter, unlike str.title(), starts words only after whitespace, '-' and
  // opening brackets: "they're" becomes "They're".
  filters["title"] = [](const Value& input, const Arguments&, const Environment&) {
    std::u32string code_points = utf8_decode(to_str(input));
    bool word_start = true;
    for (char32_t& c : code_points) {
      const bool separator = is_python_space(c) || c == U'-' || c == U'(' || c == U'{' || c == U'[' || c == U'<';
      if (separator) {
        word_start = true;
        continue;
      }
      c = word_start ? to_upper(c) : to_lower(c);
      word_start = false;
    }
    return Value(utf8_encode(code_points));
  };
  filters["format"] = [](const Value& input, const Arguments& a, const Environment&) {
    if (!a.positional.empty() && !a.keywords.empty()) {
      throw TemplateError("can't handle positional and keyword arguments at the same time");
    }
    if (!a.keywords.empty()) {
      ValueDict mapping;
      for (const auto& [key, value] : a.keywords) mapping.set(Value(key), value);
      return Value(percent_format(to_str(input), Value::dict(std::move(mapping))));
    }
    return Value(percent_format(to_str(input), Value::tuple(a.positional)));
  };
  filters["map"] = [](const Value& input, const Arguments& a, const Environment& environment) {
    ValueList out;
    if (!truthy(input)) return Value::list({});  // jinja2 checks `if value:` before iterating
    if (a.positional.empty()) {
      const std::string attribute = require_string(argument(a, 0, "attribute"), "map() attribute");
      const Value* fallback = a.keyword("default");
      for (const Value& item : iterate(input)) {
        Value value = attribute_path(item, attribute);
        out.push_back(value.is_undefined() && fallback != nullptr ? *fallback : value);
      }
      return Value::list(std::move(out));
    }
    const std::string filter_name = require_string(a.positional[0], "map() filter name");
    auto filter = environment.filters.find(filter_name);
    if (filter == environment.filters.end()) throw TemplateError("No filter named '" + filter_name + "'.");
    const Arguments filter_arguments = rest(a, 1);
    for (const Value& item : iterate(input)) out.push_back(filter->second(item, filter_arguments, environment));
    return Value::list(std::move(out));
  };
  auto extreme = [](bool want_max) {
    return [want_max](const Value& input, const Arguments& a, const Environment&) {
      const bool case_sensitive = truthy(argument(a, 0, "case_sensitive", Value(false)));
      const Value attribute = argument(a, 1, "attribute", Value::none());
      const ValueList items = iterate(input);
      if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
      size_t best = 0;
      for (size_t i = 1; i < items.size(); ++i) {
        const Value key = sort_key(items[i], attribute, case_sensitive);
        const Value best_key = sort_key(items[best], attribute, case_sensitive);
        if (want_max ? less(best_key, key) : less(key, best_key)) best = i;
      }
      return items[best];
    };
  };
  filters["max"] = extreme(true);
  filters["min"] = extreme(false);
  filters["reject"] = [](const Value& input, const Arguments& a, const Environment& e) {
    return select(input, a, e, false, false);
  };
  filters["rejectattr"] = [](const Value& input, const Arguments& a, const Environment& e) {
    return select(input, a, e, false, true);
  };
  filters["select"] = [](const Value& input, const Arguments& a, const Environment& e) {
    return select(input, a, e, true, false);
  };
  filters["selectattr"] = [](const Value& input, const Arguments& a, const Environment& e) {
    return select(input, a, e, true, true);
  };
  filters["replace"] = [](const Value& input, const Arguments& a, const Environment&) {
    const Value count = argument(a, 2, "count", Value::none());
    return Value(replace(to_str(input), to_str(argument(a, 0, "old")), to_str(argument(a, 1, "new")),
                         count.is_none() ? -1 : require_int(count, "count")));
  };
  filters["reverse"] = [](const Value& input, const Arguments&, const Environment&) {
    if (input.is_string()) {
      std::u32string code_points = utf8_decode(input.as_string());
      std::reverse(code_points.begin(), code_points.end());
      return Value(utf8_encode(code_points));
    }
    ValueList items = iterate(input);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
  };
  filters["round"] = [](const Value& input, const Arguments& a, const Environment&) {
    const int64_t precision = require_int(argument(a, 0, "precision", Value(0)), "precision");
    const std::string method = to_str(argument(a, 1, "method", Value("common")));
    if (!input.is_number()) throw TemplateError("round() needs a number, not " + type_name(input));
    const double scale = std::pow(10.0, static_cast<double>(precision));
    if (method == "floor") return Value(std::floor(input.as_float() * scale) / scale);
    if (method == "ceil") return Value(std::ceil(input.as_float() * scale) / scale);
    if (method != "common") throw TemplateError("method must be common, ceil or floor");
    if (input.kind() != Value::Kind::Float && precision >= 0) return Value(input.as_int());
    return Value(python_round(input.as_float(), precision));
  };
  // Markup(value): a string from here on.
  filters["safe"] = [](const Value& input, const Arguments&, const Environment&) { return Value(to_str(input)); };
  filters["sort"] = [](const Value& input, const Arguments& a, const Environment&) {
    const bool reverse = truthy(argument(a, 0, "reverse", Value(false)));
    const bool case_sensitive = truthy(argument(a, 1, "case_sensitive", Value(false)));
    const Value attribute = argument(a, 2, "attribute", Value::none());
    ValueList items = iterate(input);
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      const Value kx = sort_key(x, attribute, case_sensitive);
      const Value ky = sort_key(y, attribute, case_sensitive);
      return reverse ? less(ky, kx) : less(kx, ky);
    });
    return Value::list(std::move(items));
  };
  filters["string"] = [](const Value& input, const Arguments&, const Environment&) { return Value(to_str(input)); };
  filters["sum"] = [](const Value& input, const Arguments& a, const Environment&) {
    const Value attribute = argument(a, 0, "attribute", Value::none());
    Value total = argument(a, 1, "start", Value(0));
    for (const Value& item : iterate(input)) {
      total = binary_operation("+", total, attribute.is_none() ? item : attribute_path(item, to_str(attribute)));
    }
    return total;
  };
  // jinja2's own tojson: json.dumps with sorted keys, then <, >, & and ' escaped for HTML.
  filters["tojson"] = [](const Value& input, const Arguments& a, const Environment&) {
    JsonFormat format;
    format.sort_keys = true;
    const Value indent = argument(a, 0, "indent", Value::none());
    if (!indent.is_none()) format.indent = require_int(indent, "indent");
    std::string text = dumps(input, format);
    std::string out;
    for (char c : text) {
      switch (c) {
        case '<': out += "\\u003c"; break;
        case '>': out += "\\u003e"; break;
        case '&': out += "\\u0026"; break;
        case '\'': out += "\\u0027"; break;
        default: out += c;
      }
    }
    return Value(out);
  };
  filters["trim"] = [](const Value& input, const Arguments& a, const Environment&) {
    return Value(python_strip(to_str(input), optional_string(argument(a, 0, "chars"), "trim() chars"), true, true));
  };
  filters["unique"] = [](const Value& input, const Arguments& a, const Environment&) {
    const bool case_sensitive = truthy(argument(a, 0, "case_sensitive", Value(false)));
    const Value attribute = argument(a, 1, "attribute", Value::none());
    ValueList out;
    ValueList seen;
    for (const Value& item : iterate(input)) {
      const Value key = sort_key(item, attribute, case_sensitive);
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return equal(s, key); })) {
        seen.push_back(key);
        out.push_back(item);
      }
    }
    return Value::list(std::move(out));
  };
  filters["wordcount"] = [](const Value& input, const Arguments&, const Environment&) {
    int64_t words = 0;
    bool in_word = false;
    for (char32_t c : utf8_decode(to_str(input))) {
      const bool word_char = is_letter(c) || is_decimal(c) || c == U'_' || c > 0x7F;
      if (word_char && !in_word) ++words;
      in_word = word_char;
    }
    return Value(words);
  };
}

// ---- tests ---------------------------------------------------------------------------------

void add_builtin_tests(Environment& environment) {
  auto& tests = environment.tests;
  auto kind_is = [](Value::Kind kind) {
    return [kind](const Value& v, const Arguments&, const Environment&) { return v.kind() == kind; };
  };
  tests["defined"] = [](const Value& v, const Arguments&, const Environment&) { return !v.is_undefined(); };
  tests["undefined"] = kind_is(Value::Kind::Undefined);
  tests["none"] = kind_is(Value::Kind::None);
  tests["boolean"] = kind_is(Value::Kind::Bool);
  tests["integer"] = kind_is(Value::Kind::Int);
  tests["float"] = kind_is(Value::Kind::Float);
  tests["string"] = kind_is(Value::Kind::String);
  tests["mapping"] = kind_is(Value::Kind::Dict);
  tests["true"] = [](const Value& v, const Arguments&, const Environment&) {
    return v.kind() == Value::Kind::Bool && v.as_bool();
  };
  tests["false"] = [](const Value& v, const Arguments&, const Environment&) {
    return v.kind() == Value::Kind::Bool && !v.as_bool();
  };
  tests["number"] = [](const Value& v, const Arguments&, const Environment&) { return v.is_number(); };
  // Undefined iterates as empty and has len() and [], so it is iterable and a sequence.
  tests["iterable"] = [](const Value& v, const Arguments&, const Environment&) {
    return v.is_undefined() || v.is_string() || v.is_sequence() || v.kind() == Value::Kind::Dict;
  };
  tests["sequence"] = tests["iterable"];
  tests["callable"] = [](const Value& v, const Arguments&, const Environment&) {
    return v.kind() == Value::Kind::Function || v.is_undefined();
  };
  tests["escaped"] = [](const Value&, const Arguments&, const Environment&) { return false; };
  tests["sameas"] = [](const Value& v, const Arguments& a, const Environment&) {
    return v.same_object(argument(a, 0, "other"));
  };
  auto comparison = [](const std::string& op) {
    return [op](const Value& v, const Arguments& a, const Environment&) {
      const Value other = argument(a, 0, "other");
      if (op == "==") return equal(v, other);
      if (op == "!=") return !equal(v, other);
      if (op == "<") return less(v, other);
      if (op == "<=") return !less(other, v);
      if (op == ">") return less(other, v);
      return !less(v, other);
    };
  };
  for (const char* name : {"==", "eq", "equalto"}) tests[name] = comparison("==");
  for (const char* name : {"!=", "ne"}) tests[name] = comparison("!=");
  for (const char* name : {"<", "lt", "lessthan"}) tests[name] = comparison("<");
  for (const char* name : {"<=", "le"}) tests[name] = comparison("<=");
  for (const char* name : {">", "gt", "greaterthan"}) tests[name] = comparison(">");
  for (const char* name : {">=", "ge"}) tests[name] = comparison(">=");
  tests["in"] = [](const Value& v, const Arguments& a, const Environment&) {
    return contains(argument(a, 0, "seq"), v);
  };
  tests["divisibleby"] = [](const Value& v, const Arguments& a, const Environment&) {
    return !truthy(binary_operation("%", v, argument(a, 0, "num")));
  };
  tests["even"] = [](const Value& v, const Arguments&, const Environment&) {
    return equal(binary_operation("%", v, Value(2)), Value(0));
  };
  tests["odd"] = [](const Value& v, const Arguments&, const Environment&) {
    return equal(binary_operation("%", v, Value(2)), Value(1));
  };
  tests["lower"] = [](const Value& v, const Arguments&, const Environment&) { return has_case(to_str(v), true); };
  tests["upper"] = [](const Value& v, const Arguments&, const Environment&) { return has_case(to_str(v), false); };
  tests["filter"] = [](const Value& v, const Arguments&, const Environment& e) {
    return v.is_string() && e.filters.count(v.as_string()) > 0;
  };
  tests["test"] = [](const Value& v, const Arguments&, const Environment& e) {
    return v.is_string() && e.tests.count(v.as_string()) > 0;
  };
}

// ---- globals -------------------------------------------------------------------------------

void add_builtin_globals(Environment& environment) {
  environment.globals["range"] = Value::function("range", [](const Arguments& a) {
    a.check("range", 3, {});
    if (a.positional.empty()) throw TemplateError("range expected at least 1 argument, got 0");
    int64_t start = 0;
    int64_t stop = require_int(a.positional[0], "range() argument");
    int64_t step = 1;
    if (a.positional.size() >= 2) {
      start = stop;
      stop = require_int(a.positional[1], "range() argument");
    }
    if (a.positional.size() == 3) step = require_int(a.positional[2], "range() argument");
    if (step == 0) throw TemplateError("range() arg 3 must not be zero");
    ValueList items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (items.size() >= 100000)
        throw TemplateError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
      items.emplace_back(i);
    }
    return Value::list(std::move(items));
  });
  environment.globals["namespace"] = Value::function("namespace", [](const Arguments& a) {
    ValueDict items;
    for (const Value& mapping : a.positional) {
      if (mapping.kind() != Value::Kind::Dict)
        throw TemplateError("namespace() takes mappings as positional arguments");
      for (const auto& [key, value] : mapping.as_dict().items()) items.set(key, value);
    }
    for (const auto& [key, value] : a.keywords) items.set(Value(key), value);
    return Value::make_namespace(std::move(items));
  });
  environment.globals["dict"] = Value::function("dict", [](const Arguments& a) {
    ValueDict items;
    for (const Value& mapping : a.positional) {
      if (mapping.kind() != Value::Kind::Dict) throw TemplateError("dict() takes mappings as positional arguments");
      for (const auto& [key, value] : mapping.as_dict().items()) items.set(key, value);
    }
    for (const auto& [key, value] : a.keywords) items.set(Value(key), value);
    return Value::dict(std::move(items));
  });
}

}  // namespace precept::text::jinja
