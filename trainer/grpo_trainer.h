// The GRPO loop: each step samples prompts, generates G responses each with the policy itself
// (no-grad, KV cache, no weight sync), scores each group with the configured reward, turns the
// rewards into group-relative advantages and updates the policy with the clipped objective
// (optionally KL to a frozen reference), then logs metrics and writes checkpoints. Data
// parallel through a Communicator: each rank rolls out and scores its share of the prompts;
// gradients are summed across ranks. Not the math (trainer/advantages.h, policy_loss.h, ...).
#pragma once

#include "lm/chat_template.h"
#include "lm/tokenizer.h"
#include "lm/transformer.h"
#include "reward/reward.h"
#include "rollout/generator.h"
#include "trainer/adamw.h"
#include "trainer/checkpoint.h"
#include "trainer/communicator.h"
#include "trainer/config.h"
#include "trainer/dist/data_parallel.h"
#include "trainer/lr_schedule.h"
#include "trainer/metrics.h"
#include "trainer/prompt_data.h"

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace precept::trainer {

// Training cannot go on: a NaN or inf in the loss or the gradients, named with the step.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the command line shows after each step.
struct StepSummary {
  int64_t step = 0, total_steps = 0;
  Metrics metrics;
  double eta_seconds = 0.0;
  std::string checkpoint;  // the folder written at this step, if any
};

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
  lm::TransformerImpl& policy() { return *policy_; }
  const RunConfig& config() const { return config_; }
  std::string checkpoint_dir() const;
  // Writes a checkpoint of the current step now (rank 0 writes; every rank waits).
  std::string save_checkpoint();

 private:
  struct Rollout;
  Rollout rollout(const std::vector<int64_t>& prompt_indices, int64_t first_position);
  nlohmann::json trainer_state() const;

  RunConfig config_;
  std::shared_ptr<Communicator> communicator_;
  c10::Device device_;
  lm::Transformer policy_{nullptr};
  lm::Transformer reference_{nullptr};
  std::unique_ptr<lm::Tokenizer> tokenizer_;
  std::optional<lm::ChatTemplate> chat_;
  std::unique_ptr<PromptDataset> data_;
  std::unique_ptr<PromptSampler> sampler_;
  std::unique_ptr<rollout::Generator> generator_;
  std::unique_ptr<reward::Reward> reward_;
  std::unique_ptr<DataParallelOptimizer> optimizer_;
  LrSchedule schedule_;
  std::unique_ptr<MetricsLogger> metrics_;
  std::unique_ptr<CheckpointManager> checkpoints_;
  std::vector<int64_t> stop_ids_;
  int64_t step_ = 0;
  int64_t optimizer_steps_ = 0;
  // Fault injection for the distributed fault tests only: PRECEPT_FAULT="KIND@RANK:STEP" with
  // KIND throw (an exception), nan (a NaN loss), hang (sleeps), exit (the process dies).
  struct Fault {
    std::string kind;
    int rank = -1;
    int64_t step = -1;
  } fault_;
  void inject_fault(const char* where);
};

}  // namespace precept::trainer
