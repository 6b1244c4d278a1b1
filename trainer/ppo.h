// The phases PPO adds to the shared RL step (trainer/phases.h), for algorithm.advantage = "gae":
//
//   collect_rollouts -> score -> shape_rewards -> old_and_reference_logprobs
//     -> critic_values -> gae_phase -> update of the critic (critic_micro_batch_loss)
//     -> update of the policy (grpo_micro_batch_loss with per-token advantages; skipped during
//        the critic warm-up) -> reduce_step_metrics + ppo_metrics
//
// GrpoTrainer::step runs them in that order; nothing of the GRPO step is copied. The math is
// trainer/gae.h, the critic trainer/critic.h; docs/ppo.md.
#pragma once

#include "trainer/critic.h"
#include "trainer/phases.h"
#include "trainer/update.h"

#include <map>
#include <string>
#include <vector>

namespace precept::trainer {

// The critic's values of every sequence before the update (no grad), into old_values.
void critic_values(const StepContext& context, Critic& critic, Trajectory& trajectory);

// Per-token rewards (the shaped score at the last token, clipped to algorithm.reward_clip when
// set; minus kl_coef * KL_t of the rollout policy to the reference when kl = "reward"), GAE with
// the old values, the returns, and, with whiten_advantages, the advantages whitened over the
// step's whole batch: every rank computes the statistics over the same gathered tensor in the
// same order, so 2 ranks give 1 rank's advantages bit for bit. Sets token_advantages,
// returns, advantages (each sequence's token mean, for the metrics),
// included, kl_reward_mean and kl_coef.
void gae_phase(const StepContext& context, Trajectory& trajectory);

// The clipped value loss of a micro-batch of local sequences (trainer/gae.h value_loss), with
// the policy loss's aggregation and the mini-batch's normaliser.
MicroBatchResult critic_micro_batch_loss(const StepContext& context, Critic& critic, const Trajectory& trajectory,
                                         const std::vector<int64_t>& members, const LossNormalizer& normalizer);

// The step's PPO metrics, reduced over ranks (a collective): critic/value_loss,
// critic/value_clip_fraction, critic/value_mean, critic/explained_variance (of the old values
// against the returns, over the whole batch), critic/return_mean, critic/advantage_mean (token
// mean before whitening), critic/grad_norm, critic/lr, critic/warmup (1 while the policy waits).
std::map<std::string, double> ppo_metrics(const StepContext& context, const Trajectory& trajectory,
                                          const UpdateTotals& critic_update, double critic_lr, bool warmup);

// The per-sequence [length] tensors of this rank's sequences, laid out as rows of the step's
// global batch (row = global sequence id, R = rollout.max_new_tokens) and summed over ranks:
// the same [N * G, R] fp64 tensor on every rank (zero where a sequence has no token). Used for
// batch statistics that must not depend on the world size.
at::Tensor gather_global_rows(const StepContext& context, const Trajectory& trajectory,
                              const std::vector<at::Tensor>& per_sequence);

}  // namespace precept::trainer
