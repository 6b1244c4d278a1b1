// Chat templates rendered as transformers renders them; see lm/chat_template.h. The
// environment below restates transformers/utils/chat_template_utils.py
// (_cached_compile_jinja_template): trim_blocks and lstrip_blocks on, the loopcontrols and
// {% generation %} extensions, a json.dumps tojson without HTML escaping, and the globals
// raise_exception and strftime_now.
#include "text/chat_template.h"
#include "core/files.h"

#include "text/jinja/jinja.h"
#include "text/jinja/value.h"

#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace precept::text {

namespace fs = std::filesystem;
using jinja::Arguments;
using jinja::TemplateError;
using jinja::Value;

namespace {

// transformers' tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False).
Value transformers_tojson(const Value& input, const Arguments& arguments, const jinja::Environment&) {
  arguments.check("tojson", 4, {"ensure_ascii", "indent", "separators", "sort_keys"});
  jinja::JsonFormat format;
  format.ensure_ascii = false;
  if (const Value* ensure_ascii = arguments.find(0, "ensure_ascii")) format.ensure_ascii = jinja::truthy(*ensure_ascii);
  if (const Value* indent = arguments.find(1, "indent"); indent != nullptr && !indent->is_none()) {
    if (indent->kind() != Value::Kind::Int) throw TemplateError("tojson: indent must be an integer");
    format.indent = indent->as_int();
  }
  if (const Value* separators = arguments.find(2, "separators"); separators != nullptr && !separators->is_none()) {
    if (!separators->is_sequence() || separators->as_list().size() != 2 || !separators->as_list()[0].is_string() ||
        !separators->as_list()[1].is_string()) {
      throw TemplateError("tojson: separators must be a pair of strings");
    }
    format.separators = std::make_pair(separators->as_list()[0].as_string(), separators->as_list()[1].as_string());
  }
  if (const Value* sort_keys = arguments.find(3, "sort_keys")) format.sort_keys = jinja::truthy(*sort_keys);
  return Value(jinja::dumps(input, format));
}

// datetime.now().strftime(format): the local time, through the same C strftime.
Value strftime_now(const Arguments& arguments) {
  arguments.check("strftime_now", 1, {});
  if (arguments.positional.empty() || !arguments.positional[0].is_string()) {
    throw TemplateError("strftime_now() takes one string argument, the format");
  }
  const std::string& format = arguments.positional[0].as_string();
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  for (size_t size = 256; size <= 65536; size *= 4) {
    std::string out(size, '\0');
    const size_t written = std::strftime(out.data(), out.size(), format.c_str(), &local);
    if (written > 0 || format.empty()) {
      out.resize(written);
      return Value(out);
    }
  }
  return Value("");
}

}  // namespace

jinja::Environment transformers_environment() {
  jinja::Environment environment;
  environment.trim_blocks = true;
  environment.lstrip_blocks = true;
  environment.loop_controls = true;
  environment.generation_blocks = true;
  environment.filters["tojson"] = transformers_tojson;
  environment.globals["raise_exception"] = Value::function("raise_exception", [](const Arguments& arguments) -> Value {
    throw TemplateError(arguments.positional.empty() ? "raise_exception() called"
                                                     : jinja::to_str(arguments.positional[0]));
  });
  environment.globals["strftime_now"] = Value::function("strftime_now", strftime_now);
  // transformers' namespace() refuses attribute names that start with an underscore.
  const Value namespace_builtin = environment.globals.at("namespace");
  environment.globals["namespace"] = Value::function("namespace", [namespace_builtin](const Arguments& arguments) {
    Value made = namespace_builtin.as_function().call(arguments);
    for (const auto& item : made.as_dict().items()) {
      if (item.first.is_string() && !item.first.as_string().empty() && item.first.as_string()[0] == '_') {
        throw TemplateError("Chat templates cannot store underscore-prefixed attributes on a namespace, but got " +
                            jinja::repr(item.first) + ". Please rename the attribute.");
      }
    }
    return made;
  });
  return environment;
}

namespace {

using core::read_file;

// A special token in tokenizer_config.json: a string, or an AddedToken object {"content": ...}.
std::optional<std::string> special_token(const nlohmann::ordered_json& config, const std::string& key) {
  auto found = config.find(key);
  if (found == config.end() || found->is_null()) return std::nullopt;
  if (found->is_string()) return found->get<std::string>();
  if (found->is_object() && found->contains("content") && (*found)["content"].is_string()) {
    return (*found)["content"].get<std::string>();
  }
  return std::nullopt;
}

std::string names_of(const std::map<std::string, std::string>& templates) {
  std::string out;
  for (const auto& [name, source] : templates) out += (out.empty() ? "" : ", ") + ("'" + name + "'");
  return out;
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source, std::map<std::string, std::string> special_tokens, std::string origin)
    : source_(std::move(source)),
      special_tokens_(std::move(special_tokens)),
      variables_(nlohmann::ordered_json::object({{"date_string", kDefaultDateString}})) {
  try {
    template_ = std::make_shared<const jinja::Template>(source_, transformers_environment(), origin);
  } catch (const jinja::TemplateSyntaxError& error) {
    throw jinja::TemplateSyntaxError(
        error.message() +
            "\nprecept interprets the subset of Jinja2 that chat templates use (docs/chat-templates.md); to use "
            "another template, write it to chat_template.jinja beside tokenizer_config.json (it takes precedence "
            "over the config's \"chat_template\" key) or load it with ChatTemplate::from_source",
        error.line(), error.template_name());
  }
}

ChatTemplate::ChatTemplate(const ChatTemplate&) = default;
ChatTemplate& ChatTemplate::operator=(const ChatTemplate&) = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;
ChatTemplate::~ChatTemplate() = default;

ChatTemplate ChatTemplate::from_source(std::string jinja_source, std::string bos_token, std::string eos_token) {
  std::map<std::string, std::string> special_tokens;
  if (!bos_token.empty()) special_tokens["bos_token"] = std::move(bos_token);
  if (!eos_token.empty()) special_tokens["eos_token"] = std::move(eos_token);
  return ChatTemplate(std::move(jinja_source), std::move(special_tokens), "chat template");
}

ChatTemplate ChatTemplate::from_model_dir(const fs::path& dir, const std::string& template_name) {
  const fs::path config = dir / "tokenizer_config.json";
  if (!fs::exists(config)) {
    throw std::runtime_error("no tokenizer_config.json in " + dir.string() +
                             ": a chat template needs it for the special tokens (bos_token, eos_token) it prints");
  }
  return from_tokenizer_config(config, template_name);
}

ChatTemplate ChatTemplate::from_tokenizer_config(const fs::path& tokenizer_config, const std::string& template_name) {
  if (!fs::exists(tokenizer_config)) throw std::runtime_error("no tokenizer config at " + tokenizer_config.string());
  const nlohmann::ordered_json config = core::read_ordered_json_file(tokenizer_config);
  if (!config.is_object()) throw std::runtime_error(tokenizer_config.string() + " is not a JSON object");

  std::map<std::string, std::string> special_tokens;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    if (auto token = special_token(config, key)) special_tokens[key] = *token;
  }

  // Template files beside the config replace its "chat_template" key, as in transformers.
  const fs::path dir = tokenizer_config.parent_path();
  std::map<std::string, std::string> templates;
  std::map<std::string, std::string> origins;
  if (fs::exists(dir / "chat_template.jinja")) {
    templates["default"] = read_file(dir / "chat_template.jinja");
    origins["default"] = (dir / "chat_template.jinja").string();
  }
  if (fs::is_directory(dir / "additional_chat_templates")) {
    for (const auto& entry : fs::directory_iterator(dir / "additional_chat_templates")) {
      if (entry.path().extension() != ".jinja") continue;
      templates[entry.path().stem().string()] = read_file(entry.path());
      origins[entry.path().stem().string()] = entry.path().string();
    }
  }
  if (templates.empty() && config.contains("chat_template")) {
    const auto& value = config["chat_template"];
    if (value.is_string()) {
      templates["default"] = value.get<std::string>();
    } else if (value.is_array()) {
      for (const auto& entry : value) {
        if (!entry.is_object() || !entry.contains("name") || !entry.contains("template") ||
            !entry["name"].is_string() || !entry["template"].is_string()) {
          throw std::runtime_error(tokenizer_config.string() +
                                   ": \"chat_template\" entries must be {\"name\": ..., \"template\": ...}");
        }
        templates[entry["name"].get<std::string>()] = entry["template"].get<std::string>();
      }
    } else if (!value.is_null()) {
      throw std::runtime_error(tokenizer_config.string() + ": \"chat_template\" must be a string or a list");
    }
    for (const auto& [name, source] : templates) {
      origins[name] = tokenizer_config.string() + " (chat_template '" + name + "')";
    }
  }

  if (templates.empty()) {
    throw std::runtime_error("no chat template for " + dir.string() + ": " + tokenizer_config.filename().string() +
                             " has no \"chat_template\" and there is no chat_template.jinja; add either, or load a "
                             "template with ChatTemplate::from_source");
  }
  auto chosen = templates.find(template_name);
  if (chosen == templates.end()) {
    throw std::runtime_error("no chat template named '" + template_name + "' for " + tokenizer_config.string() +
                             "; the templates there are " + names_of(templates) + ": pass one of these names");
  }
  return ChatTemplate(chosen->second, std::move(special_tokens), origins[template_name]);
}

void ChatTemplate::set_variable(const std::string& name, const nlohmann::ordered_json& value) {
  variables_[name] = value;
}

void ChatTemplate::remove_variable(const std::string& name) { variables_.erase(name); }

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 bool enable_thinking) const {
  if (messages.empty()) {
    throw std::invalid_argument("ChatTemplate::render: no messages (transformers refuses an empty conversation too)");
  }
  // Each message as transformers hands it over: reasoning also as `thinking`, listed first.
  jinja::ValueList message_values;
  for (const ChatMessage& message : messages) {
    jinja::ValueDict fields;
    if (message.reasoning_content) fields.set(Value("thinking"), Value(*message.reasoning_content));
    fields.set(Value("role"), Value(message.role));
    fields.set(Value("content"), Value(message.content));
    if (message.reasoning_content) fields.set(Value("reasoning_content"), Value(*message.reasoning_content));
    message_values.push_back(Value::dict(std::move(fields)));
  }
  std::vector<std::pair<std::string, Value>> variables = {
      {"messages", Value::list(std::move(message_values))},
      {"tools", Value::none()},
      {"documents", Value::none()},
      {"add_generation_prompt", Value(add_generation_prompt)},
  };
  for (const auto& [name, token] : special_tokens_) variables.emplace_back(name, Value(token));
  variables.emplace_back("enable_thinking", Value(enable_thinking));
  for (auto it = variables_.begin(); it != variables_.end(); ++it) {
    variables.emplace_back(it.key(), jinja::from_json(it.value()));
  }
  return template_->render(variables);
}

}  // namespace precept::text
