// `precept train --nproc N` (and `precept sft --nproc N`): starts N local processes of this same program (the arguments
// without --nproc) with torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT on a free local port), waits for them, and when one fails stops the others after a
// grace period. Not a multi-node launcher: use torchrun or srun for that.
#pragma once

#include <string>
#include <vector>

namespace precept::trainer::dist {

// Returns the exit code: 0 when every rank succeeded, else the first failing rank's code.
// `command` is the subcommand each rank runs ("train", "sft").
int launch_local(int nproc, const std::vector<std::string>& train_args, int grace_seconds = 30,
                 const std::string& command = "train");

// A TCP port on 127.0.0.1 that is free at the time of the call.
int free_local_port();

}  // namespace precept::trainer::dist
