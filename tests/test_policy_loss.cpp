// The clipped policy loss and the KL estimators: aggregation modes on hand-made numbers,
// finite-difference gradient checks in float64 for every aggregation mode (with clip-higher,
// dual clip, entropy bonus and KL term) and for every KL estimator, masking of padding, the
// statistics, and errors naming the bad tensor. The TRL/veRL numpy comparison is in
// test_grpo_fixtures.cpp.
#include "trainer/kl.h"
#include "trainer/policy_loss.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

using namespace precept;
using precept::testing::error_of;

namespace {

const std::vector<std::string> kModes = {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum",
                                         "seq-mean-token-sum-norm"};

// Central differences of f at x (float64) against autograd; returns the largest
// |autograd - numeric| / max(1, |numeric|).
template <class F>
double gradient_check(F&& f, const at::Tensor& x, double step = 1e-6) {
  const at::Tensor leaf = x.detach().clone().requires_grad_(true);
  f(leaf).backward();
  const at::Tensor analytic = leaf.grad().clone();
  double worst = 0.0;
  at::NoGradGuard no_grad;
  at::Tensor probe = x.detach().clone();
  auto flat = probe.view(-1);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double saved = flat[i].item<double>();
    flat[i] = saved + step;
    const at::Tensor up = f(probe);
    flat[i] = saved - step;
    const at::Tensor down = f(probe);
    flat[i] = saved;
    const double numeric = (up.item<double>() - down.item<double>()) / (2 * step);
    const double error = std::abs(analytic.view(-1)[i].item<double>() - numeric) / std::max(1.0, std::abs(numeric));
    worst = std::max(worst, error);
  }
  return worst;
}

struct Batch {
  at::Tensor logp, old, advantages, mask, ref, entropy;
};

// B = 5, T = 6 in float64: ratios spread so that both clip sides and the dual clip engage,
// one sequence without valid tokens.
Batch make_batch(uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto options = at::TensorOptions().dtype(at::kDouble);
  Batch b;
  b.logp = at::normal(-1.5, 0.8, {5, 6}, generator, options);
  b.old = b.logp + at::normal(0.0, 0.5, {5, 6}, generator, options);
  b.advantages = at::normal(0.0, 1.0, {5, 6}, generator, options);
  b.ref = b.logp + at::normal(0.0, 0.3, {5, 6}, generator, options);
  b.entropy = at::rand({5, 6}, generator, options) * 3;
  b.mask = at::zeros({5, 6}, at::kBool);
  const int64_t lengths[] = {6, 3, 0, 1, 5};
  for (int64_t i = 0; i < 5; ++i) b.mask[i].narrow(0, 0, lengths[i]).fill_(true);
  return b;
}

}  // namespace

TEST(LossAggregation, ModesOnHandMadeNumbers) {
  // Row 0: 1, 2, 3 (3 valid); row 1: 4 (1 valid), padding holds NaN and inf; row 2 empty.
  const double nan = std::nan("");
  const at::Tensor values = at::tensor({1.0, 2.0, 3.0, 4.0, nan, INFINITY, nan, nan, nan}).view({3, 3});
  const at::Tensor mask = at::tensor({1, 1, 1, 1, 0, 0, 0, 0, 0}).to(at::kBool).view({3, 3});
  auto aggregate = [&](const std::string& mode, trainer::LossNormalizer norm = {}) {
    return trainer::aggregate_loss(values, mask, trainer::parse_loss_aggregation(mode), norm).item<double>();
  };
  EXPECT_DOUBLE_EQ(aggregate("token-mean"), 10.0 / 4);
  EXPECT_DOUBLE_EQ(aggregate("seq-mean-token-mean"), (2.0 + 4.0) / 2);      // the empty row is not a sequence
  EXPECT_DOUBLE_EQ(aggregate("seq-mean-token-sum"), (6.0 + 4.0) / 2);
  EXPECT_DOUBLE_EQ(aggregate("seq-mean-token-sum-norm"), (6.0 + 4.0) / (2 * 3));
  EXPECT_DOUBLE_EQ(aggregate("token-mean", {8, 0, 0, 2.0}), 10.0 / 8 * 2);  // global tokens, scale
  EXPECT_DOUBLE_EQ(aggregate("seq-mean-token-mean", {0, 4, 0, 1.0}), 6.0 / 4);
  EXPECT_DOUBLE_EQ(aggregate("seq-mean-token-sum-norm", {0, 4, 100, 1.0}), 10.0 / 400);
  for (const auto& mode : kModes) {
    EXPECT_EQ(trainer::loss_aggregation_name(trainer::parse_loss_aggregation(mode)), mode);
  }
  const std::string error = error_of([] { trainer::parse_loss_aggregation("sum"); });
  EXPECT_NE(error.find("token-mean, seq-mean-token-mean"), std::string::npos) << error;
}

TEST(PolicyLoss, FiniteDifferenceGradientInEveryAggregationMode) {
  const Batch b = make_batch(7);
  for (const auto& mode : kModes) {
    for (int variant = 0; variant < 3; ++variant) {
      trainer::PolicyLossConfig config;
      config.aggregation = trainer::parse_loss_aggregation(mode);
      config.clip_high = variant == 1 ? 0.28 : 0.2;
      config.dual_clip = variant == 1 ? 1.3 : variant == 2 ? 0.0 : 3.0;
      config.entropy_coef = variant == 2 ? 0.01 : 0.0;
      config.kl_coef = variant == 2 ? 0.1 : 0.0;
      trainer::LossNormalizer normalizer;
      if (variant == 1) normalizer = {30, 9, 12, 2.0};
      auto loss_of_logp = [&](const at::Tensor& logp) {
        trainer::PolicyLossInputs in{logp, b.old, b.advantages, b.mask, b.ref, b.entropy};
        return trainer::policy_loss(in, config, normalizer).loss;
      };
      const double error = gradient_check(loss_of_logp, b.logp);
      EXPECT_LE(error, 1e-6) << mode << " variant " << variant;
      if (variant == 2) {
        auto loss_of_entropy = [&](const at::Tensor& entropy) {
          trainer::PolicyLossInputs in{b.logp, b.old, b.advantages, b.mask, b.ref, entropy};
          return trainer::policy_loss(in, config, normalizer).loss;
        };
        EXPECT_LE(gradient_check(loss_of_entropy, b.entropy), 1e-6) << mode << " entropy";
      }
    }
  }
}

TEST(PolicyLoss, ClippingStatisticsAndTheClippedTerm) {
  // One token per case, A = +1 or -1, ratio set through old_logp = -log(ratio) (logp = 0).
  const std::vector<double> ratios = {1.5, 0.5, 0.5, 1.05, 5.0};
  const std::vector<double> advantages = {1.0, -1.0, 1.0, 1.0, -1.0};
  at::Tensor old = at::empty({5, 1}, at::kDouble);
  for (int i = 0; i < 5; ++i) old[i][0] = -std::log(ratios[i]);
  trainer::PolicyLossInputs in{at::zeros({5, 1}, at::kDouble).requires_grad_(true), old,
                               at::tensor(advantages, at::kDouble), at::ones({5, 1}, at::kBool), {}, {}};
  trainer::PolicyLossConfig config;
  config.clip_high = 0.28;
  config.dual_clip = 3.0;  // veRL's clip_ratio_c (precept's default is off)
  const auto result = trainer::policy_loss(in, config);
  const auto loss = result.per_token_loss.view(-1);
  EXPECT_NEAR(loss[0].item<double>(), -1.28, 1e-12);  // A > 0, ratio above 1 + clip_high: clipped
  EXPECT_NEAR(loss[1].item<double>(), 0.8, 1e-12);    // A < 0, ratio below 1 - clip_low: clipped
  EXPECT_NEAR(loss[2].item<double>(), -0.5, 1e-12);   // A > 0, ratio low: not clipped (pessimistic)
  EXPECT_NEAR(loss[3].item<double>(), -1.05, 1e-12);  // inside the range
  EXPECT_NEAR(loss[4].item<double>(), 3.0, 1e-12);    // A < 0, ratio 5 > dual clip 3: capped at 3|A|
  const auto stats = result.stats.to_map();
  EXPECT_DOUBLE_EQ(stats.at("clip_fraction_high"), 0.2);
  EXPECT_DOUBLE_EQ(stats.at("clip_fraction_low"), 0.2);
  EXPECT_DOUBLE_EQ(stats.at("dual_clip_fraction"), 0.2);
  EXPECT_DOUBLE_EQ(stats.at("tokens"), 5.0);
  EXPECT_NEAR(stats.at("ratio_mean"), (1.5 + 0.5 + 0.5 + 1.05 + 5.0) / 5, 1e-12);
  result.loss.backward();
  const at::Tensor grad = in.logprobs.grad().view(-1) * 5;  // token-mean over 5
  EXPECT_EQ(grad[0].item<double>(), 0.0);
  EXPECT_EQ(grad[1].item<double>(), 0.0);
  EXPECT_NEAR(grad[2].item<double>(), -0.5, 1e-12);
  EXPECT_NEAR(grad[3].item<double>(), -1.05, 1e-12);
  EXPECT_EQ(grad[4].item<double>(), 0.0);

  config.dual_clip = 0.0;  // off: the A < 0 token pays the full ratio
  EXPECT_NEAR(trainer::policy_loss(in, config).per_token_loss[4][0].item<double>(), 5.0, 1e-12);
}

TEST(PolicyLoss, PaddingWithGarbageReachesNeitherLossNorGradient) {
  Batch b = make_batch(11);
  b.logp = b.logp.to(at::kFloat);
  at::Tensor garbage = b.logp.clone().masked_fill(b.mask.logical_not(), -INFINITY);
  garbage.masked_fill_(b.mask.logical_not() & (at::arange(6).view({1, 6}) % 2 == 0), std::nan(""));
  trainer::PolicyLossConfig config;
  config.kl_coef = 0.1;
  config.entropy_coef = 0.01;
  at::Tensor entropy_garbage = b.entropy.to(at::kFloat).masked_fill(b.mask.logical_not(), INFINITY);
  const at::Tensor clean_leaf = b.logp.clone().requires_grad_(true), dirty_leaf = garbage.clone().requires_grad_(true);
  const auto clean = trainer::policy_loss({clean_leaf, b.old, b.advantages, b.mask, b.ref, b.entropy}, config);
  const auto dirty = trainer::policy_loss({dirty_leaf, b.old, b.advantages, b.mask, b.ref, entropy_garbage}, config);
  clean.loss.backward();
  dirty.loss.backward();
  EXPECT_EQ(clean.loss.item<double>(), dirty.loss.item<double>());
  EXPECT_TRUE(torch::equal(clean_leaf.grad(), dirty_leaf.grad()));
  EXPECT_TRUE(at::isfinite(dirty_leaf.grad()).all().item<bool>());
  EXPECT_EQ(clean_leaf.grad().masked_select(b.mask.logical_not()).abs().sum().item<double>(), 0.0);
}

TEST(PolicyLoss, FloatAdvantagesAndFloatMaskWork) {
  const Batch b = make_batch(3);
  const at::Tensor per_sequence = at::tensor({1.0, -0.5, 0.0, 2.0, -1.0}, at::kDouble);
  const auto with_bool = trainer::policy_loss({b.logp, b.old, per_sequence, b.mask, {}, {}}, {});
  const auto with_float = trainer::policy_loss({b.logp, b.old, per_sequence.unsqueeze(1).expand({5, 6}),
                                                b.mask.to(at::kFloat), {}, {}}, {});
  EXPECT_EQ(with_bool.loss.item<double>(), with_float.loss.item<double>());
  EXPECT_EQ(with_bool.loss.scalar_type(), at::kDouble);
  EXPECT_EQ(trainer::policy_loss({b.logp.to(at::kBFloat16), b.old, per_sequence, b.mask, {}, {}}, {}).loss.scalar_type(),
            at::kFloat);
}

TEST(PolicyLoss, ShapeErrorsNameTheTensor) {
  const Batch b = make_batch(5);
  auto error_for = [&](trainer::PolicyLossInputs in, trainer::PolicyLossConfig config = {}) {
    return error_of([&] { trainer::policy_loss(in, config); });
  };
  EXPECT_NE(error_for({b.logp.view(-1), b.old, b.advantages, b.mask, {}, {}}).find("logprobs is [30]"), std::string::npos);
  EXPECT_NE(error_for({b.logp, b.old.narrow(1, 0, 5), b.advantages, b.mask, {}, {}}).find("old_logprobs is [5, 5]"),
            std::string::npos);
  EXPECT_NE(error_for({b.logp, b.old, at::zeros({4}), b.mask, {}, {}}).find("advantages is [4]"), std::string::npos);
  EXPECT_NE(error_for({b.logp, b.old, b.advantages, {}, {}, {}}).find("mask is undefined"), std::string::npos);
  trainer::PolicyLossConfig with_kl;
  with_kl.kl_coef = 0.1;
  EXPECT_NE(error_for({b.logp, b.old, b.advantages, b.mask, {}, {}}, with_kl).find("reference_logprobs"),
            std::string::npos);
  trainer::PolicyLossConfig with_entropy;
  with_entropy.entropy_coef = 0.1;
  EXPECT_NE(error_for({b.logp, b.old, b.advantages, b.mask, {}, {}}, with_entropy).find("entropy"), std::string::npos);
  trainer::PolicyLossConfig bad_dual;
  bad_dual.dual_clip = 0.9;
  EXPECT_NE(error_for({b.logp, b.old, b.advantages, b.mask, {}, {}}, bad_dual).find("clip_ratio_c"), std::string::npos);
}

TEST(KlEstimators, FiniteDifferenceGradientsAndKnownValues) {
  const Batch b = make_batch(13);
  for (const char* name : {"k1", "k2", "k3", "k1+", "k3+"}) {
    const trainer::KlOptions options = trainer::parse_kl_estimator(name);
    auto total = [&](const at::Tensor& logp) { return trainer::kl_estimate(logp, b.ref, options).sum(); };
    if (std::string(name).back() != '+') {
      EXPECT_LE(gradient_check(total, b.logp), 1e-6) << name;
    } else {  // straight-through: the value of the named estimator, the gradient of k2
      const at::Tensor leaf = b.logp.clone().requires_grad_(true);
      total(leaf).backward();
      EXPECT_TRUE(torch::allclose(leaf.grad(), b.logp - b.ref)) << name;
      EXPECT_TRUE(torch::allclose(trainer::kl_estimate(b.logp, b.ref, options),
                                  trainer::kl_estimate(b.logp, b.ref, trainer::parse_kl_estimator(
                                                                          std::string(name, 2)))));
    }
  }
  // log(pi/pi_ref) = 0.5 at one token: k1 = 0.5, k2 = 0.125, k3 = e^-0.5 + 0.5 - 1.
  const at::Tensor logp = at::full({1, 1}, -1.0, at::kDouble), ref = at::full({1, 1}, -1.5, at::kDouble);
  EXPECT_DOUBLE_EQ(trainer::kl_estimate(logp, ref, trainer::parse_kl_estimator("kl")).item<double>(), 0.5);
  EXPECT_DOUBLE_EQ(trainer::kl_estimate(logp, ref, trainer::parse_kl_estimator("mse")).item<double>(), 0.125);
  EXPECT_NEAR(trainer::kl_estimate(logp, ref, trainer::parse_kl_estimator("low_var_kl")).item<double>(),
              std::exp(-0.5) - 0.5, 1e-15);
  // veRL's clamp: k3 at log-ratio 30 would be e^30 - 31; clamped, 10.
  trainer::KlOptions k3 = trainer::parse_kl_estimator("k3");
  EXPECT_EQ(trainer::kl_estimate(logp, logp + 30, k3).item<double>(), 10.0);
  k3.clamp = false;
  EXPECT_NEAR(trainer::kl_estimate(logp, logp + 30, k3).item<double>(), std::exp(30.0) - 31, 1e-3);
  const std::string error = error_of([] { trainer::parse_kl_estimator("k4"); });
  EXPECT_NE(error.find("k1, k2, k3"), std::string::npos) << error;
  EXPECT_NE(error_of([&] { trainer::kl_estimate(logp, at::zeros({2, 1}), {}); }).find("reference_logprobs [2, 1]"),
            std::string::npos);
  EXPECT_EQ(trainer::kl_estimator_name(trainer::parse_kl_estimator("low_var_kl+")), "k3+");
}

TEST(KlEstimators, KlInRewardSubtractsTheMaskedSum) {
  const at::Tensor old = at::tensor({-1.0, -2.0, -3.0, -1.0, -1.0, -1.0}, at::kFloat).view({2, 3});
  const at::Tensor ref = at::tensor({-1.5, -2.0, 9.0, -0.5, -1.0, -1.0}, at::kFloat).view({2, 3});
  const at::Tensor mask = at::tensor({1, 1, 0, 1, 0, 0}).to(at::kBool).view({2, 3});
  const auto out = trainer::kl_penalized_rewards(at::tensor({1.0f, 2.0f}), old, ref, mask, 0.1);
  EXPECT_NEAR(out.rewards[0].item<double>(), 1.0 - 0.1 * 0.5, 1e-7);  // k1: 0.5 + 0 (third token masked)
  EXPECT_NEAR(out.rewards[1].item<double>(), 2.0 - 0.1 * -0.5, 1e-7);
  EXPECT_NEAR(out.mean_kl.item<double>(), (0.25 + -0.5) / 2, 1e-7);
  EXPECT_NE(error_of([&] { trainer::kl_penalized_rewards(at::ones({3}), old, ref, mask, 0.1); }).find("rewards [3]"),
            std::string::npos);
}
