#include "apps/commands/judge_options.h"

#include "core/json_options.h"
#include "reward/judge_options.h"

#include <nlohmann/json.hpp>

namespace precept::apps {

JudgeCommandOptions::JudgeCommandOptions() {
  const nlohmann::json none = nlohmann::json::object();
  core::JsonOptions reader(none, "precept", "the judge");
  const reward::JudgeOptions defaults = reward::read_judge_options(reader, device, /*principle_required=*/false);
  settings = defaults.settings;
  generator = defaults.generator;
  load = defaults.load;
  conversion = reward::listwise_mode_name(settings.conversion);
  fallback = reward::judge_fallback_name(settings.fallback);
  overflow = reward::judge_overflow_name(settings.overflow);
}

void add_judge_options(po::options_description& options, JudgeCommandOptions& judge, const std::string& prefix,
                       JudgeOptionGroups groups) {
  auto name = [&](const char* plain, const char* alias = nullptr) {
    std::string full = prefix + plain;
    if (prefix.empty() && alias) full += std::string(",") + alias;
    return full;
  };
  reward::JudgeSettings& settings = judge.settings;
  options.add_options()
      (name("system-prompt-file").c_str(), po::value(&judge.system_prompt_file),
       "the judge's system prompt, byte for byte (default: precept's own; see docs/judge.md for upstream's)")
      (name("no-mask").c_str(), po::bool_switch(), "show the responses under their own names and order (mask_responses=False)")
      (name("mask-seed").c_str(), po::value(&judge.mask_seed),
       "a fixed masking seed (42 = upstream's order); default: one per group")
      (name("no-thinking").c_str(), po::bool_switch(), "enable_thinking=false")
      (name("temperature", "t").c_str(), po::value(&settings.sampler.temperature)->default_value(settings.sampler.temperature),
       "sampling temperature")
      (name("top-p", "p").c_str(), po::value(&settings.sampler.top_p)->default_value(settings.sampler.top_p), "nucleus mass")
      (name("top-k").c_str(), po::value(&settings.sampler.top_k)->default_value(settings.sampler.top_k),
       "keep the k most likely tokens (0 = off)")
      (name("max-new-tokens", "n").c_str(), po::value(&settings.max_new_tokens)->default_value(settings.max_new_tokens),
       "judgment length limit")
      (name("seed", "s").c_str(), po::value(&settings.seed)->default_value(settings.seed), "seed for sampling and masking")
      (name("max-per-call").c_str(),
       po::value(&settings.max_responses_per_call)->default_value(settings.max_responses_per_call), "responses per judge call")
      (name("retries").c_str(), po::value(&settings.max_retries)->default_value(settings.max_retries),
       "new attempts for an unparseable judgment");
  if (groups.conversion) {
    options.add_options()(name("conversion").c_str(), po::value(&judge.conversion)->default_value(judge.conversion),
                          "score | normalized | rank | score_rank_tiebreak");
  }
  if (groups.fallback) {
    options.add_options()
        (name("fallback").c_str(), po::value(&judge.fallback)->default_value(judge.fallback), "group_mean | constant")
        (name("fallback-value").c_str(), po::value(&settings.fallback_value)->default_value(settings.fallback_value),
         "the constant fallback");
  }
  options.add_options()
      (name("overflow").c_str(), po::value(&judge.overflow)->default_value(judge.overflow),
       "a call too long for the context: split | error")
      (name("slots").c_str(), po::value(&judge.generator.max_slots)->default_value(judge.generator.max_slots),
       "judge calls generated at once")
      (name("max-length").c_str(), po::value(&judge.generator.max_length)->default_value(judge.generator.max_length),
       ("judge context per call (prompt + judgment); 0 = the model's, capped at " + std::to_string(lm::kDefaultMaxContext)).c_str())
      (name("dtype").c_str(), po::value(&judge.dtype)->default_value(judge.dtype),
       "float32 | bfloat16 | float16 (default: float32 on the CPU, the checkpoint's on a GPU)")
      (name("device").c_str(), po::value(&judge.device)->default_value(judge.device), "cpu | cuda | cuda:N");
}

void finish_judge_options(const po::variables_map& values, JudgeCommandOptions& judge, const std::string& prefix) {
  // The parsed flags as the keys of a recipe's [reward] section, read by the one reader.
  const reward::JudgeSettings& s = judge.settings;
  nlohmann::json keys = {{"mask", !values[prefix + "no-mask"].as<bool>()},
                         {"thinking", !values[prefix + "no-thinking"].as<bool>()},
                         {"temperature", s.sampler.temperature},
                         {"top_p", s.sampler.top_p},
                         {"top_k", s.sampler.top_k},
                         {"max_new_tokens", s.max_new_tokens},
                         {"max_per_call", s.max_responses_per_call},
                         {"retries", s.max_retries},
                         {"conversion", judge.conversion},
                         {"fallback", judge.fallback},
                         {"fallback_value", s.fallback_value},
                         {"overflow", judge.overflow},
                         {"slots", judge.generator.max_slots},
                         {"max_length", judge.generator.max_length},
                         {"device", judge.device}};
  if (values.count(prefix + "mask-seed")) keys["mask_seed"] = judge.mask_seed;
  if (!judge.system_prompt_file.empty()) keys["system_prompt_file"] = judge.system_prompt_file;
  if (!judge.dtype.empty()) keys["dtype"] = judge.dtype;
  core::JsonOptions reader(keys, "--" + prefix + "* options", "the judge");
  reward::JudgeOptions read = reward::read_judge_options(reader, judge.device, /*principle_required=*/false);
  reader.finish();
  read.settings.principle = s.principle;
  read.settings.seed = s.seed;
  judge.settings = read.settings;
  judge.generator = read.generator;
  judge.load = read.load;
}

std::unique_ptr<reward::RewardAnythingJudge> load_judge(const std::string& model_dir, const JudgeCommandOptions& judge,
                                                        const std::string& principle) {
  reward::JudgeSettings settings = judge.settings;
  settings.principle = principle;
  return reward::RewardAnythingJudge::load(model_dir, settings, judge.generator, judge.load);
}

}  // namespace precept::apps
