// precept's GRPO math against reference numbers from tests/fixtures/make_grpo_fixtures.py: numpy
// implementations of TRL/veRL formulas (advantages, KL estimators, the clipped loss under every
// aggregation, the overlong penalty, log-softmax), transformers' LR schedules under torch's
// LambdaLR, and torch.optim.AdamW with clip_grad_norm_. Tolerances: 1e-6 (relative above 1) for
// everything computed in fp32 against float64 numpy; bit-identical for the LR doubles and for
// AdamW, the clipped gradients and the norms. Skipped unless PRECEPT_GRPO_FIXTURES names the
// directory (tests/check_grpo_math.py sets it).
#include "lm/safetensors.h"
#include "policy/logprobs.h"
#include "trainer/optim/adamw.h"
#include "trainer/advantages.h"
#include "trainer/kl.h"
#include "trainer/optim/lr_schedule.h"
#include "trainer/policy_loss.h"
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

constexpr double kTolerance = 1e-6;

using Fixtures = precept::testing::FixtureFiles;

const Fixtures* fixtures() {
  static const std::unique_ptr<Fixtures> loaded = precept::testing::load_fixture_files("PRECEPT_GRPO_FIXTURES");
  return loaded.get();
}

#define REQUIRE_FIXTURES()                                                                    \
  const Fixtures* fx = fixtures();                                                            \
  if (fx == nullptr) GTEST_SKIP() << "PRECEPT_GRPO_FIXTURES is not set (tests/check_grpo_math.py sets it)"

// Largest |actual - expected| / max(1, |expected|) over all elements (NaN-aware: both NaN = 0).
double max_error(const at::Tensor& actual, const at::Tensor& expected) {
  const at::Tensor a = actual.detach().to(at::kDouble).reshape(-1), e = expected.to(at::kDouble).reshape(-1);
  if (a.numel() != e.numel()) return INFINITY;
  double worst = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a[i].item<double>(), y = e[i].item<double>();
    if (std::isnan(x) && std::isnan(y)) continue;
    const double error = std::abs(x - y) / std::max(1.0, std::abs(y));
    worst = std::isnan(error) ? INFINITY : std::max(worst, error);
  }
  return worst;
}

double scalar_error(double actual, double expected) {
  return std::abs(actual - expected) / std::max(1.0, std::abs(expected));
}

}  // namespace

TEST(GrpoFixtures, AdvantagesMatchNumpyReference) {
  REQUIRE_FIXTURES();
  double worst = 0.0;
  int compared = 0;
  for (const auto& c : fx->cases["advantages"]) {
    trainer::AdvantageConfig config;
    config.estimator = trainer::parse_advantage_estimator(c["estimator"].get<std::string>());
    config.scaling = trainer::parse_reward_scaling(c["scaling"].get<std::string>());
    config.epsilon = c["epsilon"];
    config.unbiased_std = c["unbiased"];
    const at::Tensor rewards = fx->get(c["rewards"]);
    const std::string name = c["name"];
    if (c["error"]) {
      EXPECT_NE(precept::testing::error_of([&] { trainer::compute_advantages(rewards, c["group_size"], config); }), "") << name;
      continue;
    }
    const auto result = trainer::compute_advantages(rewards, c["group_size"], config);
    EXPECT_EQ(result.advantages.sizes(), rewards.sizes()) << name;
    const double error = std::max({max_error(result.advantages, fx->get(name + "/advantages")),
                                   max_error(result.group_mean, fx->get(name + "/group_mean")),
                                   max_error(result.group_std, fx->get(name + "/group_std"))});
    EXPECT_LE(error, kTolerance) << name;
    EXPECT_EQ(result.zero_variance_groups, c["zero_variance_groups"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(result.invalid_rewards, c["invalid"].get<int64_t>()) << name;
    worst = std::max(worst, error);
    ++compared;
  }
  std::cout << compared << " advantage cases, max error " << worst << "\n";
}

TEST(GrpoFixtures, KlEstimatorsAndGradientsMatchNumpyReference) {
  REQUIRE_FIXTURES();
  const at::Tensor logp = fx->get("kl/logp"), ref = fx->get("kl/ref");
  double worst = 0.0;
  for (const auto& c : fx->cases["kl"]) {
    const std::string name = c["name"];
    trainer::KlOptions options = trainer::parse_kl_estimator(c["estimator"].get<std::string>());
    options.clamp = c["clamp"];
    const at::Tensor x = logp.clone().requires_grad_(true);
    const at::Tensor value = trainer::kl_estimate(x, ref, options);
    value.sum().backward();
    const double error =
        std::max(max_error(value, fx->get(name + "/value")), max_error(x.grad(), fx->get(name + "/grad")));
    EXPECT_LE(error, kTolerance) << name;
    worst = std::max(worst, error);
  }
  const json& r = fx->cases["kl_reward"];
  const auto penalty = trainer::kl_penalized_rewards(fx->get("kl_reward/rewards"), fx->get("kl_reward/old"),
                                                     fx->get("kl_reward/ref"), fx->get("kl_reward/mask"), r["coef"]);
  const double error = std::max({max_error(penalty.rewards, fx->get("kl_reward/expected")),
                                 max_error(penalty.token_kl, fx->get("kl_reward/token_kl")),
                                 scalar_error(penalty.mean_kl.item<double>(), r["mean_kl"])});
  EXPECT_LE(error, kTolerance);
  worst = std::max(worst, error);
  std::cout << fx->cases["kl"].size() << " KL cases + KL in reward, max error " << worst << "\n";
}

TEST(GrpoFixtures, PolicyLossMatchesNumpyReferenceInEveryMode) {
  REQUIRE_FIXTURES();
  double worst = 0.0;
  for (const auto& c : fx->cases["policy_loss"]) {
    const std::string name = c["name"];
    const json& cfg = c["config"];
    trainer::PolicyLossConfig config;
    config.clip_low = cfg["clip_low"];
    config.clip_high = cfg["clip_high"];
    config.dual_clip = cfg["dual_clip"];
    config.log_ratio_clamp = cfg["log_ratio_clamp"];
    config.aggregation = trainer::parse_loss_aggregation(cfg["aggregation"].get<std::string>());
    config.entropy_coef = cfg["entropy_coef"];
    config.kl_coef = cfg["kl_coef"];
    config.kl = trainer::parse_kl_estimator(cfg["kl_estimator"].get<std::string>());
    trainer::LossNormalizer normalizer;
    normalizer.num_tokens = c["normalizer"]["num_tokens"];
    normalizer.num_sequences = c["normalizer"]["num_sequences"];
    normalizer.max_length = c["normalizer"]["max_length"];
    normalizer.scale = c["normalizer"]["scale"];

    trainer::PolicyLossInputs in;
    in.logprobs = fx->get(c["logp"]).requires_grad_(true);
    in.old_logprobs = fx->get(c["old"]);
    in.advantages = fx->get(c["advantages"]);
    in.mask = fx->get(c["mask"]);
    if (!c["entropy"].is_null()) in.entropy = fx->get(c["entropy"]).requires_grad_(true);
    if (!c["ref"].is_null()) in.reference_logprobs = fx->get(c["ref"]);
    const auto result = trainer::policy_loss(in, config, normalizer);
    result.loss.backward();

    const json& expected = c["expected"];
    double error = scalar_error(result.loss.item<double>(), expected["loss"]);
    const auto stats = result.stats.to_map();
    for (const auto& [key, value] : expected.items()) {
      if (key == "loss") continue;
      ASSERT_TRUE(stats.count(key)) << name << ": no statistic " << key;
      const double e = scalar_error(stats.at(key), value.get<double>());
      EXPECT_LE(e, kTolerance) << name << ": " << key << " = " << stats.at(key) << ", expected " << value;
      error = std::max(error, e);
    }
    const at::Tensor masked_per_token = result.per_token_loss.masked_fill(in.mask.logical_not(), 0.0);
    error = std::max({error, max_error(masked_per_token, fx->get(name + "/per_token")),
                      max_error(in.logprobs.grad(), fx->get(name + "/grad_logp"))});
    if (in.entropy.defined()) error = std::max(error, max_error(in.entropy.grad(), fx->get(name + "/grad_entropy")));
    EXPECT_LE(error, kTolerance) << name;
    worst = std::max(worst, error);
  }
  std::cout << fx->cases["policy_loss"].size() << " policy-loss cases (loss, stats, per-token, gradients), max error "
            << worst << "\n";
}

TEST(GrpoFixtures, OverlongPenaltyMatchesDapoFormula) {
  REQUIRE_FIXTURES();
  for (const auto& c : fx->cases["overlong"]) {
    trainer::OverlongPenalty config{c["max_length"], c["buffer_length"], c["factor"]};
    EXPECT_NEAR(trainer::overlong_penalty(c["length"], config), c["penalty"].get<double>(), 1e-12) << c.dump();
  }
}

TEST(GrpoFixtures, ChunkedLogprobsMatchFloat64LogSoftmax) {
  REQUIRE_FIXTURES();
  double worst = 0.0;
  for (const auto& c : fx->cases["logprobs"]) {
    const std::string name = c["name"];
    for (int64_t chunk : {1, 4, 1024}) {
      policy::LogprobOptions options;
      options.temperature = c["temperature"];
      options.chunk_tokens = chunk;
      options.with_entropy = true;
      const auto out = policy::chunked_logprobs(fx->get(name + "/hidden"), fx->get(name + "/weight"),
                                                fx->get(name + "/targets"), options);
      const double error = std::max(max_error(out.logprobs, fx->get(name + "/logprobs")),
                                    max_error(out.entropy, fx->get(name + "/entropy")));
      EXPECT_LE(error, 1e-5) << name << " chunk " << chunk;
      worst = std::max(worst, error);
    }
  }
  std::cout << "log-probs and entropy against float64 numpy: max error " << worst << "\n";
}

TEST(GrpoFixtures, LrSchedulesEqualTransformersExactly) {
  REQUIRE_FIXTURES();
  int values = 0;
  for (const auto& c : fx->cases["lr"]) {
    trainer::LrSchedule schedule;
    schedule.kind = trainer::parse_lr_schedule(c["kind"].get<std::string>());
    schedule.base_lr = c["base_lr"];
    schedule.warmup_steps = c["warmup_steps"];
    schedule.total_steps = c["total_steps"];
    schedule.min_lr_ratio = c["min_lr_ratio"];
    schedule.num_cycles = c["num_cycles"];
    const auto lrs = c["lrs"].get<std::vector<double>>();
    for (size_t step = 0; step < lrs.size(); ++step) {
      EXPECT_EQ(trainer::learning_rate(schedule, static_cast<int64_t>(step)), lrs[step])
          << c["kind"] << " warmup " << c["warmup_steps"] << " min " << c["min_lr_ratio"] << " step " << step;
      ++values;
    }
  }
  std::cout << values << " learning rates equal to transformers' (bit for bit)\n";
}

// torch.optim.AdamW + clip_grad_norm_ + a cosine schedule, per parameter tensor.
TEST(GrpoFixtures, AdamWEqualsTorchBitForBit) {
  REQUIRE_FIXTURES();
  const json& c = fx->cases["adamw"][0];
  const std::string prefix = c["name"];
  const auto names = c["params"].get<std::vector<std::string>>();
  trainer::AdamWOptions options{c["beta1"], c["beta2"], c["eps"], c["weight_decay"]};
  trainer::AdamW optimizer(options);
  std::vector<at::Tensor> params;
  for (const auto& name : names) {
    params.push_back(fx->get(prefix + "/init/" + name));
    EXPECT_EQ(trainer::uses_weight_decay(name), c["decay"][name].get<bool>()) << name;
    optimizer.add(name, params.back(), trainer::uses_weight_decay(name) ? -1.0 : 0.0);
  }
  trainer::LrSchedule schedule{trainer::LrScheduleKind::kCosine, c["base_lr"], 2, c["steps"].get<int64_t>(), 0.0, 0.5};
  int64_t equal = 0, total = 0;
  for (int64_t step = 0; step < c["steps"].get<int64_t>(); ++step) {
    std::vector<at::Tensor> grads;
    for (const auto& name : names) {
      const std::string key = prefix + "/grad" + std::to_string(step) + "/" + name;
      grads.push_back(fx->tensors->contains(key) ? fx->get(key) : at::Tensor());
    }
    const auto norm = trainer::clip_gradient_norm(grads, c["max_norm"]);
    EXPECT_TRUE(torch::equal(norm.total.reshape({1}), fx->get(prefix + "/norm" + std::to_string(step)))) << step;
    for (size_t i = 0; i < names.size(); ++i) {
      if (!grads[i].defined()) continue;
      EXPECT_TRUE(torch::equal(grads[i], fx->get(prefix + "/clipped" + std::to_string(step) + "/" + names[i])))
          << "clipped gradient of " << names[i] << " at step " << step;
    }
    const double lr = trainer::learning_rate(schedule, step);
    EXPECT_EQ(lr, c["lrs"][step].get<double>()) << step;
    optimizer.step(lr, grads);
    for (size_t i = 0; i < names.size(); ++i) {
      const at::Tensor expected = fx->get(prefix + "/after" + std::to_string(step) + "/" + names[i]);
      const bool same = torch::equal(params[i], expected);
      EXPECT_TRUE(same) << names[i] << " after step " << step << ": max diff "
                        << (params[i] - expected).abs().max().item<double>();
      equal += same;
      ++total;
    }
  }
  const auto state = optimizer.state();
  for (const auto& name : names) {
    EXPECT_TRUE(torch::equal(state.at(name + ".exp_avg"), fx->get(prefix + "/exp_avg/" + name))) << name;
    EXPECT_TRUE(torch::equal(state.at(name + ".exp_avg_sq"), fx->get(prefix + "/exp_avg_sq/" + name))) << name;
    EXPECT_EQ(state.at(name + ".step").item<int64_t>(), c["steps_taken"][name].get<int64_t>()) << name;
  }
  std::cout << equal << "/" << total << " parameter tensors bit-identical to torch.optim.AdamW after each step\n";
}

// The same optimizer driving views into one flat fp32 buffer (how a ZeRO-1 shard is updated):
// torch's per-parameter results, bit for bit.
TEST(GrpoFixtures, AdamWOnViewsOfAFlatBufferEqualsTorch) {
  REQUIRE_FIXTURES();
  const json& c = fx->cases["adamw"][1];
  const std::string prefix = c["name"];
  const auto names = c["params"].get<std::vector<std::string>>();
  int64_t total_elements = 0;
  for (const auto& name : names) total_elements += fx->get(prefix + "/init/" + name).numel();
  at::Tensor flat = at::empty({total_elements}, at::kFloat), flat_grad = at::zeros({total_elements}, at::kFloat);
  trainer::AdamW optimizer({c["beta1"], c["beta2"], c["eps"], c["weight_decay"]});
  std::vector<at::Tensor> views, grad_views;
  int64_t offset = 0;
  for (const auto& name : names) {
    const at::Tensor init = fx->get(prefix + "/init/" + name);
    views.push_back(flat.narrow(0, offset, init.numel()).view(init.sizes()));
    grad_views.push_back(flat_grad.narrow(0, offset, init.numel()).view(init.sizes()));
    views.back().copy_(init);
    optimizer.add(name, views.back(), c["decay"][name].get<bool>() ? -1.0 : 0.0);
    offset += init.numel();
  }
  int64_t equal = 0, total = 0;
  for (int64_t step = 0; step < c["steps"].get<int64_t>(); ++step) {
    for (size_t i = 0; i < names.size(); ++i) {
      grad_views[i].copy_(fx->get(prefix + "/grad" + std::to_string(step) + "/" + names[i]));
    }
    optimizer.step(c["lrs"][step].get<double>(), grad_views);
    for (size_t i = 0; i < names.size(); ++i) {
      const bool same = torch::equal(views[i], fx->get(prefix + "/after" + std::to_string(step) + "/" + names[i]));
      EXPECT_TRUE(same) << names[i] << " after step " << step;
      equal += same;
      ++total;
    }
  }
  std::cout << equal << "/" << total << " flat-buffer views bit-identical to torch.optim.AdamW\n";
}
