// User prompts taken from the public sets in ../shared/datasets, for making synthetic data and
// for aligning a policy: AlpacaEval's instructions, the first user turn of Chatbot Arena
// conversations, and the first human turn of HH-RLHF's helpful dialogues. Only short one-line
// prompts are kept (a word limit), duplicates dropped, order kept. Not the listwise converters
// (data/convert.h) and not the prompt reader (data/prompt.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace precept::data {

enum class PromptSource {
  alpacaeval,       // alpacaeval/gpt4_1106_preview_model_outputs.json: a JSON array, field "instruction"
  chatbot_arena,    // chatbot-arena-55k-sample/*.jsonl: "prompt" is a JSON-encoded list of user turns
  hh_rlhf_helpful,  // hh-rlhf/train-samples/helpful_train_sample.jsonl: "chosen", "\n\nHuman: ..." turns
};

// The file of a source under a datasets directory (../shared/datasets).
std::filesystem::path prompt_source_path(PromptSource source, const std::filesystem::path& datasets_dir);
std::string prompt_source_name(PromptSource source);  // "alpacaeval", "chatbot-arena", "hh-rlhf-helpful"

// The source's prompts of at most `max_words` words, on one line, unique, in file order. Errors
// name the file and the line (or item) of a record without the field.
std::vector<std::string> read_source_prompts(PromptSource source, const std::filesystem::path& file, int64_t max_words);

}  // namespace precept::data
