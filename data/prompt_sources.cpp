#include "data/prompt_sources.h"

#include "core/files.h"
#include "data/jsonl.h"

#include <set>
#include <stdexcept>

namespace precept::data {
namespace {

int64_t word_count(const std::string& text) {
  int64_t words = 0;
  bool in_word = false;
  for (char c : text) {
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (!space && !in_word) ++words;
    in_word = !space;
  }
  return words;
}

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

std::string field_string(const ordered_json& record, const std::string& field, const std::string& where) {
  if (!record.is_object() || !record.contains(field) || !record[field].is_string()) {
    throw std::runtime_error(where + ": field '" + field + "' is missing or not a string");
  }
  return record[field].get<std::string>();
}

}  // namespace

std::filesystem::path prompt_source_path(PromptSource source, const std::filesystem::path& datasets_dir) {
  switch (source) {
    case PromptSource::alpacaeval: return datasets_dir / "alpacaeval" / "gpt4_1106_preview_model_outputs.json";
    case PromptSource::chatbot_arena:
      return datasets_dir / "chatbot-arena-55k-sample" / "lmsys_lmsys-arena-human-preference-55k_sample.jsonl";
    case PromptSource::hh_rlhf_helpful: return datasets_dir / "hh-rlhf" / "train-samples" / "helpful_train_sample.jsonl";
  }
  return {};
}

std::string prompt_source_name(PromptSource source) {
  switch (source) {
    case PromptSource::alpacaeval: return "alpacaeval";
    case PromptSource::chatbot_arena: return "chatbot-arena";
    case PromptSource::hh_rlhf_helpful: return "hh-rlhf-helpful";
  }
  return "?";
}

std::vector<std::string> read_source_prompts(PromptSource source, const std::filesystem::path& file, int64_t max_words) {
  std::vector<std::string> raw;
  if (source == PromptSource::alpacaeval) {
    const ordered_json items = parse_json_text(core::read_file(file), file.string());
    if (!items.is_array()) throw std::runtime_error(file.string() + ": expected a JSON array of {instruction, ...}");
    for (size_t i = 0; i < items.size(); ++i) {
      raw.push_back(field_string(items[i], "instruction", file.string() + ": item " + std::to_string(i)));
    }
  } else {
    for_each_jsonl_object(file, [&](const ordered_json& record, const std::string& where, int64_t) {
      if (source == PromptSource::chatbot_arena) {
        const ordered_json turns = parse_json_text(field_string(record, "prompt", where), where + ": field 'prompt'");
        if (!turns.is_array() || turns.empty() || !turns[0].is_string()) {
          throw std::runtime_error(where + ": field 'prompt' is not a JSON list of strings");
        }
        raw.push_back(turns[0].get<std::string>());
      } else {
        const std::string chosen = field_string(record, "chosen", where);
        const std::string human = "\n\nHuman: ", assistant = "\n\nAssistant:";
        const size_t begin = chosen.find(human);
        if (begin == std::string::npos) throw std::runtime_error(where + ": field 'chosen' has no '\\n\\nHuman: ' turn");
        const size_t end = chosen.find(assistant, begin);
        raw.push_back(chosen.substr(begin + human.size(), end == std::string::npos ? std::string::npos
                                                                                   : end - begin - human.size()));
      }
    });
  }
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& text : raw) {
    const std::string prompt = trimmed(text);
    if (prompt.empty() || prompt.find('\n') != std::string::npos || word_count(prompt) > max_words) continue;
    if (seen.insert(prompt).second) out.push_back(prompt);
  }
  return out;
}

}  // namespace precept::data
