// The RewardAnything judge's input, built as upstream builds it: messages [system prompt,
// USER_JSON] rendered by the judge model's chat template, with the responses masked or not.
// Pure text: no tokenizer, no model, no generation (that is the judge, reward/rewardanything.h).
// Used by the judge and its tests.
//
// The system prompt. Upstream's exact prompt is not shipped with precept; the released
// RewardAnything weights should be given it byte for byte. Write it to a file with the upstream
// Apache-2.0 package (pip install rewardanything==1.0.1, which the .venv already holds):
//     .venv/bin/python -c "import rewardanything.processing as p; print(p.SYSTEM_PROMPT, end='')" > FILE
// (1121 bytes, sha256 e4a48f41...18cf98) and name that file in the config; load it with
// load_judge_system_prompt(). default_judge_system_prompt() is precept's own prompt, which asks
// for the same output format (configs/judge/default_system_prompt.txt holds the same bytes).
#pragma once

#include "text/chat_template.h"
#include "reward/masking.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace precept::reward {

// What the judge is asked: does each response follow the principle for this prompt.
struct JudgeRequest {
  std::string principle;
  std::string prompt;
  std::vector<NamedResponse> responses;  // the caller's names and order
};

struct JudgePromptOptions {
  bool mask = true;                        // upstream's default (mask_responses=True)
  uint64_t mask_seed = kUpstreamMaskSeed;  // used by build(request); 42 shows upstream's order
  bool enable_thinking = true;             // RewardAnything thinks; false adds Qwen3's empty think block
};

struct JudgePrompt {
  std::string text;       // the rendered prompt, generation prompt included: what gets tokenized
  std::string user_json;  // the user message: USER_JSON
  ShownResponses names;   // the names and order the judge sees, and the way back to the caller's
};

// USER_JSON: json.dumps({"principle": P, "prompt": Q, "responses": {name: text, ...}},
// ensure_ascii=False), the responses in the given (shown) order under their shown names.
std::string judge_user_json(const std::string& principle, const std::string& prompt,
                            const std::vector<NamedResponse>& shown_responses);

// [{"system": system_prompt}, {"user": user_json}]
std::vector<text::ChatMessage> judge_messages(const std::string& system_prompt, const std::string& user_json);

class JudgePromptBuilder {
 public:
  // chat_template: the judge model's (text::ChatTemplate::from_model_dir). system_prompt: the
  // exact text, e.g. from load_judge_system_prompt(); must not be empty.
  JudgePromptBuilder(text::ChatTemplate chat_template, std::string system_prompt, JudgePromptOptions options = {});

  // The prompt for one request, masked with options().mask_seed (when masking).
  // Throws std::invalid_argument for no responses or two responses with the same name.
  JudgePrompt build(const JudgeRequest& request) const;
  // The same with another mask seed, e.g. one per group so that position bias is not fixed.
  JudgePrompt build(const JudgeRequest& request, uint64_t mask_seed) const;

  const std::string& system_prompt() const { return system_prompt_; }
  const JudgePromptOptions& options() const { return options_; }

 private:
  text::ChatTemplate chat_template_;
  std::string system_prompt_;
  JudgePromptOptions options_;
};

// The bytes of a system prompt file, unchanged. Throws std::runtime_error naming the file when
// it is missing, unreadable, empty or only whitespace, or not valid UTF-8.
std::string load_judge_system_prompt(const std::filesystem::path& file);

// precept's own judge system prompt (written for precept, not upstream's): it asks for brief
// thinking, then only {"scores": {name: 1-5, ...}, "best-to-worst": [names]}.
const std::string& default_judge_system_prompt();

// Splits `count` responses into the fewest calls of at most `max_per_call` each, as even as
// possible and in order: 10 with max 8 gives [0..4], [5..9] (never 8 + 2); 17 with max 8 gives
// 6 + 6 + 5. Scores from different calls are not comparable with each other; this only keeps
// every call within what the judge can handle. Throws std::invalid_argument for max_per_call 0.
std::vector<std::vector<size_t>> split_balanced(size_t count, size_t max_per_call);

}  // namespace precept::reward
