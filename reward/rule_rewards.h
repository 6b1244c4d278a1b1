// Rule rewards: numbers computed from a response's text with no model. A length target, regular
// expressions the response must or must not match (PCRE2), and a verifiable answer checked
// against a reference in the group's record (exact text or a number). Not a judge and not a
// learned reward; each is a reward::Reward configured by a plain struct, usable alone or inside
// a reward::CompositeReward. They never throw because of what a response says; bad
// configuration (a pattern that does not compile, a record without its reference) throws.
// See docs/rewards.md for the formulas and the [reward] config keys.
#pragma once

#include "reward/reward.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace precept::text {
class Tokenizer;
}

namespace precept::reward {

// ---------------------------------------------------------------------------------------------
// Length target

enum class LengthUnit { characters, words, tokens };
// "characters" | "words" | "tokens"; throws naming `where` otherwise.
LengthUnit length_unit_from_name(const std::string& name, const std::string& where);

struct LengthRewardConfig {
  std::string name = "length";
  LengthUnit unit = LengthUnit::words;
  // Full reward for a length in the band [min, max]; outside it the reward falls linearly to 0
  // over `falloff_below` units under min and `falloff_above` units over max (0 = a hard edge).
  // Unset fall-offs default to min and max, so a single target t (min = max = t) gives
  // 1 - |len - t| / t clipped to [0, 1].
  double min = 0;
  double max = 0;
  std::optional<double> falloff_below;
  std::optional<double> falloff_above;
};

// Code points of UTF-8 text; each ill-formed subsequence counts as one (it decodes to one U+FFFD).
int64_t count_characters(std::string_view text);
// Maximal runs of non-White_Space code points (text without spaces, e.g. Chinese, is one word).
int64_t count_words(std::string_view text);
// The band-with-fall-off formula above, for one length; config must be valid (see LengthReward).
double length_band_reward(double length, const LengthRewardConfig& config);

class LengthReward : public Reward {
 public:
  // `tokenizer` is needed (and used) only for LengthUnit::tokens: encode(response, false).size().
  // Throws on min < 0, max < min, max == 0, negative fall-offs, or tokens without a tokenizer.
  explicit LengthReward(LengthRewardConfig config, std::shared_ptr<const text::Tokenizer> tokenizer = nullptr);
  std::string name() const override { return config_.name; }
  GroupScores score(const Group& group) override;
  int64_t length_of(const std::string& response) const;  // in config.unit

 private:
  LengthRewardConfig config_;
  std::shared_ptr<const text::Tokenizer> tokenizer_;
};

// ---------------------------------------------------------------------------------------------
// Regular expressions

enum class RegexCombine {
  all,       // 1 when every must_match pattern matches and no must_not_match pattern does, else 0
  fraction,  // the fraction of patterns satisfied (a must_match that matches, a must_not_match that does not)
};
RegexCombine regex_combine_from_name(const std::string& name, const std::string& where);

struct RegexRewardConfig {
  std::string name = "regex";
  // PCRE2 patterns in UTF-8 mode with Unicode properties (\w, \d, \b are Unicode-aware); a
  // pattern matches when it is found anywhere in the response (anchor it with ^, $, \A, \z).
  // Inline flags such as (?i), (?m), (?s) set case-insensitive, multi-line and dot-all.
  std::vector<std::string> must_match;
  std::vector<std::string> must_not_match;
  RegexCombine combine = RegexCombine::all;
};

// Not safe to call from several threads at once: each pattern keeps one match buffer.
class RegexReward : public Reward {
 public:
  // Compiles every pattern; one that does not compile throws naming the reward, the pattern,
  // PCRE2's message and the offset. No patterns at all is an error too.
  explicit RegexReward(RegexRewardConfig config);
  ~RegexReward() override;
  RegexReward(const RegexReward&) = delete;
  RegexReward& operator=(const RegexReward&) = delete;
  std::string name() const override { return config_.name; }
  // Ill-formed UTF-8 in a response is matched after repair (U+FFFD per bad subsequence). A match
  // that runs out of PCRE2's match or depth limit (catastrophic backtracking) makes the response
  // invalid: reward 0, counted in failures, the pattern named in diagnostics.
  GroupScores score(const Group& group) override;

 private:
  class Pattern;
  RegexRewardConfig config_;
  std::vector<std::unique_ptr<Pattern>> must_, must_not_;
};

// ---------------------------------------------------------------------------------------------
// Verifiable answers

enum class MatchMode {
  exact,    // the final answer's text equals the reference after normalisation
  numeric,  // the final answer's number equals the reference's within tolerance
};
MatchMode match_mode_from_name(const std::string& name, const std::string& where);

struct TextNormalization {
  bool trim = true;                 // drop leading and trailing White_Space
  bool case_fold = true;            // Unicode case folding (utf8proc), NFC
  bool collapse_whitespace = true;  // every run of White_Space becomes one space
};

struct MatchRewardConfig {
  std::string name = "match";
  std::string reference_field = "answer";  // key of the group's record: a string, a number, or a list of them
  MatchMode mode = MatchMode::numeric;
  TextNormalization normalization;  // exact mode
  // numeric mode: |a - b| <= max(absolute_tolerance, relative_tolerance * max(|a|, |b|))
  double relative_tolerance = 1e-6;
  double absolute_tolerance = 1e-9;
  double correct = 1.0;    // reward for a match
  double incorrect = 0.0;  // reward otherwise, including when no answer can be found
};

// The text of the last \boxed{...} (braces balanced), if any.
std::optional<std::string> last_boxed(std::string_view text);
// The final answer's text: the last \boxed{...}, else what follows the last "####" (GSM8K),
// else the whole text.
std::string final_answer_text(std::string_view text);
// Trim / case-fold / collapse as configured. Never throws (ill-formed UTF-8 is repaired first).
std::string normalize_answer(std::string_view text, const TextNormalization& normalization);

struct ParsedNumber {
  double value = 0;
  std::string text;  // as written, e.g. "-1,234.5" or "3/4"
};
// The last number written in text: an optional minus sign (not after a letter, digit or ')'),
// digits with optional ',' thousands groups of three, an optional decimal part or a leading
// '.5', or a simple fraction a/b of such integers (b != 0). Also reads \frac{a}{b}, \dfrac and
// \tfrac, LaTeX's 1{,}000 and 1\,000, and U+2212 as minus. Scientific notation is not read.
std::optional<ParsedNumber> last_number(std::string_view text);
// The number a response gives as its final answer: inside the last \boxed{...} if there is one
// (its last number), else the last number of the whole text.
std::optional<ParsedNumber> final_answer_number(std::string_view text);
bool numbers_match(double a, double b, double relative_tolerance, double absolute_tolerance);

class MatchReward : public Reward {
 public:
  // Throws on negative or non-finite tolerances and an empty reference_field.
  explicit MatchReward(MatchRewardConfig config);
  std::string name() const override { return config_.name; }
  // Throws (configuration, not model output) when the record lacks reference_field, naming the
  // field and listing the record's keys, or when the reference holds no usable answer.
  GroupScores score(const Group& group) override;

 private:
  MatchRewardConfig config_;
};

}  // namespace precept::reward
