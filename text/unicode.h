// UTF-8 and Unicode helpers for the tokenizers: repairing invalid UTF-8 the way Python and Rust
// do, code point iteration, the normalization forms (through utf8proc), White_Space, and the
// byte <-> character alphabet of byte-level BPE. Not a general text library.
// Used by text/bpe_tokenizer.cpp and text/bpe_pretokenizer.cpp.
#pragma once

#include "core/utf8.h"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace precept::text::unicode {

// UTF-8 itself lives in core/utf8.h; these names stay available here for the tokenizers.
using core::utf8::append_utf8;
using core::utf8::decode_next;
using core::utf8::is_valid_utf8;
using core::utf8::sequence_length;
using core::utf8::to_valid_utf8;

// ---------------------------------------------------------------------------------------------
// Normalization and character classes

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };

// The normal form of valid UTF-8, through utf8proc (whose Unicode version may lag the one of
// Hugging Face's unicode-normalization crate for characters assigned after it).
std::string normalize(std::string_view valid_utf8, NormalForm form);

// The Unicode White_Space property: Rust's char::is_whitespace and Oniguruma's \s.
bool is_white_space(char32_t code_point);

// A word character in the sense of Rust's regex \w (letters, marks, decimal and letter numbers,
// connector punctuation, ZWNJ/ZWJ), from utf8proc's general categories.
bool is_word_char(char32_t code_point);

// ---------------------------------------------------------------------------------------------
// The byte-level alphabet of GPT-2: each of the 256 byte values is written as one printable
// character ("Ġ" for the space, "Ċ" for '\n'); vocab.json and merges.txt spell tokens with it.

// The UTF-8 of the character that stands for this byte.
std::string_view byte_to_char(unsigned char byte);
// The bytes a byte-level string stands for; nullopt when it holds a character outside the
// alphabet (or is not valid UTF-8).
std::optional<std::string> byte_level_to_bytes(std::string_view text);
// Spells raw bytes with the byte-level alphabet.
std::string bytes_to_byte_level(std::string_view bytes);

}  // namespace precept::text::unicode
