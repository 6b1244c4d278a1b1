// One listwise case (data/listwise.h) as the judge being trained sees it: the RewardAnything
// messages [system prompt, USER_JSON] with the responses masked by a per-case seed, the map
// from shown names back to the case's names, and the judgment a perfect judge would write (the
// SFT target). Shared by the judge-training task (trainer/judge_task.h), the SFT target writer
// (`precept data sft-targets`) and `precept judge --grade`, so that all three mask alike.
// Pure text: no tokenizer, no model.
#pragma once

#include "data/listwise.h"
#include "reward/masking.h"
#include "text/chat_template.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace precept::reward {

// The mask seed of one case: splitmix64 over (seed, FNV-1a of the case id), so that a case is
// shown the same way whatever its line in the file, and differently under another seed.
uint64_t case_mask_seed(uint64_t seed, const std::string& case_id);

struct JudgeCase {
  std::vector<text::ChatMessage> messages;          // [system, user]: what the chat template renders
  std::string user_json;                            // USER_JSON (reward/judge_prompt.h)
  ShownResponses names;                             // shown order and names, and the way back
  std::map<std::string, std::string> masked2real;   // shown name -> the case's name
  std::map<std::string, double> gold_scores;        // the case's name -> gold score
};

// The judge's view of `listwise`: masked with case_mask_seed(seed, id) when `mask`, else the
// case's own names in file order.
JudgeCase judge_case(const data::ListwiseCase& listwise, const std::string& system_prompt, bool mask, uint64_t seed);

// What a judge that agrees with the gold labels writes, under the shown names and in
// Python's json.dumps spacing:
//   {"scores": {"model-1": 4, "model-2": 2}, "best-to-worst": ["model-1", "model-2"]}
// Scores in shown order, integral ones without a fraction. The ranking is the gold
// best-to-worst when the case has one, else the gold scores high to low, equal scores in shown
// order. With `think`, a short reasoning comes first:
//   <think>\nmodel-1 follows the principle best (4 of 5); ... model-2 follows it least (2).\n</think>\n\n
// written from the gold scores alone (a template, not an explanation of why).
std::string judge_target(const data::ListwiseCase& listwise, const JudgeCase& shown, bool think);

// The gold ranking under the case's names: the given best-to-worst, else scores high to low
// with equal scores in the order of `order` (the case's names as shown).
std::vector<std::string> gold_ranking(const data::ListwiseCase& listwise, const std::vector<std::string>& order);

}  // namespace precept::reward
