#include "data/rm_bench.h"

#include "data/jsonl.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>

namespace precept::data {

namespace {

const char* kDomainOrder[] = {"chat", "code", "math", "safety-refuse", "safety-response"};

std::array<std::string, 3> three_strings(const ordered_json& record, const char* key, const std::string& where) {
  auto it = record.find(key);
  if (it == record.end()) throw std::runtime_error(where + ": field '" + key + "': missing");
  if (!it->is_array() || it->size() != 3) {
    throw std::runtime_error(where + ": field '" + key + "': expected 3 responses [concise, detailed, markdown], got " +
                             (it->is_array() ? std::to_string(it->size()) + " items" : json_type_name(*it)));
  }
  std::array<std::string, 3> out;
  for (size_t i = 0; i < 3; ++i) {
    if (!(*it)[i].is_string()) {
      throw std::runtime_error(where + ": field '" + key + "[" + std::to_string(i) + "]': expected a string, got " +
                               json_type_name((*it)[i]));
    }
    out[i] = (*it)[i].get<std::string>();
  }
  return out;
}

}  // namespace

std::vector<RmBenchItem> read_rm_bench_file(const std::filesystem::path& path, const std::string& domain) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open");
  const ordered_json document = parse_json_text(std::string(std::istreambuf_iterator<char>(in), {}), path.string());
  if (!document.is_array()) throw std::runtime_error(path.string() + ": expected a JSON array of records, got " + json_type_name(document));
  std::vector<RmBenchItem> out;
  for (size_t n = 0; n < document.size(); ++n) {
    const ordered_json& record = document[n];
    std::string where = path.string() + ": record " + std::to_string(n);
    if (!record.is_object()) throw std::runtime_error(where + ": expected an object, got " + json_type_name(record));
    RmBenchItem item;
    item.id = record_id(record, where);
    where += " (id " + item.id + ")";
    item.where = where;
    auto prompt = record.find("prompt");
    if (prompt == record.end() || !prompt->is_string()) throw std::runtime_error(where + ": field 'prompt': expected a string");
    item.prompt = prompt->get<std::string>();
    item.chosen = three_strings(record, "chosen", where);
    item.rejected = three_strings(record, "rejected", where);
    auto subset = record.find("subset");
    if (subset != record.end() && subset->is_string()) item.subset = subset->get<std::string>();
    auto own_domain = record.find("domain");
    item.domain = own_domain != record.end() && own_domain->is_string() ? own_domain->get<std::string>() : domain;
    if (item.domain.empty()) throw std::runtime_error(where + ": field 'domain': missing (and the file name gives none)");
    out.push_back(std::move(item));
  }
  return out;
}

std::vector<RmBenchItem> read_rm_bench_dir(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw std::runtime_error(dir.string() + ": not a directory (expected RM-Bench's data/ folder)");
  const std::string suffix = "_filtered.json";
  std::vector<std::string> domains;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      domains.push_back(name.substr(0, name.size() - suffix.size()));
    }
  }
  auto rank = [](const std::string& domain) {
    for (size_t i = 0; i < std::size(kDomainOrder); ++i)
      if (domain == kDomainOrder[i]) return i;
    return std::size(kDomainOrder);
  };
  std::sort(domains.begin(), domains.end(), [&](const std::string& a, const std::string& b) {
    return rank(a) != rank(b) ? rank(a) < rank(b) : a < b;
  });
  std::vector<RmBenchItem> out;
  if (domains.empty()) {
    const fs::path total = dir / "total_dataset.json";
    if (!fs::exists(total)) {
      throw std::runtime_error(dir.string() + ": no <domain>_filtered.json and no total_dataset.json (RM-Bench's data files)");
    }
    out = read_rm_bench_file(total, "");
  } else {
    for (const auto& domain : domains) {
      auto items = read_rm_bench_file(dir / (domain + suffix), domain);
      out.insert(out.end(), std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
    }
  }
  std::map<std::string, std::string> seen;
  for (const auto& item : out) {
    auto [it, inserted] = seen.emplace(item.key(), item.where);
    if (!inserted) throw std::runtime_error(item.where + ": id '" + item.id + "' appears twice in domain '" + item.domain + "' (first at " + it->second + ")");
  }
  return out;
}

}  // namespace precept::data
