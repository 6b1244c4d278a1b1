// PreTokenizer: see bpe_pretokenizer.h. The splitting rules follow tokenizers'
// NormalizedString::split and its Pattern::find_matches; the regex engine is PCRE2.
#include "text/bpe_pretokenizer.h"

#include "text/unicode.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <utility>

namespace precept::text {

const char* const kGpt2PreTokenizerPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// Unicode White_Space, the characters Oniguruma's \s matches, as the inside of a PCRE2 class.
constexpr const char* kWhiteSpaceClassBody =
    R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}

using Range = std::pair<size_t, size_t>;  // [start, end) byte offsets

}  // namespace

std::vector<PreTokenizerStep> regex_then_byte_level(std::string pattern, bool add_prefix_space) {
  PreTokenizerStep split;
  split.pattern = std::move(pattern);
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  byte_level.add_prefix_space = add_prefix_space;
  byte_level.use_regex = false;
  return {split, byte_level};
}

std::string oniguruma_to_pcre2(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 64);
  bool in_class = false;
  size_t i = 0;
  while (i < pattern.size()) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char escaped = pattern[i + 1];
      if (escaped == 'Q') {  // \Q...\E is literal text
        size_t end = pattern.find("\\E", i + 2);
        end = end == std::string_view::npos ? pattern.size() : end + 2;
        out.append(pattern.substr(i, end - i));
        i = end;
        continue;
      }
      if (escaped == 's') {
        if (in_class) {
          out += kWhiteSpaceClassBody;
        } else {
          out += '[';
          out += kWhiteSpaceClassBody;
          out += ']';
        }
        i += 2;
        continue;
      }
      if (escaped == 'S' && !in_class) {
        out += "[^";
        out += kWhiteSpaceClassBody;
        out += ']';
        i += 2;
        continue;
      }
      out += c;
      out += escaped;
      i += 2;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      ++i;
      if (i < pattern.size() && pattern[i] == '^') out += pattern[i++];
      if (i < pattern.size() && pattern[i] == ']') out += pattern[i++];  // a leading ']' is literal
      continue;
    }
    if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {  // [:alpha:]
      size_t end = pattern.find(":]", i + 2);
      end = end == std::string_view::npos ? pattern.size() : end + 2;
      out.append(pattern.substr(i, end - i));
      i = end;
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
    ++i;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

class PreTokenizer::Regex {
 public:
  Regex(const std::string& pattern, bool literal) : pattern_(pattern) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    const std::string compiled = literal ? pattern : oniguruma_to_pcre2(pattern);
    const uint32_t options = literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP);
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled.data()), compiled.size(), options, &error_code,
                          &error_offset, nullptr);
    if (code_ == nullptr) {
      throw std::runtime_error("pre-tokenizer regex '" + pattern + "' does not compile (PCRE2, at offset " +
                               std::to_string(error_offset) + "): " + pcre2_message(error_code));
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // falls back to the interpreter where JIT is unavailable
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Appends every match in text, left to right, as Oniguruma's find_iter gives them: after an
  // empty match the search moves on by one character, and an empty match right where the
  // previous match ended is skipped.
  void find_all(std::string_view text, std::vector<Range>& matches) const {
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match_data(
        pcre2_match_data_create_from_pattern(code_, nullptr), &pcre2_match_data_free);
    // A larger JIT stack and limits, made only when the defaults run out on a long input.
    std::unique_ptr<pcre2_jit_stack, decltype(&pcre2_jit_stack_free)> jit_stack(nullptr, &pcre2_jit_stack_free);
    std::unique_ptr<pcre2_match_context, decltype(&pcre2_match_context_free)> context(nullptr,
                                                                                      &pcre2_match_context_free);
    const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t offset = 0;
    size_t previous_end = std::string_view::npos;
    while (offset <= text.size()) {
      const int rc = pcre2_match(code_, subject, text.size(), offset, PCRE2_NO_UTF_CHECK, match_data.get(),
                                 context.get());
      if (rc == PCRE2_ERROR_NOMATCH) break;
      const bool out_of_room = rc == PCRE2_ERROR_JIT_STACKLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
                               rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT;
      if (out_of_room && !context) {  // retry once with generous limits
        jit_stack.reset(pcre2_jit_stack_create(32 * 1024, 512 * 1024 * 1024, nullptr));
        context.reset(pcre2_match_context_create(nullptr));
        if (!jit_stack || !context) throw std::runtime_error("cannot allocate a PCRE2 JIT stack");
        pcre2_jit_stack_assign(context.get(), nullptr, jit_stack.get());
        // Bounded: room for legitimately long inputs (a thousand steps per byte, past PCRE2's
        // default of ten million per match), not for catastrophic backtracking, which then
        // fails below naming the pattern instead of running for hours.
        const uint64_t steps = std::min<uint64_t>(UINT32_MAX, 100000000ull + 1000ull * text.size());
        pcre2_set_heap_limit(context.get(), 1u * 1024 * 1024);  // KiB
        pcre2_set_match_limit(context.get(), static_cast<uint32_t>(steps));
        pcre2_set_depth_limit(context.get(), static_cast<uint32_t>(steps));
        continue;
      }
      if (rc < 0) {
        throw std::runtime_error("pre-tokenizer regex '" + pattern_ + "' failed on a text of " +
                                 std::to_string(text.size()) + " bytes: " + pcre2_message(rc));
      }
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data.get());
      const size_t start = ovector[0], end = ovector[1];
      if (start == end) {
        if (start != previous_end) matches.emplace_back(start, end);
        if (start >= text.size()) break;
        offset = start + unicode::sequence_length(static_cast<unsigned char>(text[start]));
      } else {
        matches.emplace_back(start, end);
        offset = end;
      }
      previous_end = end;
    }
  }

 private:
  pcre2_code* code_ = nullptr;
  std::string pattern_;
};

namespace {

// tokenizers' NormalizedString::split: the matches and the gaps between them cover the text;
// the behavior decides which become pieces and what is merged. Empty pieces are dropped.
void split_with(const PreTokenizer::Regex& regex, SplitBehavior behavior, bool invert, std::string_view text,
                std::vector<std::string_view>& pieces) {
  std::vector<Range> matches;
  regex.find_all(text, matches);

  std::vector<std::pair<Range, bool>> parts;  // (range, is_match)
  parts.reserve(matches.size() * 2 + 1);
  size_t previous = 0;
  for (const Range& match : matches) {
    if (previous != match.first) parts.push_back({{previous, match.first}, invert});
    parts.push_back({match, !invert});
    previous = match.second;
  }
  if (previous != text.size()) parts.push_back({{previous, text.size()}, invert});

  std::vector<Range> kept;
  kept.reserve(parts.size());
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const auto& part : parts) kept.push_back(part.first);
      break;
    case SplitBehavior::kRemoved:
      for (const auto& part : parts) {
        if (!part.second) kept.push_back(part.first);
      }
      break;
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const auto& [range, is_match] : parts) {
        if (is_match == previous_match && !kept.empty()) {
          kept.back().second = range.second;
        } else {
          kept.push_back(range);
        }
        previous_match = is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const auto& [range, is_match] : parts) {
        if (is_match && !previous_match && !kept.empty()) {
          kept.back().second = range.second;
        } else {
          kept.push_back(range);
        }
        previous_match = is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (auto part = parts.rbegin(); part != parts.rend(); ++part) {
        const auto& [range, is_match] = *part;
        if (is_match && !previous_match && !kept.empty()) {
          kept.back().first = range.first;
        } else {
          kept.push_back(range);
        }
        previous_match = is_match;
      }
      std::reverse(kept.begin(), kept.end());
      break;
    }
  }
  for (const Range& range : kept) {
    if (range.second > range.first) pieces.push_back(text.substr(range.first, range.second - range.first));
  }
}

}  // namespace

PreTokenizer::PreTokenizer(std::vector<PreTokenizerStep> steps) : steps_(std::move(steps)) {
  for (size_t i = 0; i < steps_.size(); ++i) {
    const PreTokenizerStep& step = steps_[i];
    if (step.kind == PreTokenizerStep::Kind::kByteLevel) {
      if (i + 1 != steps_.size()) {
        throw std::runtime_error("the ByteLevel pre-tokenizer must be the last of the sequence");
      }
      regexes_.push_back(step.use_regex ? std::make_unique<Regex>(kGpt2PreTokenizerPattern, false) : nullptr);
    } else {
      regexes_.push_back(std::make_unique<Regex>(step.pattern, step.literal));
    }
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

void PreTokenizer::split(std::string_view text, const std::function<void(std::string_view)>& emit) const {
  if (!text.empty()) run(0, text, emit);
}

void PreTokenizer::run(size_t step_index, std::string_view piece,
                       const std::function<void(std::string_view)>& emit) const {
  if (step_index == steps_.size()) {
    emit(piece);
    return;
  }
  const PreTokenizerStep& step = steps_[step_index];
  const Regex* regex = regexes_[step_index].get();
  std::vector<std::string_view> pieces;
  if (step.kind == PreTokenizerStep::Kind::kSplit) {
    split_with(*regex, step.behavior, step.invert, piece, pieces);
    for (std::string_view part : pieces) run(step_index + 1, part, emit);
    return;
  }
  // ByteLevel: the byte-to-character mapping itself is left to the BPE model, which works on
  // bytes; here only the prefix space and GPT-2's split.
  std::string prefixed;
  if (step.add_prefix_space && piece.front() != ' ') {
    prefixed.reserve(piece.size() + 1);
    prefixed += ' ';
    prefixed += piece;
    piece = prefixed;
  }
  if (regex == nullptr) {
    emit(piece);
    return;
  }
  split_with(*regex, SplitBehavior::kIsolated, false, piece, pieces);
  for (std::string_view part : pieces) emit(part);
}

}  // namespace precept::text
