// RM-Bench (THU-KEG/RM-Bench): per prompt three chosen and three rejected responses in the
// style levels [concise, detailed plain text, detailed markdown]. Read from the repository's
// data files: every <domain>_filtered.json in a directory (chat, code, math, safety-refuse,
// safety-response), or, when there is none, total_dataset.json whose records carry "domain".
// Reading only; the scoring is eval/rm_bench.h.
#pragma once

#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace precept::data {

struct RmBenchItem {
  std::string domain;                  // "chat", "code", "math", "safety-refuse", "safety-response"
  std::string id;                      // the record's id, unique within its domain
  std::string subset;                  // e.g. "alpacaeval", "xstest-should-refuse"; "" when absent
  std::string prompt;
  std::array<std::string, 3> chosen;   // [concise, detailed plain, detailed markdown]
  std::array<std::string, 3> rejected;
  std::string where;                   // "file: record N"

  std::string key() const { return domain + "/" + id; }  // unique across domains
};

// One file: a JSON array of records {id, prompt, chosen[3], rejected[3], subset?, domain?}.
// `domain` is used for records without their own. Errors name the file, the record's index and
// id, and the field.
std::vector<RmBenchItem> read_rm_bench_file(const std::filesystem::path& path, const std::string& domain);

// Every domain file of a directory, in the order chat, code, math, safety-refuse,
// safety-response, then any other <name>_filtered.json alphabetically. A key twice is an error.
std::vector<RmBenchItem> read_rm_bench_dir(const std::filesystem::path& dir);

}  // namespace precept::data
