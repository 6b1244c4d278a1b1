// reward::Reward: the one interface the trainer and the command line see. A group (one prompt
// and the responses sampled for it) goes in; one number per response plus diagnostics come out.
// A new reward never touches the trainer. Implementations: the RewardAnything judge
// (reward/rewardanything.h), rule rewards (reward/rule_rewards.h), a scalar Bradley-Terry
// reward model (reward/scalar_reward_model.h) and weighted composites (reward/composite.h).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace precept::reward {

struct Group {
  std::string prompt;                  // the prompt as the user wrote it (for a chat: its last user turn)
  std::vector<std::string> responses;  // the candidate responses, text only
  // Optional names of the responses (e.g. "gpt-4", "sample-3"); empty means "response-1" ..
  // "response-k". A judge shows them only when it does not mask.
  std::vector<std::string> response_names;
  nlohmann::json record = nlohmann::json::object();  // the data record: reference answers, ids, ...
  uint64_t seed = 0;                   // per group: judges draw their masks and samples from it
  // A judge scores this group against this principle when it is not empty, else against its
  // own: so that one batch can carry many principles (evaluation sets, judge batch files).
  std::string principle;
};

struct GroupScores {
  std::vector<double> rewards;  // one per response, always finite
  // false where the reward could not be computed and a fallback value stands in (for example a
  // judgment that could not be parsed after every retry); the trainer counts these.
  std::vector<bool> valid;
  int64_t failures = 0;  // calls or evaluations that ended in a fallback
  int64_t retries = 0;   // extra attempts made (judges)
  // Per-response text worth logging next to samples (a judge's reasoning), empty otherwise.
  std::vector<std::string> explanations;
  nlohmann::json diagnostics = nlohmann::json::object();  // reward-specific: raw outputs, parse problems, ...
  // Sums over the group's responses of per-response metrics; the trainer logs each as a mean per
  // response under "reward/<key>". Empty for rewards that have none.
  std::map<std::string, double> metric_sums;
};

// The response names of a group: its own, or "response-1" .. "response-k".
inline std::vector<std::string> response_names_of(const Group& group) {
  if (!group.response_names.empty()) return group.response_names;
  std::vector<std::string> names;
  for (size_t i = 0; i < group.responses.size(); ++i) names.push_back("response-" + std::to_string(i + 1));
  return names;
}

class Reward {
 public:
  virtual ~Reward() = default;
  virtual std::string name() const = 0;
  // Scores one group. Never throws because of what the responses say; throws on misuse
  // (no responses) or broken configuration.
  virtual GroupScores score(const Group& group) = 0;
  // Scores many groups; a judge batches all their calls through its generator at once.
  virtual std::vector<GroupScores> score_batch(const std::vector<Group>& groups) {
    std::vector<GroupScores> out;
    out.reserve(groups.size());
    for (const auto& group : groups) out.push_back(score(group));
    return out;
  }
};

}  // namespace precept::reward
