// fp32 master weights for bf16 policies (trainer/dist/data_parallel.h), replicated and ZeRO-1:
// a bf16 model fed the same gradients as an fp32 model takes the same steps up to the bf16
// rounding of its weights (its masters equal the fp32 weights bit for bit); an update of 1e-6
// changes the masters although it is far below a bf16 ulp; the masters are in the optimizer
// state, so a reloaded optimizer continues exactly. The tests read the masters from the state
// and compare them with the fp32 path, so without masters they fail.
#include "lm/llama2c.h"
#include "lm/pretrained.h"
#include "stories260k.h"
#include "test_util.h"
#include "trainer/dist/data_parallel.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fs = std::filesystem;
using namespace precept;

namespace {

const fs::path& stories_model() { return precept::testing::stories260k_model(); }

// The stories260K weights rounded to bf16, held in `dtype`: the fp32 model starts exactly where
// the bf16 one does.
lm::Transformer rounded_model(c10::ScalarType dtype) {
  lm::LoadOptions options;
  options.dtype = c10::kFloat;
  lm::Transformer model = lm::load_pretrained(stories_model(), options);
  lm::Transformer out(model->config(), at::TensorOptions().dtype(dtype));
  at::NoGradGuard no_grad;
  auto from = model->named_parameters();
  for (auto& item : out->named_parameters()) item.value().copy_(from[item.key()].to(at::kBFloat16));
  return out;
}

// Gradients that bf16 represents exactly, the same for both models at a given step.
void set_gradients(lm::TransformerImpl& model, int64_t step) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(100 + step);
  for (auto& item : model.named_parameters()) {
    const at::Tensor g = at::randn(item.value().sizes(), generator, at::kFloat).to(at::kBFloat16);
    item.value().mutable_grad().copy_(g.to(item.value().scalar_type()));
  }
}

}  // namespace

class Fp32Masters : public ::testing::TestWithParam<bool> {};

TEST_P(Fp32Masters, Bf16TakesTheFp32StepsUpToRoundingOfTheWeights) {
  const bool zero1 = GetParam();
  lm::Transformer fp32 = rounded_model(c10::kFloat), bf16 = rounded_model(c10::kBFloat16);
  trainer::AdamWOptions adam;
  adam.weight_decay = 0.01;
  trainer::DataParallelOptimizer a(*fp32, trainer::single_process_communicator(), adam, zero1);
  trainer::DataParallelOptimizer b(*bf16, trainer::single_process_communicator(), adam, zero1);
  const auto start = bf16->named_parameters()["model.layers.0.mlp.up_proj.weight"].clone();
  for (int64_t step = 0; step < 30; ++step) {
    a.zero_grad();
    b.zero_grad();
    set_gradients(*fp32, step);
    set_gradients(*bf16, step);
    a.step(3e-4, 1.0, 0);
    b.step(3e-4, 1.0, 0);
  }
  const auto masters = b.state();
  auto fp32_parameters = fp32->named_parameters();
  int64_t moved = 0;
  for (const auto& item : bf16->named_parameters()) {
    const at::Tensor& expected = fp32_parameters[item.key()];
    ASSERT_TRUE(masters.count(item.key() + ".master")) << item.key();
    EXPECT_TRUE(at::equal(masters.at(item.key() + ".master"), expected)) << item.key() << ": the master left the fp32 path";
    EXPECT_TRUE(at::equal(item.value(), expected.to(at::kBFloat16))) << item.key() << " is not its master, rounded";
    EXPECT_EQ(masters.at(item.key() + ".exp_avg").scalar_type(), at::kFloat) << "moments are fp32";
  }
  const auto after = bf16->named_parameters()["model.layers.0.mlp.up_proj.weight"];
  moved = (after != start).sum().item<int64_t>();
  EXPECT_GT(moved, 0) << "the bf16 weights never moved";
}

TEST_P(Fp32Masters, AnUpdateOfOneMillionthChangesTheMasters) {
  const bool zero1 = GetParam();
  lm::Transformer bf16 = rounded_model(c10::kBFloat16);
  trainer::DataParallelOptimizer optimizer(*bf16, trainer::single_process_communicator(), {}, zero1);
  const std::string name = "model.layers.2.self_attn.q_proj.weight";
  const at::Tensor weight_before = bf16->named_parameters()[name].clone();
  optimizer.zero_grad();
  set_gradients(*bf16, 0);
  optimizer.step(1e-6, 0.0, 0);
  const at::Tensor master = optimizer.state().at(name + ".master");
  const at::Tensor change = (master - weight_before.to(at::kFloat)).abs();
  // Adam's first step moves every element by lr (|m / sqrt(v)| = 1), ~2e-4 of a weight of 0.005,
  // far below bf16's relative resolution of 2^-8.
  EXPECT_GT(change.min().item<double>(), 0.5e-6);
  EXPECT_LT(change.max().item<double>(), 1.5e-6);
  // bf16 holds it only for the few weights so close to zero that their ulp is below 1e-6.
  const double kept = (bf16->named_parameters()[name] == weight_before).to(at::kFloat).mean().item<double>();
  std::cout << "[masters] lr 1e-6: every master moved; " << 100 * kept << "% of the bf16 weights did not\n";
  EXPECT_GT(kept, 0.9) << "without masters these updates would be lost";
}

TEST_P(Fp32Masters, TheStateCarriesTheMastersSoAReloadContinuesExactly) {
  const bool zero1 = GetParam();
  lm::Transformer first = rounded_model(c10::kBFloat16);
  trainer::DataParallelOptimizer a(*first, trainer::single_process_communicator(), {}, zero1);
  for (int64_t step = 0; step < 3; ++step) {
    a.zero_grad();
    set_gradients(*first, step);
    a.step(1e-5, 1.0, 0);
  }
  std::map<std::string, at::Tensor> saved;
  for (const auto& [name, tensor] : a.state()) saved[name] = tensor.clone();
  // A second model with the bf16 weights and the saved state (what a resume does), then one
  // more step on both.
  lm::Transformer second = rounded_model(c10::kBFloat16);
  {
    at::NoGradGuard no_grad;
    auto from = first->named_parameters();
    for (auto& item : second->named_parameters()) item.value().copy_(from[item.key()]);
  }
  trainer::DataParallelOptimizer b(*second, trainer::single_process_communicator(), {}, zero1);
  b.load_state(saved);
  for (auto* pair : {&a, &b}) pair->zero_grad();
  set_gradients(*first, 3);
  set_gradients(*second, 3);
  a.step(1e-5, 1.0, 0);
  b.step(1e-5, 1.0, 0);
  auto other = second->named_parameters();
  for (const auto& item : first->named_parameters()) EXPECT_TRUE(at::equal(item.value(), other[item.key()])) << item.key();
  const auto state_a = a.state(), state_b = b.state();
  for (const auto& [name, tensor] : state_a) EXPECT_TRUE(at::equal(tensor, state_b.at(name))) << name;
}

INSTANTIATE_TEST_SUITE_P(ReplicatedAndZero1, Fp32Masters, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Zero1" : "Replicated"; });
