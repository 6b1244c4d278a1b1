// Fault injection for the distributed and kill tests, linked only into the test-only
// `precept_fault` executable (production `precept` links apps/no_training_hooks.cpp).
// PRECEPT_FAULT="KIND@RANK:STEP" makes rank RANK, at step STEP:
//   throw  throw an exception at the start of the step
//   exit   die at the start of the step (std::_Exit(3)), as a killed process would
//   hang   sleep for an hour at the start of the step (a stalled rank)
//   nan    poison every micro-batch loss of the step with NaN
#include "apps/commands/training_hooks.h"

#include <ATen/ATen.h>

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
  if (kind != "throw" && kind != "exit" && kind != "hang" && kind != "nan") {
    throw std::runtime_error("PRECEPT_FAULT='" + text + "': KIND must be throw, exit, hang or nan");
  }
  trainer::TrainerHooks hooks;
  hooks.before_step = [=](int64_t at_step, int at_rank) {
    if (at_rank != rank || at_step != step) return;
    const std::string where = "start of step " + std::to_string(at_step);
    if (kind == "throw") throw std::runtime_error("injected fault (PRECEPT_FAULT) at " + where);
    if (kind == "exit") std::_Exit(3);
    if (kind == "hang") std::this_thread::sleep_for(std::chrono::hours(1));
  };
  hooks.on_loss = [=](int64_t at_step, int at_rank, at::Tensor& loss) {
    if (kind == "nan" && at_rank == rank && at_step == step) loss = loss * std::nan("");
  };
  return hooks;
}

}  // namespace precept::apps
