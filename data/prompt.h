// Prompts as users give them: plain text or a list of chat messages, one per JSONL line (the
// field name is configurable), turned into the token ids a model sees (chat template applied
// to messages, or to text when asked). Used by `precept generate`, `precept tokenize`, the
// judge CLI and the trainer's prompt data. Not a dataset shuffler (trainer/ does that).
#pragma once

#include "text/chat_template.h"
#include "text/tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace precept::data {

struct Prompt {
  std::string text;                   // used when `messages` is empty
  std::vector<text::ChatMessage> messages;  // a chat, rendered with the chat template
  nlohmann::json record;              // the whole JSONL record (other fields: reference answers, ids)
  std::string where;                  // "file:line", for error messages
};

struct PromptFormat {
  bool chat_for_text = false;        // wrap plain text as one user message and apply the template
  std::string system_prompt;         // chat: prepended as a system message when not empty
  bool add_generation_prompt = true;
  bool enable_thinking = true;       // Qwen3's switch
  bool add_special = true;           // tokenizer BOS for plain text (never for a rendered chat)
};

// A JSON list of {"role", "content"[, "reasoning_content"]} objects; `where` names the source.
std::vector<text::ChatMessage> messages_from_json(const nlohmann::json& list, const std::string& where);

// One prompt from a JSON value: a string, a list of messages, or an object holding `field`
// (itself a string or a list of messages). Throws naming `where` otherwise.
Prompt prompt_from_json(const nlohmann::json& value, const std::string& field, const std::string& where);

// Every non-blank line of a JSONL file. Errors name the file and line.
std::vector<Prompt> read_prompts_jsonl(const std::filesystem::path& path, const std::string& field = "prompt");

// The text the model sees (the chat template applied where the format asks) and its ids.
// `chat` may be null when no prompt needs a template; then such a prompt is an error.
std::string render_prompt(const Prompt& prompt, const text::ChatTemplate* chat, const PromptFormat& format);
std::vector<int64_t> encode_prompt(const Prompt& prompt, const text::Tokenizer& tokenizer, const text::ChatTemplate* chat,
                                   const PromptFormat& format);

}  // namespace precept::data
