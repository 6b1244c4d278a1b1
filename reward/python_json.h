// JSON text exactly as Python's json.dumps(obj, ensure_ascii=False) writes it, for the judge's
// user message, whose bytes the RewardAnything model was trained on. Not a parser and not a
// pretty printer: one fixed format. Used by reward/judge_prompt.cpp.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace precept::reward {

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

// One string as json.dumps(text, ensure_ascii=False) writes it, quotes included.
std::string python_json_string(std::string_view text);

}  // namespace precept::reward
