// PPO's math (trainer/gae.h). GaeFixtures.* compare against tests/fixtures/make_gae_fixtures.py,
// a numpy float64 port of veRL's compute_gae_advantage_return, masked_whiten,
// compute_value_loss, vf_explained_var, apply_kl_penalty and AdaptiveKLController, with masks
// of different lengths, empty rows and holes: fp32 inputs within 1e-6 (relative above 1), fp64
// within 1e-12. They skip unless PRECEPT_GAE_FIXTURES is set (tests/check_gae_math.py sets it and
// fails unless every one of them ran). GaeMath.* run always: finite-difference gradients of the
// value loss, GAE against closed forms, the bit-stability of whitening and the errors.
#include "lm/safetensors.h"
#include "trainer/gae.h"
#include "fixture_files.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>

namespace fs = std::filesystem;
using namespace precept;
using nlohmann::json;

namespace {

using Fixtures = precept::testing::FixtureFiles;

const Fixtures* fixtures() {
  static const std::unique_ptr<Fixtures> loaded = precept::testing::load_fixture_files("PRECEPT_GAE_FIXTURES");
  return loaded.get();
}

#define REQUIRE_FIXTURES()                                                                    \
  const Fixtures* fx = fixtures();                                                            \
  if (fx == nullptr) GTEST_SKIP() << "PRECEPT_GAE_FIXTURES is not set (tests/check_gae_math.py sets it)"

double max_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor a = actual.detach().to(at::kDouble).reshape(-1), e = expected.to(at::kDouble).reshape(-1);
  if (a.numel() != e.numel()) return INFINITY;
  return ((a - e).abs() / e.abs().clamp_min(1.0)).max().item<double>();
}

double scalar_error(double actual, double expected) { return std::abs(actual - expected) / std::max(1.0, std::abs(expected)); }

trainer::LossNormalizer normalizer_of(const json& c) {
  trainer::LossNormalizer n;
  n.num_tokens = c.value("num_tokens", 0.0);
  n.num_sequences = c.value("num_sequences", 0.0);
  n.max_length = c.value("max_length", 0.0);
  return n;
}

}  // namespace

TEST(GaeFixtures, AdvantagesReturnsAndWhiteningMatchVerl) {
  REQUIRE_FIXTURES();
  double worst32 = 0, worst64 = 0;
  int compared = 0, with_holes = 0;
  for (const auto& c : fx->cases["gae"]) {
    const std::string name = c["name"];
    const at::Tensor rewards = fx->get(name + "/rewards"), values = fx->get(name + "/values"), mask = fx->get(name + "/mask");
    for (const auto dtype : {at::kFloat, at::kDouble}) {
      const auto result = trainer::gae_advantages(rewards.to(dtype), values.to(dtype), mask.to(at::kBool), c["gamma"], c["lam"]);
      EXPECT_EQ(result.advantages.scalar_type(), dtype) << name;
      double error = std::max(max_error(result.advantages, fx->get(name + "/advantages")),
                              max_error(result.returns, fx->get(name + "/returns")));
      if (c.contains("explained_variance")) {
        const at::Tensor whitened = trainer::masked_whiten(result.advantages, mask);
        error = std::max(error, max_error(whitened, fx->get(name + "/whitened")));
        const double ev = trainer::explained_variance(fx->get(name + "/returns").to(dtype), values.to(dtype), mask);
        error = std::max(error, scalar_error(ev, c["explained_variance"]));
      }
      (dtype == at::kFloat ? worst32 : worst64) = std::max(dtype == at::kFloat ? worst32 : worst64, error);
      EXPECT_LE(error, dtype == at::kFloat ? 1e-6 : 1e-12) << name << " " << c.dump();
    }
    with_holes += c["holes"].get<bool>();
    ++compared;
  }
  EXPECT_GE(compared, 40);
  EXPECT_GE(with_holes, 10);
  std::cout << compared << " GAE cases (" << with_holes << " with masked tokens inside a response), max error fp32 "
            << worst32 << ", fp64 " << worst64 << "\n";
}

TEST(GaeFixtures, ValueLossAndGradientMatchVerl) {
  REQUIRE_FIXTURES();
  double worst = 0;
  int compared = 0;
  for (const auto& c : fx->cases["value_loss"]) {
    const std::string name = c["name"];
    const at::Tensor v = fx->get(name + "/vpreds").requires_grad_(true);
    const auto result = trainer::value_loss(v, fx->get(name + "/old"), fx->get(name + "/returns"), fx->get(name + "/mask"),
                                            c["clip"], trainer::parse_loss_aggregation(c["mode"].get<std::string>()),
                                            normalizer_of(c));
    result.loss.backward();
    const double error = std::max({scalar_error(result.loss.item<double>(), c["loss"]),
                                   scalar_error(result.clip_fraction.item<double>(), c["clip_fraction"]),
                                   max_error(v.grad(), fx->get(name + "/gradient"))});
    EXPECT_LE(error, 1e-12) << name << " " << c.dump();
    worst = std::max(worst, error);
    ++compared;
  }
  EXPECT_GE(compared, 24);
  std::cout << compared << " value-loss cases (4 aggregations, clips 0 to 10, global normalisers), max error " << worst << "\n";
}

TEST(GaeFixtures, TokenRewardsAndAdaptiveKlMatchVerl) {
  REQUIRE_FIXTURES();
  int compared = 0;
  for (const auto& c : fx->cases["token_rewards"]) {
    const std::string name = c["name"];
    const at::Tensor kl = c["kl"].get<bool>() ? fx->get(name + "/kl") : at::Tensor();
    const at::Tensor out = trainer::token_level_rewards(fx->get(name + "/scores"), fx->get(name + "/mask"), kl, c["coef"]);
    EXPECT_LE(max_error(out, fx->get(name + "/expected")), 1e-12) << name;
    ++compared;
  }
  for (const auto& c : fx->cases["adaptive_kl"]) {
    const double coef = trainer::adapted_kl_coef(c["coef"], c["current"], c["target"], c["n_steps"], c["horizon"]);
    EXPECT_LE(scalar_error(coef, c["expected"]), 1e-15) << c.dump();
    ++compared;
  }
  EXPECT_GE(compared, 22);
  std::cout << compared << " token-reward and adaptive-KL cases\n";
}

// gamma = lam = 1 and no mask holes: A_t = sum_{k >= t} r_k - V_t (the return-to-go minus the value).
TEST(GaeMath, GammaLambdaOneIsReturnToGoMinusValue) {
  const at::Tensor r = at::tensor({0.0, 0.0, 1.5, 0.0, 0.0, -2.0}, at::kDouble).view({2, 3});
  const at::Tensor v = at::tensor({0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, at::kDouble).view({2, 3});
  const at::Tensor mask = at::tensor({1, 1, 1, 1, 1, 0}, at::kDouble).view({2, 3}).to(at::kBool);
  const auto result = trainer::gae_advantages(r, v, mask, 1.0, 1.0);
  const at::Tensor expected = at::tensor({1.4, 1.3, 1.2, -0.4, -0.5, 0.0}, at::kDouble).view({2, 3});
  EXPECT_LE(max_error(result.advantages, expected), 1e-15);
  // R = A + V: the return-to-go on valid tokens.
  EXPECT_LE(max_error(result.returns, at::tensor({1.5, 1.5, 1.5, 0.0, 0.0, 0.0}, at::kDouble).view({2, 3})), 1e-15);
  // lam = 0: the one-step TD error.
  const auto td = trainer::gae_advantages(r, v, mask, 0.9, 0.0);
  EXPECT_NEAR(td.advantages[0][0].item<double>(), 0.0 + 0.9 * 0.2 - 0.1, 1e-15);
  EXPECT_NEAR(td.advantages[0][2].item<double>(), 1.5 - 0.3, 1e-15);
}

// A masked token inside a response neither adds a TD error nor cuts the chain: the advantage of
// the token before it equals that of a response without it.
TEST(GaeMath, MaskedTokensCarryTheChain) {
  const at::Tensor r = at::tensor({0.0, 9.0, 1.0}, at::kDouble).view({1, 3});
  const at::Tensor v = at::tensor({0.2, 7.0, 0.5}, at::kDouble).view({1, 3});
  const at::Tensor holed = at::tensor({1, 0, 1}).view({1, 3}).to(at::kBool);
  const auto with_hole = trainer::gae_advantages(r, v, holed, 0.9, 0.8);
  const auto without = trainer::gae_advantages(at::tensor({0.0, 1.0}, at::kDouble).view({1, 2}),
                                               at::tensor({0.2, 0.5}, at::kDouble).view({1, 2}), at::ones({1, 2}, at::kBool), 0.9, 0.8);
  EXPECT_DOUBLE_EQ(with_hole.advantages[0][0].item<double>(), without.advantages[0][0].item<double>());
  EXPECT_DOUBLE_EQ(with_hole.advantages[0][1].item<double>(), 0.0);
}

// Central differences in fp64 against autograd, in the clipped and the unclipped regime, for
// every aggregation.
TEST(GaeMath, ValueLossGradientAgreesWithFiniteDifferences) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(7);
  const at::Tensor old = at::randn({3, 5}, generator, at::kDouble);
  const at::Tensor returns = at::randn({3, 5}, generator, at::kDouble);
  const at::Tensor start = old + 0.7 * at::randn({3, 5}, generator, at::kDouble);
  const at::Tensor mask = at::tensor({1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0}).view({3, 5}).to(at::kBool);
  double worst = 0;
  for (const char* mode : {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum", "seq-mean-token-sum-norm"}) {
    for (double clip : {0.2, 0.5, 5.0}) {
      const auto aggregation = trainer::parse_loss_aggregation(mode);
      const at::Tensor v = start.clone().requires_grad_(true);
      trainer::value_loss(v, old, returns, mask, clip, aggregation).loss.backward();
      const at::Tensor grad = v.grad();
      for (int64_t i = 0; i < v.numel(); ++i) {
        const double h = 1e-6;
        at::Tensor plus = start.clone(), minus = start.clone();
        plus.view(-1)[i] += h;
        minus.view(-1)[i] -= h;
        const double numeric = (trainer::value_loss(plus, old, returns, mask, clip, aggregation).loss.item<double>() -
                                trainer::value_loss(minus, old, returns, mask, clip, aggregation).loss.item<double>()) /
                               (2 * h);
        const double error = std::abs(numeric - grad.view(-1)[i].item<double>());
        EXPECT_LE(error, 1e-7) << mode << " clip " << clip << " element " << i;
        worst = std::max(worst, error);
      }
    }
  }
  std::cout << "value-loss gradient vs central differences: max error " << worst << "\n";
}

TEST(GaeMath, WhiteningIsZeroMeanUnitVarianceAndIgnoresPadding) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor x = at::randn({4, 6}, generator, at::kDouble) * 3 + 2;
  const at::Tensor mask = at::rand({4, 6}, generator, at::kDouble) > 0.3;
  at::Tensor garbage = x.clone();
  garbage.masked_fill_(mask.logical_not(), 1e30);
  const at::Tensor white = trainer::masked_whiten(x, mask), white_garbage = trainer::masked_whiten(garbage, mask);
  EXPECT_TRUE(at::equal(white, white_garbage)) << "padding changed the whitened values";
  const at::Tensor valid = white.masked_select(mask);
  EXPECT_NEAR(valid.mean().item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(valid.var().item<double>(), 1.0, 1e-6);
  EXPECT_EQ(white.masked_select(mask.logical_not()).abs().sum().item<double>(), 0.0);
}

TEST(GaeMath, BadShapesAndTooFewTokensAreNamedErrors) {
  const at::Tensor mask = at::ones({2, 3}, at::kBool);
  EXPECT_NE(precept::testing::error_of([&] { trainer::gae_advantages(at::zeros({2, 4}), at::zeros({2, 3}), mask, 1, 1); })
                .find("token_rewards"),
            std::string::npos);
  EXPECT_NE(precept::testing::error_of([&] { trainer::masked_whiten(at::zeros({1, 3}), at::tensor({1, 0, 0}).view({1, 3}).to(at::kBool)); })
                .find("at least 2"),
            std::string::npos);
  EXPECT_NE(precept::testing::error_of([&] { trainer::token_level_rewards(at::zeros({3}), mask, {}, 0.1); }).find("scores"),
            std::string::npos);
  EXPECT_TRUE(std::isnan(trainer::explained_variance(at::zeros({1, 3}), at::zeros({1, 3}), at::tensor({1, 0, 0}).view({1, 3}).to(at::kBool))));
  EXPECT_NE(precept::testing::error_of([] { trainer::adapted_kl_coef(0.1, 0.1, 0.0, 1, 10); }), "");
}
