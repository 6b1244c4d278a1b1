#include "reward/rewardanything.h"

#include "rollout/generator.h"

#include <ATen/ATen.h>

#include <cmath>
#include <deque>
#include <limits>
#include <stdexcept>

namespace precept::reward {

JudgeFallback parse_judge_fallback(const std::string& name) {
  if (name == "group_mean") return JudgeFallback::group_mean;
  if (name == "constant") return JudgeFallback::constant;
  throw std::invalid_argument("judge fallback '" + name + "' is not one of: group_mean, constant");
}

JudgeOverflow parse_judge_overflow(const std::string& name) {
  if (name == "split") return JudgeOverflow::split;
  if (name == "error") return JudgeOverflow::error;
  throw std::invalid_argument("judge overflow policy '" + name + "' is not one of: split, error");
}

std::string judge_fallback_name(JudgeFallback fallback) {
  return fallback == JudgeFallback::group_mean ? "group_mean" : "constant";
}

std::string judge_overflow_name(JudgeOverflow overflow) { return overflow == JudgeOverflow::split ? "split" : "error"; }

namespace {

void validate_settings(const JudgeSettings& settings) {
  if (settings.principle.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw std::invalid_argument("judge: the principle is empty");
  }
  rollout::validate(settings.sampler);
  if (settings.max_new_tokens < 1) throw std::invalid_argument("judge: max_new_tokens must be at least 1");
  if (settings.max_responses_per_call < 1) throw std::invalid_argument("judge: max_responses_per_call must be at least 1");
  if (settings.max_retries < 0) throw std::invalid_argument("judge: max_retries must be >= 0");
  if (!std::isfinite(settings.fallback_value)) throw std::invalid_argument("judge: fallback_value must be finite");
}

}  // namespace

RewardAnythingJudge::RewardAnythingJudge(lm::Transformer model, std::unique_ptr<text::Tokenizer> tokenizer,
                                         text::ChatTemplate chat, std::vector<int64_t> stop_ids, JudgeSettings settings,
                                         rollout::GeneratorConfig generator)
    : model_(std::move(model)),
      tokenizer_(std::move(tokenizer)),
      builder_(std::move(chat), settings.system_prompt.empty() ? default_judge_system_prompt() : settings.system_prompt,
               JudgePromptOptions{settings.mask, settings.mask_seed.value_or(kUpstreamMaskSeed), settings.enable_thinking}),
      stop_ids_(std::move(stop_ids)),
      settings_(std::move(settings)) {
  validate_settings(settings_);
  generator_ = std::make_unique<rollout::Generator>(*model_, generator, tokenizer_.get());
  if (settings_.max_new_tokens >= generator_->memory().max_length) {
    throw std::invalid_argument("judge: max_new_tokens " + std::to_string(settings_.max_new_tokens) +
                                " leaves no room for the prompt in the judge's context of " +
                                std::to_string(generator_->memory().max_length) + " tokens (generator max_length)");
  }
}

RewardAnythingJudge::~RewardAnythingJudge() = default;

std::unique_ptr<RewardAnythingJudge> RewardAnythingJudge::load(const std::string& model_dir, JudgeSettings settings,
                                                               rollout::GeneratorConfig generator, lm::LoadOptions load) {
  lm::OpenOptions options;
  options.load = load;
  lm::Pretrained judge = lm::open_pretrained(model_dir, options);
  judge.model->eval();
  text::ChatTemplate chat = judge.require_chat_template("the RewardAnything judge");
  if (generator.max_length == 0) generator.max_length = judge.context_length;
  return std::make_unique<RewardAnythingJudge>(std::move(judge.model), std::move(judge.tokenizer), std::move(chat),
                                               std::move(judge.stop_ids), std::move(settings), generator);
}

std::vector<int64_t> RewardAnythingJudge::encode(const std::string& text) const {
  return tokenizer_->encode(text, /*add_special=*/false);  // the chat template wrote its own specials
}

std::vector<JudgeCall> RewardAnythingJudge::plan_calls(const Group& group, size_t group_index) const {
  const std::string where = "judge: group " + std::to_string(group_index);
  if (group.responses.empty()) throw std::invalid_argument(where + " has no responses");
  const std::vector<std::string> names = response_names_of(group);
  if (names.size() != group.responses.size()) {
    throw std::invalid_argument(where + ": " + std::to_string(names.size()) + " names for " +
                                std::to_string(group.responses.size()) + " responses");
  }
  const int64_t context = generator_->memory().max_length;
  std::deque<std::vector<size_t>> parts;
  for (auto& part : split_balanced(group.responses.size(), static_cast<size_t>(settings_.max_responses_per_call))) {
    parts.push_back(part);
  }
  std::vector<JudgeCall> calls;
  while (!parts.empty()) {
    std::vector<size_t> members = parts.front();
    parts.pop_front();
    JudgeRequest request;
    request.principle = group.principle.empty() ? settings_.principle : group.principle;
    request.prompt = group.prompt;
    for (size_t i : members) request.responses.push_back({names[i], group.responses[i]});
    const uint64_t mask_seed = judge_call_mask_seed(settings_, group.seed, members[0]);
    JudgeCall call;
    call.group = group_index;
    call.members = members;
    call.prompt = builder_.build(request, mask_seed);
    call.prompt_tokens = static_cast<int64_t>(encode(call.prompt.text).size());
    if (call.prompt_tokens + settings_.max_new_tokens > context) {
      if (settings_.overflow == JudgeOverflow::split && members.size() > 1) {
        // Halve the list and try again; the principle and every response stay whole.
        auto halves = split_balanced(members.size(), (members.size() + 1) / 2);
        for (auto it = halves.rbegin(); it != halves.rend(); ++it) {
          std::vector<size_t> half;
          for (size_t j : *it) half.push_back(members[j]);
          parts.push_front(half);
        }
        continue;
      }
      throw std::runtime_error(where + ": a judge prompt of " + std::to_string(call.prompt_tokens) + " tokens (" +
                               std::to_string(members.size()) + " response(s), first '" + names[members[0]] +
                               "') + max_new_tokens " + std::to_string(settings_.max_new_tokens) +
                               " exceeds the judge's context of " + std::to_string(context) +
                               " tokens. precept never truncates a principle or a response: raise the judge's "
                               "max_length, lower max_new_tokens, or shorten the responses" +
                               (settings_.overflow == JudgeOverflow::error ? " (or set overflow = \"split\")" : ""));
    }
    calls.push_back(std::move(call));
  }
  return calls;
}

uint64_t judge_call_mask_seed(const JudgeSettings& settings, uint64_t group_seed, size_t first_member) {
  return settings.mask_seed ? *settings.mask_seed
                            : core::mix_seed(core::mix_seed(settings.seed, group_seed), first_member);
}

ShownResponses judge_call_shown(const JudgeSettings& settings, const std::vector<NamedResponse>& responses,
                                uint64_t group_seed, size_t first_member) {
  return settings.mask ? mask_responses(responses, judge_call_mask_seed(settings, group_seed, first_member))
                       : unmasked_responses(responses);
}

GroupScores RewardAnythingJudge::score(const Group& group) { return score_batch({group}).front(); }

std::vector<GroupScores> RewardAnythingJudge::score_batch(const std::vector<Group>& groups) {
  std::vector<JudgeCall> calls;
  std::vector<std::vector<int64_t>> ids;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (auto& call : plan_calls(groups[g], g)) {
      ids.push_back(encode(call.prompt.text));
      calls.push_back(std::move(call));
    }
  }
  rollout::SamplingParams params;
  params.sampler = settings_.sampler;
  params.max_new_tokens = settings_.max_new_tokens;
  params.stop_token_ids = stop_ids_;
  std::vector<size_t> pending(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) pending[i] = i;
  for (int64_t attempt = 0; attempt <= settings_.max_retries && !pending.empty(); ++attempt) {
    std::vector<rollout::GenerationRequest> requests;
    for (size_t c : pending) {
      const uint64_t call_seed =
          core::mix_seed(core::mix_seed(settings_.seed, groups[calls[c].group].seed), calls[c].members[0]);
      const uint64_t seed = core::mix_seed(call_seed, attempt + 1);
      requests.push_back({ids[c], 1, seed});
    }
    auto completions = generator_->generate(requests, params, progress_);
    std::vector<size_t> failed;
    for (size_t i = 0; i < pending.size(); ++i) {
      JudgeCall& call = calls[pending[i]];
      const auto& completion = completions[i];
      call.outputs.push_back(tokenizer_->decode(completion.tokens, /*skip_special=*/true));
      call.generated_tokens += static_cast<int64_t>(completion.tokens.size());
      call.judgment = parse_judgment(call.outputs.back(), call.prompt.names);
      call.ok = call.judgment.json_parsed && call.judgment.complete;
      if (!call.ok) failed.push_back(pending[i]);
    }
    pending = std::move(failed);
  }
  std::vector<GroupScores> out;
  std::vector<std::vector<const JudgeCall*>> by_group(groups.size());
  for (const auto& call : calls) by_group[call.group].push_back(&call);
  for (size_t g = 0; g < groups.size(); ++g) out.push_back(group_scores_from_calls(groups[g], by_group[g], settings_));
  last_calls_ = std::move(calls);
  return out;
}

GroupScores group_scores_from_calls(const Group& group, const std::vector<const JudgeCall*>& calls,
                                    const JudgeSettings& settings) {
  const size_t k = group.responses.size();
  const std::vector<std::string> names = response_names_of(group);
  GroupScores scores;
  std::vector<double> values(k, std::numeric_limits<double>::quiet_NaN());
  scores.valid.assign(k, false);
  scores.explanations.assign(k, "");
  nlohmann::json call_records = nlohmann::json::array();
  for (const JudgeCall* call : calls) {
    scores.retries += std::max<int64_t>(0, static_cast<int64_t>(call->outputs.size()) - 1);
    if (!call->ok) ++scores.failures;
    std::vector<std::string> member_names;
    for (size_t i : call->members) member_names.push_back(names[i]);
    // A partial judgment still gives the responses it scored their values; the others fall back.
    if (call->judgment.json_parsed) {
      ListwiseRewards converted =
          listwise_rewards(call->judgment, member_names, settings.conversion, settings.tiebreak_epsilon);
      for (size_t j = 0; j < call->members.size(); ++j) {
        if (!converted.missing[j] && std::isfinite(converted.values[j])) {
          values[call->members[j]] = converted.values[j];
          scores.valid[call->members[j]] = true;
        }
      }
    }
    for (size_t i : call->members) scores.explanations[i] = call->judgment.reasoning;
    call_records.push_back({{"responses", member_names},
                            {"ok", call->ok},
                            {"attempts", call->outputs.size()},
                            {"prompt_tokens", call->prompt_tokens},
                            {"generated_tokens", call->generated_tokens},
                            {"judgment", call->judgment.to_json()},
                            {"outputs", call->outputs}});
  }
  double fallback = settings.fallback_value;
  if (settings.fallback == JudgeFallback::group_mean) {
    double sum = 0.0;
    int64_t count = 0;
    for (size_t i = 0; i < k; ++i) {
      if (scores.valid[i]) {
        sum += values[i];
        ++count;
      }
    }
    if (count > 0) fallback = sum / static_cast<double>(count);
  }
  scores.rewards.resize(k);
  for (size_t i = 0; i < k; ++i) scores.rewards[i] = scores.valid[i] ? values[i] : fallback;
  scores.diagnostics = {{"calls", call_records}, {"fallback_value", fallback},
                        {"conversion", listwise_mode_name(settings.conversion)}};
  return scores;
}

}  // namespace precept::reward
