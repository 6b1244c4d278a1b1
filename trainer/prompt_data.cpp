#include "trainer/prompt_data.h"

#include "core/random_streams.h"

#include <stdexcept>

namespace precept::trainer {

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  uint64_t state = seed;
  auto next = [&state] {  // the splitmix64 generator
    const uint64_t out = core::splitmix64(state);
    state += 0x9e3779b97f4a7c15ull;
    return out;
  };
  for (int64_t i = n - 1; i > 0; --i) {
    const uint64_t bound = static_cast<uint64_t>(i + 1);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;  // reject the biased tail
    uint64_t draw;
    do {
      draw = next();
    } while (draw >= limit);
    std::swap(order[i], order[static_cast<int64_t>(draw % bound)]);
  }
  return order;
}

std::string judge_prompt_text(const data::Prompt& prompt) {
  if (prompt.messages.empty()) return prompt.text;
  std::vector<const text::ChatMessage*> turns;
  for (const auto& message : prompt.messages) {
    if (message.role != "system") turns.push_back(&message);
  }
  if (turns.size() == 1 && turns[0]->role == "user") return turns[0]->content;
  std::string text;
  for (const auto* message : turns) text += (text.empty() ? "" : "\n") + message->role + ": " + message->content;
  return text;
}

PromptDataset::PromptDataset(const DataSection& data, const text::Tokenizer& tokenizer, const text::ChatTemplate* chat) {
  data::PromptFormat format;
  format.chat_for_text = data.chat;
  format.system_prompt = data.system_prompt;
  format.enable_thinking = data.enable_thinking;
  for (auto& prompt : data::read_prompts_jsonl(data.prompts, data.field)) {
    PromptExample example;
    example.ids = data::encode_prompt(prompt, tokenizer, chat, format);
    example.judge_text = judge_prompt_text(prompt);
    example.prompt = std::move(prompt);
    add(std::move(example), data.max_prompt_tokens);
  }
}

PromptDataset::PromptDataset(std::vector<PromptExample> examples, int64_t max_prompt_tokens) {
  for (auto& example : examples) add(std::move(example), max_prompt_tokens);
}

void PromptDataset::add(PromptExample example, int64_t max_prompt_tokens) {
  const std::string& where = example.prompt.where;
  if (example.ids.empty()) throw std::runtime_error(where + ": the prompt encodes to no tokens");
  if (static_cast<int64_t>(example.ids.size()) > max_prompt_tokens) {
    throw std::runtime_error(where + ": the prompt is " + std::to_string(example.ids.size()) +
                             " tokens once rendered, more than data.max_prompt_tokens = " +
                             std::to_string(max_prompt_tokens) + " (prompts are never cut)");
  }
  longest_ = std::max<int64_t>(longest_, static_cast<int64_t>(example.ids.size()));
  examples_.push_back(std::move(example));
}

DataPosition DataPosition::from_json(const nlohmann::json& value) {
  DataPosition position;
  position.epoch = value.at("epoch").get<int64_t>();
  position.offset = value.at("offset").get<int64_t>();
  return position;
}

PromptSampler::PromptSampler(size_t dataset_size, uint64_t seed, bool shuffle)
    : size_(dataset_size), seed_(seed), shuffle_(shuffle) {
  if (dataset_size == 0) throw std::invalid_argument("prompt sampler: the dataset is empty");
  build_order();
}

void PromptSampler::build_order() {
  if (shuffle_) {
    order_ = seeded_permutation(static_cast<int64_t>(size_), core::mix_seed(seed_, static_cast<uint64_t>(position_.epoch)));
  } else {
    order_.resize(size_);
    for (size_t i = 0; i < size_; ++i) order_[i] = static_cast<int64_t>(i);
  }
}

std::vector<int64_t> PromptSampler::next(int64_t count) {
  std::vector<int64_t> out;
  while (static_cast<int64_t>(out.size()) < count) {
    if (position_.offset >= static_cast<int64_t>(size_)) {
      ++position_.epoch;
      position_.offset = 0;
      build_order();
    }
    out.push_back(order_[position_.offset++]);
  }
  return out;
}

void PromptSampler::restore(const DataPosition& position) {
  if (position.epoch < 0 || position.offset < 0 || position.offset > static_cast<int64_t>(size_)) {
    throw std::runtime_error("prompt sampler: cannot resume at epoch " + std::to_string(position.epoch) + " offset " +
                             std::to_string(position.offset) + " of a dataset of " + std::to_string(size_) +
                             " prompts (was the prompt file changed?)");
  }
  position_ = position;
  build_order();
}

}  // namespace precept::trainer
