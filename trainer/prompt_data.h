// The training prompts: a JSONL file read once, every prompt rendered (chat template) and
// encoded up front so that a bad record or an over-long prompt is an error before step 1, and a
// seeded order that is reshuffled every epoch and can be resumed at any position. Not the
// rollout; not the reward's view of a prompt (judge_prompt_text gives that).
#pragma once

#include "text/chat_template.h"
#include "data/prompt.h"
#include "text/tokenizer.h"
#include "trainer/config.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace precept::trainer {

struct PromptExample {
  data::Prompt prompt;
  std::vector<int64_t> ids;   // what the policy sees (template applied)
  std::string judge_text;     // what a reward sees as the prompt (the user's words)
};

class PromptDataset {
 public:
  // Throws naming file:line for a record that has no prompt, and for a prompt longer than
  // data.max_prompt_tokens once rendered (never cut).
  PromptDataset(const DataSection& data, const text::Tokenizer& tokenizer, const text::ChatTemplate* chat);
  // Examples another task built (trainer/judge_task.h), each checked the same way.
  PromptDataset(std::vector<PromptExample> examples, int64_t max_prompt_tokens);
  size_t size() const { return examples_.size(); }
  const PromptExample& operator[](size_t index) const { return examples_.at(index); }
  int64_t longest_prompt() const { return longest_; }

 private:
  void add(PromptExample example, int64_t max_prompt_tokens);
  std::vector<PromptExample> examples_;
  int64_t longest_ = 0;
};

// The user's words of a prompt: plain text as is; for a chat, the last user message (the
// whole conversation, "role: content" per line, when there are several turns).
std::string judge_prompt_text(const data::Prompt& prompt);

// Where the sampler stands: epoch and offset into that epoch's order.
struct DataPosition {
  int64_t epoch = 0;
  int64_t offset = 0;
  nlohmann::json to_json() const { return {{"epoch", epoch}, {"offset", offset}}; }
  static DataPosition from_json(const nlohmann::json& value);
};

// Hands out dataset indices in a seeded order, a new permutation every epoch (or file order
// when not shuffling). The order depends only on (seed, epoch), so a resumed run continues
// exactly where it stopped.
class PromptSampler {
 public:
  PromptSampler(size_t dataset_size, uint64_t seed, bool shuffle);
  std::vector<int64_t> next(int64_t count);  // crosses epoch boundaries as needed
  DataPosition position() const { return position_; }
  void restore(const DataPosition& position);

 private:
  void build_order();
  size_t size_;
  uint64_t seed_;
  bool shuffle_;
  DataPosition position_;
  std::vector<int64_t> order_;
};

// A permutation of 0..n-1 from a seed, the same on every platform (splitmix64 + Fisher-Yates
// with rejection sampling; std::shuffle's distributions are implementation-defined).
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

}  // namespace precept::trainer
