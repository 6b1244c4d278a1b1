// Rule rewards: see rule_rewards.h and docs/rewards.md.
#include "reward/rule_rewards.h"

#include "text/tokenizer.h"
#include "text/unicode.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace precept::reward {
namespace unicode = text::unicode;
using json = nlohmann::json;

namespace {

void require_responses(const Group& group, const std::string& reward) {
  if (group.responses.empty()) throw std::invalid_argument(reward + ": a group needs at least one response");
}

GroupScores empty_scores(size_t count) {
  GroupScores scores;
  scores.rewards.assign(count, 0.0);
  scores.valid.assign(count, true);
  return scores;
}

// A number for messages: 5, 0.25, 1e+20 (not 5.000000).
std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ascii_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// At most `limit` bytes of text for diagnostics, cut at a character boundary.
std::string clip_for_log(const std::string& text, size_t limit = 160) {
  if (text.size() <= limit) return text;
  size_t end = limit;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "...";
}

std::vector<char32_t> code_points(std::string_view text) {
  const std::string valid = unicode::to_valid_utf8(text);
  std::vector<char32_t> out;
  for (size_t pos = 0; pos < valid.size();) out.push_back(unicode::decode_next(valid, pos));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Length target

LengthUnit length_unit_from_name(const std::string& name, const std::string& where) {
  if (name == "characters") return LengthUnit::characters;
  if (name == "words") return LengthUnit::words;
  if (name == "tokens") return LengthUnit::tokens;
  throw std::invalid_argument(where + ": length unit '" + name + "' is not one of characters, words, tokens");
}

int64_t count_characters(std::string_view text) { return static_cast<int64_t>(code_points(text).size()); }

int64_t count_words(std::string_view text) {
  int64_t words = 0;
  bool in_word = false;
  for (char32_t c : code_points(text)) {
    const bool space = unicode::is_white_space(c);
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

double length_band_reward(double length, const LengthRewardConfig& config) {
  if (length < config.min) {
    const double falloff = config.falloff_below.value_or(config.min);
    return falloff > 0 ? std::max(0.0, 1.0 - (config.min - length) / falloff) : 0.0;
  }
  if (length > config.max) {
    const double falloff = config.falloff_above.value_or(config.max);
    return falloff > 0 ? std::max(0.0, 1.0 - (length - config.max) / falloff) : 0.0;
  }
  return 1.0;
}

LengthReward::LengthReward(LengthRewardConfig config, std::shared_ptr<const text::Tokenizer> tokenizer)
    : config_(std::move(config)), tokenizer_(std::move(tokenizer)) {
  const std::string where = "length reward '" + config_.name + "'";
  const auto finite_non_negative = [&](double value, const char* key) {
    if (!std::isfinite(value) || value < 0) {
      throw std::invalid_argument(where + ": " + key + " must be a finite number >= 0, not " + number_text(value));
    }
  };
  finite_non_negative(config_.min, "min");
  finite_non_negative(config_.max, "max");
  if (config_.falloff_below) finite_non_negative(*config_.falloff_below, "falloff_below");
  if (config_.falloff_above) finite_non_negative(*config_.falloff_above, "falloff_above");
  if (config_.max <= 0) throw std::invalid_argument(where + ": max must be > 0 (the upper edge of the target band)");
  if (config_.max < config_.min) {
    throw std::invalid_argument(where + ": max (" + number_text(config_.max) + ") is below min (" +
                                number_text(config_.min) + ")");
  }
  if (config_.unit == LengthUnit::tokens && !tokenizer_) {
    throw std::invalid_argument(where + ": unit = tokens needs a tokenizer (the policy's)");
  }
}

int64_t LengthReward::length_of(const std::string& response) const {
  switch (config_.unit) {
    case LengthUnit::characters: return count_characters(response);
    case LengthUnit::words: return count_words(response);
    case LengthUnit::tokens: return static_cast<int64_t>(tokenizer_->encode(response, /*add_special=*/false).size());
  }
  return 0;
}

GroupScores LengthReward::score(const Group& group) {
  require_responses(group, name());
  GroupScores scores = empty_scores(group.responses.size());
  json lengths = json::array();
  for (size_t i = 0; i < group.responses.size(); ++i) {
    try {
      const int64_t length = length_of(group.responses[i]);
      scores.rewards[i] = length_band_reward(static_cast<double>(length), config_);
      lengths.push_back(length);
    } catch (const std::exception& error) {  // a tokenizer that rejects the text
      scores.valid[i] = false;
      ++scores.failures;
      lengths.push_back(nullptr);
      scores.diagnostics["errors"][std::to_string(i)] = error.what();
    }
  }
  const char* unit = config_.unit == LengthUnit::characters ? "characters"
                     : config_.unit == LengthUnit::words    ? "words"
                                                             : "tokens";
  scores.diagnostics["unit"] = unit;
  scores.diagnostics["lengths"] = lengths;
  return scores;
}

// ---------------------------------------------------------------------------------------------
// Regular expressions

RegexCombine regex_combine_from_name(const std::string& name, const std::string& where) {
  if (name == "all") return RegexCombine::all;
  if (name == "fraction") return RegexCombine::fraction;
  throw std::invalid_argument(where + ": regex combine '" + name + "' is not one of all, fraction");
}

namespace {
std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}
}  // namespace

// One compiled pattern. Matching reports a match, no match, or PCRE2's error (a limit hit).
class RegexReward::Pattern {
 public:
  Pattern(const std::string& source, const std::string& where) : source_(source) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(), PCRE2_UTF | PCRE2_UCP,
                          &error_code, &error_offset, nullptr);
    if (code_ == nullptr) {
      throw std::invalid_argument(where + ": pattern '" + source + "' does not compile: " + pcre2_message(error_code) +
                                  " (PCRE2, at offset " + std::to_string(error_offset) + ")");
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // the interpreter stands in where JIT is unavailable
    match_data_ = pcre2_match_data_create_from_pattern(code_, nullptr);
    context_ = pcre2_match_context_create(nullptr);
    jit_stack_ = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    if (!match_data_ || !context_ || !jit_stack_) throw std::runtime_error("PCRE2: out of memory for '" + source + "'");
    pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
  }
  ~Pattern() {
    pcre2_jit_stack_free(jit_stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(match_data_);
    pcre2_code_free(code_);
  }
  Pattern(const Pattern&) = delete;
  Pattern& operator=(const Pattern&) = delete;

  // 1 = found, 0 = not found, < 0 = PCRE2 error code. `subject` must be valid UTF-8.
  int find(const std::string& subject) const {
    const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                               PCRE2_NO_UTF_CHECK, match_data_, context_);
    if (rc == PCRE2_ERROR_NOMATCH) return 0;
    return rc >= 0 ? 1 : rc;
  }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  pcre2_code* code_ = nullptr;
  pcre2_match_data* match_data_ = nullptr;
  pcre2_match_context* context_ = nullptr;
  pcre2_jit_stack* jit_stack_ = nullptr;
};

RegexReward::RegexReward(RegexRewardConfig config) : config_(std::move(config)) {
  const std::string where = "regex reward '" + config_.name + "'";
  if (config_.must_match.empty() && config_.must_not_match.empty()) {
    throw std::invalid_argument(where + ": no patterns (give must_match and/or must_not_match)");
  }
  for (const auto& source : config_.must_match) must_.push_back(std::make_unique<Pattern>(source, where + " must_match"));
  for (const auto& source : config_.must_not_match) {
    must_not_.push_back(std::make_unique<Pattern>(source, where + " must_not_match"));
  }
}

RegexReward::~RegexReward() = default;

GroupScores RegexReward::score(const Group& group) {
  require_responses(group, name());
  GroupScores scores = empty_scores(group.responses.size());
  json missing = json::array(), forbidden = json::array();
  const double total = static_cast<double>(must_.size() + must_not_.size());
  for (size_t i = 0; i < group.responses.size(); ++i) {
    const std::string subject = unicode::to_valid_utf8(group.responses[i]);
    json missing_here = json::array(), forbidden_here = json::array();
    std::string error;
    int satisfied = 0;
    const auto check = [&](const Pattern& pattern, bool want) {
      const int found = pattern.find(subject);
      if (found < 0) {
        if (error.empty()) error = "pattern '" + pattern.source() + "': " + pcre2_message(found);
        return;
      }
      if ((found == 1) == want) ++satisfied;
      else (want ? missing_here : forbidden_here).push_back(pattern.source());
    };
    for (const auto& pattern : must_) check(*pattern, true);
    for (const auto& pattern : must_not_) check(*pattern, false);
    if (!error.empty()) {
      scores.valid[i] = false;
      ++scores.failures;
      scores.diagnostics["errors"][std::to_string(i)] = error;
    } else if (config_.combine == RegexCombine::all) {
      scores.rewards[i] = satisfied == static_cast<int>(total) ? 1.0 : 0.0;
    } else {
      scores.rewards[i] = satisfied / total;
    }
    missing.push_back(std::move(missing_here));
    forbidden.push_back(std::move(forbidden_here));
  }
  scores.diagnostics["missing"] = missing;
  scores.diagnostics["forbidden"] = forbidden;
  return scores;
}

// ---------------------------------------------------------------------------------------------
// Verifiable answers: text

MatchMode match_mode_from_name(const std::string& name, const std::string& where) {
  if (name == "exact") return MatchMode::exact;
  if (name == "numeric") return MatchMode::numeric;
  throw std::invalid_argument(where + ": answer match mode '" + name + "' is not one of exact, numeric");
}

namespace {

// The argument of a LaTeX command at text[pos] == '{': its content and the position after the
// closing brace, or nullopt when the braces do not balance.
std::optional<std::pair<std::string, size_t>> braced_argument(std::string_view text, size_t pos) {
  if (pos >= text.size() || text[pos] != '{') return std::nullopt;
  int depth = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    if (text[i] == '{') ++depth;
    else if (text[i] == '}' && --depth == 0) return std::make_pair(std::string(text.substr(pos + 1, i - pos - 1)), i + 1);
  }
  return std::nullopt;
}

size_t skip_spaces(std::string_view text, size_t pos) {
  while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  return pos;
}

}  // namespace

std::optional<std::string> last_boxed(std::string_view text) {
  static constexpr std::string_view kBoxed = "\\boxed";
  size_t end = text.size();
  while (end > 0) {
    const size_t at = text.rfind(kBoxed, end - 1);
    if (at == std::string_view::npos) break;
    if (auto argument = braced_argument(text, skip_spaces(text, at + kBoxed.size()))) return argument->first;
    end = at;  // unbalanced (e.g. cut off): try an earlier one
  }
  return std::nullopt;
}

std::string final_answer_text(std::string_view text) {
  if (auto boxed = last_boxed(text)) return *boxed;
  const size_t marker = text.rfind("####");
  if (marker != std::string_view::npos) return std::string(text.substr(marker + 4));
  return std::string(text);
}

std::string normalize_answer(std::string_view text, const TextNormalization& normalization) {
  std::string valid = unicode::to_valid_utf8(text);
  if (normalization.case_fold) {
    utf8proc_uint8_t* mapped = nullptr;
    const utf8proc_ssize_t length =
        utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()), static_cast<utf8proc_ssize_t>(valid.size()),
                     &mapped, static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD));
    if (length >= 0) valid.assign(reinterpret_cast<const char*>(mapped), static_cast<size_t>(length));
    std::free(mapped);  // on failure (e.g. unassigned code points) the text stays as it was
  }
  if (!normalization.trim && !normalization.collapse_whitespace) return valid;
  std::string out;
  std::string pending_space;  // whitespace seen since the last non-space character
  bool seen_text = false;
  for (size_t pos = 0; pos < valid.size();) {
    const size_t start = pos;
    const char32_t c = unicode::decode_next(valid, pos);
    if (unicode::is_white_space(c)) {
      if (normalization.collapse_whitespace) pending_space = " ";
      else pending_space.append(valid, start, pos - start);
      continue;
    }
    if (!pending_space.empty() && (seen_text || !normalization.trim)) out += pending_space;
    pending_space.clear();
    out.append(valid, start, pos - start);
    seen_text = true;
  }
  if (!normalization.trim) out += pending_space;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Verifiable answers: numbers

namespace {

bool is_plain_integer(std::string_view text) {
  size_t start = text.size() > 0 && text[0] == '-' ? 1 : 0;
  if (start == text.size()) return false;
  for (size_t i = start; i < text.size(); ++i) {
    if (!is_digit(text[i])) return false;
  }
  return true;
}

std::string trimmed(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
  return std::string(text.substr(begin, end - begin));
}

// LaTeX spellings of numbers rewritten as plain text: \frac{a}{b} (and \dfrac, \tfrac) of
// integers -> a/b, 1{,}000 and 1\,000 -> 1,000, U+2212 MINUS SIGN -> '-'.
std::string plain_numbers(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '\\') {
      bool replaced = false;
      for (std::string_view command : {"\\frac", "\\dfrac", "\\tfrac"}) {
        if (text.substr(i, command.size()) != command) continue;
        auto numerator = braced_argument(text, skip_spaces(text, i + command.size()));
        if (!numerator) break;
        auto denominator = braced_argument(text, skip_spaces(text, numerator->second));
        if (!denominator) break;
        const std::string a = trimmed(numerator->first), b = trimmed(denominator->first);
        if (is_plain_integer(a) && is_plain_integer(b) && b[0] != '-') {
          out += a + "/" + b;
          i = denominator->second;
          replaced = true;
        }
        break;
      }
      if (replaced) continue;
      if (text.substr(i, 2) == "\\," && !out.empty() && is_digit(out.back()) && i + 2 < text.size() &&
          is_digit(text[i + 2])) {
        out += ',';
        i += 2;
        continue;
      }
    }
    if (text.substr(i, 3) == "{,}") {
      out += ',';
      i += 3;
      continue;
    }
    if (text.substr(i, 3) == "\xE2\x88\x92") {  // U+2212
      out += '-';
      i += 3;
      continue;
    }
    out += text[i++];
  }
  return out;
}

size_t digit_run(std::string_view text, size_t pos) {
  size_t end = pos;
  while (end < text.size() && is_digit(text[end])) ++end;
  return end - pos;
}

std::optional<double> to_double(const std::string& digits) {
  double value = 0;
  const auto result = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (result.ec != std::errc() || result.ptr != digits.data() + digits.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// The number that starts at text[pos] (a '-', a digit, or a '.' before a digit), and where it
// ends; nullopt when nothing numeric starts there.
std::optional<std::pair<ParsedNumber, size_t>> number_at(std::string_view text, size_t pos) {
  size_t i = pos;
  std::string digits;  // what from_chars reads: sign, digits without separators, decimal part
  if (text[i] == '-') {
    digits += '-';
    ++i;
  }
  const size_t integer_digits = digit_run(text, i);
  bool grouped = false, decimal = false;
  digits.append(text.substr(i, integer_digits));
  i += integer_digits;
  // Thousands groups: ",ddd" not followed by another digit, after a first group of 1..3 digits.
  if (integer_digits >= 1 && integer_digits <= 3) {
    while (i + 3 < text.size() && text[i] == ',' && digit_run(text, i + 1) == 3) {
      digits.append(text.substr(i + 1, 3));
      i += 4;
      grouped = true;
    }
  }
  if (i + 1 < text.size() && text[i] == '.' && is_digit(text[i + 1])) {
    const size_t fraction_digits = digit_run(text, i + 1);
    if (integer_digits == 0) digits += '0';
    digits.append(text.substr(i, 1 + fraction_digits));
    i += 1 + fraction_digits;
    decimal = true;
  }
  if (integer_digits == 0 && !decimal) return std::nullopt;
  auto value = to_double(digits);
  if (!value) return std::nullopt;
  ParsedNumber number{*value, std::string(text.substr(pos, i - pos))};
  // A simple fraction a/b of plain integers, not part of a date-like a/b/c.
  const bool after_slash = pos > 0 && text[pos - 1] == '/';
  if (!grouped && !decimal && !after_slash && i + 1 < text.size() && text[i] == '/' && is_digit(text[i + 1])) {
    const size_t denominator_digits = digit_run(text, i + 1);
    const size_t end = i + 1 + denominator_digits;
    const bool continues = end < text.size() && (text[end] == '/' || (text[end] == '.' && end + 1 < text.size() &&
                                                                       is_digit(text[end + 1])));
    auto denominator = to_double(std::string(text.substr(i + 1, denominator_digits)));
    if (!continues && denominator && *denominator != 0) {
      number.value = *value / *denominator;
      number.text = std::string(text.substr(pos, end - pos));
      i = end;
    }
  }
  return std::make_pair(number, i);
}

}  // namespace

std::optional<ParsedNumber> last_number(std::string_view raw) {
  const std::string text = plain_numbers(raw);
  std::optional<ParsedNumber> last;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    const char before = i > 0 ? text[i - 1] : ' ';
    bool starts = is_digit(c);
    if (c == '.') starts = i + 1 < text.size() && is_digit(text[i + 1]) && !is_digit(before);
    if (c == '-') {
      const bool sign_allowed = !is_ascii_alnum(before) && before != ')' && before != '.';
      const size_t next = i + 1;
      starts = sign_allowed && next < text.size() &&
               (is_digit(text[next]) || (text[next] == '.' && next + 1 < text.size() && is_digit(text[next + 1])));
    }
    if (!starts) {
      ++i;
      continue;
    }
    if (auto found = number_at(text, i)) {
      last = found->first;
      i = found->second;
    } else {  // e.g. digits too many for a double: skip them all, so a long run stays linear
      i += (c == '-' || c == '.') ? 1 : digit_run(text, i);
    }
  }
  return last;
}

std::optional<ParsedNumber> final_answer_number(std::string_view text) {
  if (auto boxed = last_boxed(text)) return last_number(*boxed);
  return last_number(text);
}

bool numbers_match(double a, double b, double relative_tolerance, double absolute_tolerance) {
  if (!std::isfinite(a) || !std::isfinite(b)) return false;
  const double bound = std::max(absolute_tolerance, relative_tolerance * std::max(std::abs(a), std::abs(b)));
  return std::abs(a - b) <= bound;
}

// ---------------------------------------------------------------------------------------------
// Verifiable answers: the reward

namespace {

std::string record_keys(const json& record) {
  if (!record.is_object()) return std::string("(the record is ") + record.type_name() + ", not an object)";
  std::string keys;
  for (const auto& item : record.items()) keys += (keys.empty() ? "" : ", ") + item.key();
  return keys.empty() ? "(no keys)" : keys;
}

// The reference answers of a record, as strings or numbers.
std::vector<json> reference_values(const json& record, const std::string& field, const std::string& where) {
  if (!record.is_object() || !record.contains(field)) {
    throw std::invalid_argument(where + ": the record has no field \"" + field + "\" holding the reference answer; its keys: " +
                                record_keys(record));
  }
  const json& value = record[field];
  std::vector<json> values;
  if (value.is_array()) {
    for (const auto& item : value) values.push_back(item);
  } else {
    values.push_back(value);
  }
  if (values.empty()) throw std::invalid_argument(where + ": the record's \"" + field + "\" is an empty list");
  for (const auto& item : values) {
    if (!item.is_string() && !item.is_number()) {
      throw std::invalid_argument(where + ": the record's \"" + field + "\" must be a string, a number or a list of them, not " +
                                  item.type_name() + " (" + item.dump() + ")");
    }
  }
  return values;
}

// A reference string's answer part: what follows the last "####" (GSM8K), else all of it.
std::string reference_text(const std::string& reference) {
  const size_t marker = reference.rfind("####");
  return marker == std::string::npos ? reference : reference.substr(marker + 4);
}

}  // namespace

MatchReward::MatchReward(MatchRewardConfig config) : config_(std::move(config)) {
  const std::string where = "match reward '" + config_.name + "'";
  if (config_.reference_field.empty()) throw std::invalid_argument(where + ": reference_field is empty");
  for (auto [value, key] : {std::pair{config_.relative_tolerance, "relative_tolerance"},
                            std::pair{config_.absolute_tolerance, "absolute_tolerance"}}) {
    if (!std::isfinite(value) || value < 0) {
      throw std::invalid_argument(where + ": " + key + " must be a finite number >= 0, not " + number_text(value));
    }
  }
  if (!std::isfinite(config_.correct) || !std::isfinite(config_.incorrect)) {
    throw std::invalid_argument(where + ": correct and incorrect must be finite");
  }
}

GroupScores MatchReward::score(const Group& group) {
  require_responses(group, name());
  const std::string where = "match reward '" + config_.name + "'";
  const std::vector<json> references = reference_values(group.record, config_.reference_field, where);
  GroupScores scores = empty_scores(group.responses.size());
  json extracted = json::array(), reference_diagnostics = json::array();

  if (config_.mode == MatchMode::numeric) {
    std::vector<double> targets;
    for (const auto& reference : references) {
      if (reference.is_number()) {
        targets.push_back(reference.get<double>());
      } else {
        const std::string text = reference_text(reference.get<std::string>());
        std::optional<ParsedNumber> number = final_answer_number(text);
        if (!number) {
          throw std::invalid_argument(where + ": the record's \"" + config_.reference_field + "\" (" + reference.dump() +
                                      ") holds no number to compare with (mode = numeric)");
        }
        targets.push_back(number->value);
      }
      reference_diagnostics.push_back(targets.back());
    }
    for (size_t i = 0; i < group.responses.size(); ++i) {
      std::optional<ParsedNumber> answer = final_answer_number(group.responses[i]);
      bool correct = false;
      if (answer) {
        for (double target : targets) {
          correct |= numbers_match(answer->value, target, config_.relative_tolerance, config_.absolute_tolerance);
        }
      }
      scores.rewards[i] = correct ? config_.correct : config_.incorrect;
      extracted.push_back(answer ? json(answer->text) : json(nullptr));
    }
  } else {
    std::vector<std::string> targets;
    for (const auto& reference : references) {
      const std::string text = reference.is_string() ? final_answer_text(reference_text(reference.get<std::string>()))
                                                     : reference.dump();
      targets.push_back(normalize_answer(text, config_.normalization));
      reference_diagnostics.push_back(clip_for_log(targets.back()));
    }
    for (size_t i = 0; i < group.responses.size(); ++i) {
      const std::string answer = normalize_answer(final_answer_text(group.responses[i]), config_.normalization);
      const bool correct = std::find(targets.begin(), targets.end(), answer) != targets.end();
      scores.rewards[i] = correct ? config_.correct : config_.incorrect;
      extracted.push_back(clip_for_log(answer));
    }
  }
  scores.diagnostics["reference"] = reference_diagnostics;
  scores.diagnostics["extracted"] = extracted;
  return scores;
}

}  // namespace precept::reward
