// Running one rank's share of a data-parallel command (`precept train`, `precept sft`): an
// error is reported to the other ranks, printed as one line that names the rank, and ends the
// process without waiting in c10d's teardown for peers that may be gone; a success ends
// every rank together.
#pragma once

#include "trainer/dist/communicator.h"

#include <functional>
#include <string>

namespace precept::apps {

// Runs `body` on this rank and returns its exit code (a single rank rethrows its error).
int run_rank(const std::string& command, trainer::Communicator& communicator, const std::function<int()>& body);

}  // namespace precept::apps
