// The parts every training loop of precept sets up the same way: the device of a rank, the
// trained model opened and made equal on every rank, the learning-rate schedule, the CPU
// generator's state in a checkpoint, the resolved recipe and the metrics files of a run. Used by
// the GRPO loop (trainer/grpo_trainer.h) and the SFT loop (trainer/sft_trainer.h), so that
// both start, log and resume alike.
#pragma once

#include "lm/pretrained.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/dist/data_parallel.h"
#include "trainer/prompt_data.h"
#include "trainer/dist/communicator.h"
#include "trainer/metrics.h"
#include "trainer/optim/lr_schedule.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace precept::trainer {

// "cuda" means cuda:LOCAL_RANK; anything else as torch reads it ("cpu", "cuda:1").
c10::Device run_device(const std::string& name, int local_rank);

// [policy]'s dtype: policy.dtype, or float32 when it is empty. `source` names the recipe in errors.
c10::ScalarType policy_dtype(const PolicySection& policy, const std::string& source);

// [policy]'s model in training mode on `device`, rank 0's weights broadcast to every rank.
// With [policy.lora] the weights are frozen and adapters attached (A seeded by `seed`), so only
// the adapters train. `chat_needed`: why the loop needs a chat template (empty: it does not).
lm::Pretrained open_trained_model(const PolicySection& policy, const std::string& source, c10::Device device,
                                  Communicator& communicator, const std::string& chat_needed, uint64_t seed);
// The same in two halves: the model's files without its weights (tokenizer, template, stops,
// config), so that a loop can read its data and plan its memory first; then the weights.
lm::Pretrained open_trained_model_files(const PolicySection& policy, const std::string& chat_needed);
void load_trained_weights(lm::Pretrained& opened, const PolicySection& policy, const std::string& source, c10::Device device,
                          Communicator& communicator, uint64_t seed);

// Every rank takes rank 0's values of every parameter of `model` (adapters included).
void broadcast_parameters(lm::TransformerImpl& model, Communicator& communicator);

// [optim]'s schedule over `total_optimizer_steps`, validated.
LrSchedule lr_schedule_of(const OptimSection& optim, int64_t total_optimizer_steps);

// The default CPU generator's state as JSON bytes, and back (absent key: left as is).
nlohmann::json cpu_generator_state();
void restore_cpu_generator(const nlohmann::json& trainer_state);

// Writes <output_dir>/config.toml (the resolved recipe) and opens the run's metrics files;
// `resume_step` when continuing from a checkpoint. Rank 0 only.
std::unique_ptr<MetricsLogger> start_run_logs(const RunSection& run, const LoggingSection& logging, const std::string& source,
                                              const std::string& resolved, int64_t resume_step, int64_t samples_every);

// AdamW over `model` from [optim], replicated or ZeRO-1 as [distributed] says.
std::unique_ptr<DataParallelOptimizer> make_optimizer(lm::TransformerImpl& model, std::shared_ptr<Communicator> communicator,
                                                      const OptimSection& optim, const DistributedSection& distributed);

// Where a loop stands, as trainer_state.json records it. `loop` names the loop that wrote it
// ("grpo", "sft"), so that a checkpoint is never resumed by the other.
struct LoopPosition {
  std::string loop;
  int64_t step = 0, optimizer_steps = 0;
  DataPosition data;
  std::filesystem::path dir;  // resume_loop: the checkpoint folder it read
  nlohmann::json state;       // resume_loop: its trainer_state.json
};
nlohmann::json loop_state(const LoopPosition& position, const RunSection& run, const PolicySection& policy,
                          const std::string& source, int world_size, bool zero1);

// Writes a checkpoint (rank 0 writes, every rank takes part in gathering the optimizer state and
// waits); returns its folder on rank 0, "" elsewhere.
// With `lora`, the checkpoint holds the adapter (peft's format) instead of the model. `extra`
// (rank 0) writes more parts into the folder before it is moved into place (the PPO critic).
std::string save_loop_checkpoint(Communicator& communicator, DataParallelOptimizer& optimizer, CheckpointManager* checkpoints,
                                 MetricsLogger* metrics, lm::TransformerImpl& model, const PolicySection& policy,
                                 int64_t step, const nlohmann::json& state,
                                 const std::function<void(const std::filesystem::path&)>& extra = {});

// Loads a checkpoint of `loop` into the model (its weights, or with `lora` its adapter, whose
// configuration must equal the recipe's), the optimizer and the CPU generator, and returns
// where it stood. Throws naming the folder when another loop wrote it, or when it is already at
// `total_steps`. A checkpoint of another world size is accepted (its state is complete and the
// randomness is global), with a note on stderr.
LoopPosition resume_loop(const std::string& path, const std::string& loop, lm::TransformerImpl& model,
                         const PolicySection& policy, DataParallelOptimizer& optimizer, Communicator& communicator,
                         int64_t total_steps);

// What the command line shows after each step of a loop.
struct StepSummary {
  int64_t step = 0, total_steps = 0;
  Metrics metrics;
  double eta_seconds = 0.0;
  std::string checkpoint;  // the folder written at this step, if any
};

// The outer loop every trainer runs: `take_step` until `step` reaches `total_steps`, a
// checkpoint (`save`) every checkpoint.every steps and at the end when asked, and `on_step` with
// the step's metrics and the ETA from the rate of this run's steps.
void run_steps(const int64_t& step, int64_t total_steps, const CheckpointSection& checkpoint,
               const std::function<Metrics()>& take_step, const std::function<std::string()>& save,
               const std::function<void(const StepSummary&)>& on_step);

}  // namespace precept::trainer
