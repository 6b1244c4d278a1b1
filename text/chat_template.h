// A model's chat template: messages in, the prompt text out, byte-for-byte what transformers'
// tokenizer.apply_chat_template(..., tokenize=False) gives. The Jinja source is interpreted
// (text/jinja/) in the environment transformers builds, so user templates work too, not only
// known ones. Not a tokenizer: the text still has to be encoded. See docs/chat-templates.md.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace precept::text {

namespace jinja {
class Template;
struct Environment;
}  // namespace jinja

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool", ...
  std::string content;
  // The assistant's reasoning, passed as transformers passes it: as `reasoning_content` (and
  // `thinking`) on the message. Absent means the keys are absent, not empty.
  std::optional<std::string> reasoning_content;
};

class ChatTemplate {
 public:
  // The date Llama 3.x templates print as "Today Date:" unless told otherwise: the default of
  // Llama 3.1's template, passed as `date_string` so that Llama 3.2's template, which would
  // otherwise call strftime_now(), renders the same text on every day.
  static constexpr const char* kDefaultDateString = "26 Jul 2024";

  // `bos_token` / `eos_token` empty means the tokenizer has none (the variable is undefined).
  static ChatTemplate from_source(std::string jinja_source, std::string bos_token, std::string eos_token);

  // The template of a Hugging Face model or tokenizer directory, found as transformers finds
  // it: chat_template.jinja (and additional_chat_templates/NAME.jinja), else the
  // "chat_template" of tokenizer_config.json (a string, or a list of {"name", "template"}).
  // The special tokens (bos_token, eos_token, ...) come from tokenizer_config.json, which
  // must exist. Throws, naming the files and the available templates, when `template_name` is
  // not there, and with the line when the template has a syntax error or uses a Jinja feature
  // that is not supported.
  static ChatTemplate from_model_dir(const std::filesystem::path& dir, const std::string& template_name = "default");

  // The same from a tokenizer_config.json file given by path (any file name).
  static ChatTemplate from_tokenizer_config(const std::filesystem::path& tokenizer_config,
                                            const std::string& template_name = "default");

  ChatTemplate(const ChatTemplate&);  // copies share the parsed template, which is immutable
  ChatTemplate& operator=(const ChatTemplate&);
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;
  ~ChatTemplate();

  // Renders with the variables transformers passes: messages, add_generation_prompt,
  // tools=None, documents=None, the special tokens, enable_thinking, and the extra variables
  // below. Throws jinja::TemplateError (text/jinja/value.h, a std::runtime_error) with the line when the template fails, e.g. by
  // raise_exception(), and std::invalid_argument for no messages.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                     bool enable_thinking = true) const;

  // Extra template variables, as keyword arguments to apply_chat_template. Holds
  // date_string = kDefaultDateString unless removed; removing it lets templates that call
  // strftime_now() print the local date, as transformers does by default.
  void set_variable(const std::string& name, const nlohmann::ordered_json& value);
  void remove_variable(const std::string& name);

  const std::string& source() const { return source_; }

 private:
  ChatTemplate(std::string source, std::map<std::string, std::string> special_tokens, std::string origin);

  std::string source_;
  std::map<std::string, std::string> special_tokens_;  // bos_token, eos_token, ... that are set
  nlohmann::ordered_json variables_;
  std::shared_ptr<const jinja::Template> template_;
};

// The jinja2 environment transformers renders chat templates in: trim_blocks, lstrip_blocks,
// {% break %}/{% continue %}, {% generation %}, a tojson without HTML escaping (json.dumps
// with ensure_ascii=False), raise_exception() and strftime_now().
jinja::Environment transformers_environment();

}  // namespace precept::text
