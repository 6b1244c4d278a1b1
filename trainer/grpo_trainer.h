// The RL loop, GRPO and PPO: each step samples prompts, generates G responses each with the policy itself
// (no-grad, KV cache, no weight sync), scores each group with the configured reward, turns the
// rewards into group-relative advantages and updates the policy with the clipped objective
// (optionally KL to a frozen reference), then logs metrics and writes checkpoints. A step is the
// sequence of phases of trainer/phases.h, trainer/update.h and trainer/step_metrics.h. Data
// parallel through a Communicator: each rank rolls out and scores its share of the prompts;
// gradients are summed across ranks. With algorithm.advantage = "gae" the step is PPO's: a
// critic (trainer/critic.h) gives values, GAE gives per-token advantages and the critic is
// updated beside the policy (trainer/ppo.h). Not the math (trainer/advantages.h, gae.h, ...).
#pragma once

#include "lm/pretrained.h"
#include "lm/transformer.h"
#include "reward/reward.h"
#include "rollout/generator.h"
#include "trainer/optim/adamw.h"
#include "trainer/checkpoint.h"
#include "trainer/dist/communicator.h"
#include "trainer/config.h"
#include "trainer/critic.h"
#include "trainer/dist/data_parallel.h"
#include "trainer/hooks.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/memory_plan.h"
#include "trainer/metrics.h"
#include "trainer/phases.h"
#include "trainer/prompt_data.h"
#include "trainer/run_parts.h"
#include "trainer/update.h"

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace precept::trainer {

// The run's memory plan as GrpoTrainer makes it, with the longest prompt of the data (the
// model's files and the prompts are read, no weights): for `precept train --check` and `precept plan`.
MemoryPlan plan_grpo_memory(const RunConfig& config, MemoryPlanOptions options);

class GrpoTrainer {
 public:
  GrpoTrainer(RunConfig config, std::shared_ptr<Communicator> communicator);
  ~GrpoTrainer();

  // Restores model, optimizer, data position and step from a checkpoint folder (or a run folder's
  // latest). The world size must match the one that wrote it.
  void resume(const std::string& path);
  // Runs steps until config.run.steps; `on_step` is called on every rank after each step.
  void train(const std::function<void(const StepSummary&)>& on_step = {});
  // One step (exposed for tests); returns its metrics.
  Metrics step();

  int64_t current_step() const { return step_; }
  lm::TransformerImpl& policy() { return *policy_.model; }
  Critic* critic() { return critic_.get(); }  // null unless advantage = "gae"
  double kl_coef() const { return kl_coef_; }
  const RunConfig& config() const { return config_; }
  // The memory plan made before the models were loaded (trainer/memory_plan.h).
  const MemoryPlan& memory_plan() const { return memory_plan_; }
  std::string checkpoint_dir() const;
  // Writes a checkpoint of the current step now (rank 0 writes; every rank waits).
  std::string save_checkpoint();
  // Test-only entry points (trainer/hooks.h); production never sets them.
  void set_hooks(TrainerHooks hooks);

 private:
  StepContext step_context();
  void log_step(const Trajectory& trajectory, const Metrics& metrics);
  nlohmann::json trainer_state() const;
  // Plans the run's memory per rank; throws with the plan when it does not fit.
  void check_memory_plan();

  RunConfig config_;
  std::shared_ptr<Communicator> communicator_;
  c10::Device device_;
  lm::Pretrained policy_;                  // the trained model with its tokenizer, template and stop ids
  lm::Transformer reference_{nullptr};     // frozen copy of the start; null when KL is off
  std::unique_ptr<PromptDataset> data_;
  MemoryPlan memory_plan_;
  std::unique_ptr<PromptSampler> sampler_;
  std::unique_ptr<rollout::Generator> generator_;
  std::unique_ptr<reward::Reward> reward_;
  std::unique_ptr<DataParallelOptimizer> optimizer_;
  LrSchedule schedule_;
  std::unique_ptr<Critic> critic_;  // PPO only
  double kl_coef_ = 0;              // the KL-in-reward coefficient (adapted after each step with kl_target)
  std::unique_ptr<MetricsLogger> metrics_;
  std::unique_ptr<CheckpointManager> checkpoints_;
  TrainerHooks hooks_;
  int64_t step_ = 0;
  int64_t optimizer_steps_ = 0;
};

}  // namespace precept::trainer
