// The shared parts of a training run; see run_parts.h.
#include "trainer/run_parts.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>

namespace precept::trainer {
namespace fs = std::filesystem;

c10::Device run_device(const std::string& name, int local_rank) {
  if (name == "cuda") return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(local_rank));
  return c10::Device(name);
}

lm::Pretrained open_trained_model(const PolicySection& policy, const std::string& source, c10::Device device,
                                  Communicator& communicator, const std::string& chat_needed) {
  lm::OpenOptions options;
  options.load.dtype = policy.dtype.empty() ? c10::kFloat : lm::dtype_from_name(policy.dtype, source + ": policy.dtype");
  options.load.device = device;
  lm::Pretrained opened = lm::open_pretrained(policy.model, options);
  if (!chat_needed.empty()) opened.require_chat_template(chat_needed);
  opened.model->train();
  opened.model->set_recompute(policy.recompute);
  // Every rank starts from rank 0's weights.
  std::vector<at::Tensor> parameters;
  for (auto& p : opened.model->parameters()) parameters.push_back(p.data());
  communicator.broadcast(parameters, 0);
  return opened;
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

}  // namespace precept::trainer
