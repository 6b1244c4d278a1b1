// The shared parts of a training run; see run_parts.h.
#include "trainer/run_parts.h"

#include "policy/lora.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace precept::trainer {
namespace fs = std::filesystem;

c10::Device run_device(const std::string& name, int local_rank) {
  if (name == "cuda") return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(local_rank));
  return c10::Device(name);
}

c10::ScalarType policy_dtype(const PolicySection& policy, const std::string& source) {
  return policy.dtype.empty() ? c10::kFloat : lm::dtype_from_name(policy.dtype, source + ": policy.dtype");
}

lm::Pretrained open_trained_model(const PolicySection& policy, const std::string& source, c10::Device device,
                                  Communicator& communicator, const std::string& chat_needed, uint64_t seed) {
  lm::Pretrained opened = open_trained_model_files(policy, chat_needed);
  load_trained_weights(opened, policy, source, device, communicator, seed);
  return opened;
}

lm::Pretrained open_trained_model_files(const PolicySection& policy, const std::string& chat_needed) {
  lm::OpenOptions options;
  options.weights = false;
  lm::Pretrained opened = lm::open_pretrained(policy.model, options);
  if (!chat_needed.empty()) opened.require_chat_template(chat_needed);
  return opened;
}

void load_trained_weights(lm::Pretrained& opened, const PolicySection& policy, const std::string& source, c10::Device device,
                          Communicator& communicator, uint64_t seed) {
  lm::LoadOptions load;
  load.dtype = policy_dtype(policy, source);
  load.device = device;
  opened.model = lm::load_pretrained(policy.model, load);
  opened.model->train();
  opened.model->set_recompute(policy.recompute);
  if (policy.lora) policy::attach_lora(*opened.model, *policy.lora, seed);
  broadcast_parameters(*opened.model, communicator);
}

void broadcast_parameters(lm::TransformerImpl& model, Communicator& communicator) {
  std::vector<at::Tensor> parameters;
  for (auto& p : model.parameters()) parameters.push_back(p.data());
  communicator.broadcast(parameters, 0);
}

LrSchedule lr_schedule_of(const OptimSection& optim, int64_t total_optimizer_steps) {
  LrSchedule schedule;
  schedule.kind = parse_lr_schedule(optim.schedule);
  schedule.base_lr = optim.lr;
  schedule.warmup_steps = optim.warmup_steps;
  schedule.total_steps = total_optimizer_steps;
  schedule.min_lr_ratio = optim.min_lr_ratio;
  validate(schedule);
  return schedule;
}

nlohmann::json cpu_generator_state() {
  at::Tensor rng = at::detail::getDefaultCPUGenerator().get_state();
  return std::vector<int64_t>(rng.data_ptr<uint8_t>(), rng.data_ptr<uint8_t>() + rng.numel());
}

void restore_cpu_generator(const nlohmann::json& trainer_state) {
  if (!trainer_state.contains("cpu_generator_state")) return;
  auto bytes = trainer_state["cpu_generator_state"].get<std::vector<int64_t>>();
  at::Tensor rng = at::tensor(bytes, at::kLong).to(at::kByte);
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  generator.set_state(rng);
}

std::unique_ptr<MetricsLogger> start_run_logs(const RunSection& run, const LoggingSection& logging, const std::string& source,
                                              const std::string& resolved, int64_t resume_step, int64_t samples_every) {
  fs::create_directories(run.output_dir);
  std::ofstream(fs::path(run.output_dir) / "config.toml") << "# Resolved from " << source << " (overrides applied)\n"
                                                           << resolved << "\n";
  MetricsOptions options;
  options.tensorboard = logging.tensorboard;
  options.samples_every = samples_every;
  options.overwrite = run.overwrite;
  if (resume_step > 0) options.resume_step = resume_step;
  return std::make_unique<MetricsLogger>(run.output_dir, options);
}

std::unique_ptr<DataParallelOptimizer> make_optimizer(lm::TransformerImpl& model, std::shared_ptr<Communicator> communicator,
                                                      const OptimSection& optim, const DistributedSection& distributed) {
  const AdamWOptions adam{.beta1 = optim.beta1, .beta2 = optim.beta2, .eps = optim.eps, .weight_decay = optim.weight_decay};
  return std::make_unique<DataParallelOptimizer>(model, std::move(communicator), adam, distributed.zero1,
                                                 distributed.bucket_mb);
}

nlohmann::json loop_state(const LoopPosition& position, const RunSection& run, const PolicySection& policy,
                          const std::string& source, int world_size, bool zero1) {
  return {{"loop", position.loop},
          {"step", position.step},
          {"optimizer_steps", position.optimizer_steps},
          {"data", position.data.to_json()},
          {"seed", run.seed},
          {"world_size", world_size},
          {"zero1", zero1},
          {"policy", policy.model},
          {"config", source},
          {"cpu_generator_state", cpu_generator_state()}};
}

std::string save_loop_checkpoint(Communicator& communicator, DataParallelOptimizer& optimizer, CheckpointManager* checkpoints,
                                 MetricsLogger* metrics, lm::TransformerImpl& model, const PolicySection& policy,
                                 int64_t step, const nlohmann::json& state,
                                 const std::function<void(const fs::path&)>& extra) {
  std::string folder;
  const auto optimizer_state = optimizer.state();  // a collective under ZeRO-1: every rank takes part
  if (communicator.is_main()) {
    folder = checkpoints->save(step, model, policy.model, optimizer_state, state, std::nullopt, policy.lora, extra).string();
    if (metrics) metrics->sync();
  }
  communicator.barrier();
  return folder;
}

LoopPosition resume_loop(const std::string& path, const std::string& loop, lm::TransformerImpl& model,
                         const PolicySection& policy, DataParallelOptimizer& optimizer, Communicator& communicator,
                         int64_t total_steps) {
  CheckpointContents checkpoint = load_checkpoint(path);
  const auto& state = checkpoint.state;
  const std::string written_by = state.value("loop", std::string("grpo"));  // before `loop` was recorded: GRPO's
  if (written_by != loop) {
    const std::string command = written_by == "sft" ? "precept sft" : "precept train";
    throw std::runtime_error(checkpoint.dir.string() + " was written by `" + command +
                             "`; start a new run from its model folder instead (policy.model = \"" +
                             checkpoint.model_dir().string() + "\")");
  }
  const int64_t world = state.value("world_size", int64_t(1));
  if (world != communicator.world_size() && communicator.is_main()) {
    std::fprintf(stderr, "[precept] resuming a %lld-rank checkpoint on %d rank(s)\n", static_cast<long long>(world),
                 communicator.world_size());
  }
  if (checkpoint.has_adapter() != policy.lora.has_value()) {
    throw std::runtime_error(checkpoint.dir.string() + (checkpoint.has_adapter()
                                                            ? " holds a LoRA adapter, and the recipe has no [policy.lora]"
                                                            : " holds a full model, and the recipe trains LoRA adapters ([policy.lora])"));
  }
  if (policy.lora) {
    const policy::LoraConfig saved = policy::read_adapter_config(checkpoint.adapter_dir());
    const policy::LoraConfig& wanted = *policy.lora;
    if (saved.r != wanted.r || saved.alpha != wanted.alpha || saved.rslora != wanted.rslora || saved.dropout != wanted.dropout) {
      throw std::runtime_error(checkpoint.adapter_dir().string() + ": the adapter has r " + std::to_string(saved.r) +
                               ", alpha " + std::to_string(saved.alpha) + ", rslora " + (saved.rslora ? "true" : "false") +
                               ", dropout " + std::to_string(saved.dropout) + "; [policy.lora] says r " +
                               std::to_string(wanted.r) + ", alpha " + std::to_string(wanted.alpha) + ", rslora " +
                               (wanted.rslora ? "true" : "false") + ", dropout " + std::to_string(wanted.dropout));
    }
    policy::load_adapter_weights(model, checkpoint.adapter_dir());
  } else {
    lm::load_weights(model, checkpoint.model_dir());
  }
  optimizer.load_state(checkpoint.optimizer);
  restore_cpu_generator(state);
  LoopPosition position;
  position.loop = loop;
  position.dir = checkpoint.dir;
  position.state = state;
  position.data = DataPosition::from_json(state.at("data"));
  position.step = state.at("step").get<int64_t>();
  position.optimizer_steps = state.value("optimizer_steps", position.step);
  if (position.step >= total_steps) {
    throw std::runtime_error(checkpoint.dir.string() + " is at step " + std::to_string(position.step) +
                             ", and run.steps is " + std::to_string(total_steps) + ": nothing left to train (raise run.steps)");
  }
  return position;
}

void run_steps(const int64_t& step, int64_t total_steps, const CheckpointSection& checkpoint,
               const std::function<Metrics()>& take_step, const std::function<std::string()>& save,
               const std::function<void(const StepSummary&)>& on_step) {
  const int64_t first = step;
  const auto start = std::chrono::steady_clock::now();
  while (step < total_steps) {
    StepSummary summary;
    summary.metrics = take_step();
    summary.step = step;
    summary.total_steps = total_steps;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    summary.eta_seconds = elapsed / static_cast<double>(step - first) * static_cast<double>(total_steps - step);
    const bool periodic = checkpoint.every > 0 && step % checkpoint.every == 0;
    const bool final = step == total_steps && checkpoint.save_final;
    if (periodic || final) summary.checkpoint = save();
    if (on_step) on_step(summary);
  }
}

}  // namespace precept::trainer
