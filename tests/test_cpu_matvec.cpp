// lm::cpu_matvec, the decode step's few-rows-times-weight kernel, against at::linear: every row
// count it takes (1-64), widths with and without a tail past the last 8 lanes, a bias, a
// non-contiguous x, and the cases it must decline (a gradient wanted, too many rows, fp64).
#include "lm/cpu_matvec.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

using namespace precept;

TEST(CpuMatvec, EqualsLinearForEveryRowCountAndWidth) {
  at::NoGradGuard no_grad;
  const lm::CpuMatvecScope scope;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(11);
  const bool applies = lm::cpu_matvec_applies(at::zeros({1, 8}), at::zeros({4, 8}));
  if (!applies) GTEST_SKIP() << "this CPU has no AVX2 + FMA; the model falls back to at::linear";
  int64_t cases = 0;
  for (int64_t K : {8, 13, 576, 1003}) {
    for (int64_t N : {1, 5, 192, 4099}) {
      const at::Tensor weight = at::randn({N, K}, generator);
      const at::Tensor bias = at::randn({N}, generator);
      for (int64_t R = 1; R <= lm::kMatvecMaxRows; ++R) {
        const at::Tensor x = at::randn({R, K}, generator);
        ASSERT_TRUE(lm::cpu_matvec_applies(x, weight));
        const at::Tensor expected = at::linear(x.to(at::kDouble), weight.to(at::kDouble), bias.to(at::kDouble));
        const at::Tensor got = lm::cpu_matvec(x, weight, bias);
        ASSERT_EQ(got.sizes(), expected.sizes());
        // fp32 accumulation over K terms of magnitude ~1: error ~ sqrt(K) * 6e-8 * |terms|.
        const double error = (got.to(at::kDouble) - expected).abs().max().item<double>();
        EXPECT_LT(error, 2e-5 * std::sqrt(static_cast<double>(K))) << "R " << R << " N " << N << " K " << K;
        ++cases;
      }
    }
  }
  EXPECT_EQ(cases, 4 * 4 * lm::kMatvecMaxRows);
  // A row's result does not depend on the rows beside it: bit for bit alone and among 29.
  const at::Tensor wide = at::randn({777, 576}, generator);
  const at::Tensor batch = at::randn({29, 576}, generator);
  const at::Tensor together = lm::cpu_matvec(batch, wide);
  for (int64_t r : {0, 5, 8, 28}) {
    EXPECT_TRUE(at::equal(lm::cpu_matvec(batch.narrow(0, r, 1), wide), together.narrow(0, r, 1))) << "row " << r;
  }
  // A transposed (non-contiguous) x, and no bias.
  const at::Tensor weight = at::randn({300, 64}, generator);
  const at::Tensor x = at::randn({64, 3}, generator).t();
  EXPECT_TRUE(at::allclose(lm::cpu_matvec(x, weight), at::linear(x, weight), 1e-5, 1e-5));
}

TEST(CpuMatvec, DeclinesWhatItDoesNotRun) {
  const at::Tensor weight = at::randn({16, 8});
  EXPECT_FALSE(lm::cpu_matvec_applies(at::randn({2, 8}), weight));  // no scope open: training's kernels
  const lm::CpuMatvecScope scope;
  EXPECT_FALSE(lm::cpu_matvec_applies(at::randn({lm::kMatvecMaxRows + 1, 8}), weight));  // too many rows
  EXPECT_FALSE(lm::cpu_matvec_applies(at::randn({2, 7}), weight));            // width mismatch
  EXPECT_FALSE(lm::cpu_matvec_applies(at::randn({2, 8}, at::kDouble), weight.to(at::kDouble)));
  EXPECT_FALSE(lm::cpu_matvec_applies(at::randn({2, 8}), weight.t().contiguous().t()));  // weight not contiguous
  const at::Tensor trained = at::randn({16, 8}).requires_grad_(true);
  EXPECT_FALSE(lm::cpu_matvec_applies(at::randn({2, 8}), trained));  // autograd needs at::linear
  {
    at::NoGradGuard no_grad;
    if (lm::cpu_matvec_applies(at::randn({1, 8}), weight)) {
      EXPECT_TRUE(lm::cpu_matvec_applies(at::randn({2, 8}), trained));
    }
  }
  EXPECT_THROW(lm::cpu_matvec(at::randn({lm::kMatvecMaxRows + 1, 8}), weight), c10::Error);
}
