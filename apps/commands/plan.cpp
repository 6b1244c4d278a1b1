// `precept plan RECIPE.toml`: the memory plan of a GRPO run per rank (trainer/memory_plan.h),
// for this machine or another: --nproc sets the ranks, --policy-shape and --judge-shape stand in
// for models that are not here (a preset such as qwen3-8b, a model directory, a config.json or a
// .gguf), --memory-gb the memory per rank. Exit code 1 when the run does not fit.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "apps/commands/presets.h"
#include "trainer/config.h"
#include "trainer/grpo_trainer.h"
#include "trainer/memory_plan.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace precept::apps {
namespace fs = std::filesystem;

int cmd_plan(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string recipe, policy_shape, judge_shape;
  std::vector<std::string> overrides;
  int64_t nproc = 1;
  double memory_gb = 0.0;
  bool json = false;
  options.add_options()
      ("recipe", po::value(&recipe)->required(), "the run's recipe (TOML)")
      ("set", po::value(&overrides)->composing(), "section.key=value, as for precept train (repeatable)")
      ("nproc", po::value(&nproc)->default_value(1), "ranks (data parallel); ZeRO-1 shards over them")
      ("policy-shape", po::value(&policy_shape), "the policy's shape: a preset (configs/models), model directory, config.json or .gguf")
      ("judge-shape", po::value(&judge_shape), "the judge's (and a reward model's) shape, the same way")
      ("memory-gb", po::value(&memory_gb)->default_value(0.0),
       "memory per rank in GB (1e9 bytes); 0 = run.memory_limit_gb, else what this machine's device has")
      ("json", po::bool_switch(&json), "print the plan as JSON with exact bytes instead of the table");
  po::positional_options_description positional;
  positional.add("recipe", 1);
  po::variables_map values;
  if (!parse_options("plan", "RECIPE.toml [--set section.key=value ...] [--nproc N] [--policy-shape S] [--judge-shape S] [--memory-gb G] [--json]",
                     options, args, values, &positional)) {
    return 0;
  }
  if (nproc < 1) throw std::runtime_error("--nproc must be at least 1");
  const trainer::RunConfig config = trainer::load_run_config(recipe, overrides);
  trainer::MemoryPlanOptions plan_options;
  plan_options.world_size = nproc;
  plan_options.ranks_sharing = nproc;  // on a CPU machine; the plan takes 1 for a GPU
  if (memory_gb > 0) {
    plan_options.limit_bytes = static_cast<int64_t>(memory_gb * 1e9);
    char source[64];
    std::snprintf(source, sizeof source, "--memory-gb %g", memory_gb);
    plan_options.limit_source = source;
  }
  trainer::MemoryPlan plan;
  if (policy_shape.empty() && judge_shape.empty() && fs::exists(config.policy.model) && fs::exists(config.data.prompts)) {
    plan = trainer::plan_grpo_memory(config, plan_options);  // with the longest prompt of the data
  } else {
    // Shapes only: the sequence length is bounded by data.max_prompt_tokens.
    plan_options.shape = [&](const std::string& path, const std::string& role) {
      if (role == "policy" && !policy_shape.empty()) return shape_of(policy_shape);
      if (role != "policy" && !judge_shape.empty()) return shape_of(judge_shape);
      return trainer::model_shape(path);
    };
    plan = trainer::plan_run_memory(config, plan_options);
  }
  if (json) std::cout << plan.to_json().dump(2) << "\n";
  else std::cout << plan.table();
  return plan.fits() ? 0 : 1;
}

}  // namespace precept::apps
