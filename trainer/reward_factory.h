// Builds the run's reward from its [reward] section: the RewardAnything judge, the rule
// rewards, a scalar reward model, or a weighted composite of them. Each type's keys are checked
// here; an unknown or mistyped key is an error naming it and the section's file and line.
// docs/training.md lists every key. Used by the trainer and by `precept train --check`.
#pragma once

#include "reward/reward.h"
#include "trainer/config.h"

#include <memory>
#include <string>

namespace precept::trainer {

struct RewardContext {
  std::string device = "cpu";   // the run's device, the default for model-based rewards
  uint64_t seed = 0;            // the run's seed
  std::string policy_model;     // the policy's directory (its tokenizer counts tokens for a length reward)
};

std::unique_ptr<reward::Reward> make_reward(const RewardSpec& spec, const RewardContext& context);

}  // namespace precept::trainer
