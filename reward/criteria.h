// Machine-checkable criteria: properties of a response's text (a length band, ending with a
// question, a bulleted list, all lowercase, ...) that a rule scores 1-5 with no model, and the
// controlled edits that turn one response into variants spanning a criterion. They give the
// gold scores of the synthetic listwise data (reward/synthetic_cases.h) and the principle
// satisfaction that `precept eval criterion` measures after alignment: a check the training
// loop never sees. Not a Reward (reward/rule_rewards.h has those) and not a principle's wording
// (configs/paper/principles.toml words each criterion several ways). docs/paper.md lists every
// criterion with its scoring table.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace precept::reward {

// The paper's five principle categories (arXiv 2506.03637, section 3).
enum class CriterionCategory { content, structure, tone, logic, style };
std::string criterion_category_name(CriterionCategory category);

struct Criterion {
  std::string id;               // "ends_with_question"
  CriterionCategory category;
  std::string rule;             // the scoring table in one line, for docs and reports
  // 1-5; 5 means the response satisfies the criterion.
  int (*score)(std::string_view response);
  // Edited variants of `base` that move this criterion's score (both ways), before distractors.
  std::vector<std::string> (*edits)(const std::string& base, uint64_t seed);
};

// Every built-in criterion, in a fixed order.
const std::vector<Criterion>& builtin_criteria();
// The criterion of an id; throws std::invalid_argument naming the id and listing the known ones.
const Criterion& find_criterion(const std::string& id);
inline bool satisfies(const Criterion& criterion, std::string_view response) { return criterion.score(response) == 5; }

// Edits that change a property of a response without looking at any criterion, used as
// distractors (a list that is lowercased, a reply with a greeting added) so that a judge must
// read the principle to rank. The result depends only on `base`, `index` and `seed`.
std::string distractor_edit(const std::string& base, uint64_t index, uint64_t seed);
int64_t distractor_edit_count();

// Text helpers the criteria share, exposed for tests.
std::vector<std::string> split_sentences(std::string_view text);   // ends at . ! ? or a line break
int64_t count_list_items(std::string_view text, bool numbered);     // lines "- x", "* x" / "1. x", "2) x"
// Cut after the last sentence end (. ! ?) when one exists; text without one is returned trimmed.
std::string trim_to_last_sentence(std::string_view text);

}  // namespace precept::reward
