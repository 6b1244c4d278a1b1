// The update phase; see update.h.
#include "trainer/update.h"

#include "core/random_streams.h"
#include "policy/logprobs.h"
#include "trainer/prompt_data.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace precept::trainer {

namespace {

using Clock = std::chrono::steady_clock;

// The place of every global sequence id in this epoch's order: a seeded permutation per (step,
// epoch) when there are several mini-batches, else the identity.
std::vector<int64_t> epoch_places(const StepContext& context, int64_t epoch) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const int64_t total = context.config.rollout.prompts_per_step * context.config.rollout.group_size;
  std::vector<int64_t> order(total);
  if (algorithm.mini_batches > 1) {
    const uint64_t mini_batch_seed = core::stream_seed(context.config.run.seed, core::Stream::mini_batch);
    const uint64_t step_seed = core::mix_seed(mini_batch_seed, static_cast<uint64_t>(context.step));
    order = seeded_permutation(total, core::mix_seed(step_seed, static_cast<uint64_t>(epoch)));
  } else {
    std::iota(order.begin(), order.end(), 0);
  }
  std::vector<int64_t> place(total);
  for (int64_t i = 0; i < total; ++i) place[order[i]] = i;
  return place;
}

// This rank's included sequences whose place falls in [low, high), in the order of their places.
std::vector<int64_t> mini_batch_members(const Trajectory& trajectory, const std::vector<int64_t>& place, int64_t low,
                                        int64_t high) {
  std::vector<std::pair<int64_t, int64_t>> placed;  // (place, local sequence)
  for (int64_t s = 0; s < trajectory.sequences(); ++s) {
    const int64_t at_place = place[trajectory.global_id(s)];
    if (trajectory.included[s] && at_place >= low && at_place < high) placed.push_back({at_place, s});
  }
  std::sort(placed.begin(), placed.end());
  std::vector<int64_t> members;
  for (const auto& item : placed) members.push_back(item.second);
  return members;
}

// The loss normaliser counts the whole mini-batch, on every rank.
LossNormalizer mini_batch_normalizer(const StepContext& context, const Trajectory& trajectory,
                                     const std::vector<int64_t>& members) {
  double local_tokens = 0, local_sequences = 0;
  for (int64_t s : members) {
    const double length = static_cast<double>(trajectory.length(s));
    local_tokens += length;
    local_sequences += length > 0;
  }
  const auto totals = all_reduce_scalars(context.communicator, {local_tokens, local_sequences});
  LossNormalizer normalizer;
  normalizer.num_tokens = std::max(1.0, totals[0]);
  normalizer.num_sequences = std::max(1.0, totals[1]);
  normalizer.max_length = static_cast<double>(context.config.rollout.max_new_tokens);
  return normalizer;
}

[[noreturn]] void stop_diverged(int64_t step, const DataParallelStep& update) {
  throw TrainingDiverged(
      "step " + std::to_string(step) + ": " +
      (update.nonfinite_losses > 0
           ? "the loss is not finite on " + std::to_string(int64_t(update.nonfinite_losses)) +
                 " micro-batch(es) of rank(s) " + update.nonfinite_ranks
           : "the gradient norm is " + std::to_string(update.grad_norm) +
                 (update.first_nonfinite.empty() ? "" : " (first in " + update.first_nonfinite + ")")) +
      "; stopping before the optimizer step, and no checkpoint of this step is written. Lower optim.lr, check "
      "the rewards, or resume from the last checkpoint.");
}

// Forward and backward over one micro-batch; returns 1 when its loss was not finite.
double accumulate_micro_batch(const StepContext& context, const std::vector<int64_t>& members,
                              const LossNormalizer& normalizer, const MicroBatchLoss& loss_of,
                              const TrainerHooks& hooks, UpdateTotals& totals) {
  MicroBatchResult result = loss_of(members, normalizer);
  if (hooks.on_loss) hooks.on_loss(context.step, context.communicator.rank(), result.loss);
  const double loss_value = result.loss.item<double>();
  result.loss.backward();
  totals.loss_sum += loss_value;
  totals.tokens += result.tokens;
  for (const auto& [name, value] : result.stats) {
    if (name != "tokens" && std::isfinite(value)) totals.stat_sums[name] += value * result.tokens;
  }
  return std::isfinite(loss_value) ? 0.0 : 1.0;
}

}  // namespace

at::Tensor padded_members(const std::vector<at::Tensor>& per_sequence, const std::vector<int64_t>& members, int64_t R,
                          const at::TensorOptions& options) {
  at::Tensor out = at::zeros({static_cast<int64_t>(members.size()), R}, options);
  for (size_t b = 0; b < members.size(); ++b) {
    const at::Tensor& row = per_sequence[members[b]];
    if (row.numel() > 0) out[static_cast<int64_t>(b)].narrow(0, 0, row.numel()).copy_(row);
  }
  return out;
}

MicroBatchResult micro_batch_result(const PolicyLossResult& result) {
  MicroBatchResult out;
  out.loss = result.loss;
  out.tokens = result.stats.tokens.defined() ? result.stats.tokens.item<double>() : 0.0;
  out.stats = result.stats.to_map();
  return out;
}

DataParallelStep optimizer_step(Optimization& optimization, int64_t step, double nonfinite_losses) {
  // Gradients (and the loss check) summed over ranks; every rank then sees the same norm.
  const DataParallelStep update = optimization.optimizer.step(
      learning_rate(optimization.schedule, optimization.optimizer_steps), optimization.max_grad_norm, nonfinite_losses);
  if (!update.finite) stop_diverged(step, update);
  ++optimization.optimizer_steps;
  return update;
}

UpdateTotals run_update(const StepContext& context, const Trajectory& trajectory, Optimization& optimization,
                        const MicroBatchLoss& loss_of, const TrainerHooks& hooks) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const int64_t total = context.config.rollout.prompts_per_step * context.config.rollout.group_size;
  const auto start = Clock::now();
  UpdateTotals totals;
  for (int64_t epoch = 0; epoch < algorithm.epochs; ++epoch) {
    const std::vector<int64_t> place = epoch_places(context, epoch);
    for (int64_t m = 0; m < algorithm.mini_batches; ++m) {
      const std::vector<int64_t> members =
          mini_batch_members(trajectory, place, m * total / algorithm.mini_batches, (m + 1) * total / algorithm.mini_batches);
      const LossNormalizer normalizer = mini_batch_normalizer(context, trajectory, members);
      optimization.optimizer.zero_grad();
      double nonfinite_losses = 0;
      for (const auto& micro : trajectory_micro_batches(context, trajectory, members)) {
        int64_t longest = 0;
        for (int64_t s : micro) {
          const int64_t tokens = trajectory_tokens(context, trajectory, s);
          totals.sequence_tokens += static_cast<double>(tokens);
          longest = std::max(longest, tokens);
        }
        totals.padded_tokens += static_cast<double>(longest) * static_cast<double>(micro.size());
        totals.micro_batches += 1;
        nonfinite_losses += accumulate_micro_batch(context, micro, normalizer, loss_of, hooks, totals);
      }
      totals.last_grad_norm = optimizer_step(optimization, context.step, nonfinite_losses).grad_norm;
    }
  }
  totals.seconds = seconds_since(start);
  return totals;
}

PolicyLossResult grpo_micro_batch_loss(const StepContext& context, const Trajectory& trajectory,
                                       const std::vector<int64_t>& members, const LossNormalizer& normalizer) {
  const AlgorithmSection& algorithm = context.config.algorithm;
  const policy::SequenceBatch batch = sequence_batch(context, trajectory, members);
  const policy::LogprobOptions options{.temperature = context.config.rollout.temperature,
                                       .chunk_tokens = context.config.policy.logprob_chunk,
                                       .with_entropy = true};
  const policy::TokenLogprobs current = policy::sequence_logprobs(context.policy, batch, options);
  const int64_t R = batch.targets.size(1);
  const at::TensorOptions constant = current.logprobs.options().requires_grad(false);
  auto padded = [&](const std::vector<at::Tensor>& per_sequence) { return padded_members(per_sequence, members, R, constant); };
  PolicyLossInputs inputs;
  inputs.logprobs = current.logprobs;
  inputs.old_logprobs = needs_old_logprobs(algorithm) ? padded(trajectory.old_logprobs) : current.logprobs.detach();
  if (!trajectory.token_advantages.empty()) {
    inputs.advantages = padded(trajectory.token_advantages);  // PPO: one advantage per token
  } else {
    std::vector<float> advantages;
    for (int64_t s : members) advantages.push_back(trajectory.advantages[s].item<float>());
    inputs.advantages = at::tensor(advantages, at::kFloat).to(context.device);
  }
  inputs.mask = batch.mask;
  if (algorithm.kl_mode == KlMode::loss) inputs.reference_logprobs = padded(trajectory.reference_logprobs);
  inputs.entropy = algorithm.loss.entropy_coef != 0.0 ? current.entropy : current.entropy.detach();
  return policy_loss(inputs, algorithm.policy_loss_config(), normalizer);
}

}  // namespace precept::trainer
