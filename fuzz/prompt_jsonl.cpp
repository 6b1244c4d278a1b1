// Fuzzes the prompt JSONL reader (data/prompt.h, read_prompts_jsonl, which `precept train`
// and `precept generate` read prompts with): one JSON object a line, a "prompt" that is text
// or a list of chat messages; then each prompt rendered as the trainer renders it, through a
// ChatML template. A std::exception naming file:line is the expected answer to a bad line.
#include "data/prompt.h"
#include "fuzz/fuzz_input.h"

#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path path = precept::fuzz::input_path("prompts.jsonl");
  static const auto kChat = precept::text::ChatTemplate::from_source(
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
      "", "<|im_end|>");
  precept::fuzz::write_input(path, data, size);
  try {
    const std::vector<precept::data::Prompt> prompts = precept::data::read_prompts_jsonl(path);
    precept::data::PromptFormat format;
    format.chat_for_text = true;
    format.system_prompt = "Be brief.";
    for (const precept::data::Prompt& prompt : prompts) {
      (void)precept::data::render_prompt(prompt, &kChat, format);
      (void)prompt.record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  } catch (const std::exception&) {
  }
  return 0;
}
