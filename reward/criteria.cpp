// The built-in criteria: each a scoring table over a response's text and the edits that move
// it. Scores are small integer tables (docs/paper.md) so that a gold score can be checked by
// reading the response. Text is treated as ASCII for case and punctuation (other bytes pass
// through unchanged), which is what the SmolLM2 responses of the synthetic data are.
#include "reward/criteria.h"

#include "core/random_streams.h"
#include "reward/rule_rewards.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace precept::reward {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_sentence_end(char c) { return c == '.' || c == '!' || c == '?'; }

std::string trim(std::string_view text) {
  size_t begin = 0, end = text.size();
  while (begin < end && is_space(text[begin])) ++begin;
  while (end > begin && is_space(text[end - 1])) --end;
  return std::string(text.substr(begin, end - begin));
}

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper_first(std::string text) {
  for (char& c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      break;
    }
  }
  return text;
}

std::string lower_first(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// Whitespace-separated words, lowercased, with leading and trailing punctuation removed.
std::vector<std::string> plain_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    size_t begin = 0, end = word.size();
    while (begin < end && std::ispunct(static_cast<unsigned char>(word[begin]))) ++begin;
    while (end > begin && std::ispunct(static_cast<unsigned char>(word[end - 1]))) --end;
    if (end > begin) words.push_back(ascii_lower(std::string_view(word).substr(begin, end - begin)));
    word.clear();
  };
  for (char c : text) {
    if (is_space(c)) {
      flush();
    } else {
      word.push_back(c);
    }
  }
  flush();
  return words;
}

int64_t word_occurrences(std::string_view text, const std::string& word) {
  const auto words = plain_words(text);
  return std::count(words.begin(), words.end(), word);
}

bool contains_phrase(std::string_view text, const std::string& phrase) {
  return ascii_lower(text).find(phrase) != std::string::npos;
}

// A line's list marker ("- ", "* ", "1. ", "2) "), or npos.
size_t list_marker_length(std::string_view line, bool numbered) {
  size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (!numbered) {
    if (i + 1 < line.size() && (line[i] == '-' || line[i] == '*') && line[i + 1] == ' ') return i + 2;
    return std::string::npos;
  }
  const size_t digits = i;
  while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
  if (i == digits || i + 1 >= line.size() || (line[i] != '.' && line[i] != ')') || line[i + 1] != ' ') {
    return std::string::npos;
  }
  return i + 2;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    lines.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return lines;
}

// The sentences of a text with list markers removed: the prose a list was made from.
std::vector<std::string> prose_sentences(std::string_view text) {
  std::string prose;
  for (const auto& line : lines_of(text)) {
    size_t marker = list_marker_length(line, false);
    if (marker == std::string::npos) marker = list_marker_length(line, true);
    std::string body = trim(marker == std::string::npos ? std::string_view(line) : std::string_view(line).substr(marker));
    if (body.empty()) continue;
    const bool closed = body.size() >= 2 && (body.back() == '"' || body.back() == ')') && is_sentence_end(body[body.size() - 2]);
    if (!is_sentence_end(body.back()) && !closed) body += '.';
    prose += body + " ";
  }
  return split_sentences(prose);
}

std::string join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

// Filler sentences, so that edits needing n sentences have them.
const std::vector<std::string>& filler_sentences() {
  static const std::vector<std::string> filler = {"It is widely used.",        "It saves time.",
                                                  "Many people find it helpful.", "It is easy to start.",
                                                  "It has a long history.",   "It works in most cases."};
  return filler;
}

std::vector<std::string> sentences_at_least(const std::string& text, size_t count) {
  std::vector<std::string> sentences = prose_sentences(text);
  for (size_t i = 0; sentences.size() < count; ++i) sentences.push_back(filler_sentences()[i % filler_sentences().size()]);
  return sentences;
}

std::string pick(const std::vector<std::string>& options, uint64_t seed) {
  return options[core::splitmix64(seed) % options.size()];
}

// ---- edits ----------------------------------------------------------------------------------

std::string as_list(const std::vector<std::string>& items, bool numbered) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < items.size(); ++i) lines.push_back((numbered ? std::to_string(i + 1) + ". " : "- ") + items[i]);
  return join(lines, "\n");
}
std::string first_sentences(const std::string& text, size_t count) {
  auto sentences = sentences_at_least(text, count);
  sentences.resize(count);
  return join(sentences, " ");
}
std::string as_prose(const std::string& text) { return join(prose_sentences(text), " "); }
std::string first_words(const std::string& text, size_t count) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text + " ") {
    if (is_space(c)) {
      if (!word.empty()) words.push_back(word);
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (words.size() > count) words.resize(count);
  std::string out = join(words, " ");
  while (!out.empty() && (std::ispunct(static_cast<unsigned char>(out.back())))) out.pop_back();
  return out + ".";
}
std::string without_sentences_matching(const std::string& text, bool (*drop)(const std::string&)) {
  std::vector<std::string> kept;
  for (const auto& sentence : prose_sentences(text)) {
    if (!drop(sentence)) kept.push_back(sentence);
  }
  if (kept.empty()) kept.push_back(filler_sentences()[0]);
  return join(kept, " ");
}
std::string with_question(const std::string& text, uint64_t seed) {
  return text + " " + pick({"What do you think?", "Would you like to know more?", "Does that help?",
                            "Which part interests you most?"}, seed);
}
std::string without_questions(const std::string& text) {
  return without_sentences_matching(text, [](const std::string& s) { return s.find('?') != std::string::npos; });
}
std::string with_greeting(const std::string& text, uint64_t seed) {
  return pick({"Hello! ", "Hi there. ", "Hey, good question. ", "Greetings. "}, seed) + text;
}
std::string with_exclamations(const std::string& text, size_t count) {
  auto sentences = prose_sentences(text);
  for (size_t i = 0; i < sentences.size() && i < count; ++i) {
    if (sentences[i].back() == '.') sentences[i].back() = '!';
  }
  return join(sentences, " ");
}
std::string without_exclamations(const std::string& text) { return replace_all(text, "!", "."); }
std::string shouted(const std::string& text) {  // the first six words in capitals
  std::string out = text;
  int64_t words = 0;
  bool in_word = false;
  for (char& c : out) {
    if (is_space(c)) {
      if (in_word && ++words == 6) break;
      in_word = false;
    } else {
      in_word = true;
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}
std::string lowercase_but_first(const std::string& text) { return upper_first(ascii_lower(text)); }
std::string with_summary(const std::string& text, uint64_t seed) {
  const auto sentences = sentences_at_least(text, 1);
  return text + " " + pick({"In summary, ", "In short, ", "To sum up, "}, seed) + lower_first(sentences[0]);
}
std::string short_sentences_of(const std::string& text) {
  std::string out = replace_all(replace_all(text, ", and ", ". "), ", ", ". ");
  std::vector<std::string> sentences;
  for (auto sentence : split_sentences(out)) sentences.push_back(upper_first(sentence));
  return join(sentences, " ");
}
std::string long_sentences_of(const std::string& text) {
  auto sentences = prose_sentences(text);
  std::string out;
  for (size_t i = 0; i < sentences.size(); ++i) {
    std::string s = sentences[i];
    if (i + 1 < sentences.size() && !s.empty()) s.pop_back();
    out += i == 0 ? s : ", and " + lower_first(s);
  }
  return out;
}

std::vector<std::string> edits_length_band(const std::string& base, uint64_t) {
  return {first_words(base, 8), first_words(base, 16), first_words(base, 30), base + " " + base,
          first_words(base + " " + base, 45)};
}
std::vector<std::string> edits_ends_with_question(const std::string& base, uint64_t seed) {
  const std::string plain = without_questions(base);
  return {with_question(plain, seed), plain, "Have you ever wondered about this? " + plain,
          with_question(first_sentences(plain, 2), seed + 1)};
}
std::vector<std::string> edits_bulleted_list(const std::string& base, uint64_t) {
  return {as_list(sentences_at_least(base, 3), false), as_list(sentences_at_least(base, 2), false) /* >= 2 */,
          as_prose(base), as_list(sentences_at_least(base, 3), true)};
}
std::vector<std::string> edits_numbered_list(const std::string& base, uint64_t) {
  auto two = sentences_at_least(base, 2);
  two.resize(2);
  return {as_list(sentences_at_least(base, 3), true), as_list(two, true), as_prose(base),
          as_list(sentences_at_least(base, 3), false)};
}
std::vector<std::string> edits_lowercase(const std::string& base, uint64_t) {
  return {ascii_lower(base), lowercase_but_first(base), shouted(base), base};
}
std::vector<std::string> edits_mentions_example(const std::string& base, uint64_t) {
  const auto sentences = sentences_at_least(base, 2);
  const std::string plain = replace_all(replace_all(base, "For example, ", ""), "for example, ", "");
  return {plain + " For example, " + lower_first(sentences[1]), plain + " An example is " + lower_first(sentences[0]),
          plain, "For example, " + lower_first(plain)};
}
std::vector<std::string> edits_avoids_very(const std::string& base, uint64_t) {
  std::string plain = replace_all(replace_all(base, "very ", ""), "Very ", "");
  return {plain, plain + " This is very useful.", plain + " It is very, very simple and very common.",
          "Very good question. " + plain};
}
std::vector<std::string> edits_greeting_first(const std::string& base, uint64_t seed) {
  const auto sentences = sentences_at_least(base, 2);
  std::vector<std::string> rest(sentences.begin() + 1, sentences.end());
  return {with_greeting(base, seed), base, sentences[0] + " Hello again. " + join(rest, " "),
          with_greeting(first_sentences(base, 2), seed + 1)};
}
std::vector<std::string> edits_no_exclamation(const std::string& base, uint64_t) {
  const std::string calm = without_exclamations(base);
  return {calm, with_exclamations(calm, 1), with_exclamations(calm, 2), with_exclamations(calm, 4) + " Wow!"};
}
std::vector<std::string> edits_thanks(const std::string& base, uint64_t seed) {
  const std::string plain = without_sentences_matching(base, [](const std::string& s) {
    return ascii_lower(s).find("thank") != std::string::npos;
  });
  return {pick({"Thank you for asking. ", "Thanks for the question. "}, seed) + plain, plain,
          plain + " Thanks for reading.", first_sentences(plain, 2)};
}
std::vector<std::string> edits_three_reasons(const std::string& base, uint64_t) {
  auto sentences = sentences_at_least(base, 5);
  auto take = [&](size_t n, bool numbered) {
    return as_list(std::vector<std::string>(sentences.begin(), sentences.begin() + n), numbered);
  };
  return {take(3, true), take(2, true), take(5, false), as_prose(base), take(3, false)};
}
std::vector<std::string> edits_summary_last(const std::string& base, uint64_t seed) {
  return {with_summary(base, seed), "In short, " + lower_first(base), base, with_summary(first_sentences(base, 2), seed + 1)};
}
std::vector<std::string> edits_because(const std::string& base, uint64_t) {
  const std::string plain = replace_all(replace_all(base, "because", "since"), "Because", "Since");
  return {plain + " This matters because it helps people.", plain, first_sentences(plain, 2) + " It works because it is simple.",
          first_sentences(plain, 1)};
}
std::vector<std::string> edits_short_sentences(const std::string& base, uint64_t) {
  return {short_sentences_of(base), long_sentences_of(base), base, first_words(base, 9)};
}
std::vector<std::string> edits_list_then_short(const std::string& base, uint64_t) {
  std::vector<std::string> short_items;
  for (const auto& sentence : sentences_at_least(base, 3)) {
    if (short_items.size() < 3) short_items.push_back(first_words(sentence, 6));
  }
  return {as_list(short_items, false), as_list(sentences_at_least(base, 3), false), as_list(sentences_at_least(base + " " + base, 6), false),
          first_words(as_prose(base), 20), as_prose(base) + " " + as_prose(base)};
}
std::vector<std::string> edits_question_then_lowercase(const std::string& base, uint64_t seed) {
  const std::string plain = without_questions(base);
  return {ascii_lower(with_question(plain, seed)), with_question(plain, seed), ascii_lower(plain), plain};
}

// ---- scores ---------------------------------------------------------------------------------

int score_length_band(std::string_view text) {  // 20-40 words
  const int64_t words = count_words(text);
  const int64_t distance = words < 20 ? 20 - words : words > 40 ? words - 40 : 0;
  if (distance == 0) return 5;
  if (distance <= 5) return 4;
  if (distance <= 12) return 3;
  if (distance <= 25) return 2;
  return 1;
}
int score_ends_with_question(std::string_view text) {
  const std::string t = trim(text);
  if (!t.empty() && t.back() == '?') return 5;
  return t.find('?') != std::string::npos ? 2 : 1;
}
int score_list(std::string_view text, bool numbered) {
  const int64_t items = count_list_items(text, numbered);
  return items >= 3 ? 5 : items == 2 ? 3 : items == 1 ? 2 : 1;
}
int score_bulleted_list(std::string_view text) { return score_list(text, false); }
int score_numbered_list(std::string_view text) { return score_list(text, true); }
int score_lowercase(std::string_view text) {
  const int64_t capitals = std::count_if(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  return capitals == 0 ? 5 : capitals <= 2 ? 3 : capitals <= 5 ? 2 : 1;
}
int score_mentions_example(std::string_view text) {
  if (contains_phrase(text, "for example")) return 5;
  return contains_phrase(text, "example") || contains_phrase(text, "for instance") ? 3 : 1;
}
int score_avoids_very(std::string_view text) {
  const int64_t count = word_occurrences(text, "very");
  return count == 0 ? 5 : count == 1 ? 2 : 1;
}
bool is_greeting(const std::string& word) {
  return word == "hello" || word == "hi" || word == "hey" || word == "greetings";
}
int score_greeting_first(std::string_view text) {
  const auto words = plain_words(text);
  if (!words.empty() && is_greeting(words[0])) return 5;
  return std::any_of(words.begin(), words.end(), is_greeting) ? 2 : 1;
}
int score_no_exclamation(std::string_view text) {
  const int64_t count = std::count(text.begin(), text.end(), '!');
  return count == 0 ? 5 : count == 1 ? 3 : count == 2 ? 2 : 1;
}
int score_thanks(std::string_view text) { return contains_phrase(text, "thank") ? 5 : 1; }
int score_three_reasons(std::string_view text) {
  const int64_t items = count_list_items(text, true) + count_list_items(text, false);
  return items == 3 ? 5 : (items == 2 || items == 4) ? 3 : items == 0 ? 1 : 2;
}
bool starts_summary(const std::string& lowered) {
  for (const char* phrase : {"in summary", "in short", "to sum up", "overall,"}) {
    if (lowered.rfind(phrase, 0) == 0) return true;
  }
  return false;
}
int score_summary_last(std::string_view text) {
  const auto sentences = split_sentences(text);
  if (!sentences.empty() && starts_summary(ascii_lower(sentences.back()))) return 5;
  for (const auto& sentence : sentences) {
    if (starts_summary(ascii_lower(sentence))) return 3;
  }
  return 1;
}
int score_because(std::string_view text) { return word_occurrences(text, "because") > 0 ? 5 : 1; }
int score_short_sentences(std::string_view text) {
  const auto sentences = split_sentences(text);
  if (sentences.empty()) return 1;
  const double mean = double(count_words(text)) / double(sentences.size());
  return mean <= 10 ? 5 : mean <= 14 ? 4 : mean <= 18 ? 3 : mean <= 24 ? 2 : 1;
}
int score_list_then_short(std::string_view text) {  // a bulleted list first; among lists, shorter
  const bool list = score_bulleted_list(text) == 5;
  const int64_t words = count_words(text);
  if (list) return words <= 30 ? 5 : words <= 60 ? 4 : 3;
  return words <= 30 ? 2 : 1;
}
int score_question_then_lowercase(std::string_view text) {
  const bool question = score_ends_with_question(text) == 5, lower = score_lowercase(text) == 5;
  return question ? (lower ? 5 : 4) : (lower ? 2 : 1);
}

}  // namespace

std::string criterion_category_name(CriterionCategory category) {
  switch (category) {
    case CriterionCategory::content: return "content";
    case CriterionCategory::structure: return "structure";
    case CriterionCategory::tone: return "tone";
    case CriterionCategory::logic: return "logic";
    case CriterionCategory::style: return "style";
  }
  return "?";
}

const std::vector<Criterion>& builtin_criteria() {
  using C = CriterionCategory;
  static const std::vector<Criterion> criteria = {
      {"length_band", C::style, "words in [20, 40]: 5; 1-5 outside: 4; 6-12: 3; 13-25: 2; more: 1",
       score_length_band, edits_length_band},
      {"ends_with_question", C::structure, "last character '?': 5; a '?' elsewhere: 2; none: 1",
       score_ends_with_question, edits_ends_with_question},
      {"bulleted_list", C::structure, "lines starting '- ' or '* ': 3 or more: 5; 2: 3; 1: 2; 0: 1",
       score_bulleted_list, edits_bulleted_list},
      {"numbered_list", C::structure, "lines starting '1. ' or '1) ': 3 or more: 5; 2: 3; 1: 2; 0: 1",
       score_numbered_list, edits_numbered_list},
      {"lowercase", C::style, "capital letters A-Z: 0: 5; 1-2: 3; 3-5: 2; more: 1", score_lowercase, edits_lowercase},
      {"mentions_example", C::content, "'for example': 5; else 'example' or 'for instance': 3; else 1",
       score_mentions_example, edits_mentions_example},
      {"avoids_very", C::content, "the word 'very': 0 times: 5; once: 2; more: 1", score_avoids_very, edits_avoids_very},
      {"greeting_first", C::tone, "first word hello/hi/hey/greetings: 5; a greeting later: 2; none: 1",
       score_greeting_first, edits_greeting_first},
      {"no_exclamation", C::tone, "'!' marks: 0: 5; 1: 3; 2: 2; more: 1", score_no_exclamation, edits_no_exclamation},
      {"thanks", C::tone, "contains 'thank': 5; else 1", score_thanks, edits_thanks},
      {"three_reasons", C::logic, "list items (bulleted or numbered): exactly 3: 5; 2 or 4: 3; 1 or 5+: 2; 0: 1",
       score_three_reasons, edits_three_reasons},
      {"summary_last", C::logic,
       "last sentence starts 'in summary'/'in short'/'to sum up'/'overall,': 5; such a sentence earlier: 3; none: 1",
       score_summary_last, edits_summary_last},
      {"because", C::logic, "the word 'because': 5; else 1", score_because, edits_because},
      {"short_sentences", C::style, "mean words per sentence: <= 10: 5; <= 14: 4; <= 18: 3; <= 24: 2; more: 1",
       score_short_sentences, edits_short_sentences},
      {"list_then_short", C::structure,
       "a bulleted list (3+ items) first: list and <= 30 words: 5; list <= 60: 4; list: 3; no list <= 30 words: 2; else 1",
       score_list_then_short, edits_list_then_short},
      {"question_then_lowercase", C::structure,
       "ends with '?' first, then no capitals: both: 5; question only: 4; lowercase only: 2; neither: 1",
       score_question_then_lowercase, edits_question_then_lowercase},
  };
  return criteria;
}

const Criterion& find_criterion(const std::string& id) {
  std::string known;
  for (const auto& criterion : builtin_criteria()) {
    if (criterion.id == id) return criterion;
    known += (known.empty() ? "" : ", ") + criterion.id;
  }
  throw std::invalid_argument("unknown criterion '" + id + "' (known: " + known + ")");
}

std::string distractor_edit(const std::string& base, uint64_t index, uint64_t seed) {
  switch (index % static_cast<uint64_t>(distractor_edit_count())) {
    case 0: return ascii_lower(base);
    case 1: return with_greeting(base, seed);
    case 2: return with_question(base, seed);
    case 3: return as_list(sentences_at_least(base, 3), false);
    case 4: return with_exclamations(base, 2);
    case 5: return first_words(base, 15);
    case 6: return with_summary(base, seed);
    default: return "Thank you for asking. " + base;
  }
}
int64_t distractor_edit_count() { return 8; }

std::vector<std::string> split_sentences(std::string_view text) {
  std::vector<std::string> sentences;
  std::string current;
  auto flush = [&] {
    std::string sentence = trim(current);
    if (!sentence.empty()) sentences.push_back(sentence);
    current.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      flush();
      continue;
    }
    current.push_back(c);
    if (is_sentence_end(c) && (i + 1 == text.size() || is_space(text[i + 1]))) flush();
  }
  flush();
  return sentences;
}

int64_t count_list_items(std::string_view text, bool numbered) {
  int64_t items = 0;
  for (const auto& line : lines_of(text)) {
    const size_t marker = list_marker_length(line, numbered);
    if (marker != std::string::npos && !trim(std::string_view(line).substr(marker)).empty()) ++items;
  }
  return items;
}

std::string trim_to_last_sentence(std::string_view text) {
  std::string t = trim(text);
  for (size_t i = t.size(); i > 0; --i) {
    if (is_sentence_end(t[i - 1])) return t.substr(0, i);
  }
  return t;
}

}  // namespace precept::reward
