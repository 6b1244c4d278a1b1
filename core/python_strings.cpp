// Python's json.dumps(..., ensure_ascii=False), written out by hand because nlohmann's dump()
// has no ", " / ": " separators and escapes 0x7f differently; Python's float repr and
// str.strip. See python_strings.h.
#include "core/python_strings.h"

#include "core/utf8.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>

namespace precept::core {

namespace {

void append_hex4(std::string& out, unsigned value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(value >> shift) & 0xF];
}

void append_string(std::string& out, std::string_view text, bool ensure_ascii) {
  // After the repair the text is valid UTF-8. Without ensure_ascii only ASCII bytes need
  // escaping, so a byte loop suffices: bytes of multi-byte sequences are all >= 0x80 and pass
  // through unchanged. With it, every code point from 0x7f up is written as \uXXXX (a surrogate
  // pair above 0xffff), as Python does.
  const std::string valid = utf8::to_valid_utf8(text);
  out += '"';
  for (size_t pos = 0; pos < valid.size();) {
    const auto byte = static_cast<unsigned char>(valid[pos]);
    if (byte >= 0x80 || (ensure_ascii && byte == 0x7f)) {
      const size_t start = pos;
      const char32_t c = utf8::decode_next(valid, pos);
      if (!ensure_ascii) {
        out.append(valid, start, pos - start);
      } else if (c > 0xFFFF) {
        const char32_t v = c - 0x10000;
        append_hex4(out, 0xD800 + (v >> 10));
        append_hex4(out, 0xDC00 + (v & 0x3FF));
      } else {
        append_hex4(out, c);
      }
      continue;
    }
    ++pos;
    switch (byte) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (byte < 0x20) {
          append_hex4(out, byte);
        } else {
          out += static_cast<char>(byte);
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
    case Type::number_float: out += python_json_float(value.get<double>()); return;
    case Type::string: append_string(out, value.get_ref<const std::string&>(), false); return;
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
        append_string(out, it.key(), false);
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

std::string python_json_string(std::string_view text, bool ensure_ascii) {
  std::string out;
  append_string(out, text, ensure_ascii);
  return out;
}

std::string python_json_float(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return float_repr(value);
}

std::string float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // Shortest round-trip digits in scientific form, e.g. "-1.2345e+16", then Python's layout.
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string text(buffer, result.ptr);
  std::string sign;
  if (text[0] == '-') {
    sign = "-";
    text.erase(0, 1);
  }
  const size_t e = text.find('e');
  std::string digits = text.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::stoi(text.substr(e + 1));
  const int point = exponent + 1;  // digits are 0.d1d2... x 10^point
  const int count = static_cast<int>(digits.size());
  if (point <= -4 || point > 16) {
    std::string mantissa = digits.substr(0, 1) + (count > 1 ? "." + digits.substr(1) : "");
    const int shown = point - 1;
    std::string exponent_text = std::to_string(shown < 0 ? -shown : shown);
    if (exponent_text.size() < 2) exponent_text = "0" + exponent_text;
    return sign + mantissa + "e" + (shown < 0 ? "-" : "+") + exponent_text;
  }
  if (point <= 0) return sign + "0." + std::string(static_cast<size_t>(-point), '0') + digits;
  if (point >= count) return sign + digits + std::string(static_cast<size_t>(point - count), '0') + ".0";
  return sign + digits.substr(0, point) + "." + digits.substr(point);
}

bool is_python_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string python_strip(std::string_view text, const std::optional<std::string>& chars, bool left, bool right) {
  const std::u32string code_points = utf8::utf8_decode(text);
  const std::u32string strip_set = chars ? utf8::utf8_decode(*chars) : std::u32string();
  auto strips = [&](char32_t c) { return chars ? strip_set.find(c) != std::u32string::npos : is_python_space(c); };
  size_t begin = 0;
  size_t end = code_points.size();
  if (left) {
    while (begin < end && strips(code_points[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strips(code_points[end - 1])) --end;
  }
  return utf8::utf8_encode(std::u32string_view(code_points).substr(begin, end - begin));
}

}  // namespace precept::core
