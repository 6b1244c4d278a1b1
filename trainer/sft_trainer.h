// The SFT loop (`precept sft`): each step takes sft.batch_size chats in a seeded order, splits
// them over the ranks, runs them as length-sorted micro-batches (gradient accumulation), and
// takes one AdamW step on the cross-entropy of the assistant tokens, averaged over every
// assistant token of the step on all ranks (transformers' loss with labels = -100 outside the
// assistant spans). Data parallel, checkpoints, bitwise resume, metrics and the optimizer are
// the GRPO loop's (trainer/run_parts.h, trainer/update.h, trainer/checkpoint.h).
// docs/sft.md.
#pragma once

#include "lm/pretrained.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/dist/communicator.h"
#include "trainer/dist/data_parallel.h"
#include "trainer/metrics.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/prompt_data.h"
#include "trainer/run_parts.h"
#include "trainer/sft_data.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace precept::trainer {

class SftTrainer {
 public:
  SftTrainer(SftConfig config, std::shared_ptr<Communicator> communicator);
  ~SftTrainer();

  void resume(const std::string& path);  // a checkpoint folder, or a run folder's latest
  void train(const std::function<void(const StepSummary&)>& on_step = {});
  Metrics step();
  std::string save_checkpoint();

  int64_t current_step() const { return step_; }
  lm::TransformerImpl& model() { return *model_.model; }
  const lm::Pretrained& pretrained() const { return model_; }
  const SftConfig& config() const { return config_; }
  std::string checkpoint_dir() const;

 private:
  nlohmann::json trainer_state() const;

  SftConfig config_;
  std::shared_ptr<Communicator> communicator_;
  c10::Device device_;
  lm::Pretrained model_;
  std::vector<SftExample> data_;
  std::unique_ptr<PromptSampler> sampler_;
  std::unique_ptr<DataParallelOptimizer> optimizer_;
  LrSchedule schedule_;
  std::unique_ptr<MetricsLogger> metrics_;
  std::unique_ptr<CheckpointManager> checkpoints_;
  int64_t step_ = 0;
  int64_t optimizer_steps_ = 0;
};

// The summed negative log-likelihood of the targets of `members` (indices into `examples`)
// under `model` (gradients flow when grad mode is on), and how many target tokens it covers.
struct SftLoss {
  at::Tensor nll_sum;
  int64_t tokens = 0;
};
SftLoss sft_nll(lm::TransformerImpl& model, const std::vector<SftExample>& examples, const std::vector<int64_t>& members,
                c10::Device device, int64_t logprob_chunk);

// `members` as micro-batches of at most `size`, longest first, so that each pads little.
std::vector<std::vector<int64_t>> length_sorted_micro_batches(const std::vector<SftExample>& examples,
                                                              std::vector<int64_t> members, int64_t size);

}  // namespace precept::trainer
