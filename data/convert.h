// Converters from public judged datasets into the listwise judge shape of data/listwise.h: each
// source case becomes {id, principle, prompt, responses, ground_truth.scores, domain, category,
// source} with a principle stated by us (or, for Prometheus, the case's own rubric criterion) and
// scores on the judge's 1-5 scale. The assumptions of each format (score scale, what is skipped,
// ids) are in docs/data.md. Not the listwise reader (data/listwise.h) and not the SFT targets
// (apps/commands/data.cpp, reward/judge_case.h). Used by `precept data convert`.
#pragma once

#include "data/jsonl.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace precept::data {

enum class SourceFormat {
  prometheus_listwise,  // prometheus-eval listwise_vicuna_eval.jsonl: 4 responses, GPT-4 rubric scores 1-5
  alpacaeval_listwise,  // alpacaeval listwise_gpt4turbo_judged_12gen.jsonl: 12 generators, P(beats baseline)
  reward_bench_bon,     // reward-bench bon: 11 Tulu-2 samples, P(beats a reference that is dropped)
  helpsteer,            // HelpSteer rows {prompt, response, 5 attributes 0-4}: one case per prompt and attribute
  rm_bench,             // RM-Bench chosen / rejected at three style levels (data/rm_bench.h)
};

// "prometheus-listwise", "alpacaeval-listwise", "reward-bench-bon", "helpsteer", "rm-bench".
const std::vector<std::string>& source_format_names();
// The format of a name; throws std::invalid_argument listing the valid names.
SourceFormat parse_source_format(const std::string& name);
std::string source_format_name(SourceFormat format);

// What a conversion produced: the listwise records (each already valid under
// parse_listwise_case) and, per reason, how many source cases were left out.
struct Conversion {
  std::vector<ordered_json> records;
  std::map<std::string, int64_t> skipped;  // reason -> count
  int64_t source_records = 0;              // lines, rows or items read from the input
  int64_t all_tied = 0;                    // written cases whose gold scores are all equal
};

// Converts `input` (a JSONL file; for rm-bench a directory of <domain>_filtered.json files or
// one such file). Errors name the file, the line (or record) and the field that is wrong. The
// records' ids are unique (a source id twice is an error naming both places).
Conversion convert_to_listwise(SourceFormat format, const std::filesystem::path& input);

// The principles we wrote for the sets that carry none (docs/data.md quotes them).
std::string alpacaeval_principle();                          // alpacaeval-listwise and reward-bench-bon
std::string helpsteer_principle(const std::string& attribute);  // helpfulness, correctness, ...
std::string rm_bench_principle(const std::string& domain);       // chat, code, math, safety-*
const std::vector<std::string>& helpsteer_attributes();

// The records as JSONL, one compact line each (UTF-8 as is).
std::string listwise_jsonl_text(const std::vector<ordered_json>& records);

}  // namespace precept::data
