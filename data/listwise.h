// The listwise judge dataset: one case per JSONL line, a principle, a prompt, k >= 2 named
// responses and their gold scores (optionally a gold best-to-worst ranking, a domain and a
// category), in RABench's shape:
//   {"id": "c1", "principle": "...", "prompt": "...", "responses": {"a": "...", "b": "..."},
//    "ground_truth": {"scores": {"a": 4, "b": 2}, "best-to-worst": ["a", "b"]},
//    "domain": "chat", "category": "tone"}
// Validated when read; every error names the file, the line and the field. Read by
// `precept eval judge` and by the judge-training loop. Not the judge's output (reward/listwise.h
// converts judgments into rewards) and not the metrics (reward/rank_metrics.h).
#pragma once

#include "data/jsonl.h"

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace precept::data {

struct ListwiseCase {
  std::string id;         // a string, or an integer id written as its decimal digits
  std::string principle;  // not blank
  std::string prompt;
  std::vector<std::string> response_names;  // in the order the file gives them; unique
  std::vector<std::string> responses;       // responses[i] is the text of response_names[i]
  std::vector<double> gold_scores;          // gold_scores[i] is the score of response_names[i]
  std::vector<std::string> gold_ranking;    // best to worst, every response once; empty if not given
  std::string domain;                       // "" when not given
  std::string category;                     // "" when not given
  std::string where;                        // "file:line"

  // The index of a response name, or npos.
  size_t index_of(const std::string& name) const;
  static constexpr size_t npos = static_cast<size_t>(-1);
};

// One case from a parsed record. Rules (each broken one is a std::runtime_error that starts
// with `where` and names the field):
//  - "id": a non-empty string or an integer;
//  - "principle": a non-blank string; "prompt": a string;
//  - "responses": an object of at least 2 {name: text} with string texts;
//  - "ground_truth": an object; its "scores" an object with a number (not a boolean) for every
//    response and no name that is not a response; its optional "best-to-worst" an array naming
//    every response exactly once;
//  - "domain", "category": strings when present (null counts as absent).
// Other keys are allowed and ignored (datasets carry rubrics, references, sources).
ListwiseCase parse_listwise_case(const ordered_json& record, const std::string& where);

// Every case of a listwise JSONL file, in file order. Besides the rules above: at least one
// case, and no id twice (the error names both lines).
std::vector<ListwiseCase> read_listwise_jsonl(const std::filesystem::path& path);

}  // namespace precept::data
