// A principle: the natural-language standard the judge scores responses against, read from its
// own TOML file so that many recipes can share it (configs/principles/*.toml). Not the judge's
// prompt (reward/judge_prompt.h). Used by the judge's configuration and the command line.
//
// File format, every key at the top level:
//   name        = "concise"                 # optional string; default: the file name's stem
//   description = "One line for humans"     # optional string; never shown to the judge
//   text        = """..."""                 # required string, not empty: what the judge reads
// Any other key, a key of the wrong type and a TOML syntax error are errors naming the file,
// the line and the key. `text` (and the others) are stripped of leading and trailing
// whitespace, so a multi-line string does not end the principle with a newline.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace precept::reward {

struct Principle {
  std::string name;
  std::string text;
  std::string description;  // "" when absent
  std::string source;       // the file it came from (or the name given to parse_principle)
};

// Throws std::runtime_error naming the file when it is missing or unreadable, and as above.
Principle load_principle(const std::filesystem::path& file);

// The same from TOML text; `source` names it in errors and gives the default name (its stem).
Principle parse_principle(std::string_view toml_text, const std::string& source);

}  // namespace precept::reward
