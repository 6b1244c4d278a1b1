// One rank of a data-parallel command; see ranks.h.
#include "apps/commands/ranks.h"

#include "trainer/dist/process_group.h"

#include <cstdlib>
#include <iostream>

#include <unistd.h>

namespace precept::apps {

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
