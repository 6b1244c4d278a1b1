#include "eval/judge_runs.h"


namespace precept::eval {

std::vector<JudgedGroup> judge_groups(reward::RewardAnythingJudge& judge, const std::vector<reward::Group>& groups,
                                      const std::vector<std::string>& principles, const JudgeProgress& progress) {
  if (principles.size() != groups.size()) throw std::invalid_argument("judge_groups: one principle per group");
  // One batch: each group carries its own principle, so the generator's slots stay full
  // however many principles the set has.
  std::vector<reward::Group> batch = groups;
  for (size_t i = 0; i < batch.size(); ++i) batch[i].principle = principles[i];
  std::vector<JudgedGroup> out(groups.size());
  const int64_t total = static_cast<int64_t>(groups.size());
  judge.set_progress([&](const rollout::GenerationProgress& p) {
    if (progress) progress(0, total, p);
  });
  std::vector<reward::GroupScores> scores = judge.score_batch(batch);
  for (size_t i = 0; i < batch.size(); ++i) out[i].scores = std::move(scores[i]);
  for (const auto& call : judge.last_calls()) out[call.group].calls.push_back(call);
  if (progress) {
    rollout::GenerationProgress finished;
    progress(total, total, finished);
  }
  judge.set_progress({});
  return out;
}

std::vector<reward::Judgment> judgments_of(const std::vector<reward::JudgeCall>& calls) {
  std::vector<reward::Judgment> out;
  for (const auto& call : calls) out.push_back(call.judgment);
  return out;
}

namespace {

nlohmann::ordered_json call_record(const reward::JudgeCall& call) {
  nlohmann::ordered_json record;
  record["output"] = call.outputs.empty() ? std::string() : call.outputs.back();
  nlohmann::ordered_json names = nlohmann::ordered_json::object();
  for (size_t i = 0; i < call.prompt.names.shown.size(); ++i) names[call.prompt.names.shown[i].name] = call.prompt.names.real_names[i];
  record["masked2real"] = names;
  return record;
}

}  // namespace

nlohmann::ordered_json judgment_dump_record(const std::string& id, const std::vector<reward::JudgeCall>& calls) {
  nlohmann::ordered_json record;
  record["id"] = id;
  if (calls.size() == 1) {
    const nlohmann::ordered_json call = call_record(calls[0]);
    for (auto it = call.begin(); it != call.end(); ++it) record[it.key()] = it.value();
  } else {
    record["calls"] = nlohmann::ordered_json::array();
    for (const auto& call : calls) record["calls"].push_back(call_record(call));
  }
  return record;
}

}  // namespace precept::eval
