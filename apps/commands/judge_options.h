// The RewardAnything judge's command-line options, shared by `precept judge` and the
// `precept eval` subcommands that run a judge: sampling, masking, retries, context, dtype and
// device. A prefix ("judge-") names them for commands where the plain names belong to a policy
// (`eval xstest --judge-temperature`). The flags are read through reward::read_judge_options,
// the reader of a recipe's [reward] section, so a flag means what its key means there, with the
// same default (a command may change a default first, as `eval judge` sets retries 0).
// Not the principle or the inputs: each command has its own.
#pragma once

#include "apps/commands/options.h"
#include "lm/pretrained.h"
#include "reward/rewardanything.h"
#include "rollout/generator.h"

#include <cstdint>
#include <memory>
#include <string>

namespace precept::apps {

struct JudgeCommandOptions {
  reward::JudgeSettings settings;     // principle left empty: the command sets it
  rollout::GeneratorConfig generator;
  lm::LoadOptions load;               // from dtype and device, by finish_judge_options
  std::string system_prompt_file, conversion, fallback, overflow;
  std::string dtype, device = "cpu";  // dtype "": float32 on the CPU, the checkpoint's on a GPU
  uint64_t mask_seed = 0;
  // The defaults of reward/judge_options.h (the reader given no options).
  JudgeCommandOptions();
};

struct JudgeOptionGroups {
  bool conversion = true;  // --conversion (how a judgment becomes rewards)
  bool fallback = true;    // --fallback, --fallback-value (what a failed judgment is worth)
};

// Adds the options to `options`, with the values already in `judge` as their defaults (so a
// command sets different defaults by changing them first). Options are named prefix + name;
// the one-letter aliases (-t, -p, -n, -s) exist only without a prefix.
void add_judge_options(po::options_description& options, JudgeCommandOptions& judge, const std::string& prefix = "",
                       JudgeOptionGroups groups = {});

// After parsing: reads the system prompt file, the switches, the fixed mask seed and the named
// modes into judge.settings.
void finish_judge_options(const po::variables_map& values, JudgeCommandOptions& judge, const std::string& prefix = "");

// Loads the judge model with these settings under `principle` (a group's own
// reward::Group::principle takes its place for that group).
std::unique_ptr<reward::RewardAnythingJudge> load_judge(const std::string& model_dir, const JudgeCommandOptions& judge,
                                                        const std::string& principle);

}  // namespace precept::apps
