// A listwise case as the judge sees it; see judge_case.h.
#include "reward/judge_case.h"

#include "core/python_strings.h"
#include "core/random_streams.h"
#include "reward/judge_prompt.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace precept::reward {

namespace {

uint64_t fnv1a(const std::string& text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char byte : text) {
    hash ^= byte;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string score_text(double score) {
  if (std::isfinite(score) && score == std::floor(score) && std::fabs(score) < 1e15) {
    return std::to_string(static_cast<long long>(score));
  }
  return core::python_json_float(score);
}

}  // namespace

uint64_t case_mask_seed(uint64_t seed, const std::string& case_id) { return core::mix_seed(seed, fnv1a(case_id)); }

JudgeCase judge_case(const data::ListwiseCase& listwise, const std::string& system_prompt, bool mask, uint64_t seed) {
  std::vector<NamedResponse> responses;
  for (size_t i = 0; i < listwise.responses.size(); ++i) {
    responses.push_back({listwise.response_names[i], listwise.responses[i]});
  }
  JudgeCase out;
  out.names = mask ? mask_responses(responses, case_mask_seed(seed, listwise.id)) : unmasked_responses(responses);
  out.user_json = judge_user_json(listwise.principle, listwise.prompt, out.names.shown);
  out.messages = judge_messages(system_prompt, out.user_json);
  for (size_t i = 0; i < out.names.shown.size(); ++i) out.masked2real[out.names.shown[i].name] = out.names.real_names[i];
  for (size_t i = 0; i < listwise.response_names.size(); ++i) {
    out.gold_scores[listwise.response_names[i]] = listwise.gold_scores[i];
  }
  return out;
}

std::vector<std::string> gold_ranking(const data::ListwiseCase& listwise, const std::vector<std::string>& order) {
  if (!listwise.gold_ranking.empty()) return listwise.gold_ranking;
  std::vector<std::string> ranking = order;
  std::stable_sort(ranking.begin(), ranking.end(), [&](const std::string& a, const std::string& b) {
    return listwise.gold_scores[listwise.index_of(a)] > listwise.gold_scores[listwise.index_of(b)];
  });
  return ranking;
}

std::string judge_target(const data::ListwiseCase& listwise, const JudgeCase& shown, bool think) {
  std::map<std::string, std::string> real2shown;
  for (const auto& [masked, real] : shown.masked2real) real2shown[real] = masked;
  std::string scores;
  for (size_t i = 0; i < shown.names.shown.size(); ++i) {
    if (i > 0) scores += ", ";
    const double gold = listwise.gold_scores[listwise.index_of(shown.names.real_names[i])];
    scores += core::python_json_string(shown.names.shown[i].name) + ": " + score_text(gold);
  }
  const std::vector<std::string> ranking = gold_ranking(listwise, shown.names.real_names);
  std::string order;
  for (size_t i = 0; i < ranking.size(); ++i) {
    if (i > 0) order += ", ";
    order += core::python_json_string(real2shown.at(ranking[i]));
  }
  const std::string json = "{\"scores\": {" + scores + "}, \"best-to-worst\": [" + order + "]}";
  if (!think) return json;
  std::string reasoning;
  for (size_t i = 0; i < ranking.size(); ++i) {
    const std::string& name = real2shown.at(ranking[i]);
    const std::string score = score_text(listwise.gold_scores[listwise.index_of(ranking[i])]);
    if (i == 0) {
      reasoning += name + " follows the principle best (" + score + " of 5)";
    } else if (i + 1 == ranking.size()) {
      reasoning += "; " + name + " follows it least (" + score + ").";
    } else {
      reasoning += "; then " + name + " (" + score + ")";
    }
  }
  return "<think>\n" + reasoning + "\n</think>\n\n" + json;
}

}  // namespace precept::reward
