// A few rows times a large fp32 weight on the CPU: out = x W^T for x [R, K] with R <= 64 and W
// [N, K] row-major, the shape of every projection and of the vocabulary head in a decode step.
// MKL's sgemv/sgemm stream W at 11-13 GB/s here for R = 1 and R = 8, a third of what a plain
// read of the same bytes reaches (41 GB/s on 2 threads; bench/README.md); this kernel reads W
// once, its rows split over ATen's threads, with AVX2 FMA (chosen at run time, so the build needs
// no -march), accumulating each dot product in fp32 in 8 lanes. A row's result does not depend
// on how many rows come with it or on the thread count, and every decode batch of up to 64 slots
// takes it, so N ranks' rollouts equal 1 rank's bit for bit.
#pragma once

#include <ATen/core/Tensor.h>

namespace precept::lm {

constexpr int64_t kMatvecMaxRows = 64;  // every decode row count of up to 64 slots, so rows agree whatever the batch

// The kernel runs only while a CpuMatvecScope is open on this thread (rollout::Generator opens
// one for its prefill and decode). Everywhere else, training above all, the model takes ATen's
// kernels: a forward must compute the same values whether or not autograd records it (activation
// recomputation runs a layer once without and once with it, and compares bit for bit).
class CpuMatvecScope {
 public:
  CpuMatvecScope();
  ~CpuMatvecScope();
  CpuMatvecScope(const CpuMatvecScope&) = delete;
  CpuMatvecScope& operator=(const CpuMatvecScope&) = delete;

 private:
  bool previous_;
};

// Whether cpu_matvec runs `x` [R, K] against `weight` [N, K] here: inside a CpuMatvecScope, both
// fp32 on the CPU, 2-D, the weight contiguous, 1 <= R <= kMatvecMaxRows, no gradient wanted,
// and the CPU has AVX2 and FMA (and PRECEPT_CPU_MATVEC is not 0).
bool cpu_matvec_applies(const at::Tensor& x, const at::Tensor& weight);

// x [R, K] W^T [K, N] -> [R, N] (+ bias [N] when defined). Call only where cpu_matvec_applies.
at::Tensor cpu_matvec(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias = at::Tensor());

}  // namespace precept::lm
