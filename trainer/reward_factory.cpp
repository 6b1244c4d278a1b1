#include "trainer/reward_factory.h"

#include "reward/composite.h"
#include "reward/principle.h"
#include "reward/rewardanything.h"
#include "reward/rule_rewards.h"
#include "reward/scalar_reward_model.h"

#include <set>
#include <stdexcept>

namespace precept::trainer {

namespace {

// Reads a reward section's keys (held as JSON) one by one, then refuses the ones nobody read.
class Options {
 public:
  Options(const RewardSpec& spec) : spec_(spec) {}

  std::string string(const std::string& key, const std::string& fallback) {
    const auto* value = find(key);
    if (!value) return fallback;
    if (!value->is_string()) fail(key, "must be a string");
    return value->get<std::string>();
  }
  double number(const std::string& key, double fallback) {
    const auto* value = find(key);
    if (!value) return fallback;
    if (!value->is_number()) fail(key, "must be a number");
    return value->get<double>();
  }
  int64_t integer(const std::string& key, int64_t fallback) {
    const auto* value = find(key);
    if (!value) return fallback;
    if (!value->is_number_integer()) fail(key, "must be an integer");
    return value->get<int64_t>();
  }
  std::vector<std::string> strings(const std::string& key) {
    const auto* value = find(key);
    if (!value) return {};
    if (value->is_string()) return {value->get<std::string>()};
    if (!value->is_array()) fail(key, "must be a string or a list of strings");
    std::vector<std::string> out;
    for (const auto& item : *value) {
      if (!item.is_string()) fail(key, "must hold strings only");
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  bool boolean(const std::string& key, bool fallback) {
    const auto* value = find(key);
    if (!value) return fallback;
    if (!value->is_boolean()) fail(key, "must be true or false");
    return value->get<bool>();
  }
  bool has(const std::string& key) const { return spec_.options.contains(key); }
  [[noreturn]] void fail(const std::string& key, const std::string& message) const {
    throw std::runtime_error(spec_.where + ": reward (type \"" + spec_.type + "\") key '" + key + "' " + message);
  }
  void finish() const {
    for (auto it = spec_.options.begin(); it != spec_.options.end(); ++it) {
      if (!used_.count(it.key())) {
        std::string known;
        for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
        throw std::runtime_error(spec_.where + ": unknown key '" + it.key() + "' for a reward of type \"" + spec_.type +
                                 "\" (it reads: " + known + ")");
      }
    }
  }

 private:
  const nlohmann::json* find(const std::string& key) {
    used_.insert(key);
    auto it = spec_.options.find(key);
    return it == spec_.options.end() ? nullptr : &*it;
  }
  const RewardSpec& spec_;
  std::set<std::string> used_;
};

std::unique_ptr<reward::Reward> make_rewardanything(const RewardSpec& spec, const RewardContext& context) {
  Options options(spec);
  reward::JudgeSettings settings;
  const std::string model = options.string("model", "");
  const std::string principle = options.string("principle", "");
  const std::string principle_file = options.string("principle_file", "");
  if (principle.empty() == principle_file.empty()) options.fail("principle", "or principle_file: give exactly one");
  settings.principle = principle_file.empty() ? principle : reward::load_principle(principle_file).text;
  const std::string system_prompt_file = options.string("system_prompt_file", "");
  if (!system_prompt_file.empty()) settings.system_prompt = reward::load_judge_system_prompt(system_prompt_file);
  settings.mask = options.boolean("mask", true);
  if (options.has("mask_seed")) settings.mask_seed = static_cast<uint64_t>(options.integer("mask_seed", 42));
  settings.enable_thinking = options.boolean("thinking", true);
  settings.sampler.temperature = options.number("temperature", settings.sampler.temperature);
  settings.sampler.top_p = options.number("top_p", settings.sampler.top_p);
  settings.sampler.top_k = options.integer("top_k", 0);
  settings.max_new_tokens = options.integer("max_new_tokens", settings.max_new_tokens);
  settings.max_responses_per_call = options.integer("max_per_call", settings.max_responses_per_call);
  settings.max_retries = options.integer("retries", settings.max_retries);
  settings.fallback_value = options.number("fallback_value", 0.0);
  settings.seed = context.seed ^ 0x6a756467ull;  // "judg": the judge's streams differ from the policy's
  rollout::GeneratorConfig generator;
  generator.max_slots = options.integer("slots", 16);
  generator.max_length = options.integer("max_length", 0);
  lm::LoadOptions load;
  const std::string dtype = options.string("dtype", "");
  load.device = c10::Device(options.string("device", context.device));
  if (!dtype.empty()) load.dtype = lm::dtype_from_name(dtype, spec.where + ": reward.dtype");
  try {
    settings.conversion = reward::parse_listwise_mode(options.string("conversion", "score_rank_tiebreak"));
    settings.fallback = reward::parse_judge_fallback(options.string("fallback", "group_mean"));
    settings.overflow = reward::parse_judge_overflow(options.string("overflow", "split"));
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(spec.where + ": reward: " + error.what());
  }
  options.finish();
  if (model.empty()) options.fail("model", "is required (the judge's model directory)");
  return reward::RewardAnythingJudge::load(model, settings, generator, load);
}

template <class F>
auto with_where(const RewardSpec& spec, F&& body) {
  try {
    return body();
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(spec.where + ": reward (type \"" + spec.type + "\"): " + error.what());
  }
}

std::unique_ptr<reward::Reward> make_length(const RewardSpec& spec, const RewardContext& context) {
  Options options(spec);
  reward::LengthRewardConfig config;
  config.unit = reward::length_unit_from_name(options.string("unit", "words"), spec.where + ": unit");
  const double target = options.number("target", 0.0);
  config.min = options.number("min", target);
  config.max = options.number("max", target);
  if (options.has("falloff_below")) config.falloff_below = options.number("falloff_below", 0.0);
  if (options.has("falloff_above")) config.falloff_above = options.number("falloff_above", 0.0);
  const std::string tokenizer_dir = options.string("tokenizer", context.policy_model);
  options.finish();
  if (config.max <= 0) options.fail("target", "(or min/max) must be given and positive");
  std::shared_ptr<const lm::Tokenizer> tokenizer;
  if (config.unit == reward::LengthUnit::tokens) tokenizer = lm::load_tokenizer(tokenizer_dir);
  return with_where(spec, [&] { return std::make_unique<reward::LengthReward>(config, tokenizer); });
}

std::unique_ptr<reward::Reward> make_regex(const RewardSpec& spec) {
  Options options(spec);
  reward::RegexRewardConfig config;
  config.must_match = options.strings("must_match");
  config.must_not_match = options.strings("must_not_match");
  config.combine = reward::regex_combine_from_name(options.string("combine", "all"), spec.where + ": combine");
  options.finish();
  if (config.must_match.empty() && config.must_not_match.empty()) options.fail("must_match", "or must_not_match: give a pattern");
  return with_where(spec, [&] { return std::make_unique<reward::RegexReward>(config); });
}

std::unique_ptr<reward::Reward> make_match(const RewardSpec& spec) {
  Options options(spec);
  reward::MatchRewardConfig config;
  config.reference_field = options.string("reference_field", config.reference_field);
  config.mode = reward::match_mode_from_name(options.string("mode", "numeric"), spec.where + ": mode");
  config.normalization.trim = options.boolean("trim", true);
  config.normalization.case_fold = options.boolean("case_fold", true);
  config.normalization.collapse_whitespace = options.boolean("collapse_whitespace", true);
  config.relative_tolerance = options.number("relative_tolerance", config.relative_tolerance);
  config.absolute_tolerance = options.number("absolute_tolerance", config.absolute_tolerance);
  config.correct = options.number("correct", 1.0);
  config.incorrect = options.number("incorrect", 0.0);
  options.finish();
  return with_where(spec, [&] { return std::make_unique<reward::MatchReward>(config); });
}

std::unique_ptr<reward::Reward> make_scalar_rm(const RewardSpec& spec, const RewardContext& context) {
  Options options(spec);
  reward::ScalarRewardModelConfig config;
  config.model_dir = options.string("model", "");
  const std::string dtype = options.string("dtype", "");
  if (!dtype.empty()) config.dtype = lm::dtype_from_name(dtype, spec.where + ": reward.dtype");
  config.device = c10::Device(options.string("device", context.device));
  config.batch_size = options.integer("batch_size", config.batch_size);
  config.max_tokens = options.integer("max_tokens", 0);
  config.fallback_value = options.number("fallback_value", 0.0);
  config.system_prompt = options.string("system_prompt", "");
  config.enable_thinking = options.boolean("thinking", true);
  options.finish();
  if (config.model_dir.empty()) options.fail("model", "is required (a *ForSequenceClassification checkpoint)");
  return with_where(spec, [&] { return std::make_unique<reward::ScalarRewardModel>(config); });
}

}  // namespace

std::unique_ptr<reward::Reward> make_reward(const RewardSpec& spec, const RewardContext& context) {
  if (spec.type == "rewardanything") return make_rewardanything(spec, context);
  if (spec.type == "length") return make_length(spec, context);
  if (spec.type == "regex") return make_regex(spec);
  if (spec.type == "match") return make_match(spec);
  if (spec.type == "scalar_rm") return make_scalar_rm(spec, context);
  if (spec.type == "composite") {
    std::vector<reward::WeightedReward> components;
    for (const auto& component : spec.components) {
      if (component.type == "composite") {
        throw std::runtime_error(component.where + ": a composite reward cannot hold another composite");
      }
      components.push_back({std::shared_ptr<reward::Reward>(make_reward(component, context)), component.weight, ""});
    }
    return std::make_unique<reward::CompositeReward>(std::move(components));
  }
  throw std::runtime_error(spec.where + ": reward type \"" + spec.type +
                           "\" is not one of: rewardanything, length, regex, match, scalar_rm, composite");
}

}  // namespace precept::trainer
