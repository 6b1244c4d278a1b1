// Every setting of an in-process RewardAnything judge, read from one set of named options with
// one set of defaults (the structs' own: JudgeSettings, rollout::GeneratorConfig,
// lm::LoadOptions). A recipe's [reward] section of type "rewardanything" and the flags of
// `precept judge` (and `precept eval judge`) both become such options, so a key means the same
// thing, with the same default, everywhere. docs/judge.md lists the keys. Not the judge itself
// (reward/rewardanything.h).
#pragma once

#include "core/json_options.h"
#include "lm/pretrained.h"
#include "reward/rewardanything.h"
#include "rollout/generator.h"

#include <memory>
#include <string>

namespace precept::reward {

struct JudgeOptions {
  std::string model;                  // the judge's model directory ("model")
  JudgeSettings settings;
  rollout::GeneratorConfig generator;
  lm::LoadOptions load;
};

// Keys: model, principle | principle_file, system_prompt_file, mask, mask_seed, thinking,
// temperature, top_p, top_k, max_new_tokens, max_per_call, retries, fallback, fallback_value,
// overflow, conversion, slots, max_length, dtype, device. `principle_required`: exactly one of
// principle and principle_file must be given (a batch file may carry its own instead).
// `default_device` is the device when "device" is absent. Does not call finish().
JudgeOptions read_judge_options(core::JsonOptions& options, const std::string& default_device, bool principle_required);

// Loads the judge the options describe.
std::unique_ptr<RewardAnythingJudge> load_judge(const JudgeOptions& options);

}  // namespace precept::reward
