// AdamW, gradient clipping, the weight-decay rule and LR schedules on their own: one step by
// hand, state export and import continuing bit for bit, skipped tensors, non-finite norms
// reported, Hugging Face's no-decay names on a real Qwen3 layout, schedule values and errors.
// The bit-for-bit comparison with torch.optim.AdamW and transformers is in test_grpo_fixtures.cpp.
#include "trainer/optim/adamw.h"
#include "trainer/optim/lr_schedule.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

using namespace precept;
using precept::testing::error_of;

TEST(AdamW, FirstStepByHand) {
  // After one step m = (1 - b1) g, v = (1 - b2) g^2; bias-corrected m / (sqrt(v) + eps) = g / (|g| + eps').
  at::Tensor param = at::tensor({1.0, -2.0, 0.5}, at::kDouble);
  const at::Tensor grad = at::tensor({0.3, -4.0, 0.0}, at::kDouble);
  trainer::AdamW optimizer({0.9, 0.999, 1e-8, 0.1});
  optimizer.add("w", param);
  optimizer.step(0.01, {grad});
  for (int i = 0; i < 3; ++i) {
    const double p0 = std::vector<double>{1.0, -2.0, 0.5}[i], g = std::vector<double>{0.3, -4.0, 0.0}[i];
    const double decayed = p0 * (1 - 0.01 * 0.1);
    const double m_hat = g, v_hat = g * g;
    EXPECT_NEAR(param[i].item<double>(), decayed - 0.01 * m_hat / (std::sqrt(v_hat) + 1e-8), 1e-12) << i;
  }
  EXPECT_EQ(optimizer.step_count(0), 1);
}

TEST(AdamW, StateRoundTripContinuesBitForBit) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(5);
  const at::Tensor init = at::randn({4, 3}, generator);
  std::vector<at::Tensor> grads;
  for (int i = 0; i < 6; ++i) grads.push_back(at::randn({4, 3}, generator));

  at::Tensor straight = init.clone();
  trainer::AdamW a;
  a.add("layer.weight", straight);
  for (const auto& g : grads) a.step(1e-2, {g});

  at::Tensor resumed = init.clone();
  trainer::AdamW b;
  b.add("layer.weight", resumed);
  for (int i = 0; i < 3; ++i) b.step(1e-2, {grads[i]});
  std::map<std::string, at::Tensor> saved;
  for (const auto& [name, tensor] : b.state()) saved[name] = tensor.clone();
  EXPECT_EQ(saved.size(), 3u);
  EXPECT_EQ(saved.at("layer.weight.step").item<int64_t>(), 3);

  at::Tensor restarted = resumed.clone();
  trainer::AdamW c;
  c.add("layer.weight", restarted);
  c.load_state(saved);
  for (int i = 3; i < 6; ++i) c.step(1e-2, {grads[i]});
  EXPECT_TRUE(torch::equal(restarted, straight));

  trainer::AdamW d;
  d.add("other", at::zeros({4, 3}));
  EXPECT_NE(error_of([&] { d.load_state(saved); }).find("belongs to no registered tensor"), std::string::npos);
  trainer::AdamW e;
  e.add("layer.weight", at::zeros({2, 2}));
  EXPECT_NE(error_of([&] { e.load_state(saved); }).find("is [4, 3]"), std::string::npos);
  saved.erase("layer.weight.step");
  EXPECT_NE(error_of([&] { c.load_state(saved); }).find("some are missing"), std::string::npos);
}

TEST(AdamW, UsesParamGradAndSkipsTensorsWithoutOne) {
  at::Tensor with_grad = at::ones({2}).requires_grad_(true), without = at::ones({2}).requires_grad_(true);
  (with_grad * 3).sum().backward();
  trainer::AdamW optimizer;
  optimizer.add("a", with_grad);
  optimizer.add("b", without, 0.0);
  optimizer.step(0.1);
  EXPECT_EQ(optimizer.step_count(0), 1);
  EXPECT_EQ(optimizer.step_count(1), 0);
  EXPECT_LT(with_grad[0].item<double>(), 1.0);
  EXPECT_EQ(without[0].item<double>(), 1.0);
  EXPECT_EQ(optimizer.state().count("b.exp_avg"), 0u);
  EXPECT_NE(error_of([&] { optimizer.add("a", at::ones({1})); }).find("registered twice"), std::string::npos);
  EXPECT_NE(error_of([&] { optimizer.step(0.1, {at::ones({3}), at::Tensor()}); }).find("gradient of 'a' is [3]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { optimizer.step(0.1, {at::ones({2})}); }).find("1 gradients for 2"), std::string::npos);
  EXPECT_NE(error_of([] { trainer::AdamW({0.9, 1.0, 1e-8, 0.0}); }).find("betas"), std::string::npos);
}

TEST(GradientClipping, NormClipAndNonFiniteReport) {
  std::vector<at::Tensor> grads = {at::full({4}, 3.0f), at::Tensor(), at::full({1}, 4.0f)};  // norm sqrt(36 + 16)
  const auto norm = trainer::clip_gradient_norm(grads, 1.0);
  EXPECT_NEAR(norm.value, std::sqrt(52.0), 1e-5);
  EXPECT_TRUE(norm.finite);
  EXPECT_NEAR(trainer::gradient_norm(grads).value, 1.0, 1e-5);
  const auto unclipped = trainer::clip_gradient_norm(grads, 10.0);  // below max_norm: unchanged (x1)
  EXPECT_NEAR(trainer::gradient_norm(grads).value, unclipped.value, 1e-7);

  std::vector<at::Tensor> broken = {at::ones({2}), at::tensor({1.0f, NAN}), at::tensor({INFINITY})};
  const auto report = trainer::clip_gradient_norm(broken, 1.0);
  EXPECT_FALSE(report.finite);
  EXPECT_EQ(report.nonfinite_tensors, (std::vector<size_t>{1, 2}));
  EXPECT_EQ(broken[0][0].item<float>(), 1.0f);  // nothing scaled
  EXPECT_NE(error_of([&] { trainer::clip_gradient_norm(broken, 1.0, true); }).find("tensor 1"), std::string::npos);
  EXPECT_EQ(trainer::gradient_norm({}).value, 0.0);
}

TEST(WeightDecayRule, HuggingFaceNoDecayNamesOnAQwen3Layout) {
  for (const char* name : {"model.embed_tokens.weight", "lm_head.weight", "model.layers.0.self_attn.q_proj.weight",
                           "model.layers.3.mlp.down_proj.weight", "model.normalizer.weight"}) {
    EXPECT_TRUE(trainer::uses_weight_decay(name)) << name;
  }
  for (const char* name : {"model.norm.weight", "model.layers.0.input_layernorm.weight",
                           "model.layers.0.post_attention_layernorm.weight", "model.layers.0.self_attn.q_norm.weight",
                           "model.layers.0.self_attn.k_norm.weight", "model.layers.0.self_attn.q_proj.bias",
                           "encoder.LayerNorm.weight", "block.RMSNorm.scale", "norm"}) {
    EXPECT_FALSE(trainer::uses_weight_decay(name)) << name;
  }
}

TEST(LrSchedule, WarmupAndDecayValues) {
  trainer::LrSchedule schedule{trainer::LrScheduleKind::kLinear, 1.0, 4, 12, 0.0, 0.5};
  EXPECT_EQ(trainer::learning_rate(schedule, 0), 0.0);
  EXPECT_EQ(trainer::learning_rate(schedule, 2), 0.5);
  EXPECT_EQ(trainer::learning_rate(schedule, 4), 1.0);
  EXPECT_EQ(trainer::learning_rate(schedule, 8), 0.5);
  EXPECT_EQ(trainer::learning_rate(schedule, 12), 0.0);
  EXPECT_EQ(trainer::learning_rate(schedule, 20), 0.0);
  schedule.min_lr_ratio = 0.1;
  EXPECT_NEAR(trainer::learning_rate(schedule, 20), 0.1, 1e-15);
  schedule.kind = trainer::LrScheduleKind::kCosine;
  EXPECT_NEAR(trainer::learning_rate(schedule, 8), 0.55, 1e-15);  // half-way: 0.5 (1 - 0.1) + 0.1
  EXPECT_NEAR(trainer::learning_rate(schedule, 12), 0.1, 1e-15);
  schedule.kind = trainer::LrScheduleKind::kConstant;
  schedule.min_lr_ratio = 0.0;
  EXPECT_EQ(trainer::learning_rate(schedule, 100), 1.0);
  EXPECT_EQ(trainer::warmup_steps_from_ratio(10, 0.25), 3);
}

TEST(LrSchedule, NamesAndErrors) {
  EXPECT_EQ(trainer::parse_lr_schedule("cosine_with_min_lr"), trainer::LrScheduleKind::kCosine);
  EXPECT_EQ(trainer::parse_lr_schedule("constant_with_warmup"), trainer::LrScheduleKind::kConstant);
  const std::string error = error_of([] { trainer::parse_lr_schedule("polynomial"); });
  EXPECT_NE(error.find("constant, linear, cosine"), std::string::npos) << error;
  trainer::LrSchedule schedule;
  schedule.kind = trainer::LrScheduleKind::kCosine;
  EXPECT_NE(error_of([&] { trainer::learning_rate(schedule, 0); }).find("total_steps"), std::string::npos);
  schedule.total_steps = 10;
  schedule.min_lr_ratio = 1.5;
  EXPECT_NE(error_of([&] { trainer::learning_rate(schedule, 0); }).find("min_lr_ratio"), std::string::npos);
  schedule.min_lr_ratio = 0.0;
  EXPECT_NE(error_of([&] { trainer::learning_rate(schedule, -1); }).find("step must be >= 0"), std::string::npos);
}
