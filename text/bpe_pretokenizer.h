// The pre-tokenizer of Hugging Face tokenizers as byte-level BPE vocabularies use it: Split steps
// (a regex or a literal, with the five split behaviors and invert) and the ByteLevel step
// (GPT-2's regex, prefix space), run in sequence over a piece of text to give the words that BPE
// merges within. Regexes are the files' own, compiled with PCRE2 (UTF + UCP); the one place
// where Oniguruma (which tokenizers uses) and PCRE2 read a pattern differently, \s, is translated.
// Not the added-token split or the normalizer (lm/bpe_tokenizer.cpp), and not the Metaspace,
// Whitespace or BERT pre-tokenizers. Used by BpeTokenizer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace precept::text {

// tokenizers' SplitDelimiterBehavior: what happens to the matches of a Split pattern.
enum class SplitBehavior {
  kRemoved,             // matches are dropped
  kIsolated,            // matches become pieces of their own
  kMergedWithPrevious,  // a match is appended to the piece before it
  kMergedWithNext,      // a match is prepended to the piece after it
  kContiguous,          // consecutive matches become one piece
};

struct PreTokenizerStep {
  enum class Kind { kSplit, kByteLevel };
  Kind kind = Kind::kSplit;
  // kSplit: a regex in Oniguruma syntax ({"Regex": ...}) or a literal string ({"String": ...}).
  std::string pattern;
  bool literal = false;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // the pieces between matches are the "matches"
  // kByteLevel (the last step when present): prepend ' ' to a piece that does not start with one,
  // then split it with GPT-2's regex when use_regex.
  bool add_prefix_space = false;
  bool use_regex = true;
};

// The pipeline of Qwen2's and Llama 3's tokenizers: an Isolated regex split, then ByteLevel
// without its own regex.
std::vector<PreTokenizerStep> regex_then_byte_level(std::string pattern, bool add_prefix_space);

// The regex the ByteLevel pre-tokenizer splits with when use_regex is true (GPT-2's).
extern const char* const kGpt2PreTokenizerPattern;

// Rewrites an Oniguruma pattern for PCRE2 (UTF + UCP) so that both match the same characters:
// \s and \S become classes of the Unicode White_Space property (PCRE2's \s also takes U+180E).
// Everything else is passed through; \S inside a character class is left to PCRE2.
std::string oniguruma_to_pcre2(std::string_view pattern);

class PreTokenizer {
 public:
  // Throws std::runtime_error naming the pattern when a regex does not compile, or when a
  // ByteLevel step is not the last.
  explicit PreTokenizer(std::vector<PreTokenizerStep> steps);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // Calls emit with each non-empty word of text (valid UTF-8), in order. A word is a view into
  // text or into a buffer that lives until emit returns.
  void split(std::string_view text, const std::function<void(std::string_view)>& emit) const;

  class Regex;  // a compiled PCRE2 pattern (lm/bpe_pretokenizer.cpp)

 private:
  void run(size_t step, std::string_view piece, const std::function<void(std::string_view)>& emit) const;

  std::vector<PreTokenizerStep> steps_;
  std::vector<std::unique_ptr<Regex>> regexes_;  // one per step; null for ByteLevel without regex
};

}  // namespace precept::text
