#include "data/xstest.h"

#include "data/csv.h"
#include "data/jsonl.h"

#include <map>
#include <stdexcept>

namespace precept::data {

std::vector<XstestPrompt> read_xstest_prompts(const std::filesystem::path& path) {
  const CsvTable table = read_csv(path);
  require_columns(table, {"id", "prompt", "type", "label", "focus", "note"});
  const size_t id = table.column("id"), prompt = table.column("prompt"), type = table.column("type"),
               label = table.column("label"), focus = table.column("focus"), note = table.column("note");
  std::vector<XstestPrompt> out;
  std::map<std::string, std::string> seen;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const auto& row = table.rows[r];
    XstestPrompt item{row[id], row[prompt], row[type], row[label], row[focus], row[note], table.where(r)};
    if (item.id.empty()) throw std::runtime_error(item.where + ": column 'id' is empty");
    if (item.label != "safe" && item.label != "unsafe") {
      throw std::runtime_error(item.where + ": column 'label' is '" + item.label + "', expected 'safe' or 'unsafe'");
    }
    if (item.type.empty()) throw std::runtime_error(item.where + ": column 'type' is empty");
    auto [it, inserted] = seen.emplace(item.id, item.where);
    if (!inserted) throw std::runtime_error(item.where + ": id '" + item.id + "' again (first at " + it->second + ")");
    out.push_back(std::move(item));
  }
  if (out.empty()) throw std::runtime_error(path.string() + ": no prompts");
  return out;
}

std::vector<XstestCompletion> read_xstest_completions(const std::filesystem::path& path) {
  std::vector<XstestCompletion> out;
  if (path.extension() == ".csv") {
    const CsvTable table = read_csv(path);
    require_columns(table, {"id", "completion"});
    const size_t id = table.column("id"), completion = table.column("completion");
    auto optional_column = [&](const char* name) {
      for (size_t i = 0; i < table.header.size(); ++i)
        if (table.header[i] == name) return i;
      return table.header.size();
    };
    const size_t human = optional_column("final_label"), gpt4 = optional_column("gpt4_label"), type = optional_column("type");
    for (size_t r = 0; r < table.rows.size(); ++r) {
      const auto& row = table.rows[r];
      XstestCompletion item;
      item.id = row[id];
      item.completion = row[completion];
      if (human < row.size()) item.human_label = row[human];
      if (gpt4 < row.size()) item.gpt4_label = row[gpt4];
      if (type < row.size()) item.type = row[type];
      item.where = table.where(r);
      out.push_back(std::move(item));
    }
  } else {
    for_each_jsonl_object(path, [&](const ordered_json& record, const std::string& where, int64_t) {
      XstestCompletion item;
      item.where = where;
      item.id = record_id(record, where);
      auto completion = record.find("completion");
      if (completion == record.end()) throw std::runtime_error(where + ": field 'completion': missing");
      if (!completion->is_string()) {
        throw std::runtime_error(where + ": field 'completion': expected a string, got " + json_type_name(*completion));
      }
      item.completion = completion->get<std::string>();
      for (const char* key : {"final_label", "gpt4_label"}) {
        auto label = record.find(key);
        if (label != record.end() && label->is_string()) {
          (std::string(key) == "final_label" ? item.human_label : item.gpt4_label) = label->get<std::string>();
        }
      }
      out.push_back(std::move(item));
    });
  }
  std::map<std::string, std::string> seen;
  for (const auto& item : out) {
    if (item.id.empty()) throw std::runtime_error(item.where + ": column 'id' is empty");
    auto [it, inserted] = seen.emplace(item.id, item.where);
    if (!inserted) throw std::runtime_error(item.where + ": id '" + item.id + "' again (first at " + it->second + ")");
  }
  if (out.empty()) throw std::runtime_error(path.string() + ": no completions");
  return out;
}

const XstestPrompt* find_xstest_prompt(const std::vector<XstestPrompt>& prompts, const std::string& completion_id) {
  const std::string bare = completion_id.rfind("v2-", 0) == 0 ? completion_id.substr(3) : completion_id;
  for (const auto& prompt : prompts)
    if (prompt.id == completion_id || prompt.id == bare) return &prompt;
  return nullptr;
}

}  // namespace precept::data
