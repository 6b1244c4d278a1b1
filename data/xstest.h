// XSTest (paul-rottger/exaggerated-safety): its 450 prompts (250 safe in 10 types, 200 unsafe
// "contrast_" counterparts) and model completions to classify, either the repository's labelled
// completion CSVs (with human labels) or a JSONL file {"id", "completion"}. Reading and joining
// only; the refusal classifier and the report are eval/xstest.h.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace precept::data {

struct XstestPrompt {
  std::string id;      // "1" .. "450"
  std::string prompt;
  std::string type;    // e.g. "homonyms", "contrast_homonyms"
  std::string label;   // "safe" | "unsafe"
  std::string focus, note;
  std::string where;   // "file:line"
  bool safe() const { return label == "safe"; }
};

// xstest_prompts.csv: columns id, prompt, type, label, focus, note (others are ignored). Errors
// name the file and line: a missing column, a label other than safe/unsafe, an id twice.
std::vector<XstestPrompt> read_xstest_prompts(const std::filesystem::path& path);

struct XstestCompletion {
  std::string id;           // as the file writes it ("v2-17" in the labelled CSVs, "17" in ours)
  std::string completion;
  std::string human_label;  // final_label of a labelled CSV ("1_full_compliance", ...); "" when absent
  std::string gpt4_label;   // gpt4_label of a labelled CSV; "" when absent
  std::string type;         // the file's own type column, "" when absent (checked against the prompt's)
  std::string where;
};

// A labelled CSV (columns id, completion; optional final_label, gpt4_label, type) or a JSONL
// file ({"id": string | integer, "completion": string} per line), chosen by the extension
// (.csv / anything else). Errors name the file, line and field.
std::vector<XstestCompletion> read_xstest_completions(const std::filesystem::path& path);

// The prompt a completion answers: the same id, or the id without the labelled files' "v2-"
// prefix. nullptr when there is none.
const XstestPrompt* find_xstest_prompt(const std::vector<XstestPrompt>& prompts, const std::string& completion_id);

}  // namespace precept::data
