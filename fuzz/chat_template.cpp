// Fuzzes chat templates (text/chat_template.h): the input is the Jinja source, parsed by
// ChatTemplate::from_source (text/jinja/ lexer and parser) and rendered, as transformers'
// apply_chat_template would, over a fixed conversation with a system prompt, reasoning content
// and non-ASCII text, with and without the generation prompt. A std::exception (a syntax error,
// an unsupported feature, raise_exception) is the expected answer.
#include "text/chat_template.h"

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using precept::text::ChatMessage;
  static const std::vector<ChatMessage> kConversation = {
      {.role = "system", .content = "You are terse."},
      {.role = "user", .content = "Caf\xc3\xa9? {{ not a template }}"},
      {.role = "assistant", .content = "Yes.", .reasoning_content = std::string("The user asks.")},
      {.role = "user", .content = "And \"tea\"\n\twith <|im_end|>?"},
  };
  try {
    const auto chat = precept::text::ChatTemplate::from_source(std::string(reinterpret_cast<const char*>(data), size),
                                                               "<s>", "</s>");
    try { (void)chat.render(kConversation, true, true); } catch (const std::exception&) {}
    try { (void)chat.render({kConversation[1]}, false, false); } catch (const std::exception&) {}
  } catch (const std::exception&) {
  }
  return 0;
}
