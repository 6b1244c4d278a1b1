// Reading a judgment; see judge_parser.h for the steps and what they match. The upstream steps
// are written by hand after rewardanything 1.0.1's processing.py because they must reproduce
// its regular expressions' exact effect (Python's \s, one left-to-right pass per substitution).
#include "reward/judge_parser.h"

#include "core/python_strings.h"
#include "core/utf8.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <set>

namespace precept::reward {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

bool has_at(std::string_view text, size_t pos, std::string_view prefix) {
  return text.compare(pos, prefix.size(), prefix) == 0;
}

using core::python_strip;

// The position after the Python whitespace (\s of a str pattern) that starts at pos.
size_t skip_python_space(std::string_view text, size_t pos) {
  while (pos < text.size()) {
    size_t next = pos;
    if (!core::is_python_space(core::utf8::decode_next(text, next))) break;
    pos = next;
  }
  return pos;
}

bool is_key_char(char c) {  // [a-zA-Z0-9_-]
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// Python's json.loads reads NaN, Infinity and -Infinity; nlohmann does not. Outside strings they
// become null (which is then "not a score"), so that the rest of such an object still reads.
std::string null_python_constants(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[i + 1];
        i += 2;
        continue;
      }
      if (c == '"') in_string = false;
      ++i;
    } else if (c == '"') {
      in_string = true;
      out += c;
      ++i;
    } else if (has_at(text, i, "-Infinity")) {
      out += "null";
      i += 9;
    } else if (has_at(text, i, "Infinity")) {
      out += "null";
      i += 8;
    } else if (has_at(text, i, "NaN")) {
      out += "null";
      i += 3;
    } else {
      out += c;
      ++i;
    }
  }
  return out;
}

// json.loads(text): nullopt where Python raises.
std::optional<Json> python_json_loads(std::string_view text) {
  if (has_at(text, 0, "\xEF\xBB\xBF")) return std::nullopt;  // Python: "Unexpected UTF-8 BOM"; nlohmann skips it
  const bool has_constants =
      text.find("NaN") != std::string_view::npos || text.find("Infinity") != std::string_view::npos;
  Json value = has_constants ? Json::parse(null_python_constants(text), nullptr, false)
                             : Json::parse(text.begin(), text.end(), nullptr, false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

bool has_judgment_key(const Json& value) {
  return value.is_object() &&
         (value.contains("scores") || value.contains("best-to-worst") || value.contains("best-to-worse"));
}

// The end (index of the closing bracket) of the bracketed value that opens at text[start], counting
// `open`/`close` outside double-quoted strings; npos when it never closes (text cut off).
size_t balanced_end(std::string_view text, size_t start, char open, char close) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == open) {
      ++depth;
    } else if (c == close && --depth == 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

// A value parsed strictly, else after upstream's repair.
std::optional<Json> loads_or_repaired(std::string_view text, bool& repaired) {
  if (auto value = python_json_loads(text)) return value;
  if (auto value = python_json_loads(upstream_fix_json(text))) {
    repaired = true;
    return value;
  }
  return std::nullopt;
}

struct Found {
  Json object;
  bool repaired = false;
  bool brace_fallback = false;
  size_t start = 0;  // where in the JSON text it begins
};

// Upstream's safe_parse_json. The value may be any JSON (upstream returns non-objects from its
// first two attempts); nullopt when upstream returns its empty fallback.
std::optional<Found> upstream_parse(const std::string& text) {
  if (auto value = python_json_loads(text)) return Found{*value, false, false, 0};
  if (auto value = python_json_loads(upstream_fix_json(text))) return Found{*value, true, false, 0};
  const size_t first = text.find('{');
  const size_t last = text.rfind('}');
  if (first != std::string::npos && last != std::string::npos && last > first) {
    auto value = python_json_loads(std::string_view(text).substr(first, last - first + 1));
    if (value && value->is_object()) return Found{*value, false, true, first};
  }
  return std::nullopt;
}

// precept's search: the last balanced {...} that parses (strictly or repaired) into an object
// with a judgment key. Objects nested in others are candidates too.
std::optional<Found> search_objects(const std::string& text) {
  constexpr size_t kMaxCandidates = 4096;  // bounds the quadratic scan on pathological output
  std::vector<size_t> starts;
  for (size_t i = text.find('{'); i != std::string::npos && starts.size() < kMaxCandidates; i = text.find('{', i + 1))
    starts.push_back(i);
  for (auto it = starts.rbegin(); it != starts.rend(); ++it) {
    const size_t end = balanced_end(text, *it, '{', '}');
    if (end == std::string::npos) continue;
    bool repaired = false;
    auto value = loads_or_repaired(std::string_view(text).substr(*it, end - *it + 1), repaired);
    if (value && has_judgment_key(*value)) return Found{*value, repaired, false, *it};
  }
  return std::nullopt;
}

// The bracketed value after the last `key` (quoted or not) that is followed by ':' and `open`.
std::optional<Json> salvage_fragment(const std::string& text, std::string_view key, char open, char close,
                                     bool& repaired) {
  for (size_t pos = text.rfind(key); pos != std::string::npos; pos = pos == 0 ? std::string::npos : text.rfind(key, pos - 1)) {
    size_t i = pos + key.size();
    if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
    i = skip_python_space(text, i);
    if (i >= text.size() || text[i] != ':') continue;
    i = skip_python_space(text, i + 1);
    if (i >= text.size() || text[i] != open) continue;
    const size_t end = balanced_end(text, i, open, close);
    if (end == std::string::npos) continue;
    bool fragment_repaired = false;
    auto value = loads_or_repaired(std::string_view(text).substr(i, end - i + 1), fragment_repaired);
    if (value && (open == '{' ? value->is_object() : value->is_array())) {
      repaired = repaired || fragment_repaired;
      return value;
    }
  }
  return std::nullopt;
}

std::string shorten(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 40) {
    // Cut on a code point boundary: half a UTF-8 sequence would make the problem line, and so
    // Judgment::to_json().dump(), invalid (found by fuzz/judge_output).
    size_t cut = 37;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

// A score from a number or a numeric string; nullopt for anything else and for non-finite values.
std::optional<double> to_score(const Json& value) {
  if (value.is_number()) {
    const double score = value.get<double>();
    if (std::isfinite(score)) return score;
    return std::nullopt;
  }
  if (!value.is_string()) return std::nullopt;
  const std::string text = python_strip(value.get_ref<const std::string&>());
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double score = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(score)) return std::nullopt;
  // strtod also reads hexadecimal ("0x4"); Python's float() does not.
  if (text.find_first_of("xX") != std::string::npos) return std::nullopt;
  return score;
}

class JudgmentReader {
 public:
  JudgmentReader(Judgment& judgment, const ShownResponses* names) : judgment_(judgment), names_(names) {}

  // Shown name -> caller's name; names the judge was not shown stay as written.
  std::string real_name(const std::string& shown) {
    if (names_ == nullptr) return shown;
    if (const std::string* real = names_->real_name(shown)) return *real;
    if (unknown_.insert(shown).second)
      judgment_.problems.push_back("the judge named '" + shown + "', which is none of the responses it was shown");
    return shown;
  }

  void read(const Json& object) {
    judgment_.has_scores_key = object.contains("scores");
    const Json* ranking = nullptr;
    if (object.contains("best-to-worst")) {
      ranking = &object["best-to-worst"];
    } else if (object.contains("best-to-worse")) {
      ranking = &object["best-to-worse"];
      judgment_.problems.push_back("the ranking is under the misspelt key \"best-to-worse\"");
    }
    judgment_.has_ranking_key = ranking != nullptr;
    if (judgment_.has_scores_key) read_scores(object["scores"]);
    else judgment_.problems.push_back("the JSON object has no \"scores\"");
    if (ranking != nullptr) read_ranking(*ranking);
    else judgment_.problems.push_back("the JSON object has no \"best-to-worst\" ranking");
  }

  void finish() {
    std::vector<std::string> expected;  // caller's names in shown order
    if (names_ != nullptr) expected = names_->real_names;

    for (const auto& [name, score] : judgment_.scores)
      if (score < 1.0 || score > 5.0)
        judgment_.problems.push_back("the score of '" + name + "' is " + core::float_repr(score) +
                                     ", outside 1..5");

    if (!judgment_.ranking.empty()) {
      std::set<std::string> seen;
      for (const std::string& name : judgment_.ranking)
        if (!seen.insert(name).second)
          judgment_.problems.push_back("the ranking names '" + name + "' more than once");
      for (const std::string& name : expected)
        if (!seen.count(name)) judgment_.problems.push_back("the ranking leaves out '" + name + "'");
    } else if (!judgment_.scores.empty()) {
      derive_ranking(expected);
    }

    for (const std::string& name : expected)
      if (!judgment_.scores.count(name)) judgment_.missing.push_back(name);
    if (!judgment_.missing.empty()) {
      std::string list;
      for (const std::string& name : judgment_.missing) list += (list.empty() ? "'" : ", '") + name + "'";
      judgment_.problems.push_back("no score for " + list);
    }
    judgment_.complete = names_ != nullptr ? judgment_.missing.empty() && !expected.empty()
                                           : !judgment_.scores.empty();
  }

 private:
  void read_scores(const Json& scores) {
    if (!scores.is_object()) {
      judgment_.problems.push_back("\"scores\" is " + std::string(scores.type_name()) + ", not an object");
      return;
    }
    for (auto it = scores.begin(); it != scores.end(); ++it) {
      const std::string name = real_name(it.key());
      const std::optional<double> score = to_score(it.value());
      if (!score) {
        judgment_.problems.push_back("the score of '" + name + "' is " + shorten(it.value()) + ", not a number");
        continue;
      }
      if (it.value().is_string()) judgment_.problems.push_back("the score of '" + name + "' is a string");
      judgment_.scores[name] = *score;
    }
  }

  void read_ranking(const Json& ranking) {
    if (!ranking.is_array()) {
      judgment_.problems.push_back("the ranking is " + std::string(ranking.type_name()) + ", not a list");
      return;
    }
    for (const Json& item : ranking) {
      if (!item.is_string()) {
        judgment_.problems.push_back("the ranking holds " + shorten(item) + ", not a name");
        continue;
      }
      judgment_.ranking.push_back(real_name(item.get<std::string>()));
    }
  }

  void derive_ranking(const std::vector<std::string>& expected) {
    std::vector<std::string> order;
    for (const std::string& name : expected)
      if (judgment_.scores.count(name)) order.push_back(name);
    const std::set<std::string> known(expected.begin(), expected.end());
    for (const auto& [name, score] : judgment_.scores)  // invented names, alphabetically
      if (!known.count(name)) order.push_back(name);
    std::stable_sort(order.begin(), order.end(), [this](const std::string& a, const std::string& b) {
      return judgment_.scores.at(a) > judgment_.scores.at(b);
    });
    judgment_.ranking = std::move(order);
    judgment_.ranking_derived = true;
    judgment_.problems.push_back("no ranking given; derived from the scores");
  }

  Judgment& judgment_;
  const ShownResponses* names_;
  std::set<std::string> unknown_;
};

Judgment parse(std::string_view output, const ShownResponses* names) {
  Judgment judgment;
  const std::string text = core::utf8::to_valid_utf8(output);
  if (text.size() != output.size() || text != output)
    judgment.problems.push_back("the output is not valid UTF-8; invalid bytes were replaced by U+FFFD");

  // 1. Reasoning.
  const size_t open = text.find(kThinkOpen);
  const size_t close = text.find(kThinkClose);
  if (open != std::string::npos && close != std::string::npos && close >= open + kThinkOpen.size()) {
    judgment.reasoning = python_strip(std::string_view(text).substr(open + kThinkOpen.size(), close - open - kThinkOpen.size()));
  } else if (close != std::string::npos) {
    judgment.reasoning = python_strip(std::string_view(text).substr(0, close));
    judgment.problems.push_back("no <think> before </think>; the text before </think> is taken as the reasoning");
  } else if (open != std::string::npos) {
    judgment.problems.push_back("<think> is never closed; the output was probably cut off while thinking");
  }

  // 2. and 3. The JSON object.
  const std::string json_text = upstream_json_text(text);
  std::optional<Found> found = upstream_parse(json_text);
  if (found && !has_judgment_key(found->object)) {
    if (found->object.is_object())
      judgment.problems.push_back("the JSON object has neither \"scores\" nor \"best-to-worst\"");
    else if (python_truthy(found->object))
      judgment.problems.push_back(std::string("the output is a JSON ") + found->object.type_name() + ", not an object");
    found.reset();
  }
  if (!found) {
    found = search_objects(json_text);
    if (found) {
      judgment.beyond_upstream = true;
      judgment.problems.push_back("the JSON object was found by precept's search; upstream's parser finds none");
    }
  }

  JudgmentReader reader(judgment, names);
  if (found) {
    judgment.json_parsed = true;
    judgment.repaired = found->repaired;
    judgment.used_brace_fallback = found->brace_fallback;
    if (found->repaired) judgment.problems.push_back("the JSON needed repair (quotes, bare keys or trailing commas)");
    if (found->brace_fallback) judgment.problems.push_back("the JSON object is surrounded by other text");
    const size_t unclosed = json_text.find(kThinkOpen);
    if (unclosed != std::string::npos && unclosed < found->start)
      judgment.problems.push_back("the JSON object was taken from inside an unclosed <think> block");
    reader.read(found->object);
  } else {
    // Salvage fragments, e.g. from output cut off in the middle of the object.
    bool repaired = false;
    Json fragment = Json::object();
    if (auto scores = salvage_fragment(json_text, "scores", '{', '}', repaired)) fragment["scores"] = *scores;
    std::optional<Json> ranking = salvage_fragment(json_text, "best-to-worst", '[', ']', repaired);
    if (!ranking) ranking = salvage_fragment(json_text, "best-to-worse", '[', ']', repaired);
    if (ranking) fragment["best-to-worst"] = *ranking;
    if (!fragment.empty()) {
      judgment.beyond_upstream = true;
      judgment.repaired = repaired;
      judgment.problems.push_back("no complete JSON object; read the \"scores\"/\"best-to-worst\" fragments on their own");
      reader.read(fragment);
    } else {
      judgment.problems.push_back("no JSON object with \"scores\" or \"best-to-worst\" in the output");
    }
  }
  reader.finish();
  return judgment;
}

}  // namespace

bool python_truthy(const nlohmann::ordered_json& value) {
  if (value.is_null()) return false;
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number()) return value.get<double>() != 0.0;
  if (value.is_string()) return !value.get_ref<const std::string&>().empty();
  return !value.empty();  // arrays and objects
}

std::optional<UpstreamJson> upstream_safe_parse_json(const std::string& json_text) {
  std::optional<Found> found = upstream_parse(json_text);
  if (!found) return std::nullopt;
  return UpstreamJson{std::move(found->object), found->brace_fallback};
}

nlohmann::json Judgment::to_json() const {
  nlohmann::json out;
  out["scores"] = scores;
  out["ranking"] = ranking;
  out["reasoning"] = reasoning;
  out["json_parsed"] = json_parsed;
  out["repaired"] = repaired;
  out["used_brace_fallback"] = used_brace_fallback;
  out["beyond_upstream"] = beyond_upstream;
  out["has_scores_key"] = has_scores_key;
  out["has_ranking_key"] = has_ranking_key;
  out["ranking_derived"] = ranking_derived;
  out["complete"] = complete;
  out["missing"] = missing;
  out["problems"] = problems;
  return out;
}

Judgment parse_judgment(std::string_view output, const ShownResponses& names) { return parse(output, &names); }

Judgment parse_judgment(std::string_view output) { return parse(output, nullptr); }

std::string upstream_json_text(std::string_view output) {
  // re.sub(r'<think>.*?</think>', '', text, flags=re.DOTALL): each <think> with a later
  // </think> goes, up to that first </think>; an unclosed <think> and a lone </think> stay.
  std::string without_think;
  size_t pos = 0;
  while (true) {
    const size_t open = output.find(kThinkOpen, pos);
    const size_t close = open == std::string_view::npos ? open : output.find(kThinkClose, open + kThinkOpen.size());
    if (close == std::string_view::npos) break;
    without_think.append(output.substr(pos, open - pos));
    pos = close + kThinkClose.size();
  }
  without_think.append(output.substr(pos));

  // re.sub(r'```(?:json)?|```', '', ...): "```json" is tried before "```" at each position.
  std::string without_fences;
  for (size_t i = 0; i < without_think.size();) {
    if (has_at(without_think, i, "```json")) {
      i += 7;
    } else if (has_at(without_think, i, "```")) {
      i += 3;
    } else {
      without_fences += without_think[i++];
    }
  }
  return python_strip(without_fences);
}

std::string upstream_fix_json(std::string_view text) {
  // json_str.replace("'", '"')
  std::string quoted(text);
  std::replace(quoted.begin(), quoted.end(), '\'', '"');

  // re.sub(r'([{,])\s*([a-zA-Z0-9_-]+)\s*:', r'\1"\2":', fixed)
  std::string keyed;
  for (size_t i = 0; i < quoted.size();) {
    const char c = quoted[i];
    if (c == '{' || c == ',') {
      const size_t key_start = skip_python_space(quoted, i + 1);
      size_t key_end = key_start;
      while (key_end < quoted.size() && is_key_char(quoted[key_end])) ++key_end;
      const size_t colon = skip_python_space(quoted, key_end);
      if (key_end > key_start && colon < quoted.size() && quoted[colon] == ':') {
        keyed += c;
        keyed += '"';
        keyed.append(quoted, key_start, key_end - key_start);
        keyed += "\":";
        i = colon + 1;
        continue;
      }
    }
    keyed += c;
    ++i;
  }

  // re.sub(r',\s*}', '}', ...) then re.sub(r',\s*]', ']', ...): two separate passes.
  auto drop_trailing_commas = [](const std::string& in, char closing) {
    std::string out;
    for (size_t i = 0; i < in.size();) {
      if (in[i] == ',') {
        const size_t next = skip_python_space(in, i + 1);
        if (next < in.size() && in[next] == closing) {
          out += closing;
          i = next + 1;
          continue;
        }
      }
      out += in[i++];
    }
    return out;
  };
  std::string fixed = drop_trailing_commas(drop_trailing_commas(keyed, '}'), ']');

  // fixed.replace('"best-to-worse"', '"best-to-worst"')
  const std::string from = "\"best-to-worse\"";
  const std::string to = "\"best-to-worst\"";
  for (size_t pos = fixed.find(from); pos != std::string::npos; pos = fixed.find(from, pos + to.size()))
    fixed.replace(pos, from.size(), to);
  return fixed;
}

}  // namespace precept::reward
