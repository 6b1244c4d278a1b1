// The parts every training loop of precept sets up the same way: the device of a rank, the
// trained model opened and made equal on every rank, the learning-rate schedule, the CPU
// generator's state in a checkpoint, the resolved recipe and the metrics files of a run. Used by
// the GRPO loop (trainer/grpo_trainer.h) and the SFT loop (trainer/sft_trainer.h), so that
// both start, log and resume alike.
#pragma once

#include "lm/pretrained.h"
#include "trainer/config.h"
#include "trainer/dist/communicator.h"
#include "trainer/metrics.h"
#include "trainer/optim/lr_schedule.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace precept::trainer {

// "cuda" means cuda:LOCAL_RANK; anything else as torch reads it ("cpu", "cuda:1").
c10::Device run_device(const std::string& name, int local_rank);

// [policy]'s model in training mode on `device`, rank 0's weights broadcast to every rank.
// `chat_needed`: why the loop needs a chat template (empty: it does not), for the error.
lm::Pretrained open_trained_model(const PolicySection& policy, const std::string& source, c10::Device device,
                                  Communicator& communicator, const std::string& chat_needed);

// [optim]'s schedule over `total_optimizer_steps`, validated.
LrSchedule lr_schedule_of(const OptimSection& optim, int64_t total_optimizer_steps);

// The default CPU generator's state as JSON bytes, and back (absent key: left as is).
nlohmann::json cpu_generator_state();
void restore_cpu_generator(const nlohmann::json& trainer_state);

// Writes <output_dir>/config.toml (the resolved recipe) and opens the run's metrics files;
// `resume_step` when continuing from a checkpoint. Rank 0 only.
std::unique_ptr<MetricsLogger> start_run_logs(const RunSection& run, const LoggingSection& logging, const std::string& source,
                                              const std::string& resolved, int64_t resume_step, int64_t samples_every);

}  // namespace precept::trainer
