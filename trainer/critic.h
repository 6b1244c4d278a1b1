// The PPO critic: a value model kept apart from the policy, with its own weights, AdamW state
// (replicated or ZeRO-1, by the same DataParallelOptimizer as the policy), learning-rate
// schedule and checkpoint files. It is a token classifier with one label (transformers'
// XxxForTokenClassification, which veRL loads as its critic): the decoder and `score` [1, C]
// with a bias, read at the hidden state that predicts each response token. It starts from the
// policy's weights with a fresh head, from a critic precept saved, or from a reward model
// (XxxForSequenceClassification with one label, whose `score` becomes the head, bias 0).
// Not the math (trainer/gae.h) and not the phases that use it (trainer/ppo.h).
#pragma once

#include "lm/transformer.h"
#include "policy/sequences.h"
#include "trainer/config.h"
#include "trainer/dist/communicator.h"
#include "trainer/dist/data_parallel.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/update.h"

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace precept::trainer {

// The critic model of a run on `device`, before any broadcast: [critic] model, or the policy's
// with a fresh head (normal(0, head_init_std) from `seed`, bias 0). Throws naming the file when
// the model is a classifier with more than one label.
lm::Transformer make_critic_model(const RunConfig& config, c10::Device device, uint64_t seed);

class Critic {
 public:
  // Loads the critic, attaches [critic.lora] when asked (the head stays trainable), makes every
  // rank start from rank 0's weights, and builds its optimizer and schedule over
  // `total_optimizer_steps`.
  Critic(const RunConfig& config, std::shared_ptr<Communicator> communicator, c10::Device device,
         int64_t total_optimizer_steps);
  ~Critic();

  // [B, R] fp32 values at the hidden states that predict each response token (veRL's
  // values[:, -R-1:-1]), zero on padding. Differentiable when grad mode is on.
  at::Tensor values(const policy::SequenceBatch& batch);

  lm::TransformerImpl& model() { return *model_; }
  DataParallelOptimizer& optimizer() { return *optimizer_; }
  // The critic's optimizer, schedule and step counter, for run_update.
  Optimization optimization();
  int64_t optimizer_steps() const { return optimizer_steps_; }
  double learning_rate() const;  // of the last optimizer step

  // Checkpoints: the optimizer state is gathered on every rank (a collective under ZeRO-1),
  // then rank 0 writes `folder`/critic/ (a transformers token-classification model, or with
  // LoRA a peft adapter plus critic/value_head.safetensors) and critic_optimizer.safetensors.
  std::map<std::string, at::Tensor> optimizer_state();
  void save(const std::filesystem::path& folder, const std::map<std::string, at::Tensor>& optimizer_state);
  // Restores the weights, the optimizer and the step counter from a checkpoint folder written
  // by save(); throws naming the folder when it holds no critic.
  void load(const std::filesystem::path& folder, int64_t optimizer_steps);

 private:
  const RunConfig& config_;
  std::shared_ptr<Communicator> communicator_;
  lm::Transformer model_{nullptr};
  std::unique_ptr<DataParallelOptimizer> optimizer_;
  LrSchedule schedule_;
  int64_t optimizer_steps_ = 0;
};

}  // namespace precept::trainer
