// trainer::Communicator: what data-parallel training needs from the process group: rank, world
// size, and the collectives (all-reduce, broadcast, all-gather, reduce-scatter, barrier) on
// tensors. The c10d implementation (trainer/dist/, ProcessGroupGloo or ProcessGroupNCCL with a
// TCPStore rendezvous) is in trainer/dist/c10d_communicator.h; a single process uses
// single_process_communicator(), whose collectives do nothing. Not a launcher.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace precept::trainer {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual int local_rank() const { return rank(); }
  virtual std::string backend() const = 0;  // "single", "gloo", "nccl"

  // In place, every rank ends with the elementwise sum.
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) = 0;
  // In place, every rank ends with root's values.
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
  // output [world * n] gets every rank's input [n], in rank order.
  virtual void all_gather(at::Tensor& output, const at::Tensor& input) = 0;
  // output [n] gets the sum over ranks of input[rank * n : (rank + 1) * n] (input is [world * n]).
  virtual void reduce_scatter_sum(at::Tensor& output, const at::Tensor& input) = 0;
  virtual void barrier() = 0;

  bool is_main() const { return rank() == 0; }
};

std::shared_ptr<Communicator> single_process_communicator();

// Sums a few scalars across ranks (metrics, counts): one all-reduce of a small fp64 tensor.
std::vector<double> all_reduce_scalars(Communicator& communicator, const std::vector<double>& values);

}  // namespace precept::trainer
