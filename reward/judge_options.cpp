// Judge options; see judge_options.h.
#include "reward/judge_options.h"

#include "reward/principle.h"

#include <stdexcept>

namespace precept::reward {

JudgeOptions read_judge_options(core::JsonOptions& options, const std::string& default_device, bool principle_required) {
  JudgeOptions out;
  JudgeSettings& settings = out.settings;
  out.model = options.string("model", "");
  const std::string principle = options.string("principle", "");
  const std::string principle_file = options.string("principle_file", "");
  if (!principle.empty() && !principle_file.empty()) options.fail("principle", "or principle_file: give one, not both");
  if (principle_required && principle.empty() && principle_file.empty()) {
    options.fail("principle", "or principle_file: give exactly one");
  }
  settings.principle = principle_file.empty() ? principle : load_principle(principle_file).text;
  const std::string system_prompt_file = options.string("system_prompt_file", "");
  if (!system_prompt_file.empty()) settings.system_prompt = load_judge_system_prompt(system_prompt_file);
  settings.mask = options.boolean("mask", settings.mask);
  if (options.has("mask_seed")) settings.mask_seed = static_cast<uint64_t>(options.integer("mask_seed", 0));
  settings.enable_thinking = options.boolean("thinking", settings.enable_thinking);
  settings.sampler.temperature = options.number("temperature", settings.sampler.temperature);
  settings.sampler.top_p = options.number("top_p", settings.sampler.top_p);
  settings.sampler.top_k = options.integer("top_k", settings.sampler.top_k);
  settings.max_new_tokens = options.integer("max_new_tokens", settings.max_new_tokens);
  settings.max_responses_per_call = options.integer("max_per_call", settings.max_responses_per_call);
  settings.max_retries = options.integer("retries", settings.max_retries);
  settings.fallback_value = options.number("fallback_value", settings.fallback_value);
  out.generator.max_slots = options.integer("slots", out.generator.max_slots);
  out.generator.max_length = options.integer("max_length", out.generator.max_length);
  const std::string dtype = options.string("dtype", "");
  if (!dtype.empty()) out.load.dtype = lm::dtype_from_name(dtype, options.where() + ": dtype");
  out.load.device = c10::Device(options.string("device", default_device));
  try {
    settings.conversion = parse_listwise_mode(options.string("conversion", listwise_mode_name(settings.conversion)));
    settings.fallback = parse_judge_fallback(options.string("fallback", judge_fallback_name(settings.fallback)));
    settings.overflow = parse_judge_overflow(options.string("overflow", judge_overflow_name(settings.overflow)));
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(options.where() + ": " + error.what());
  }
  return out;
}

std::unique_ptr<RewardAnythingJudge> load_judge(const JudgeOptions& options) {
  if (options.model.empty()) throw std::runtime_error("the judge's model directory is required (key 'model', or --model)");
  return RewardAnythingJudge::load(options.model, options.settings, options.generator, options.load);
}

}  // namespace precept::reward
