// Fault injection for the distributed and kill tests, linked only into the test-only
// `precept_fault` executable (production `precept` links apps/no_training_hooks.cpp).
// PRECEPT_FAULT="KIND@RANK:STEP" makes rank RANK, at step STEP:
//   throw  throw an exception at the start of the step
//   exit   die at the start of the step (std::_Exit(3)), as a killed process would
//   hang   sleep for an hour at the start of the step (a stalled rank)
//   nan    poison every micro-batch loss of the step with NaN
//   kill   SIGKILL itself at the start of the step (before its rollouts)
//   kill-update         SIGKILL itself in the update, at the step's first micro-batch loss
//   kill-checkpoint-S   SIGKILL itself while writing the step's checkpoint, after stage S
//                       (model, optimizer, state, moved, latest: trainer/checkpoint.h)
// SIGKILL cannot be caught: nothing of the process runs after it, as with `kill -9`.
#include "apps/commands/training_hooks.h"

#include <ATen/ATen.h>

#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace precept::apps {

trainer::TrainerHooks training_hooks() {
  const char* fault = std::getenv("PRECEPT_FAULT");
  if (!fault) return {};
  const std::string text = fault;
  const size_t at = text.find('@'), colon = text.find(':');
  if (at == std::string::npos || colon == std::string::npos || colon < at) {
    throw std::runtime_error("PRECEPT_FAULT='" + text + "': expected KIND@RANK:STEP");
  }
  const std::string kind = text.substr(0, at);
  const int rank = std::stoi(text.substr(at + 1, colon - at - 1));
  const int64_t step = std::stoll(text.substr(colon + 1));
  const std::string checkpoint_prefix = "kill-checkpoint-";
  const bool in_checkpoint = kind.rfind(checkpoint_prefix, 0) == 0;
  const std::string stage = in_checkpoint ? kind.substr(checkpoint_prefix.size()) : "";
  if (kind != "throw" && kind != "exit" && kind != "hang" && kind != "nan" && kind != "kill" && kind != "kill-update" &&
      !(in_checkpoint && (stage == "model" || stage == "optimizer" || stage == "state" || stage == "moved" ||
                          stage == "latest"))) {
    throw std::runtime_error("PRECEPT_FAULT='" + text + "': KIND must be throw, exit, hang, nan, kill, kill-update or "
                             "kill-checkpoint-{model,optimizer,state,moved,latest}");
  }
  trainer::TrainerHooks hooks;
  hooks.before_step = [=](int64_t at_step, int at_rank) {
    if (at_rank != rank || at_step != step) return;
    const std::string where = "start of step " + std::to_string(at_step);
    if (kind == "throw") throw std::runtime_error("injected fault (PRECEPT_FAULT) at " + where);
    if (kind == "exit") std::_Exit(3);
    if (kind == "hang") std::this_thread::sleep_for(std::chrono::hours(1));
    if (kind == "kill") std::raise(SIGKILL);
  };
  hooks.on_loss = [=](int64_t at_step, int at_rank, at::Tensor& loss) {
    if (at_rank != rank || at_step != step) return;
    if (kind == "nan") loss = loss * std::nan("");
    if (kind == "kill-update") std::raise(SIGKILL);
  };
  if (in_checkpoint) {
    // Only the rank that writes checkpoints (rank 0) gets here.
    hooks.during_checkpoint = [=](int64_t at_step, const char* at_stage) {
      if (at_step == step && stage == at_stage) std::raise(SIGKILL);
    };
  }
  return hooks;
}

}  // namespace precept::apps
