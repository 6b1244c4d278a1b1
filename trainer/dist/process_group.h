// The c10d communicator: rendezvous through a TCPStore from the environment that torchrun
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or SLURM (SLURM_PROCID,
// SLURM_NTASKS, SLURM_LOCALID, MASTER_ADDR/MASTER_PORT or the first node) sets, then
// ProcessGroupGloo (CPU) or ProcessGroupNCCL (CUDA). Collectives run in size-capped flat
// buckets; every collective has a timeout, and a failure names the rank that died, stalled or
// threw (each rank keeps a heartbeat and a collective counter in the store). No home-made
// transport: c10d does the communication.
#pragma once

#include "trainer/dist/communicator.h"

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace precept::trainer {

// [distributed] of a run: the process group and its collectives.
struct DistributedSection {
  std::string backend = "auto";    // auto | gloo | nccl
  int64_t timeout_seconds = 600;   // a collective that waits longer fails, naming the rank
  int64_t bucket_mb = 25;          // gradient all-reduce bucket size
  bool zero1 = false;              // shard optimizer state and fp32 master weights across ranks
};

}  // namespace precept::trainer

namespace precept::trainer::dist {

// The launch environment as read from torchrun's or SLURM's variables.
struct LaunchEnvironment {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "none";  // "torchrun", "slurm" or "none"
};

// Reads the variables (the map stands in for the process environment in tests). Inconsistent
// values (RANK >= WORLD_SIZE, a port out of range, a non-number) are errors naming the variable.
LaunchEnvironment read_launch_environment(const std::map<std::string, std::string>& variables);
LaunchEnvironment read_launch_environment();

// A single-process communicator when WORLD_SIZE is absent or 1, else the c10d one. `device`
// picks the backend under backend = "auto": NCCL for cuda, Gloo otherwise.
std::shared_ptr<Communicator> communicator_from_environment(const DistributedSection& settings,
                                                            const std::string& device);

// Builds the c10d communicator for an explicit environment.
std::shared_ptr<Communicator> make_c10d_communicator(const LaunchEnvironment& environment,
                                                     const DistributedSection& settings, const std::string& device);

// Tells the other ranks, through the store, that this rank is failing and why, so that their
// errors name it. Safe to call with any communicator; does nothing for a single process.
void report_failure(Communicator& communicator, const std::string& message);

}  // namespace precept::trainer::dist
