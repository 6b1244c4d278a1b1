#include "data/prompt.h"

#include <fstream>
#include <stdexcept>

namespace precept::data {
using json = nlohmann::json;

std::vector<text::ChatMessage> messages_from_json(const json& list, const std::string& where) {
  if (!list.is_array() || list.empty()) throw std::runtime_error(where + ": chat messages must be a non-empty list");
  std::vector<text::ChatMessage> messages;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& item = list[i];
    if (!item.is_object() || !item.contains("role") || !item.contains("content") || !item["role"].is_string() ||
        !item["content"].is_string()) {
      throw std::runtime_error(where + ": message " + std::to_string(i) +
                               " must be an object with string \"role\" and \"content\"");
    }
    text::ChatMessage message;
    message.role = item["role"].get<std::string>();
    message.content = item["content"].get<std::string>();
    if (item.contains("reasoning_content") && item["reasoning_content"].is_string()) {
      message.reasoning_content = item["reasoning_content"].get<std::string>();
    }
    messages.push_back(std::move(message));
  }
  return messages;
}

Prompt prompt_from_json(const json& value, const std::string& field, const std::string& where) {
  Prompt prompt;
  prompt.where = where;
  const json* payload = &value;
  if (value.is_object()) {
    prompt.record = value;
    if (!value.contains(field)) {
      std::string keys;
      for (auto it = value.begin(); it != value.end(); ++it) keys += (keys.empty() ? "" : ", ") + it.key();
      throw std::runtime_error(where + ": no \"" + field + "\" field (the record has: " + keys + ")");
    }
    payload = &value.at(field);
  }
  if (payload->is_string()) {
    prompt.text = payload->get<std::string>();
  } else if (payload->is_array()) {
    prompt.messages = messages_from_json(*payload, where);
  } else {
    throw std::runtime_error(where + ": the prompt must be a string or a list of chat messages");
  }
  return prompt;
}

std::vector<Prompt> read_prompts_jsonl(const std::filesystem::path& path, const std::string& field) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot open the prompt file");
  std::vector<Prompt> prompts;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + ":" + std::to_string(number);
    json record;
    try {
      record = json::parse(line);
    } catch (const json::exception& error) {
      throw std::runtime_error(where + ": not valid JSON: " + error.what());
    }
    prompts.push_back(prompt_from_json(record, field, where));
  }
  if (prompts.empty()) throw std::runtime_error(path.string() + ": holds no prompts");
  return prompts;
}

std::string render_prompt(const Prompt& prompt, const text::ChatTemplate* chat, const PromptFormat& format) {
  if (prompt.messages.empty() && !format.chat_for_text) return prompt.text;
  if (!chat) throw std::runtime_error(prompt.where + ": a chat prompt needs a chat template, and the model has none");
  std::vector<text::ChatMessage> messages;
  if (!format.system_prompt.empty()) messages.push_back({"system", format.system_prompt, std::nullopt});
  if (prompt.messages.empty()) {
    messages.push_back({"user", prompt.text, std::nullopt});
  } else {
    messages.insert(messages.end(), prompt.messages.begin(), prompt.messages.end());
  }
  return chat->render(messages, format.add_generation_prompt, format.enable_thinking);
}

std::vector<int64_t> encode_prompt(const Prompt& prompt, const text::Tokenizer& tokenizer, const text::ChatTemplate* chat,
                                   const PromptFormat& format) {
  const bool is_chat = !prompt.messages.empty() || format.chat_for_text;
  // A rendered chat already holds the template's own BOS, so no special tokens are added.
  return tokenizer.encode(render_prompt(prompt, chat, format), format.add_special && !is_chat);
}

}  // namespace precept::data
