// Python's string behaviour where precept must match it byte for byte: json.dumps(obj,
// ensure_ascii=False) for the judge's user message (whose bytes the RewardAnything model was
// trained on), float repr, str.isspace and str.strip. Not a JSON parser and not a pretty printer.
// Used by reward/judge_prompt.cpp, reward/judge_parser.cpp and the template engine (text/jinja/).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace precept::core {

// json.dumps(value, ensure_ascii=False) with Python's defaults:
//  - separators ", " and ": ", no indentation, keys in the order of the ordered_json (insertion
//    order, as a Python dict keeps it);
//  - strings: \" \\ \n \r \t \b \f escaped; every other code point below 0x20 as \u00XX in
//    lower-case hex; everything else, 0x7f, '/' and all non-ASCII included, written as its UTF-8;
//  - integers in decimal; floats as Python's repr ("1.0", "1e-05", "1e+16"), NaN, Infinity and
//    -Infinity as Python writes them (allow_nan=True);
//  - a string holding invalid UTF-8 (which a Python str cannot) is first repaired as
//    bytes.decode("utf-8", "replace") would: each maximal ill-formed subsequence becomes U+FFFD.
std::string python_json_dumps(const nlohmann::ordered_json& value);

// One string as json.dumps(text, ensure_ascii=...) writes it, quotes included: with
// ensure_ascii every code point from 0x7f up is \uXXXX (surrogate pairs above 0xffff).
std::string python_json_string(std::string_view text, bool ensure_ascii = false);

// A float as json.dumps writes it: repr, and NaN, Infinity, -Infinity (allow_nan=True).
std::string python_json_float(double value);

// Python float repr: shortest round-trip digits, "1.0", "1e-05", "1e+16", "inf", "nan".
std::string float_repr(double value);

// str.isspace() for one code point: ASCII whitespace, \x1c-\x1f, \x85, \xa0, U+1680,
// U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
bool is_python_space(char32_t code_point);

// str.strip(chars) / lstrip / rstrip; `chars` absent means whitespace as is_python_space.
// Invalid UTF-8 bytes become U+FFFD.
std::string python_strip(std::string_view text, const std::optional<std::string>& chars = std::nullopt,
                         bool left = true, bool right = true);

}  // namespace precept::core
