// UTF-8, once for every layer: validity, repair as Python and Rust do it, code point iteration
// and encoding. Not Unicode properties or normalization (text/unicode.h has those).
// Used by core/python_strings.cpp, the tokenizers, the template engine and the judge parser.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace precept::core::utf8 {

bool is_valid_utf8(std::string_view text);

// Replaces every maximal ill-formed subsequence with U+FFFD ("substitution of maximal subparts",
// the Unicode Standard §3.9): byte for byte what Python's bytes.decode("utf-8", "replace") and
// Rust's String::from_utf8_lossy give. Valid input comes back unchanged.
std::string to_valid_utf8(std::string_view bytes);

// The code point at text[pos] of valid UTF-8; advances pos past it.
char32_t decode_next(std::string_view text, size_t& pos);

// Byte length of the UTF-8 sequence that starts with this lead byte of valid UTF-8.
size_t sequence_length(unsigned char lead_byte);

void append_utf8(std::string& out, char32_t code_point);

// All code points of a string; each invalid byte becomes one U+FFFD (the template engine's rule).
std::u32string utf8_decode(std::string_view text);
std::string utf8_encode(std::u32string_view text);

}  // namespace precept::core::utf8
