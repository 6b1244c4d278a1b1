// The SFT loop; see sft_trainer.h.
#include "trainer/sft_trainer.h"

#include "policy/sequences.h"
#include "trainer/run_parts.h"
#include "trainer/step_metrics.h"
#include "trainer/update.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <iostream>
#include <chrono>
#include <filesystem>

namespace precept::trainer {
namespace fs = std::filesystem;

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

SftLoss sft_nll(lm::TransformerImpl& model, const std::vector<SftExample>& examples, const std::vector<int64_t>& members,
                c10::Device device, int64_t logprob_chunk) {
  std::vector<const std::vector<int64_t>*> sequences;
  std::vector<const std::vector<uint8_t>*> targets;
  SftLoss out;
  for (int64_t i : members) {
    sequences.push_back(&examples[i].ids);
    targets.push_back(&examples[i].targets);
    out.tokens += examples[i].target_tokens;
  }
  const policy::SequenceBatch batch = policy::make_masked_batch(sequences, targets, device);
  const policy::LogprobOptions options{.temperature = 1.0, .chunk_tokens = logprob_chunk, .with_entropy = false};
  const policy::TokenLogprobs logprobs = policy::sequence_logprobs(model, batch, options);
  out.nll_sum = -(logprobs.logprobs * batch.mask.to(logprobs.logprobs.scalar_type())).sum();
  return out;
}

std::vector<std::vector<int64_t>> length_sorted_micro_batches(const std::vector<SftExample>& examples,
                                                              std::vector<int64_t> members, int64_t size) {
  return length_bucketed_micro_batches(
      std::move(members), [&](int64_t m) { return static_cast<int64_t>(examples[m].ids.size()); }, size);
}

SftTrainer::SftTrainer(SftConfig config, std::shared_ptr<Communicator> communicator)
    : config_(std::move(config)),
      communicator_(std::move(communicator)),
      device_(run_device(config_.run.device, communicator_->local_rank())) {
  if (config_.run.threads > 0) at::set_num_threads(static_cast<int>(config_.run.threads));
  if (config_.sft.batch_size % communicator_->world_size() != 0) {
    throw std::runtime_error(config_.source + ": sft.batch_size = " + std::to_string(config_.sft.batch_size) +
                             " must be a multiple of the world size " + std::to_string(communicator_->world_size()));
  }
  model_ = open_trained_model(config_.policy, config_.source, device_, *communicator_, "precept sft (chats)", config_.run.seed);
  data_ = read_sft_data(config_.data, *model_.tokenizer, *model_.chat_template);
  sampler_ = std::make_unique<PromptSampler>(data_.size(), config_.run.seed, config_.data.shuffle);
  optimizer_ = make_optimizer(*model_.model, communicator_, config_.optim, config_.distributed);
  schedule_ = lr_schedule_of(config_.optim, config_.run.steps);
  if (communicator_->is_main()) {
    checkpoints_ = std::make_unique<CheckpointManager>(config_.run.output_dir, config_.checkpoint.keep_last);
  }
}

SftTrainer::~SftTrainer() = default;

std::string SftTrainer::checkpoint_dir() const { return (fs::path(config_.run.output_dir) / "checkpoints").string(); }

nlohmann::json SftTrainer::trainer_state() const {
  return loop_state({"sft", step_, optimizer_steps_, sampler_->position(), {}, {}}, config_.run, config_.policy, config_.source,
                    communicator_->world_size(), config_.distributed.zero1);
}

std::string SftTrainer::save_checkpoint() {
  return save_loop_checkpoint(*communicator_, *optimizer_, checkpoints_.get(), metrics_.get(), *model_.model,
                              config_.policy, step_, trainer_state());
}

void SftTrainer::resume(const std::string& path) {
  const LoopPosition position = resume_loop(path, "sft", *model_.model, config_.policy, *optimizer_, *communicator_, config_.run.steps);
  sampler_->restore(position.data);
  step_ = position.step;
  optimizer_steps_ = position.optimizer_steps;
}

Metrics SftTrainer::step() {
  const auto start = Clock::now();
  const int64_t N = config_.sft.batch_size, share = N / communicator_->world_size();
  const std::vector<int64_t> chosen = sampler_->next(N);
  const std::vector<int64_t> mine(chosen.begin() + communicator_->rank() * share,
                                  chosen.begin() + (communicator_->rank() + 1) * share);
  double local_tokens = 0;
  for (int64_t i : mine) local_tokens += static_cast<double>(data_[i].target_tokens);
  const double tokens = all_reduce_scalars(*communicator_, {local_tokens})[0];

  optimizer_->zero_grad();
  double loss_sum = 0, nonfinite = 0;
  for (const auto& micro : length_sorted_micro_batches(data_, mine, config_.sft.micro_batch_size)) {
    const SftLoss nll = sft_nll(*model_.model, data_, micro, device_, config_.policy.logprob_chunk);
    const at::Tensor loss = nll.nll_sum / tokens;
    const double value = loss.item<double>();
    loss.backward();
    loss_sum += value;
    nonfinite += std::isfinite(value) ? 0.0 : 1.0;
  }
  Optimization optimization{*optimizer_, schedule_, optimizer_steps_, config_.optim.max_grad_norm};
  const DataParallelStep update = optimizer_step(optimization, step_ + 1, nonfinite);
  ++step_;

  const double seconds = seconds_since(start);
  Metrics m;
  m["loss/sft"] = all_reduce_scalars(*communicator_, {loss_sum})[0];
  m["sft/target_tokens"] = tokens;
  m["sft/chats"] = static_cast<double>(N);
  m["optim/grad_norm"] = update.grad_norm;
  m["optim/lr"] = learning_rate(schedule_, std::max<int64_t>(0, optimizer_steps_ - 1));
  m["time/step"] = seconds;
  m["throughput/target_tokens_per_s"] = tokens / std::max(1e-9, seconds);
  m["memory/peak_rss_gib"] = peak_rss_gib();
  if (metrics_) metrics_->log(step_, wall_clock_seconds(), m);
  return m;
}

void SftTrainer::train(const std::function<void(const StepSummary&)>& on_step) {
  if (communicator_->is_main()) {
    metrics_ = start_run_logs(config_.run, config_.logging, config_.source, config_.resolved, step_, 0);
  }
  communicator_->barrier();
  run_steps(step_, config_.run.steps, config_.checkpoint, [this] { return step(); }, [this] { return save_checkpoint(); },
            on_step);
  if (metrics_ && !metrics_->nonfinite_note().empty()) std::cerr << "[precept] " << metrics_->nonfinite_note() << "\n";
}

}  // namespace precept::trainer
