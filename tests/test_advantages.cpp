// Group advantages (GRPO, Dr. GRPO, RLOO) on numbers worked out by hand, the zero-variance
// report, NaN rewards, G = 1, bad input; DAPO's overlong penalty. The numpy/TRL/veRL reference
// comparison is in test_grpo_fixtures.cpp.
#include "trainer/advantages.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace precept;
using precept::testing::error_of;

namespace {

std::vector<double> values_of(const at::Tensor& tensor) {
  const at::Tensor flat = tensor.to(at::kDouble).contiguous().view(-1);
  return {flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel()};
}

trainer::AdvantageConfig config_of(const std::string& estimator, const std::string& scaling = "group") {
  trainer::AdvantageConfig config;
  config.estimator = trainer::parse_advantage_estimator(estimator);
  config.scaling = trainer::parse_reward_scaling(scaling);
  return config;
}

}  // namespace

TEST(Advantages, GrpoIsGroupZScoreWithUnbiasedStd) {
  // Group {1, 2, 3, 6}: mean 3, unbiased variance (4 + 1 + 0 + 9) / 3 = 14/3.
  const at::Tensor rewards = at::tensor({1.0, 2.0, 3.0, 6.0, 5.0, 5.0, 5.0, 5.0});
  const auto out = trainer::compute_advantages(rewards, 4, config_of("grpo"));
  const double std = std::sqrt(14.0 / 3.0);
  const std::vector<double> expected = {-2 / (std + 1e-6), -1 / (std + 1e-6), 0, 3 / (std + 1e-6), 0, 0, 0, 0};
  const auto got = values_of(out.advantages);
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-6) << i;
  EXPECT_EQ(out.zero_variance_groups, std::vector<int64_t>{1});
  EXPECT_NEAR(out.group_mean[0].item<double>(), 3.0, 1e-7);
  EXPECT_NEAR(out.group_std[0].item<double>(), std, 1e-6);

  trainer::AdvantageConfig biased = config_of("grpo");
  biased.unbiased_std = false;  // population std: sqrt(14 / 4)
  EXPECT_NEAR(trainer::compute_advantages(rewards, 4, biased).advantages[3].item<double>(),
              3 / (std::sqrt(3.5) + 1e-6), 1e-6);
}

TEST(Advantages, DrGrpoCentresAndRlooLeavesOneOut) {
  const at::Tensor rewards = at::tensor({1.0, 2.0, 3.0, 6.0});
  const auto dr = values_of(trainer::compute_advantages(rewards, 4, config_of("dr_grpo")).advantages);
  EXPECT_EQ(dr, (std::vector<double>{-2, -1, 0, 3}));
  EXPECT_EQ(values_of(trainer::compute_advantages(rewards, 4, config_of("grpo", "none")).advantages), dr);
  // r_i - mean(others): 1 - 11/3, 2 - 10/3, 3 - 3, 6 - 2
  const auto rloo = values_of(trainer::compute_advantages(rewards, 4, config_of("rloo")).advantages);
  const std::vector<double> expected = {1 - 11.0 / 3, 2 - 10.0 / 3, 0, 4};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(rloo[i], expected[i], 1e-6);
}

TEST(Advantages, TwoDimensionalRewardsKeepTheirShape) {
  const at::Tensor rewards = at::tensor({1.0, 2.0, 3.0, 6.0, 0.0, 1.0}).view({3, 2});
  const auto out = trainer::compute_advantages(rewards, 0, config_of("grpo"));
  EXPECT_EQ(out.advantages.sizes(), rewards.sizes());
  EXPECT_TRUE(torch::allclose(out.advantages.view(-1), trainer::compute_advantages(rewards.view(-1), 2, config_of("grpo")).advantages));
  EXPECT_NE(error_of([&] { trainer::compute_advantages(rewards, 3, config_of("grpo")); }), "");
}

TEST(Advantages, NanRewardsAreLeftOutAndGetZero) {
  const double nan = std::nan("");
  // Group 0: {1, NaN, 3} -> mean 2, std sqrt(2); group 1: {NaN, 4, NaN} -> one valid: no signal.
  const at::Tensor rewards = at::tensor({1.0, nan, 3.0, nan, 4.0, nan});
  const auto out = trainer::compute_advantages(rewards, 3, config_of("grpo"));
  const auto a = values_of(out.advantages);
  EXPECT_NEAR(a[0], -1 / (std::sqrt(2.0) + 1e-6), 1e-6);
  EXPECT_EQ(a[1], 0.0);
  EXPECT_NEAR(a[2], 1 / (std::sqrt(2.0) + 1e-6), 1e-6);
  EXPECT_EQ(a[3], 0.0);
  EXPECT_EQ(a[4], 0.0);
  EXPECT_EQ(out.zero_variance_groups, std::vector<int64_t>{1});
  EXPECT_EQ(out.invalid_rewards, 3);
  // RLOO over the two valid rewards: n / (n - 1) (r - mean) = 2 (r - 2).
  const auto rloo = values_of(trainer::compute_advantages(rewards, 3, config_of("rloo")).advantages);
  EXPECT_NEAR(rloo[0], -2.0, 1e-6);
  EXPECT_NEAR(rloo[2], 2.0, 1e-6);
}

TEST(Advantages, BatchScalingUsesOneStdForEveryGroup) {
  const at::Tensor rewards = at::tensor({0.0, 2.0, 10.0, 14.0});
  const auto out = trainer::compute_advantages(rewards, 2, config_of("grpo", "batch"));
  const double batch_std = at::tensor({0.0, 2.0, 10.0, 14.0}, at::kDouble).std().item<double>();
  const auto a = values_of(out.advantages);
  EXPECT_NEAR(a[0], -1 / (batch_std + 1e-6), 1e-6);
  EXPECT_NEAR(a[3], 2 / (batch_std + 1e-6), 1e-6);
}

TEST(Advantages, GroupOfOneIsTheRewardForGrpoAndAnErrorForRloo) {
  const at::Tensor rewards = at::tensor({0.5, -1.0, 2.0});
  const auto a = values_of(trainer::compute_advantages(rewards, 1, config_of("grpo")).advantages);
  EXPECT_NEAR(a[0], 0.5 / (1 + 1e-6), 1e-7);
  EXPECT_NEAR(a[2], 2.0 / (1 + 1e-6), 1e-7);
  EXPECT_EQ(values_of(trainer::compute_advantages(rewards, 1, config_of("dr_grpo")).advantages),
            (std::vector<double>{0.5, -1.0, 2.0}));
  EXPECT_TRUE(trainer::compute_advantages(rewards, 1, config_of("grpo")).zero_variance_groups.empty());
  const std::string error = error_of([&] { trainer::compute_advantages(rewards, 1, config_of("rloo")); });
  EXPECT_NE(error.find("rloo needs at least 2"), std::string::npos) << error;
}

TEST(Advantages, BadInputIsAnErrorNamingIt) {
  EXPECT_NE(error_of([] { trainer::compute_advantages(at::ones({5}), 2, {}); }).find("do not split into groups of 2"),
            std::string::npos);
  EXPECT_NE(error_of([] { trainer::compute_advantages(at::ones({2, 2, 2}), 2, {}); }), "");
  EXPECT_NE(error_of([] { trainer::compute_advantages(at::ones({4}, at::kLong), 2, {}); }).find("floating point"),
            std::string::npos);
  EXPECT_NE(error_of([] { trainer::compute_advantages(at::ones({4}), 0, {}); }), "");
  const std::string error = error_of([] { trainer::parse_advantage_estimator("ppo"); });
  EXPECT_NE(error.find("grpo, dr_grpo, rloo"), std::string::npos) << error;
  EXPECT_NE(error_of([] { trainer::parse_reward_scaling("std"); }).find("group, batch, none"), std::string::npos);
  EXPECT_EQ(trainer::parse_reward_scaling("false"), trainer::RewardScaling::kNone);
  for (const char* name : {"grpo", "dr_grpo", "rloo"}) {
    EXPECT_EQ(trainer::advantage_estimator_name(trainer::parse_advantage_estimator(name)), name);
  }
}

TEST(OverlongPenalty, ZeroThenLinearToMinusFactor) {
  const trainer::OverlongPenalty config{100, 20, 0.5};
  EXPECT_EQ(trainer::overlong_penalty(0, config), 0.0);
  EXPECT_EQ(trainer::overlong_penalty(80, config), 0.0);
  EXPECT_DOUBLE_EQ(trainer::overlong_penalty(90, config), -0.25);
  EXPECT_DOUBLE_EQ(trainer::overlong_penalty(100, config), -0.5);
  EXPECT_DOUBLE_EQ(trainer::overlong_penalty(130, config), -0.5);
  const at::Tensor penalties = trainer::overlong_penalties(at::tensor({10, 85, 100}, at::kLong), config);
  EXPECT_TRUE(torch::allclose(penalties, at::tensor({0.0f, -0.125f, -0.5f})));
  EXPECT_NE(error_of([] { trainer::overlong_penalty(5, {10, 20, 1.0}); }).find("buffer_length"), std::string::npos);
  EXPECT_NE(error_of([&] { trainer::overlong_penalties(at::ones({2}), config); }), "");
}
