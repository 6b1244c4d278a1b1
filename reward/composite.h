// reward::CompositeReward: a weighted sum of other rewards (rule rewards, a reward model, a
// judge), itself a Reward. Each component scores the whole batch once, so a judge inside still
// batches its calls. Not a normaliser: components are summed as they come (scale them with the
// weights). Used by the trainer and the command line when a run names several rewards.
#pragma once

#include "reward/reward.h"

#include <memory>
#include <string>
#include <vector>

namespace precept::reward {

struct WeightedReward {
  std::shared_ptr<Reward> reward;
  double weight = 1.0;
  std::string name;  // key in diagnostics; empty = reward->name()
};

class CompositeReward : public Reward {
 public:
  // Throws on no components, a null reward, a non-finite weight, or two components with the
  // same name (diagnostics are keyed by name).
  explicit CompositeReward(std::vector<WeightedReward> components, std::string name = "composite");
  std::string name() const override { return name_; }
  // reward = sum_i weight_i * reward_i; valid only where every component is valid (an invalid
  // component's fallback value still enters the sum); failures and retries are summed;
  // explanations joined as "name: text" lines; diagnostics = {component name: {"weight",
  // "rewards", "valid", "failures", "retries", "diagnostics"}}. Throws when a component returns
  // the wrong number of rewards or a non-finite one.
  GroupScores score(const Group& group) override;
  // Calls every component's score_batch once with all groups.
  std::vector<GroupScores> score_batch(const std::vector<Group>& groups) override;

  const std::vector<WeightedReward>& components() const { return components_; }

 private:
  std::vector<WeightedReward> components_;
  std::string name_;
};

// Combines per-component scores of one group (components[i] produced parts[i]) as score() does.
GroupScores combine_scores(const std::vector<WeightedReward>& components, const std::vector<GroupScores>& parts,
                           size_t response_count, const std::string& composite_name);

}  // namespace precept::reward
