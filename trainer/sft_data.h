// SFT data: chats from a JSONL file, each rendered by the model's chat template and encoded
// with the assistant's tokens marked as the ones to learn. The assistant spans are found the
// way the template itself draws them: for the assistant turn i, the text the template renders
// for turns 0..i-1 with the generation prompt is a prefix of the text it renders for turns
// 0..i, and the difference (the reply and the template's end-of-turn text after it) is
// the span. Templates that render earlier turns differently once later turns follow (Qwen3
// drops the thinking of earlier replies) are an error naming the line. Not the loop
// (trainer/sft_trainer.h). docs/sft.md.
#pragma once

#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "trainer/config.h"

#include <cstdint>
#include <string>
#include <vector>

namespace precept::trainer {

struct SftExample {
  std::vector<int64_t> ids;       // the whole chat as the model sees it
  std::vector<uint8_t> targets;   // 1 on the assistant's tokens (never on the first token)
  int64_t target_tokens = 0;
  std::string where;              // "file:line"
};

// The text the template renders for `messages`, cut into consecutive pieces that alternate
// between context (even indices) and assistant spans (odd indices). Throws std::runtime_error
// (prefixed with `where`) when the template is not prefix-stable, or when there is no
// assistant turn.
std::vector<std::string> assistant_pieces(const text::ChatTemplate& chat, const std::vector<text::ChatMessage>& messages,
                                          bool enable_thinking, const std::string& where);

// One chat as ids and targets: each piece encoded on its own (no special tokens added; the
// template writes its own), concatenated.
SftExample encode_chat(const text::Tokenizer& tokenizer, const text::ChatTemplate& chat,
                       const std::vector<text::ChatMessage>& messages, bool enable_thinking, const std::string& where);

// Every chat of data.train. Throws naming file:line for a bad record, a chat without an
// assistant turn, one longer than data.max_length tokens (never cut) or one whose assistant
// spans encode to no tokens.
std::vector<SftExample> read_sft_data(const SftDataSection& data, const text::Tokenizer& tokenizer,
                                      const text::ChatTemplate& chat);

}  // namespace precept::trainer
