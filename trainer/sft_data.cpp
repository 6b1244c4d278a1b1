// SFT data; see sft_data.h.
#include "trainer/sft_data.h"

#include "data/prompt.h"

#include <stdexcept>

namespace precept::trainer {

std::vector<std::string> assistant_pieces(const text::ChatTemplate& chat, const std::vector<text::ChatMessage>& messages,
                                          bool enable_thinking, const std::string& where) {
  const std::string full = chat.render(messages, /*add_generation_prompt=*/false, enable_thinking);
  std::vector<std::string> pieces;
  size_t done = 0;  // bytes of `full` already cut into pieces
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i].role != "assistant") continue;
    if (i == 0) throw std::runtime_error(where + ": the chat starts with an assistant turn; nothing prompts it");
    const std::vector<text::ChatMessage> before(messages.begin(), messages.begin() + static_cast<long>(i));
    const std::vector<text::ChatMessage> through(messages.begin(), messages.begin() + static_cast<long>(i) + 1);
    const std::string prompt = chat.render(before, /*add_generation_prompt=*/true, enable_thinking);
    const std::string reply = chat.render(through, /*add_generation_prompt=*/false, enable_thinking);
    if (reply.compare(0, prompt.size(), prompt) != 0 || full.compare(0, reply.size(), reply) != 0 || prompt.size() < done) {
      throw std::runtime_error(where + ": the chat template does not render turn " + std::to_string(i + 1) +
                               " (assistant) as a continuation of the turns before it, so its span cannot be marked");
    }
    pieces.push_back(full.substr(done, prompt.size() - done));
    pieces.push_back(full.substr(prompt.size(), reply.size() - prompt.size()));
    done = reply.size();
  }
  if (pieces.empty()) throw std::runtime_error(where + ": the chat has no assistant turn to learn");
  pieces.push_back(full.substr(done));
  return pieces;
}

SftExample encode_chat(const text::Tokenizer& tokenizer, const text::ChatTemplate& chat,
                       const std::vector<text::ChatMessage>& messages, bool enable_thinking, const std::string& where) {
  SftExample example;
  example.where = where;
  const std::vector<std::string> pieces = assistant_pieces(chat, messages, enable_thinking, where);
  for (size_t p = 0; p < pieces.size(); ++p) {
    if (pieces[p].empty()) continue;
    const std::vector<int64_t> ids = tokenizer.encode(pieces[p], /*add_special=*/false);
    const bool target = p % 2 == 1 && !example.ids.empty();
    example.ids.insert(example.ids.end(), ids.begin(), ids.end());
    example.targets.insert(example.targets.end(), ids.size(), target ? 1 : 0);
    if (target) example.target_tokens += static_cast<int64_t>(ids.size());
  }
  if (example.target_tokens == 0) throw std::runtime_error(where + ": the assistant turns encode to no tokens");
  return example;
}

std::vector<SftExample> read_sft_data(const SftDataSection& data, const text::Tokenizer& tokenizer,
                                      const text::ChatTemplate& chat) {
  std::vector<SftExample> examples;
  for (const data::Prompt& record : data::read_prompts_jsonl(data.train, data.field)) {
    if (record.messages.empty()) {
      throw std::runtime_error(record.where + ": \"" + data.field + "\" must be a list of {role, content} messages");
    }
    SftExample example = encode_chat(tokenizer, chat, record.messages, data.enable_thinking, record.where);
    if (static_cast<int64_t>(example.ids.size()) > data.max_length) {
      throw std::runtime_error(record.where + ": the chat is " + std::to_string(example.ids.size()) +
                               " tokens once rendered, more than data.max_length = " + std::to_string(data.max_length) +
                               " (chats are never cut)");
    }
    examples.push_back(std::move(example));
  }
  return examples;
}

}  // namespace precept::trainer
