// Python semantics of template values; see lm/jinja_value.h.
#include "text/jinja/value.h"
#include "core/utf8.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace precept::text::jinja {

namespace {

std::string locate(const std::string& message, int line, const std::string& template_name) {
  std::string where;
  if (!template_name.empty()) where = "template " + template_name;
  if (line > 0) where += (where.empty() ? "line " : ", line ") + std::to_string(line);
  return where.empty() ? message : where + ": " + message;
}

using core::utf8::append_utf8;

std::string hex_escape(const char* prefix, unsigned value, int digits) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%s%0*x", prefix, digits, value);
  return buffer;
}

// str.isprintable() for one code point, close enough for repr(): control, format, separator
// (other than the space) and private-use characters are not printable.
bool is_printable(char32_t c) {
  if (c < 0x20 || c == 0x7F) return false;
  if (c < 0x7F) return true;
  if (c <= 0xA0 || c == 0xAD) return false;
  if ((c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F || c == 0x1680 || c == 0x180E) return false;
  if ((c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x206F)) return false;
  if (c == 0x3000 || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB)) return false;
  if ((c >= 0xD800 && c <= 0xF8FF) || c >= 0xF0000 || (c >= 0xE0000 && c <= 0xE007F)) return false;
  return true;
}

std::string string_repr(const std::string& text) {
  const bool has_single = text.find('\'') != std::string::npos;
  const bool has_double = text.find('"') != std::string::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : utf8_decode(text)) {
    if (c == static_cast<char32_t>(quote) || c == U'\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == U'\t') {
      out += "\\t";
    } else if (c == U'\n') {
      out += "\\n";
    } else if (c == U'\r') {
      out += "\\r";
    } else if (is_printable(c)) {
      append_utf8(out, c);
    } else if (c <= 0xFF) {
      out += hex_escape("\\x", c, 2);
    } else if (c <= 0xFFFF) {
      out += hex_escape("\\u", c, 4);
    } else {
      out += hex_escape("\\U", c, 8);
    }
  }
  return out + quote;
}

// Each invalid byte becomes one U+FFFD first (the engine's rule), then json.dumps' escapes.
std::string json_string(const std::string& text, bool ensure_ascii) {
  return core::python_json_string(utf8_encode(utf8_decode(text)), ensure_ascii);
}

// A dict key as json.dumps writes it: strings as they are, numbers and constants as text.
std::string json_key(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::String: return key.as_string();
    case Value::Kind::Int: return std::to_string(key.as_int());
    case Value::Kind::Float: return float_repr(key.as_float());
    case Value::Kind::Bool: return key.as_bool() ? "true" : "false";
    case Value::Kind::None: return "null";
    default: throw TemplateError("keys must be str, int, float, bool or None, not " + type_name(key));
  }
}

void dump(const Value& value, const JsonFormat& format, const std::string& item_separator,
          const std::string& key_separator, int64_t level, std::string& out) {
  auto newline = [&](int64_t depth) {
    if (format.indent) out += "\n" + std::string(static_cast<size_t>(*format.indent * depth), ' ');
  };
  switch (value.kind()) {
    case Value::Kind::None: out += "null"; return;
    case Value::Kind::Bool: out += value.as_bool() ? "true" : "false"; return;
    case Value::Kind::Int: out += std::to_string(value.as_int()); return;
    case Value::Kind::Float: out += core::python_json_float(value.as_float()); return;
    case Value::Kind::String: out += json_string(value.as_string(), format.ensure_ascii); return;
    case Value::Kind::List: {
      const ValueList& items = value.as_list();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += "[";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_separator;
        newline(level + 1);
        dump(items[i], format, item_separator, key_separator, level + 1, out);
      }
      newline(level);
      out += "]";
      return;
    }
    case Value::Kind::Dict: {
      std::vector<std::pair<std::string, const Value*>> items;
      for (const auto& [key, item] : value.as_dict().items()) items.emplace_back(json_key(key), &item);
      if (items.empty()) {
        out += "{}";
        return;
      }
      if (format.sort_keys) {
        std::stable_sort(items.begin(), items.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      }
      out += "{";
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_separator;
        newline(level + 1);
        out += json_string(items[i].first, format.ensure_ascii) + key_separator;
        dump(*items[i].second, format, item_separator, key_separator, level + 1, out);
      }
      newline(level);
      out += "}";
      return;
    }
    default: throw TemplateError("Object of type " + type_name(value) + " is not JSON serializable");
  }
}

}  // namespace

TemplateError::TemplateError(std::string message, int line, std::string template_name)
    : std::runtime_error(locate(message, line, template_name)),
      message_(std::move(message)),
      line_(line),
      template_name_(std::move(template_name)) {}

const Value* Arguments::find(size_t position, std::string_view name) const {
  if (position < positional.size()) return &positional[position];
  return keyword(name);
}

const Value* Arguments::keyword(std::string_view name) const {
  for (const auto& [key, value] : keywords) {
    if (key == name) return &value;
  }
  return nullptr;
}

void Arguments::check(std::string_view function, size_t max_positional,
                      std::initializer_list<std::string_view> allowed_keywords) const {
  if (positional.size() > max_positional) {
    throw TemplateError(std::string(function) + "() takes at most " + std::to_string(max_positional) +
                        " positional argument(s), got " + std::to_string(positional.size()));
  }
  for (const auto& keyword : keywords) {
    if (std::find(allowed_keywords.begin(), allowed_keywords.end(), keyword.first) == allowed_keywords.end()) {
      throw TemplateError(std::string(function) + "() got an unexpected keyword argument '" + keyword.first + "'");
    }
  }
}

// ---- Value -------------------------------------------------------------------------------

Value Value::undefined(std::string hint) {
  Value value;
  value.data_ = std::move(hint);
  return value;
}

Value Value::none() {
  Value value;
  value.kind_ = Kind::None;
  return value;
}

Value Value::list(ValueList items) {
  Value value;
  value.kind_ = Kind::List;
  value.data_ = std::make_shared<const ValueList>(std::move(items));
  return value;
}

Value Value::tuple(ValueList items) {
  Value value = list(std::move(items));
  value.tuple_ = true;
  return value;
}

Value Value::dict(ValueDict items) {
  Value value;
  value.kind_ = Kind::Dict;
  value.data_ = std::make_shared<const ValueDict>(std::move(items));
  return value;
}

Value Value::make_namespace(ValueDict items) {
  Value value;
  value.kind_ = Kind::Namespace;
  value.data_ = std::make_shared<ValueDict>(std::move(items));
  return value;
}

Value Value::function(std::string name, std::function<Value(const Arguments&)> call) {
  Value value;
  value.kind_ = Kind::Function;
  value.data_ = std::make_shared<const Function>(Function{std::move(name), std::move(call)});
  return value;
}

int64_t Value::as_int() const { return kind_ == Kind::Bool ? int64_t{as_bool()} : std::get<int64_t>(data_); }

double Value::as_float() const {
  return kind_ == Kind::Float ? std::get<double>(data_) : static_cast<double>(as_int());
}

const ValueDict& Value::as_dict() const {
  if (kind_ == Kind::Namespace) return namespace_items();
  return *std::get<std::shared_ptr<const ValueDict>>(data_);
}

bool Value::same_object(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::List: return &as_list() == &other.as_list();
    case Kind::Dict:
    case Kind::Namespace: return &as_dict() == &other.as_dict();
    case Kind::Function: return &as_function() == &other.as_function();
    default: return equal(*this, other);
  }
}

// ---- ValueDict ---------------------------------------------------------------------------

ValueDict::ValueDict(std::initializer_list<std::pair<std::string, Value>> items) {
  for (const auto& [key, value] : items) set(Value(key), value);
}

const Value* ValueDict::find(const Value& key) const {
  for (const auto& [candidate, value] : items_) {
    if (equal(candidate, key)) return &value;
  }
  return nullptr;
}

const Value* ValueDict::find(std::string_view key) const {
  for (const auto& [candidate, value] : items_) {
    if (candidate.is_string() && candidate.as_string() == key) return &value;
  }
  return nullptr;
}

void ValueDict::set(Value key, Value value) {
  for (auto& item : items_) {
    if (equal(item.first, key)) {
      item.second = std::move(value);
      return;
    }
  }
  items_.emplace_back(std::move(key), std::move(value));
}

// ---- Python semantics --------------------------------------------------------------------

std::string type_name(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "NoneType";
    case Value::Kind::Bool: return "bool";
    case Value::Kind::Int: return "int";
    case Value::Kind::Float: return "float";
    case Value::Kind::String: return "str";
    case Value::Kind::List: return value.is_tuple() ? "tuple" : "list";
    case Value::Kind::Dict: return "dict";
    case Value::Kind::Namespace: return "Namespace";
    case Value::Kind::Function: return "function";
  }
  return "object";
}

bool truthy(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return false;
    case Value::Kind::Bool: return value.as_bool();
    case Value::Kind::Int: return value.as_int() != 0;
    case Value::Kind::Float: return value.as_float() != 0.0;
    case Value::Kind::String: return !value.as_string().empty();
    case Value::Kind::List: return !value.as_list().empty();
    case Value::Kind::Dict: return value.as_dict().size() > 0;
    case Value::Kind::Namespace:
    case Value::Kind::Function: return true;
  }
  return false;
}

std::string to_str(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return "";
    case Value::Kind::String: return value.as_string();
    default: return repr(value);
  }
}

std::string repr(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return "Undefined";
    case Value::Kind::None: return "None";
    case Value::Kind::Bool: return value.as_bool() ? "True" : "False";
    case Value::Kind::Int: return std::to_string(value.as_int());
    case Value::Kind::Float: return float_repr(value.as_float());
    case Value::Kind::String: return string_repr(value.as_string());
    case Value::Kind::List: {
      const ValueList& items = value.as_list();
      std::string out = value.is_tuple() ? "(" : "[";
      for (size_t i = 0; i < items.size(); ++i) out += (i > 0 ? ", " : "") + repr(items[i]);
      if (value.is_tuple() && items.size() == 1) out += ",";
      return out + (value.is_tuple() ? ")" : "]");
    }
    case Value::Kind::Dict:
    case Value::Kind::Namespace: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, item] : value.as_dict().items()) {
        out += (first ? "" : ", ") + repr(key) + ": " + repr(item);
        first = false;
      }
      out += "}";
      return value.kind() == Value::Kind::Namespace ? "<Namespace " + out + ">" : out;
    }
    case Value::Kind::Function: return "<function " + value.as_function().name + ">";
  }
  return "";
}

bool equal(const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (left.kind() == Value::Kind::Float || right.kind() == Value::Kind::Float) {
      return left.as_float() == right.as_float();
    }
    return left.as_int() == right.as_int();
  }
  if (left.kind() != right.kind()) return false;
  switch (left.kind()) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::String: return left.as_string() == right.as_string();
    case Value::Kind::List: {
      if (left.is_tuple() != right.is_tuple()) return false;
      const ValueList& a = left.as_list();
      const ValueList& b = right.as_list();
      if (a.size() != b.size()) return false;
      for (size_t i = 0; i < a.size(); ++i) {
        if (!equal(a[i], b[i])) return false;
      }
      return true;
    }
    case Value::Kind::Dict: {
      const ValueDict& a = left.as_dict();
      const ValueDict& b = right.as_dict();
      if (a.size() != b.size()) return false;
      for (const auto& [key, item] : a.items()) {
        const Value* other = b.find(key);
        if (other == nullptr || !equal(item, *other)) return false;
      }
      return true;
    }
    default: return left.same_object(right);
  }
}

bool less(const Value& left, const Value& right) {
  if (left.is_number() && right.is_number()) {
    if (left.kind() == Value::Kind::Float || right.kind() == Value::Kind::Float) {
      return left.as_float() < right.as_float();
    }
    return left.as_int() < right.as_int();
  }
  // UTF-8 byte order is code point order.
  if (left.is_string() && right.is_string()) return left.as_string() < right.as_string();
  if (left.is_sequence() && right.is_sequence() && left.is_tuple() == right.is_tuple()) {
    const ValueList& a = left.as_list();
    const ValueList& b = right.as_list();
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (!equal(a[i], b[i])) return less(a[i], b[i]);
    }
    return a.size() < b.size();
  }
  throw TemplateError("'<' not supported between instances of '" + type_name(left) + "' and '" + type_name(right) +
                      "'");
}

ValueList iterate(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return {};
    case Value::Kind::List: return value.as_list();
    case Value::Kind::Dict: {
      ValueList keys;
      for (const auto& item : value.as_dict().items()) keys.push_back(item.first);
      return keys;
    }
    case Value::Kind::String: {
      ValueList characters;
      for (char32_t c : utf8_decode(value.as_string())) characters.emplace_back(utf8_encode(std::u32string(1, c)));
      return characters;
    }
    default: throw TemplateError("'" + type_name(value) + "' object is not iterable");
  }
}

int64_t length(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::Undefined: return 0;
    case Value::Kind::String: return static_cast<int64_t>(utf8_decode(value.as_string()).size());
    case Value::Kind::List: return static_cast<int64_t>(value.as_list().size());
    case Value::Kind::Dict: return static_cast<int64_t>(value.as_dict().size());
    default: throw TemplateError("object of type '" + type_name(value) + "' has no len()");
  }
}

void raise_undefined(const Value& undefined) {
  throw TemplateError(undefined.undefined_hint().empty() ? "a value is undefined" : undefined.undefined_hint());
}

Value binary_operation(std::string_view op, const Value& left, const Value& right) {
  if (op == "~") return Value(to_str(left) + to_str(right));
  if (left.is_undefined()) raise_undefined(left);
  if (right.is_undefined()) raise_undefined(right);
  const bool numbers = left.is_number() && right.is_number();
  const bool integers = numbers && left.kind() != Value::Kind::Float && right.kind() != Value::Kind::Float;
  auto unsupported = [&]() -> Value {
    throw TemplateError("unsupported operand type(s) for " + std::string(op) + ": '" + type_name(left) + "' and '" +
                        type_name(right) + "'");
  };
  auto repeat = [](const Value& sequence, int64_t times) {
    if (sequence.is_string()) {
      std::string out;
      for (int64_t i = 0; i < times; ++i) out += sequence.as_string();
      return Value(out);
    }
    ValueList items;
    for (int64_t i = 0; i < times; ++i) items.insert(items.end(), sequence.as_list().begin(), sequence.as_list().end());
    return sequence.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
  };
  const bool left_int = left.kind() == Value::Kind::Int || left.kind() == Value::Kind::Bool;
  const bool right_int = right.kind() == Value::Kind::Int || right.kind() == Value::Kind::Bool;
  if (op == "+") {
    if (integers) return Value(left.as_int() + right.as_int());
    if (numbers) return Value(left.as_float() + right.as_float());
    if (left.is_string() && right.is_string()) return Value(left.as_string() + right.as_string());
    if (left.is_string()) throw TemplateError("can only concatenate str (not \"" + type_name(right) + "\") to str");
    if (left.is_sequence() && right.is_sequence() && left.is_tuple() == right.is_tuple()) {
      ValueList items = left.as_list();
      items.insert(items.end(), right.as_list().begin(), right.as_list().end());
      return left.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    if (left.is_sequence()) {
      throw TemplateError("can only concatenate " + type_name(left) + " (not \"" + type_name(right) + "\") to " +
                          type_name(left));
    }
    return unsupported();
  }
  if (op == "-") {
    if (integers) return Value(left.as_int() - right.as_int());
    if (numbers) return Value(left.as_float() - right.as_float());
    return unsupported();
  }
  if (op == "*") {
    if (integers) return Value(left.as_int() * right.as_int());
    if (numbers) return Value(left.as_float() * right.as_float());
    if ((left.is_string() || left.is_sequence()) && right_int) return repeat(left, right.as_int());
    if (left_int && (right.is_string() || right.is_sequence())) return repeat(right, left.as_int());
    return unsupported();
  }
  if (op == "/") {
    if (!numbers) return unsupported();
    if (right.as_float() == 0.0) throw TemplateError("division by zero");
    return Value(left.as_float() / right.as_float());
  }
  if (op == "//" || op == "%") {
    if (left.is_string() && op == "%") return Value(percent_format(left.as_string(), right));
    if (!numbers) return unsupported();
    if (integers) {
      const int64_t a = left.as_int();
      const int64_t b = right.as_int();
      if (b == 0) throw TemplateError("integer division or modulo by zero");
      int64_t quotient = a / b;
      int64_t remainder = a % b;
      if (remainder != 0 && ((remainder < 0) != (b < 0))) {
        --quotient;
        remainder += b;
      }
      return Value(op == "//" ? quotient : remainder);
    }
    const double a = left.as_float();
    const double b = right.as_float();
    if (b == 0.0) throw TemplateError(op == "//" ? "float floor division by zero" : "float modulo");
    // CPython's float_divmod.
    double remainder = std::fmod(a, b);
    double quotient = (a - remainder) / b;
    if (remainder != 0.0) {
      if ((b < 0) != (remainder < 0)) {
        remainder += b;
        quotient -= 1.0;
      }
    } else {
      remainder = std::copysign(0.0, b);
    }
    double floor_quotient = std::copysign(0.0, a / b);
    if (quotient != 0.0) {
      floor_quotient = std::floor(quotient);
      if (quotient - floor_quotient > 0.5) floor_quotient += 1.0;
    }
    return Value(op == "//" ? floor_quotient : remainder);
  }
  if (op == "**") {
    if (integers && right.as_int() >= 0) {
      // Square and multiply; results beyond 64 bits wrap (Python would grow the integer).
      uint64_t base = static_cast<uint64_t>(left.as_int());
      uint64_t result = 1;
      for (int64_t exponent = right.as_int(); exponent > 0; exponent >>= 1) {
        if (exponent & 1) result *= base;
        base *= base;
      }
      return Value(static_cast<int64_t>(result));
    }
    if (numbers) return Value(std::pow(left.as_float(), right.as_float()));
    return unsupported();
  }
  throw TemplateError("unknown operator " + std::string(op));
}

std::string percent_format(const std::string& format, const Value& arguments) {
  const bool is_mapping = arguments.kind() == Value::Kind::Dict;
  const ValueList positional = arguments.is_tuple() ? arguments.as_list() : ValueList{arguments};
  size_t next = 0;
  bool used_mapping = false;
  auto take = [&]() -> Value {
    if (next >= positional.size()) throw TemplateError("not enough arguments for format string");
    return positional[next++];
  };
  auto as_integer = [](const Value& value, char conversion) -> int64_t {
    if (value.kind() == Value::Kind::Float) {
      if (conversion == 'x' || conversion == 'X' || conversion == 'o' || conversion == 'c') {
        throw TemplateError(std::string("%") + conversion + " format: an integer is required, not float");
      }
      return static_cast<int64_t>(std::trunc(value.as_float()));
    }
    if (value.kind() != Value::Kind::Int && value.kind() != Value::Kind::Bool) {
      throw TemplateError(std::string("%") + conversion + " format: a real number is required, not " +
                          type_name(value));
    }
    return value.as_int();
  };
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (++i >= format.size()) throw TemplateError("incomplete format");
    Value value;
    bool have_value = false;
    if (format[i] == '(') {
      const size_t close = format.find(')', i);
      if (close == std::string::npos) throw TemplateError("incomplete format key");
      if (!is_mapping) throw TemplateError("format requires a mapping");
      const Value* found = arguments.as_dict().find(format.substr(i + 1, close - i - 1));
      if (found == nullptr) throw TemplateError("KeyError: " + format.substr(i + 1, close - i - 1));
      value = *found;
      have_value = true;
      used_mapping = true;
      i = close + 1;
    }
    std::string flags;
    while (i < format.size() && std::string("-+ 0#").find(format[i]) != std::string::npos) flags += format[i++];
    auto read_number = [&]() -> std::optional<int64_t> {
      if (i < format.size() && format[i] == '*') {
        ++i;
        return take().as_int();
      }
      if (i >= format.size() || format[i] < '0' || format[i] > '9') return std::nullopt;
      int64_t number = 0;
      while (i < format.size() && format[i] >= '0' && format[i] <= '9') number = number * 10 + (format[i++] - '0');
      return number;
    };
    std::optional<int64_t> width = read_number();
    std::optional<int64_t> precision;
    if (i < format.size() && format[i] == '.') {
      ++i;
      precision = read_number().value_or(0);
    }
    while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L')) ++i;
    if (i >= format.size()) throw TemplateError("incomplete format");
    const char conversion = format[i];
    if (conversion == '%') {
      out += '%';
      continue;
    }
    if (!have_value) value = take();
    const bool left_align = flags.find('-') != std::string::npos;
    const bool zero_pad = flags.find('0') != std::string::npos && !left_align;
    std::string sign;
    std::string body;
    bool numeric = true;
    switch (conversion) {
      case 's':
      case 'r':
      case 'a': {
        numeric = false;
        body = conversion == 's' ? to_str(value) : repr(value);
        if (precision) {
          const std::u32string code_points = utf8_decode(body);
          body = utf8_encode(std::u32string_view(code_points).substr(0, static_cast<size_t>(*precision)));
        }
        break;
      }
      case 'c': {
        numeric = false;
        body = value.is_string() ? value.as_string()
                                 : utf8_encode(std::u32string(1, static_cast<char32_t>(as_integer(value, 'c'))));
        break;
      }
      case 'd':
      case 'i':
      case 'u':
      case 'x':
      case 'X':
      case 'o': {
        const int64_t number = as_integer(value, conversion);
        const uint64_t magnitude = number < 0 ? 0 - static_cast<uint64_t>(number) : static_cast<uint64_t>(number);
        char buffer[32];
        const char* pattern = conversion == 'x'   ? "%llx"
                              : conversion == 'X' ? "%llX"
                              : conversion == 'o' ? "%llo"
                                                  : "%llu";
        std::snprintf(buffer, sizeof buffer, pattern, static_cast<unsigned long long>(magnitude));
        body = buffer;
        if (precision && static_cast<int64_t>(body.size()) < *precision) {
          body = std::string(static_cast<size_t>(*precision) - body.size(), '0') + body;
        }
        if (flags.find('#') != std::string::npos && conversion != 'd' && conversion != 'i' && conversion != 'u') {
          body = (conversion == 'o' ? "0o" : conversion == 'x' ? "0x" : "0X") + body;
        }
        sign = number < 0                             ? "-"
               : flags.find('+') != std::string::npos ? "+"
               : flags.find(' ') != std::string::npos ? " "
                                                      : "";
        break;
      }
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G': {
        if (!value.is_number()) {
          throw TemplateError(std::string("must be real number, not ") + type_name(value));
        }
        const double number = value.as_float();
        std::string pattern = "%";
        if (flags.find('#') != std::string::npos) pattern += '#';
        pattern += "." + std::to_string(precision.value_or(6)) + conversion;
        char buffer[512];
        std::snprintf(buffer, sizeof buffer, pattern.c_str(), std::fabs(number));
        body = buffer;
        sign = std::signbit(number) && !std::isnan(number) ? "-"
               : flags.find('+') != std::string::npos      ? "+"
               : flags.find(' ') != std::string::npos      ? " "
                                                           : "";
        break;
      }
      default: throw TemplateError(std::string("unsupported format character '") + conversion + "'");
    }
    const auto shown = static_cast<int64_t>(utf8_decode(sign + body).size());
    const int64_t padding = width && *width > shown ? *width - shown : 0;
    if (left_align) {
      out += sign + body + std::string(static_cast<size_t>(padding), ' ');
    } else if (zero_pad && numeric) {
      out += sign + std::string(static_cast<size_t>(padding), '0') + body;
    } else {
      out += std::string(static_cast<size_t>(padding), ' ') + sign + body;
    }
  }
  // As CPython: unused values are an error unless the right side is a mapping or a list.
  const bool mapping_like = is_mapping || (arguments.is_sequence() && !arguments.is_tuple());
  if (!used_mapping && !mapping_like && next < positional.size()) {
    throw TemplateError("not all arguments converted during string formatting");
  }
  return out;
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::Undefined: return false;
    case Value::Kind::String:
      if (!item.is_string()) {
        throw TemplateError("'in <string>' requires string as left operand, not " + type_name(item));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::List:
      return std::any_of(container.as_list().begin(), container.as_list().end(),
                         [&](const Value& candidate) { return equal(candidate, item); });
    case Value::Kind::Dict:
      if ((item.is_sequence() && !item.is_tuple()) || item.kind() == Value::Kind::Dict) {
        throw TemplateError("unhashable type: '" + type_name(item) + "'");
      }
      return container.as_dict().find(item) != nullptr;
    default: throw TemplateError("argument of type '" + type_name(container) + "' is not iterable");
  }
}

std::string dumps(const Value& value, const JsonFormat& format) {
  std::string item_separator = format.indent ? "," : ", ";
  std::string key_separator = ": ";
  if (format.separators) std::tie(item_separator, key_separator) = *format.separators;
  std::string out;
  dump(value, format, item_separator, key_separator, 0, out);
  return out;
}

std::vector<int64_t> slice_indices(int64_t size, std::optional<int64_t> start, std::optional<int64_t> stop,
                                   std::optional<int64_t> step) {
  const int64_t stride = step.value_or(1);
  if (stride == 0) throw TemplateError("slice step cannot be zero");
  const int64_t lower = stride > 0 ? 0 : -1;
  const int64_t upper = stride > 0 ? size : size - 1;
  auto clamp = [&](std::optional<int64_t> bound, int64_t fallback) {
    if (!bound) return fallback;
    int64_t index = *bound;
    if (index < 0) {
      index += size;
      if (index < lower) index = lower;
    } else if (index > upper) {
      index = upper;
    }
    return index;
  };
  const int64_t first = clamp(start, stride > 0 ? lower : upper);
  const int64_t last = clamp(stop, stride > 0 ? upper : lower);
  std::vector<int64_t> indices;
  for (int64_t i = first; stride > 0 ? i < last : i > last; i += stride) indices.push_back(i);
  return indices;
}

// ---- UTF-8 and whitespace ----------------------------------------------------------------

}  // namespace precept::text::jinja
