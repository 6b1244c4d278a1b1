// The optimizer side of data parallelism: after every rank has back-propagated its share of a
// mini-batch, sum the gradients over ranks, check them, clip them by the global norm and take
// one AdamW step. Two layouts:
//  - replicated: gradients all-reduced in size-capped flat buckets, every rank updates every
//    parameter with its own full AdamW state;
//  - ZeRO-1: parameters and gradients live in one flat fp32 buffer each (the model's tensors
//    become views into them), gradients are reduce-scattered, each rank updates only its
//    1/world shard with AdamW state for that shard alone, and the parameters are all-gathered.
// Both give the same numbers; checkpoints hold the full per-parameter state either way, so a
// ZeRO-1 checkpoint loads without ZeRO-1 and the other way round. Only parameters that require
// gradients are optimized (with LoRA, the adapters alone). AdamW always updates fp32 tensors:
// a bf16 or fp16 parameter gets an fp32 master copy (replicated: one per parameter; ZeRO-1: the
// rank's shard), its AdamW moments are fp32, and it takes its master's value, rounded, after
// each step; the state holds the masters ("<name>.master") so that resuming is exact. Not the
// loss, not the loop.
#pragma once

#include "lm/transformer.h"
#include "trainer/optim/adamw.h"
#include "trainer/dist/communicator.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace precept::trainer {

struct DataParallelStep {
  double grad_norm = 0.0;  // global L2 norm before clipping
  bool finite = true;      // false: the norm or a rank's loss flag was not finite; nothing was updated
  double nonfinite_losses = 0.0;  // micro-batches whose loss was not finite, summed over ranks
  std::string nonfinite_ranks;    // "1, 3": the ranks those micro-batches ran on
  std::string first_nonfinite;    // a parameter whose gradient was not finite, when known
};

struct OptimizerMemory {
  int64_t parameters = 0;            // elements in the model
  int64_t state_bytes_per_rank = 0;  // AdamW exp_avg + exp_avg_sq held by this rank
  int64_t buffer_bytes_per_rank = 0; // fp32 masters and ZeRO-1's fp32 gradient shard
};

class DataParallelOptimizer {
 public:
  DataParallelOptimizer(lm::TransformerImpl& model, std::shared_ptr<Communicator> communicator, AdamWOptions options,
                        bool zero1, int64_t bucket_mb = 25);
  ~DataParallelOptimizer();

  void zero_grad();
  // Sums gradients over ranks (with the count of non-finite losses this rank saw), then, when
  // every value is finite, clips to max_grad_norm (0 = no clipping) and steps at lr.
  DataParallelStep step(double lr, double max_grad_norm, double nonfinite_losses);

  // Full per-parameter AdamW state ("<name>.exp_avg", "<name>.exp_avg_sq", "<name>.step", and
  // "<name>.master" for parameters with fp32 masters), the same on every rank (ZeRO-1 gathers
  // the shards: a collective, call it on every rank).
  std::map<std::string, at::Tensor> state();
  void load_state(const std::map<std::string, at::Tensor>& state);

  const OptimizerMemory& memory() const { return memory_; }
  // The same, measured from the tensors this rank holds now: AdamW's moments (made at the first
  // step), the fp32 masters and ZeRO-1's fp32 gradient shard.
  OptimizerMemory measured_memory() const;
  bool zero1() const { return zero1_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool zero1_;
  OptimizerMemory memory_;
};

}  // namespace precept::trainer
