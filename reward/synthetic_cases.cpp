#include "reward/synthetic_cases.h"

#include "core/random_streams.h"
#include "core/toml_reader.h"
#include "reward/criteria.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

namespace precept::reward {

std::vector<CriterionWordings> load_criterion_wordings(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(path.string() + ": no such wordings file");
  const core::TomlDocument document = core::TomlDocument::from_file(path.string());
  const core::TomlSection root = document.root();
  std::vector<CriterionWordings> out;
  std::set<std::string> ids;
  std::map<std::string, std::string> wording_at;  // wording -> where it was first given
  for (const core::TomlSection& section : root.sections("criterion")) {
    CriterionWordings entry;
    entry.where = section.where();
    entry.criterion = section.required_string("id");
    try {
      find_criterion(entry.criterion);
    } catch (const std::invalid_argument& error) {
      section.fail("id", error.what());
    }
    if (!ids.insert(entry.criterion).second) section.fail("id", "'" + entry.criterion + "' is given twice");
    entry.train = section.get_strings("train");
    entry.held_out = section.get_strings("held_out");
    entry.held_out_only = section.get_bool("held_out_only", false);
    if (entry.held_out.empty()) section.fail("held_out", "is missing or empty: every criterion needs a held-out wording");
    if (entry.held_out_only && !entry.train.empty()) section.fail("train", "is given with held_out_only = true");
    if (!entry.held_out_only && entry.train.empty()) {
      section.fail("train", "is missing: give training wordings, or held_out_only = true");
    }
    for (const auto* list : {&entry.train, &entry.held_out}) {
      for (const auto& wording : *list) {
        const std::string key = list == &entry.train ? "train" : "held_out";
        if (wording.find_first_not_of(" \t\n") == std::string::npos) section.fail(key, "holds a blank wording");
        const auto [at, inserted] = wording_at.emplace(wording, section.where(key));
        if (!inserted) section.fail(key, "repeats the wording '" + wording + "' first given at " + at->second);
      }
    }
    section.finish();
    out.push_back(std::move(entry));
  }
  root.finish();
  if (out.empty()) throw std::runtime_error(path.string() + ": no [[criterion]] tables");
  return out;
}

std::optional<std::vector<ScoredResponse>> spanning_responses(const Criterion& criterion, const std::string& base,
                                                              int64_t count, uint64_t seed) {
  std::vector<std::string> pool = {base};
  const auto edits = criterion.edits(base, seed);
  for (size_t i = 0; i < edits.size(); ++i) {
    pool.push_back(edits[i]);
    // A distractor on every other edit: a property the principle does not ask about.
    if (i % 2 == 0) {
      pool.push_back(distractor_edit(edits[i], core::mix_seed(seed, i), core::mix_seed(seed, 100 + i)));
    }
  }
  std::vector<ScoredResponse> unique;
  std::set<std::string> seen;
  for (const auto& text : pool) {
    if (text.empty() || !seen.insert(text).second) continue;
    unique.push_back({text, criterion.score(text)});
  }
  if (static_cast<int64_t>(unique.size()) < count) return std::nullopt;
  // A seeded shuffle (Fisher-Yates over splitmix64), then one response of each score first.
  for (size_t i = unique.size(); i > 1; --i) {
    std::swap(unique[i - 1], unique[core::mix_seed(seed, 1000 + i) % i]);
  }
  std::vector<ScoredResponse> chosen, rest;
  std::set<int> scores;
  for (auto& response : unique) {
    if (static_cast<int64_t>(chosen.size()) < count && scores.insert(response.score).second) {
      chosen.push_back(std::move(response));
    } else {
      rest.push_back(std::move(response));
    }
  }
  for (size_t i = 0; static_cast<int64_t>(chosen.size()) < count; ++i) chosen.push_back(std::move(rest[i]));
  const auto [low, high] = std::minmax_element(chosen.begin(), chosen.end(),
                                               [](const auto& a, const auto& b) { return a.score < b.score; });
  if (high->score - low->score < 2) return std::nullopt;
  for (size_t i = chosen.size(); i > 1; --i) std::swap(chosen[i - 1], chosen[core::mix_seed(seed, 2000 + i) % i]);
  return chosen;
}

namespace {

nlohmann::ordered_json make_record(const std::string& id, const std::string& principle, const BaseResponse& base,
                                   const std::vector<ScoredResponse>& responses, const std::string& domain,
                                   const Criterion& criterion, size_t wording) {
  nlohmann::ordered_json texts = nlohmann::ordered_json::object(), scores = nlohmann::ordered_json::object();
  for (size_t i = 0; i < responses.size(); ++i) {
    const std::string name = "response-" + std::to_string(i + 1);
    texts[name] = responses[i].text;
    scores[name] = responses[i].score;
  }
  return {{"id", id},
          {"principle", principle},
          {"prompt", base.prompt},
          {"responses", texts},
          {"ground_truth", {{"scores", scores}}},
          {"domain", domain},
          {"category", criterion_category_name(criterion.category)},
          {"criterion", criterion.id},
          {"wording", wording}};
}

// `count` cases of one criterion, wordings in turn, bases drawn from `pool` by the stream.
void add_cases(std::vector<nlohmann::ordered_json>& out, const Criterion& criterion,
               const std::vector<std::string>& wordings, const std::vector<BaseResponse>& pool, int64_t count,
               const std::string& domain, int64_t responses_per_case, uint64_t stream) {
  if (count <= 0) return;
  if (pool.empty()) throw std::runtime_error("synthetic cases: no base responses for the " + domain + " split");
  int64_t made = 0;
  for (uint64_t attempt = 0; made < count; ++attempt) {
    if (attempt > static_cast<uint64_t>(count) * 50 + 100) {
      throw std::runtime_error("synthetic cases: criterion '" + criterion.id + "' found only " + std::to_string(made) +
                               " spanning cases of " + std::to_string(count) + " in the " + domain + " split");
    }
    const uint64_t seed = core::mix_seed(stream, attempt);
    const BaseResponse& base = pool[seed % pool.size()];
    auto responses = spanning_responses(criterion, base.text, responses_per_case, core::splitmix64(seed));
    if (!responses) continue;
    const size_t wording = static_cast<size_t>(made) % wordings.size();
    out.push_back(make_record(criterion.id + "-" + domain + "-" + std::to_string(made), wordings[wording], base,
                              *responses, domain, criterion, wording));
    ++made;
  }
}

}  // namespace

SyntheticCases build_synthetic_cases(const std::vector<CriterionWordings>& wordings,
                                     const std::vector<BaseResponse>& train_pool,
                                     const std::vector<BaseResponse>& held_out_pool, const SyntheticCasesConfig& config) {
  if (config.responses_per_case < 2) throw std::invalid_argument("synthetic cases: responses_per_case must be >= 2");
  SyntheticCases out;
  for (size_t c = 0; c < wordings.size(); ++c) {
    const Criterion& criterion = find_criterion(wordings[c].criterion);
    const uint64_t stream = core::mix_seed(config.seed, c);
    if (!wordings[c].held_out_only) {
      add_cases(out.train, criterion, wordings[c].train, train_pool, config.train_cases_per_criterion, "train",
                config.responses_per_case, core::mix_seed(stream, 1));
    }
    add_cases(out.held_out, criterion, wordings[c].held_out, held_out_pool, config.held_out_cases_per_criterion,
              wordings[c].held_out_only ? "unseen" : "seen", config.responses_per_case, core::mix_seed(stream, 2));
  }
  // Training cases interleaved across criteria (a seeded shuffle), so a prefix covers them all.
  for (size_t i = out.train.size(); i > 1; --i) {
    std::swap(out.train[i - 1], out.train[core::mix_seed(config.seed, 5000 + i) % i]);
  }
  return out;
}

}  // namespace precept::reward
