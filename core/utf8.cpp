// UTF-8, once for every layer: validity, repair as Python and Rust do it, code point iteration
// and encoding. Not Unicode properties or normalization (text/unicode.h has those).
// Used by core/python_strings.cpp, the tokenizers, the template engine and the judge parser.
#include "core/utf8.h"

namespace precept::core::utf8 {

namespace {

// The length of the well-formed sequence at bytes[pos] (1..4), or, as a negative number, the
// length of the maximal subpart to replace when it is ill-formed (Unicode Table 3-7).
int inspect_sequence(std::string_view bytes, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return 1;
  int length = 0;
  unsigned char second_low = 0x80, second_high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead == 0xE0) {
    length = 3, second_low = 0xA0;
  } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
    length = 3;
  } else if (lead == 0xED) {
    length = 3, second_high = 0x9F;
  } else if (lead == 0xF0) {
    length = 4, second_low = 0x90;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    length = 4;
  } else if (lead == 0xF4) {
    length = 4, second_high = 0x8F;
  } else {
    return -1;  // 0x80..0xC1, 0xF5..0xFF never start a sequence
  }
  for (int i = 1; i < length; ++i) {
    if (pos + i >= bytes.size()) return -i;
    const unsigned char next = byte(pos + i);
    const unsigned char low = i == 1 ? second_low : 0x80;
    const unsigned char high = i == 1 ? second_high : 0xBF;
    if (next < low || next > high) return -i;
  }
  return length;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const unsigned char lead = static_cast<unsigned char>(text[pos]);
    if (lead < 0x80) {
      ++pos;
      continue;
    }
    const int length = inspect_sequence(text, pos);
    if (length < 0) return false;
    pos += length;
  }
  return true;
}

std::string to_valid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + 8);
  for (size_t pos = 0; pos < bytes.size();) {
    const int length = inspect_sequence(bytes, pos);
    if (length > 0) {
      out.append(bytes.data() + pos, length);
      pos += length;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      pos += -length;
    }
  }
  return out;
}

size_t sequence_length(unsigned char lead_byte) {
  if (lead_byte < 0x80) return 1;
  if (lead_byte < 0xE0) return 2;
  if (lead_byte < 0xF0) return 3;
  return 4;
}

char32_t decode_next(std::string_view text, size_t& pos) {
  const unsigned char lead = static_cast<unsigned char>(text[pos]);
  const size_t length = sequence_length(lead);
  char32_t code_point = length == 1 ? lead : length == 2 ? (lead & 0x1F) : length == 3 ? (lead & 0x0F) : (lead & 0x07);
  for (size_t i = 1; i < length; ++i) {
    code_point = (code_point << 6) | (static_cast<unsigned char>(text[pos + i]) & 0x3F);
  }
  pos += length;
  return code_point;
}

void append_utf8(std::string& out, char32_t code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

std::u32string utf8_decode(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    char32_t code_point = byte;
    if (byte >= 0x80) {
      if ((byte & 0xE0) == 0xC0)
        extra = 1, code_point = byte & 0x1F;
      else if ((byte & 0xF0) == 0xE0)
        extra = 2, code_point = byte & 0x0F;
      else if ((byte & 0xF8) == 0xF0)
        extra = 3, code_point = byte & 0x07;
      else
        extra = 4;  // not a lead byte
    }
    bool valid = extra < 4 && i + extra < text.size();
    for (size_t k = 1; valid && k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if (!valid) {
      out += U'\uFFFD';
      ++i;
      continue;
    }
    out += code_point;
    i += extra + 1;
  }
  return out;
}

std::string utf8_encode(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) append_utf8(out, c);
  return out;
}

}  // namespace precept::core::utf8
