// The phases of an RL step; see phases.h.
#include "trainer/phases.h"

#include "core/random_streams.h"
#include "policy/logprobs.h"
#include "policy/lora.h"
#include "policy/sequences.h"
#include "trainer/advantages.h"
#include "trainer/kl.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace precept::trainer {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<double> Trajectory::raw_rewards() const {
  std::vector<double> out;
  for (const auto& group : scores) out.insert(out.end(), group.rewards.begin(), group.rewards.end());
  return out;
}

Trajectory collect_rollouts(const StepContext& context, const std::vector<int64_t>& prompts, int64_t first_position) {
  const RunConfig& config = context.config;
  Trajectory out;
  out.group_size = config.rollout.group_size;
  std::vector<rollout::GenerationRequest> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const int64_t position = first_position + static_cast<int64_t>(i);
    out.prompt_index.push_back(prompts[i]);
    out.position.push_back(position);
    const uint64_t rollout_seed = core::stream_seed(config.run.seed, core::Stream::rollout);
    const uint64_t seed = core::mix_seed(core::mix_seed(rollout_seed, static_cast<uint64_t>(context.step)),
                                         static_cast<uint64_t>(position));
    requests.push_back({context.data[prompts[i]].ids, out.group_size, seed});
  }
  rollout::SamplingParams params;
  params.sampler = {.temperature = config.rollout.temperature,
                    .top_k = config.rollout.top_k,
                    .top_p = config.rollout.top_p,
                    .min_p = config.rollout.min_p};
  params.max_new_tokens = config.rollout.max_new_tokens;
  params.stop_token_ids = context.stop_ids;
  params.stop_strings = config.rollout.stop;
  const auto start = Clock::now();
  {
    at::NoGradGuard no_grad;
    out.completions = context.generator.generate(requests, params);
  }
  if (config.rollout.release_cache) context.generator.release_cache();
  out.seconds.generate = seconds_since(start);
  for (const auto& completion : out.completions) {
    out.texts.push_back(rollout::completion_text(context.tokenizer, completion));
    out.generated_tokens += static_cast<int64_t>(completion.tokens.size());
  }
  return out;
}

void score(const StepContext& context, Trajectory& trajectory) {
  const int64_t G = trajectory.group_size;
  const auto start = Clock::now();
  std::vector<reward::Group> groups;
  for (int64_t g = 0; g < trajectory.groups(); ++g) {
    const PromptExample& example = context.data[trajectory.prompt_index[g]];
    reward::Group group;
    group.prompt = example.judge_text;
    group.record = example.prompt.record.is_null() ? nlohmann::json::object() : example.prompt.record;
    group.responses.assign(trajectory.texts.begin() + g * G, trajectory.texts.begin() + (g + 1) * G);
    const uint64_t reward_seed = core::stream_seed(context.config.run.seed, core::Stream::reward);
    group.seed = core::mix_seed(core::mix_seed(reward_seed, static_cast<uint64_t>(context.step)),
                                static_cast<uint64_t>(trajectory.position[g]));
    groups.push_back(std::move(group));
  }
  trajectory.scores = context.reward.score_batch(groups);
  trajectory.seconds.reward = seconds_since(start);
}

Trajectory collect_scored_rollouts(const StepContext& context, const std::vector<int64_t>& prompts,
                                   int64_t first_position) {
  Trajectory trajectory = collect_rollouts(context, prompts, first_position);
  score(context, trajectory);
  return trajectory;
}

std::vector<double> shape_rewards(const AlgorithmSection& algorithm, const Trajectory& trajectory) {
  const int64_t G = trajectory.group_size;
  std::vector<double> values;
  for (int64_t g = 0; g < trajectory.groups(); ++g) {
    for (int64_t j = 0; j < G; ++j) {
      double value = trajectory.scores[g].rewards[j];
      if (algorithm.overlong) value += overlong_penalty(trajectory.length(g * G + j), *algorithm.overlong);
      values.push_back(value);
    }
  }
  return values;
}

namespace {

// Moves `fresh` group k into the place (and position) of the dropped group `into`.
void replace_group(Trajectory& trajectory, int64_t into, Trajectory& fresh, int64_t k) {
  const int64_t G = trajectory.group_size;
  trajectory.prompt_index[into] = fresh.prompt_index[k];
  for (int64_t j = 0; j < G; ++j) {
    trajectory.completions[into * G + j] = std::move(fresh.completions[k * G + j]);
    trajectory.texts[into * G + j] = std::move(fresh.texts[k * G + j]);
  }
  trajectory.scores[into] = std::move(fresh.scores[k]);
}

}  // namespace

void refill_zero_variance_groups(const StepContext& context, PromptSampler& sampler, Trajectory& trajectory) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const int64_t N = context.config.rollout.prompts_per_step, G = trajectory.group_size;
  const int64_t world = context.communicator.world_size(), rank = context.communicator.rank();
  // PPO counts groups without signal too (a metric); any group estimator finds the same ones.
  AdvantageConfig grouping = algorithm.advantage;
  if (algorithm.gae()) grouping.estimator = AdvantageEstimator::kDrGrpo;
  for (int64_t round = 0;; ++round) {
    const GroupAdvantages advantages =
        compute_advantages(at::tensor(shape_rewards(algorithm, trajectory), at::kDouble), G, grouping);
    const int64_t without_signal = static_cast<int64_t>(advantages.zero_variance_groups.size());
    if (round == 0) trajectory.zero_variance_first = without_signal;
    const bool refill = algorithm.filter_zero_variance && round < algorithm.max_resample_rounds;
    std::vector<double> needed_by_rank(world, 0.0);
    needed_by_rank[rank] = refill ? static_cast<double>(without_signal) : 0.0;
    needed_by_rank = all_reduce_scalars(context.communicator, needed_by_rank);
    const int64_t total = static_cast<int64_t>(std::accumulate(needed_by_rank.begin(), needed_by_rank.end(), 0.0));
    if (total == 0) return;
    const std::vector<int64_t> extra = sampler.next(total);
    const int64_t offset = static_cast<int64_t>(std::accumulate(needed_by_rank.begin(), needed_by_rank.begin() + rank, 0.0));
    const int64_t needed_here = static_cast<int64_t>(needed_by_rank[rank]);
    if (needed_here == 0) continue;
    // Fresh seeds: positions past the step's batch, distinct per round and rank.
    Trajectory fresh = collect_scored_rollouts(
        context, std::vector<int64_t>(extra.begin() + offset, extra.begin() + offset + needed_here), N * (round + 1) + offset);
    for (int64_t k = 0; k < needed_here; ++k) replace_group(trajectory, advantages.zero_variance_groups[k], fresh, k);
    trajectory.generated_tokens += fresh.generated_tokens;
    trajectory.seconds.generate += fresh.seconds.generate;
    trajectory.seconds.reward += fresh.seconds.reward;
    trajectory.resampled += needed_here;
  }
}

bool needs_old_logprobs(const AlgorithmSection& algorithm) {
  return algorithm.epochs * algorithm.mini_batches > 1 || algorithm.kl_mode == KlMode::reward;
}

std::vector<std::vector<int64_t>> length_bucketed_micro_batches(std::vector<int64_t> members,
                                                                const std::function<int64_t(int64_t)>& length,
                                                                int64_t size, int64_t max_tokens) {
  std::vector<int64_t> lengths(members.size());
  std::vector<size_t> order(members.size());
  for (size_t i = 0; i < members.size(); ++i) lengths[i] = length(members[i]);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<int64_t>> out;
  int64_t longest = 0;  // of the micro-batch being filled: its first member
  for (size_t i : order) {
    const bool full = !out.empty() && (static_cast<int64_t>(out.back().size()) >= size ||
                                       (max_tokens > 0 && (static_cast<int64_t>(out.back().size()) + 1) * longest > max_tokens));
    if (out.empty() || full) {
      out.emplace_back();
      longest = lengths[i];
    }
    out.back().push_back(members[i]);
  }
  return out;
}

int64_t trajectory_tokens(const StepContext& context, const Trajectory& trajectory, int64_t s) {
  return static_cast<int64_t>(context.data[trajectory.prompt_index[s / trajectory.group_size]].ids.size()) +
         trajectory.length(s);
}

std::vector<std::vector<int64_t>> trajectory_micro_batches(const StepContext& context, const Trajectory& trajectory,
                                                           std::vector<int64_t> members) {
  auto tokens = [&](int64_t s) { return trajectory_tokens(context, trajectory, s); };
  const AlgorithmSection& algorithm = context.config.algorithm;
  if (algorithm.micro_batch_tokens > 0) {
    return length_bucketed_micro_batches(std::move(members), tokens, algorithm.micro_batch_size,
                                         algorithm.micro_batch_tokens);
  }
  // Without a cap, consecutive members: N ranks then run exactly the micro-batches that 1 rank
  // runs, and the two train bit-identical weights (tests/check_distributed.py).
  std::vector<std::vector<int64_t>> out;
  for (size_t first = 0; first < members.size(); first += static_cast<size_t>(algorithm.micro_batch_size)) {
    const size_t last = std::min(members.size(), first + static_cast<size_t>(algorithm.micro_batch_size));
    out.emplace_back(members.begin() + static_cast<long>(first), members.begin() + static_cast<long>(last));
  }
  return out;
}

std::vector<std::vector<int64_t>> trajectory_micro_batches(const StepContext& context, const Trajectory& trajectory) {
  std::vector<int64_t> all(static_cast<size_t>(trajectory.sequences()));
  std::iota(all.begin(), all.end(), int64_t{0});
  return trajectory_micro_batches(context, trajectory, std::move(all));
}

void old_and_reference_logprobs(const StepContext& context, Trajectory& trajectory) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const auto start = Clock::now();
  const bool need_old = needs_old_logprobs(algorithm), need_reference = algorithm.kl_mode != KlMode::none;
  const int64_t S = trajectory.sequences();
  trajectory.old_logprobs.assign(S, at::Tensor());
  trajectory.reference_logprobs.assign(S, at::Tensor());
  if (need_old || need_reference) {
    at::NoGradGuard no_grad;
    const policy::LogprobOptions options{.temperature = context.config.rollout.temperature,
                                         .chunk_tokens = context.config.policy.logprob_chunk};
    for (const auto& members : trajectory_micro_batches(context, trajectory)) {
      const policy::SequenceBatch batch = sequence_batch(context, trajectory, members);
      at::Tensor old, ref;
      if (need_old) old = policy::sequence_logprobs(context.policy, batch, options).logprobs;
      if (need_reference) {
        const policy::LoraDisabled base(*context.reference, context.reference_is_base);
        ref = policy::sequence_logprobs(*context.reference, batch, options).logprobs;
      }
      for (size_t i = 0; i < members.size(); ++i) {
        const int64_t length = trajectory.length(members[i]);
        if (need_old) trajectory.old_logprobs[members[i]] = old[static_cast<int64_t>(i)].narrow(0, 0, length).clone();
        if (need_reference) trajectory.reference_logprobs[members[i]] = ref[static_cast<int64_t>(i)].narrow(0, 0, length).clone();
      }
    }
  }
  trajectory.seconds.reference += seconds_since(start);
}

std::vector<at::Tensor> rollout_kl(const StepContext& context, Trajectory& trajectory) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const int64_t S = trajectory.sequences();
  std::vector<at::Tensor> out(S);
  double total = 0, counted = 0;
  for (int64_t s = 0; s < S; ++s) {
    // kl_estimate takes [B, T]: one row per response.
    out[s] = kl_estimate(trajectory.old_logprobs[s].unsqueeze(0), trajectory.reference_logprobs[s].unsqueeze(0), algorithm.kl)
                 .squeeze(0);
    if (out[s].numel() > 0) {
      total += out[s].sum().item<double>() / out[s].numel();
      counted += 1;
    }
  }
  const auto totals = all_reduce_scalars(context.communicator, {total, counted});
  trajectory.kl_reward_mean = totals[1] > 0 ? totals[0] / totals[1] : 0.0;
  trajectory.kl_coef = context.kl_coef;
  return out;
}

void kl_in_reward(const StepContext& context, Trajectory& trajectory) {
  if (context.config.algorithm.kl_mode != KlMode::reward) return;
  const auto start = Clock::now();
  const std::vector<at::Tensor> kl = rollout_kl(context, trajectory);
  for (int64_t s = 0; s < trajectory.sequences(); ++s) trajectory.rewards[s] -= context.kl_coef * kl[s].sum().item<double>();
  trajectory.seconds.reference += seconds_since(start);
}

void group_advantages(const StepContext& context, Trajectory& trajectory) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const auto start = Clock::now();
  const int64_t G = trajectory.group_size;
  GroupAdvantages advantages =
      compute_advantages(at::tensor(trajectory.rewards, at::kDouble), G, algorithm.advantage);
  trajectory.included.assign(trajectory.sequences(), true);
  trajectory.zero_variance_groups = advantages.zero_variance_groups;
  if (algorithm.filter_zero_variance) {
    for (int64_t g : advantages.zero_variance_groups) {
      for (int64_t j = 0; j < G; ++j) trajectory.included[g * G + j] = false;
    }
  }
  trajectory.advantages = advantages.advantages.to(at::kFloat).cpu().contiguous();
  trajectory.seconds.reference += seconds_since(start);
}

policy::SequenceBatch sequence_batch(const StepContext& context, const Trajectory& trajectory,
                                     const std::vector<int64_t>& members) {
  std::vector<const std::vector<int64_t>*> prompts, responses;
  for (int64_t s : members) {
    prompts.push_back(&context.data[trajectory.prompt_index[s / trajectory.group_size]].ids);
    responses.push_back(&trajectory.completions[s].tokens);
  }
  return policy::make_sequence_batch(prompts, responses, context.device);
}

}  // namespace precept::trainer
