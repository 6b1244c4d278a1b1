#include "trainer/grpo_trainer.h"

#include "trainer/judge_task.h"
#include "trainer/gae.h"
#include "trainer/memory_plan.h"
#include "trainer/ppo.h"
#include "trainer/reward_factory.h"
#include "trainer/run_parts.h"
#include "trainer/step_metrics.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

namespace precept::trainer {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

lm::Transformer frozen_reference(const RunConfig& config, const lm::Pretrained& policy) {
  lm::LoadOptions load;
  load.dtype = policy.model->output_weight().scalar_type();
  load.device = policy.model->output_weight().device();
  lm::Transformer reference = lm::load_pretrained(config.policy.model, load);
  for (auto& p : reference->parameters()) p.set_requires_grad(false);
  return reference;
}

std::string chat_needed(const RunConfig& config) {
  if (config.task.kind == "judge") return "[task] kind = \"judge\" (the judge's prompts are chats)";
  return config.data.chat ? "data.chat = true (the policy's prompts)" : "";
}

// The prompts of data.prompts, or the judge task's cases rendered as judge prompts.
std::unique_ptr<PromptDataset> load_prompts(const RunConfig& config, const lm::Pretrained& policy) {
  const text::ChatTemplate* chat = policy.chat_template ? &*policy.chat_template : nullptr;
  if (config.task.kind == "judge") {
    return std::make_unique<PromptDataset>(judge_task_examples(config, *policy.tokenizer, *chat), config.data.max_prompt_tokens);
  }
  return std::make_unique<PromptDataset>(config.data, *policy.tokenizer, chat);
}

}  // namespace

MemoryPlan plan_grpo_memory(const RunConfig& config, MemoryPlanOptions options) {
  const lm::Pretrained policy = open_trained_model_files(config.policy, chat_needed(config));
  options.longest_prompt = load_prompts(config, policy)->longest_prompt();
  return plan_run_memory(config, options);
}

GrpoTrainer::GrpoTrainer(RunConfig config, std::shared_ptr<Communicator> communicator)
    : config_(std::move(config)),
      communicator_(std::move(communicator)),
      device_(run_device(config_.run.device, communicator_->local_rank())) {
  if (config_.run.threads > 0) at::set_num_threads(static_cast<int>(config_.run.threads));
  // The tokenizer and the prompts first, without weights: the memory plan needs the longest
  // prompt, and a run that cannot fit is refused before any model is loaded.
  policy_ = open_trained_model_files(config_.policy, chat_needed(config_));
  data_ = load_prompts(config_, policy_);
  check_memory_plan();
  load_trained_weights(policy_, config_.policy, config_.source, device_, *communicator_, config_.run.seed);
  // The reference: with LoRA the policy itself with its adapters off (no second model), else a
  // frozen copy of the start.
  if (config_.algorithm.kl_mode != KlMode::none && !config_.policy.lora) reference_ = frozen_reference(config_, policy_);
  sampler_ = std::make_unique<PromptSampler>(data_->size(), config_.run.seed, config_.data.shuffle);
  if (config_.rollout.prompts_per_step % communicator_->world_size() != 0) {
    throw std::runtime_error(config_.source + ": rollout.prompts_per_step = " + std::to_string(config_.rollout.prompts_per_step) +
                             " must be a multiple of the world size " + std::to_string(communicator_->world_size()));
  }
  rollout::GeneratorConfig generator;
  generator.max_slots = rollout_slots(config_, communicator_->world_size());
  generator.max_length = data_->longest_prompt() + config_.rollout.max_new_tokens;
  generator_ = std::make_unique<rollout::Generator>(*policy_.model, generator, policy_.tokenizer.get());
  reward_ = make_reward(config_.reward, RewardContext{device_.str(), config_.run.seed, config_.policy.model});
  optimizer_ = make_optimizer(*policy_.model, communicator_, config_.optim, config_.distributed);
  const int64_t optimizer_steps = config_.run.steps * config_.algorithm.epochs * config_.algorithm.mini_batches;
  schedule_ = lr_schedule_of(config_.optim, optimizer_steps);
  kl_coef_ = config_.algorithm.kl_coef;
  if (config_.algorithm.gae()) critic_ = std::make_unique<Critic>(config_, communicator_, device_, optimizer_steps);
  if (communicator_->is_main()) {
    checkpoints_ = std::make_unique<CheckpointManager>(config_.run.output_dir, config_.checkpoint.keep_last);
  }
}

GrpoTrainer::~GrpoTrainer() = default;

void GrpoTrainer::set_hooks(TrainerHooks hooks) {
  hooks_ = std::move(hooks);
  if (checkpoints_ && hooks_.during_checkpoint) {
    checkpoints_->set_stage_hook([this](const char* stage) { hooks_.during_checkpoint(step_, stage); });
  }
}

void GrpoTrainer::check_memory_plan() {
  MemoryPlanOptions options;
  options.world_size = communicator_->world_size();
  options.ranks_sharing = local_ranks_from_environment();
  options.longest_prompt = data_->longest_prompt();
  memory_plan_ = plan_run_memory(config_, options);
  if (!memory_plan_.fits()) {
    throw std::runtime_error(config_.source + ": the run does not fit in memory (docs/memory.md):\n" + memory_plan_.table() +
                             "Lower rollout.slots, rollout.max_new_tokens or algorithm.micro_batch_size, set "
                             "policy.recompute, [policy.lora] or distributed.zero1, or run.memory_limit_gb = -1 to skip the check.");
  }
  if (communicator_->is_main()) std::cerr << "[precept] " << memory_plan_.table();
}

std::string GrpoTrainer::checkpoint_dir() const { return (fs::path(config_.run.output_dir) / "checkpoints").string(); }

nlohmann::json GrpoTrainer::trainer_state() const {
  nlohmann::json state = loop_state({"grpo", step_, optimizer_steps_, sampler_->position(), {}, {}}, config_.run, config_.policy,
                                    config_.source, communicator_->world_size(), config_.distributed.zero1);
  state["note"] = "rollout, judge and mini-batch randomness are counter-based streams of (seed, step, prompt position)";
  state["kl_coef"] = kl_coef_;
  if (critic_) state["critic_optimizer_steps"] = critic_->optimizer_steps();
  return state;
}

std::string GrpoTrainer::save_checkpoint() {
  std::function<void(const fs::path&)> write_critic;
  std::map<std::string, at::Tensor> critic_state;
  if (critic_) {
    critic_state = critic_->optimizer_state();  // a collective under ZeRO-1
    write_critic = [&](const fs::path& folder) { critic_->save(folder, critic_state); };
  }
  return save_loop_checkpoint(*communicator_, *optimizer_, checkpoints_.get(), metrics_.get(), *policy_.model,
                              config_.policy, step_, trainer_state(), write_critic);
}

void GrpoTrainer::resume(const std::string& path) {
  const LoopPosition position =
      resume_loop(path, "grpo", *policy_.model, config_.policy, *optimizer_, *communicator_, config_.run.steps);
  sampler_->restore(position.data);
  step_ = position.step;
  optimizer_steps_ = position.optimizer_steps;
  kl_coef_ = position.state.value("kl_coef", config_.algorithm.kl_coef);
  if (critic_) critic_->load(position.dir, position.state.value("critic_optimizer_steps", int64_t(0)));
}

StepContext GrpoTrainer::step_context() {
  const bool lora_reference = config_.algorithm.kl_mode != KlMode::none && config_.policy.lora.has_value();
  lm::TransformerImpl* reference = lora_reference ? policy_.model.get() : (reference_ ? reference_.get() : nullptr);
  return StepContext{config_,     *communicator_,     device_, *policy_.model, reference,
                     *generator_, *policy_.tokenizer, *data_,  *reward_,       policy_.stop_ids,
                     step_ + 1,   lora_reference,     kl_coef_};
}

Metrics GrpoTrainer::step() {
  const auto start = Clock::now();
  const StepContext context = step_context();
  if (hooks_.before_step) hooks_.before_step(context.step, communicator_->rank());
  // This rank's share of the step's prompts, rolled out and scored; DAPO refills groups
  // without signal with fresh prompts, drawn in the same order on every rank.
  const int64_t N = config_.rollout.prompts_per_step;
  const int64_t share = N / communicator_->world_size(), first = communicator_->rank() * share;
  const std::vector<int64_t> prompts = sampler_->next(N);
  Trajectory trajectory = collect_scored_rollouts(
      context, std::vector<int64_t>(prompts.begin() + first, prompts.begin() + first + share), first);
  refill_zero_variance_groups(context, *sampler_, trajectory);
  trajectory.rewards = shape_rewards(config_.algorithm, trajectory);
  old_and_reference_logprobs(context, trajectory);
  if (critic_) {
    // PPO: the critic's values, GAE per token, then the critic's own update.
    critic_values(context, *critic_, trajectory);
    gae_phase(context, trajectory);
  } else {
    kl_in_reward(context, trajectory);
    group_advantages(context, trajectory);
  }
  UpdateTotals critic_update;
  if (critic_) {
    Optimization critic_optimization = critic_->optimization();
    critic_update = run_update(
        context, trajectory, critic_optimization,
        [&](const std::vector<int64_t>& members, const LossNormalizer& normalizer) {
          return critic_micro_batch_loss(context, *critic_, trajectory, members, normalizer);
        },
        hooks_);
  }
  // PPO's critic warm-up: the first critic_warmup steps leave the policy as it is.
  const bool warmup = critic_ && context.step <= config_.algorithm.critic_warmup;
  Optimization optimization{*optimizer_, schedule_, optimizer_steps_, config_.optim.max_grad_norm};
  UpdateTotals update;
  if (!warmup) {
    update = run_update(
        context, trajectory, optimization,
        [&](const std::vector<int64_t>& members, const LossNormalizer& normalizer) {
          return micro_batch_result(grpo_micro_batch_loss(context, trajectory, members, normalizer));
        },
        hooks_);
  }
  ++step_;

  const double lr = learning_rate(schedule_, std::max<int64_t>(0, optimizer_steps_ - 1));
  const double optimizer_gib = optimizer_->measured_memory().state_bytes_per_rank / double(1 << 30);
  Metrics metrics = reduce_step_metrics(context, trajectory, update, lr, seconds_since(start), optimizer_gib).to_metrics();
  if (critic_) {
    for (const auto& [name, value] : ppo_metrics(context, trajectory, critic_update, critic_->learning_rate(), warmup)) {
      metrics[name] = value;
    }
  }
  if (config_.algorithm.kl_mode == KlMode::reward && (critic_ || config_.algorithm.kl_target > 0)) {
    metrics["kl/coef"] = trajectory.kl_coef;
  }
  if (config_.algorithm.kl_target > 0) {
    const int64_t sequences = config_.rollout.prompts_per_step * config_.rollout.group_size;
    kl_coef_ = adapted_kl_coef(kl_coef_, trajectory.kl_reward_mean, config_.algorithm.kl_target, sequences,
                               config_.algorithm.kl_horizon);
  }
  log_step(trajectory, metrics);
  return metrics;
}

void GrpoTrainer::log_step(const Trajectory& trajectory, const Metrics& metrics) {
  if (!metrics_) return;
  metrics_->log(step_, wall_clock_seconds(), metrics);
  if (!metrics_->samples_due(step_)) return;
  const int64_t G = trajectory.group_size;
  std::vector<SampleGroup> samples;
  for (int64_t g = 0; g < trajectory.groups(); ++g) {
    SampleGroup sample;
    sample.prompt = (*data_)[trajectory.prompt_index[g]].judge_text;
    sample.responses.assign(trajectory.texts.begin() + g * G, trajectory.texts.begin() + (g + 1) * G);
    sample.rewards.assign(trajectory.rewards.begin() + g * G, trajectory.rewards.begin() + (g + 1) * G);
    sample.judge = {{"explanations", trajectory.scores[g].explanations}, {"diagnostics", trajectory.scores[g].diagnostics}};
    samples.push_back(std::move(sample));
  }
  metrics_->log_samples(step_, wall_clock_seconds(), samples);
}

void GrpoTrainer::train(const std::function<void(const StepSummary&)>& on_step) {
  if (communicator_->is_main()) {
    metrics_ = start_run_logs(config_.run, config_.logging, config_.source, config_.resolved, step_,
                              config_.logging.samples_every);
  }
  communicator_->barrier();
  run_steps(step_, config_.run.steps, config_.checkpoint, [this] { return step(); }, [this] { return save_checkpoint(); },
            on_step);
  if (metrics_ && !metrics_->nonfinite_note().empty()) std::cerr << "[precept] " << metrics_->nonfinite_note() << "\n";
}

}  // namespace precept::trainer
