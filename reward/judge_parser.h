// Reading a RewardAnything judgment: the raw text the judge generated in, scores and a
// best-to-worst ranking under the caller's names out, with what had to be repaired and what is
// wrong with it. Pure text; not the judge itself (reward/rewardanything.h) and not the
// conversion to rewards (reward/listwise.h). See docs/judge.md.
//
// Whenever upstream's parser (rewardanything 1.0.1, processing.parse_rewardanything_output)
// returns scores, this returns the same scores, ranking and reasoning; the steps are upstream's,
// in upstream's order:
//   1. reasoning: the text between the first <think> and the first </think>, stripped
//      (Python str.strip); "" when either tag is missing or </think> comes first;
//   2. every <think>...</think> block removed, then every ```json and ``` fence, then strip;
//   3. json.loads of that text; else of upstream's repair of it (' -> ", bare keys quoted,
//      trailing commas before } or ] dropped, "best-to-worse" -> "best-to-worst"); else of the
//      text from its first '{' to its last '}' (not repaired, and only if it is an object);
//   4. "scores" (an object) and "best-to-worst" taken from the result, shown names mapped back
//      to the caller's; names the judge was not shown are kept as written.
// precept accepts more (each is reported, see Judgment::problems):
//   - where upstream finds nothing usable (or would raise), it looks at every balanced {...} in
//     the text and takes the LAST one that parses, strictly or after the same repair, and has
//     a "scores" or ranking key; failing that it salvages a `"scores": {...}` and a
//     `"best-to-worst": [...]` fragment on their own, e.g. from output cut off mid-object;
//   - "best-to-worse" is read even when "scores" is missing (upstream reads it only with scores);
//   - scores may be integers, floats or numeric strings ("4", " 4.5 "); booleans, null, NaN
//     and other strings are not scores;
//   - a missing or empty ranking is derived from the scores (see Judgment::ranking_derived);
//   - with no <think> before a </think> (a template that opens the think block itself), the
//     text before </think> is the reasoning.
// Where the text is not valid UTF-8 it is first repaired as bytes.decode("utf-8", "replace").
// Not matched: JSON that Python reads but nlohmann does not (lone surrogate escapes such as
// "\ud800", numbers beyond double range such as 1e400); such output counts as unparsed.
#pragma once

#include "reward/masking.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace precept::reward {

struct Judgment {
  // Score per caller's name, as the judge gave it (not clamped; out-of-range ones are reported).
  // Names the judge invented are kept under the name it wrote.
  std::map<std::string, double> scores;
  // Best to worst, caller's names, as the judge wrote it (duplicates and unknown names kept and
  // reported). When the judge gave none, derived from the scores: higher first, equal scores in
  // the order the judge was shown the responses (with masking a seeded shuffle, so ties do not
  // favour the caller's first responses), then names the judge invented, alphabetically.
  std::vector<std::string> ranking;
  std::string reasoning;  // the thinking, see step 1 above

  bool json_parsed = false;          // a JSON object was read (by upstream's steps or precept's search)
  bool repaired = false;             // it parsed only after upstream's repair
  bool used_brace_fallback = false;  // upstream's step "first '{' to last '}'" found it
  bool beyond_upstream = false;      // found by precept's search or salvage: upstream returns nothing
  bool has_scores_key = false;       // the object had "scores"
  bool has_ranking_key = false;      // the object had "best-to-worst" (or "best-to-worse")
  bool ranking_derived = false;      // `ranking` was derived from `scores`

  // Every name the judge was shown has a numeric score. With no names given: some score was read.
  bool complete = false;
  std::vector<std::string> missing;   // caller's names without a score, in the caller's shown order
  std::vector<std::string> problems;  // one readable line per thing that was wrong or repaired

  nlohmann::json to_json() const;
};

// Parses the judge's raw output (special tokens such as <|im_end|> already removed; <think>
// tags kept). `names` is how the responses were shown (JudgePrompt::names): masked names are
// mapped back, and every shown response is expected to get a score.
Judgment parse_judgment(std::string_view output, const ShownResponses& names);
// The same without names: scores and ranking under the names the judge wrote.
Judgment parse_judgment(std::string_view output);

// ---- upstream's text steps, exposed so that tests can compare them with upstream's own -------

// Step 2: upstream's extract_json_content (think blocks and fences removed, stripped).
std::string upstream_json_text(std::string_view output);
// Step 3's repair: upstream's fix_json_format, byte for byte.
std::string upstream_fix_json(std::string_view text);

// Step 3 alone: upstream's safe_parse_json of step 2's text. `value` is what json.loads
// returned, of any JSON type (upstream's first two attempts return lists, numbers and strings
// too), and `used_brace_fallback` says that only the first-'{'-to-last-'}' attempt read it;
// nullopt where upstream returns its empty fallback. Used by the judge-training reward's format
// terms (reward/judge_reward.h), which must equal upstream's format_reward.
struct UpstreamJson {
  nlohmann::ordered_json value;
  bool used_brace_fallback = false;
};
std::optional<UpstreamJson> upstream_safe_parse_json(const std::string& json_text);

// Python's bool() of a json.loads result: false for null, false, 0, "", [] and {}. Upstream
// treats a falsy parse like no JSON at all.
bool python_truthy(const nlohmann::ordered_json& value);

}  // namespace precept::reward
