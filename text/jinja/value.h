// Values of the Jinja interpreter (lm/jinja.h) and the Python semantics templates rely on:
// truthiness, str() and repr(), ==, <, json.dumps, slicing. Strings are UTF-8 and measured,
// indexed and sliced in code points, as Python str is. Not a general Python object model:
// no sets, no big integers, no user classes. Used by lm/jinja*.cpp and lm/chat_template.cpp.
#pragma once

#include "core/python_strings.h"
#include "core/utf8.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace precept::text::jinja {

// An error in a template: a syntax error found when parsing, or a runtime error found when
// rendering. what() names the template and line when they are known.
class TemplateError : public std::runtime_error {
 public:
  explicit TemplateError(std::string message, int line = 0, std::string template_name = "");
  const std::string& message() const { return message_; }
  int line() const { return line_; }  // 1-based; 0 when unknown
  const std::string& template_name() const { return template_name_; }

 private:
  std::string message_;
  int line_;
  std::string template_name_;
};

class TemplateSyntaxError : public TemplateError {
 public:
  using TemplateError::TemplateError;
};

class Value;
class ValueDict;
using ValueList = std::vector<Value>;

// Arguments of a call: f(1, 2, key=3).
struct Arguments {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;

  // The argument at `position` or named `name`, or nullptr when absent.
  const Value* find(size_t position, std::string_view name) const;
  // The keyword argument `name`, or nullptr.
  const Value* keyword(std::string_view name) const;
  // Throws, naming `function`, when there are more positional arguments than `max_positional`
  // or a keyword that is not in `allowed_keywords`.
  void check(std::string_view function, size_t max_positional,
             std::initializer_list<std::string_view> allowed_keywords) const;
};

// A callable value: a built-in function, a bound string method, or a macro.
struct Function {
  std::string name;
  std::function<Value(const Arguments&)> call;
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Function };

  Value() = default;  // undefined
  Value(bool value) : kind_(Kind::Bool), data_(value) {}
  Value(int value) : kind_(Kind::Int), data_(int64_t{value}) {}
  Value(int64_t value) : kind_(Kind::Int), data_(value) {}
  Value(double value) : kind_(Kind::Float), data_(value) {}
  Value(std::string value) : kind_(Kind::String), data_(std::move(value)) {}
  Value(const char* value) : Value(std::string(value)) {}

  // `hint` says what was looked up, for the error raised when the value is used.
  static Value undefined(std::string hint = "");
  static Value none();
  static Value list(ValueList items);
  static Value tuple(ValueList items);
  static Value dict(ValueDict items);
  // jinja2's namespace(): the one mutable value, shared by reference ({% set ns.x = ... %}).
  static Value make_namespace(ValueDict items);
  static Value function(std::string name, std::function<Value(const Arguments&)> call);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_number() const { return kind_ == Kind::Bool || kind_ == Kind::Int || kind_ == Kind::Float; }
  bool is_sequence() const { return kind_ == Kind::List; }  // list or tuple
  bool is_tuple() const { return kind_ == Kind::List && tuple_; }

  bool as_bool() const { return std::get<bool>(data_); }
  int64_t as_int() const;   // Bool or Int
  double as_float() const;  // Bool, Int or Float
  const std::string& as_string() const { return std::get<std::string>(data_); }
  const ValueList& as_list() const { return *std::get<std::shared_ptr<const ValueList>>(data_); }
  const ValueDict& as_dict() const;  // Dict or Namespace
  ValueDict& namespace_items() const { return *std::get<std::shared_ptr<ValueDict>>(data_); }
  const Function& as_function() const { return *std::get<std::shared_ptr<const Function>>(data_); }
  const std::string& undefined_hint() const { return std::get<std::string>(data_); }
  // Same namespace or function object (Python's `is`).
  bool same_object(const Value& other) const;

 private:
  Kind kind_ = Kind::Undefined;
  std::variant<std::monostate, bool, int64_t, double, std::string, std::shared_ptr<const ValueList>,
               std::shared_ptr<const ValueDict>, std::shared_ptr<ValueDict>, std::shared_ptr<const Function>>
      data_;
  bool tuple_ = false;
};

// An insertion-ordered mapping, as Python's dict; keys compare with Python's ==.
// Lookup is linear: template dicts (messages, tool schemas) are small.
class ValueDict {
 public:
  ValueDict() = default;
  ValueDict(std::initializer_list<std::pair<std::string, Value>> items);
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  const Value* find(const std::string& key) const { return find(std::string_view(key)); }
  const Value* find(const char* key) const { return find(std::string_view(key)); }
  void set(Value key, Value value);  // replaces the value of an existing key in place
  const std::vector<std::pair<Value, Value>>& items() const { return items_; }
  size_t size() const { return items_.size(); }

 private:
  std::vector<std::pair<Value, Value>> items_;
};

// ---- Python semantics --------------------------------------------------------------------

std::string type_name(const Value& value);  // Python's type(x).__name__: "str", "dict", ...
bool truthy(const Value& value);
std::string to_str(const Value& value);  // str(x); "" for undefined
std::string repr(const Value& value);    // repr(x)
bool equal(const Value& left, const Value& right);
// left < right for numbers, strings and sequences; throws for other pairs, as Python does.
bool less(const Value& left, const Value& right);
// The items `for x in value` visits: list items, dict keys, string characters; none for
// undefined. Throws for other kinds.
ValueList iterate(const Value& value);
// len(x) (0 for undefined).
int64_t length(const Value& value);

// Throws the error an undefined value raises when it is used as an object or operand.
[[noreturn]] void raise_undefined(const Value& undefined);
// left op right for op in + - * / // % ** ~, with Python's rules (int and float, str and list
// concatenation and repetition, floor division and modulo toward negative infinity).
Value binary_operation(std::string_view op, const Value& left, const Value& right);
// Python's printf-style `format % arguments`: a tuple gives the positional values, a dict the
// %(name)s ones, anything else is the one value. Conversions s r a d i u x X o c f F e E g G %.
std::string percent_format(const std::string& format, const Value& arguments);
// item in container: substring, list membership, dict key; false for undefined.
bool contains(const Value& container, const Value& item);

// json.dumps(x, ensure_ascii=..., indent=..., separators=..., sort_keys=...).
struct JsonFormat {
  std::optional<int64_t> indent;
  bool ensure_ascii = true;
  bool sort_keys = false;
  std::optional<std::pair<std::string, std::string>> separators;  // item, key
};
std::string dumps(const Value& value, const JsonFormat& format);

// Python's float repr, str.isspace and str.strip, and UTF-8 decoding: core/python_strings.h and
// core/utf8.h, used here under these names.
using core::float_repr;
using core::is_python_space;
using core::python_strip;
using core::utf8::utf8_decode;
using core::utf8::utf8_encode;

// A Python slice [start:stop:step] of a sequence of `size` items: the indices it selects.
std::vector<int64_t> slice_indices(int64_t size, std::optional<int64_t> start, std::optional<int64_t> stop,
                                   std::optional<int64_t> step);

// ---- Conversion from JSON ----------------------------------------------------------------

// A JSON value as a template value: objects keep their key order with nlohmann::ordered_json.
template <class Json>
Value from_json(const Json& json) {
  if (json.is_null()) return Value::none();
  if (json.is_boolean()) return Value(json.template get<bool>());
  if (json.is_number_integer()) return Value(json.template get<int64_t>());
  if (json.is_number()) return Value(json.template get<double>());
  if (json.is_string()) return Value(json.template get<std::string>());
  if (json.is_array()) {
    ValueList items;
    for (const auto& item : json) items.push_back(from_json(item));
    return Value::list(std::move(items));
  }
  ValueDict items;
  for (auto it = json.begin(); it != json.end(); ++it) items.set(Value(it.key()), from_json(it.value()));
  return Value::dict(std::move(items));
}

}  // namespace precept::text::jinja
