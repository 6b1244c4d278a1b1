#include "trainer/reward_factory.h"

#include "core/json_options.h"
#include "core/random_streams.h"
#include "reward/composite.h"
#include "reward/judge_options.h"
#include "reward/judge_reward.h"
#include "reward/principle.h"
#include "reward/rewardanything.h"
#include "reward/rule_rewards.h"
#include "reward/scalar_reward_model.h"

#include <set>
#include <stdexcept>

namespace precept::trainer {

namespace {

// A reward section's keys, read one by one; the ones nobody read are refused.
class Options : public core::JsonOptions {
 public:
  explicit Options(const RewardSpec& spec) : core::JsonOptions(spec.options, spec.where, "reward (type \"" + spec.type + "\")") {}
};

std::unique_ptr<reward::Reward> make_rewardanything(const RewardSpec& spec, const RewardContext& context) {
  Options options(spec);
  reward::JudgeOptions judge = reward::read_judge_options(options, context.device, /*principle_required=*/true);
  judge.settings.seed = core::stream_seed(context.seed, core::Stream::judge);  // apart from the policy's streams
  options.finish();
  if (judge.model.empty()) options.fail("model", "is required (the judge's model directory)");
  return reward::load_judge(judge);
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
  std::shared_ptr<const text::Tokenizer> tokenizer;
  if (config.unit == reward::LengthUnit::tokens) tokenizer = text::load_tokenizer(tokenizer_dir);
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

// The judge-training reward (docs/judge-reward.md): its weights, each defaulting to the paper's
// or to precept's documented choice.
std::unique_ptr<reward::Reward> make_judge_grade(const RewardSpec& spec) {
  Options options(spec);
  reward::JudgeRewardConfig config;
  config.format_weight = options.number("format_weight", config.format_weight);
  config.accuracy_weight = options.number("accuracy_weight", config.accuracy_weight);
  config.think_terms = options.boolean("think_terms", config.think_terms);
  config.pair_penalty = options.number("pair_penalty", config.pair_penalty);
  config.distribution = options.number("distribution", config.distribution);
  config.partial_credit = options.number("partial_credit", config.partial_credit);
  config.ranking_agreement = options.number("ranking_agreement", config.ranking_agreement);
  config.top_k = options.integer("top_k", config.top_k);
  config.top_k_share = options.number("top_k_share", config.top_k_share);
  config.score_range = options.number("score_range", config.score_range);
  config.partial_credit_distance = options.number("partial_credit_distance", config.partial_credit_distance);
  options.finish();
  return with_where(spec, [&] {
    config.validate();
    return std::make_unique<reward::JudgeTrainingReward>(config);
  });
}

}  // namespace

std::unique_ptr<reward::Reward> make_reward(const RewardSpec& spec, const RewardContext& context) {
  if (spec.type == "rewardanything") return make_rewardanything(spec, context);
  if (spec.type == "length") return make_length(spec, context);
  if (spec.type == "regex") return make_regex(spec);
  if (spec.type == "match") return make_match(spec);
  if (spec.type == "scalar_rm") return make_scalar_rm(spec, context);
  if (spec.type == "judge_grade") return make_judge_grade(spec);
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
                           "\" is not one of: rewardanything, length, regex, match, scalar_rm, judge_grade, composite");
}

}  // namespace precept::trainer
