// The options every training command takes (`precept train`, `precept sft`), and running one
// rank's share of a data-parallel command (`precept train`, `precept sft`): an
// error is reported to the other ranks, printed as one line that names the rank, and ends the
// process without waiting in c10d's teardown for peers that may be gone; a success ends
// every rank together.
#pragma once

#include "trainer/dist/communicator.h"

#include <functional>
#include <string>
#include <vector>

namespace precept::apps {

struct RunCommandOptions {
  std::string recipe;
  std::vector<std::string> overrides;  // --set section.key=value, in order
  std::string resume;                  // "" (fresh), "latest" or a checkpoint folder
  int nproc = 0;                       // > 0: start this many local ranks
  bool check = false;                  // print the resolved recipe and stop
};

// Parses RECIPE.toml [--set ...] [--resume [DIR]] [--nproc N] [--check]; false when --help was
// printed. `docs` names the page that lists the recipe's keys.
bool parse_run_command(const std::string& command, const std::string& docs, const std::vector<std::string>& args,
                       RunCommandOptions& out);

// Runs `body` on this rank and returns its exit code (a single rank rethrows its error).
int run_rank(const std::string& command, trainer::Communicator& communicator, const std::function<int()>& body);

}  // namespace precept::apps
