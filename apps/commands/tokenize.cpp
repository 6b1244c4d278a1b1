// `precept tokenize`: what the model will see, for users debugging their data. Text, or a JSON
// list of chat messages (rendered with the checkpoint's chat template), in; one JSON object
// with ids, pieces and the rendered text out. --jsonl FILE tokenizes a batch, one per line.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "lm/pretrained.h"
#include "text/chat_template.h"
#include "data/prompt.h"
#include "text/tokenizer.h"
#include "trainer/sft_data.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <optional>

namespace precept::apps {
namespace {
using json = nlohmann::json;

struct TokenizeSettings {
  bool add_special = false;
  bool add_generation_prompt = true;
  bool enable_thinking = true;
  bool sft = false;  // chats: mark the tokens `precept sft` learns (trainer/sft_data.h)
};

json tokenize_one(const lm::Pretrained& model, const json& input, const TokenizeSettings& settings,
                  const std::string& where) {
  const text::Tokenizer& tokenizer = *model.tokenizer;
  std::string text;
  if (settings.sft) {
    if (!input.is_array()) throw std::runtime_error(where + ": --sft needs a list of chat messages");
    const auto messages = data::messages_from_json(input, where);
    const text::ChatTemplate& chat = model.require_chat_template(where + " (--sft)");
    const trainer::SftExample example = trainer::encode_chat(tokenizer, chat, messages, settings.enable_thinking, where);
    json pieces = json::array();
    for (int64_t id : example.ids) pieces.push_back(tokenizer.piece(id));
    return {{"ids", example.ids}, {"targets", example.targets}, {"pieces", pieces},
            {"text", chat.render(messages, false, settings.enable_thinking)}};
  }
  if (input.is_string()) {
    text = input.get<std::string>();
  } else if (input.is_array()) {
    text = model.require_chat_template(where + " (chat messages)").render(data::messages_from_json(input, where), settings.add_generation_prompt, settings.enable_thinking);
  } else {
    throw std::runtime_error(where + ": expected a string or a list of chat messages");
  }
  std::vector<int64_t> ids = tokenizer.encode(text, settings.add_special);
  json pieces = json::array();
  for (int64_t id : ids) pieces.push_back(tokenizer.piece(id));
  return {{"ids", ids}, {"pieces", pieces}, {"text", text}};
}
}  // namespace

int cmd_tokenize(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string model_dir, input, jsonl_path;
  TokenizeSettings settings;
  options.add_options()
      ("model", po::value(&model_dir)->required(), "model directory (tokenizer files, tokenizer_config.json)")
      ("input", po::value(&input), "text, or a JSON list of {role, content} messages (chat template applied)")
      ("jsonl", po::value(&jsonl_path), "batch mode: a JSONL file of {\"text\": ...} or {\"messages\": [...]}")
      ("add-special", po::bool_switch(&settings.add_special), "add BOS/EOS as the tokenizer's post-processor does")
      ("no-generation-prompt", po::bool_switch(), "chat: do not append the assistant turn header")
      ("no-thinking", po::bool_switch(), "chat: enable_thinking=false (Qwen3)")
      ("sft", po::bool_switch(&settings.sft),
       "chat: the ids `precept sft` trains on, with \"targets\" (1 on the assistant's tokens it learns)");
  po::positional_options_description positional;
  positional.add("input", 1);
  po::variables_map values;
  if (!parse_options("tokenize", "--model DIR [TEXT | MESSAGES_JSON | --jsonl FILE]", options, args, values, &positional)) {
    return 0;
  }
  settings.add_generation_prompt = !values["no-generation-prompt"].as<bool>();
  settings.enable_thinking = !values["no-thinking"].as<bool>();
  if (values.count("input") == values.count("jsonl")) throw std::runtime_error("give either TEXT/MESSAGES or --jsonl FILE");

  lm::OpenOptions open;
  open.weights = false;
  const lm::Pretrained model = lm::open_pretrained(model_dir, open);

  if (!jsonl_path.empty()) {
    std::ifstream in(jsonl_path);
    if (!in) throw std::runtime_error(jsonl_path + ": cannot open");
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = jsonl_path + ":" + std::to_string(number);
      json record;
      try {
        record = json::parse(line);
      } catch (const json::exception& error) {
        throw std::runtime_error(where + ": not valid JSON: " + error.what());
      }
      if (!record.is_object() || (record.contains("text") == record.contains("messages"))) {
        throw std::runtime_error(where + ": each line needs exactly one of \"text\" or \"messages\"");
      }
      const json& payload = record.contains("text") ? record["text"] : record["messages"];
      std::cout << tokenize_one(model, payload, settings, where).dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
    }
    return 0;
  }
  json parsed = input;  // plain text unless it parses as a JSON list
  if (!input.empty() && input.front() == '[') {
    try {
      parsed = json::parse(input);
    } catch (const json::exception&) {
      parsed = input;
    }
  }
  std::cout << tokenize_one(model, parsed, settings, "input").dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace precept::apps
