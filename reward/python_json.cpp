// Python's json.dumps(..., ensure_ascii=False), written out by hand because nlohmann's dump()
// has no ", " / ": " separators and escapes 0x7f differently; see python_json.h.
#include "reward/python_json.h"

#include "lm/jinja_value.h"  // jinja::float_repr: Python's float repr
#include "lm/unicode.h"      // unicode::to_valid_utf8: bytes.decode("utf-8", "replace")

#include <cmath>
#include <stdexcept>

namespace precept::reward {

namespace {

void append_string(std::string& out, std::string_view text) {
  // After the repair the text is valid UTF-8, and only ASCII bytes need escaping, so a byte
  // loop suffices: bytes of multi-byte sequences are all >= 0x80 and pass through unchanged.
  const std::string valid = lm::unicode::to_valid_utf8(text);
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char c : valid) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20) {
          out += "\\u00";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xF];
        } else {
          out += c;
        }
      }
    }
  }
  out += '"';
}

void append_value(std::string& out, const nlohmann::ordered_json& value) {
  using Type = nlohmann::ordered_json::value_t;
  switch (value.type()) {
    case Type::null: out += "null"; return;
    case Type::boolean: out += value.get<bool>() ? "true" : "false"; return;
    case Type::number_integer: out += std::to_string(value.get<int64_t>()); return;
    case Type::number_unsigned: out += std::to_string(value.get<uint64_t>()); return;
    case Type::number_float: {
      const double number = value.get<double>();
      if (std::isnan(number))
        out += "NaN";
      else if (std::isinf(number))
        out += number > 0 ? "Infinity" : "-Infinity";
      else
        out += lm::jinja::float_repr(number);
      return;
    }
    case Type::string: append_string(out, value.get_ref<const std::string&>()); return;
    case Type::array: {
      out += '[';
      bool first = true;
      for (const auto& item : value) {
        if (!first) out += ", ";
        first = false;
        append_value(out, item);
      }
      out += ']';
      return;
    }
    case Type::object: {
      out += '{';
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        append_string(out, it.key());
        out += ": ";
        append_value(out, it.value());
      }
      out += '}';
      return;
    }
    default:
      throw std::invalid_argument(std::string("python_json_dumps: a ") + value.type_name() +
                                  " value has no Python json.dumps form");
  }
}

}  // namespace

std::string python_json_dumps(const nlohmann::ordered_json& value) {
  std::string out;
  append_value(out, value);
  return out;
}

std::string python_json_string(std::string_view text) {
  std::string out;
  append_string(out, text);
  return out;
}

}  // namespace precept::reward
