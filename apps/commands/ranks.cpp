// One rank of a data-parallel command; see ranks.h.
#include "apps/commands/ranks.h"

#include "apps/commands/options.h"
#include "trainer/dist/process_group.h"

#include <cstdlib>
#include <iostream>

#include <unistd.h>

namespace precept::apps {

bool parse_run_command(const std::string& command, const std::string& docs, const std::vector<std::string>& args,
                       RunCommandOptions& out) {
  po::options_description options("options");
  options.add_options()
      ("recipe", po::value(&out.recipe)->required(), ("the run's TOML file (see recipes/ and " + docs + ")").c_str())
      ("set", po::value(&out.overrides)->composing(), "override a key: --set section.key=value (repeatable)")
      ("resume", po::value(&out.resume)->implicit_value("latest"),
       "continue from the run's latest checkpoint, or from the checkpoint folder given")
      ("nproc", po::value(&out.nproc)->default_value(0), "start this many local processes (data parallel over Gloo/NCCL)")
      ("check", po::bool_switch(&out.check), "read and check the recipe, print the resolved config (and for train the memory plan), and stop");
  po::positional_options_description positional;
  positional.add("recipe", 1);
  po::variables_map values;
  return parse_options(command, "RECIPE.toml [--set section.key=value ...] [--resume [DIR]] [--nproc N] [--check]", options,
                       args, values, &positional);
}

int run_rank(const std::string& command, trainer::Communicator& communicator, const std::function<int()>& body) {
  int code = 0;
  try {
    code = body();
  } catch (const std::exception& error) {
    // Tell the other ranks why this one stops, so that their errors name it.
    trainer::dist::report_failure(communicator, error.what());
    if (communicator.world_size() > 1) {
      // One write(2), so that the ranks' lines on a shared stderr never interleave.
      const std::string line =
          "precept " + command + ": error on rank " + std::to_string(communicator.rank()) + ": " + error.what() + "\n";
      [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
      std::_Exit(1);  // do not wait in c10d's destructors for peers that may be gone
    }
    throw;
  }
  if (communicator.world_size() > 1) {
    communicator.barrier();
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(code);  // every rank is done; skip c10d's teardown
  }
  return code;
}

}  // namespace precept::apps
