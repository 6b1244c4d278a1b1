// Activation recomputation (TransformerImpl::set_recompute): the same loss and the same
// gradients as the plain backward, on a fixture with GQA and padding, and no effect under
// no-grad (generation) where it must not run.
#include "lm/pretrained.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fs = std::filesystem;
using namespace precept;

TEST(Recompute, GradientsEqualThePlainBackward) {
  lm::Transformer model = lm::load_pretrained(fs::path(PRECEPT_FIXTURE_DIR) / "qwen3_head_dim");
  model->train();
  auto generator = at::make_generator<at::CPUGeneratorImpl>(5);
  at::Tensor tokens = at::randint(3, 300, {3, 12}, generator, at::kLong);
  at::Tensor positions = at::arange(12, at::kLong).unsqueeze(0).expand({3, 12}).contiguous();
  at::Tensor valid = at::ones({3, 12}, at::kBool);
  valid[1].narrow(0, 8, 4).fill_(false);  // a right-padded row
  at::Tensor weights = at::randn({3, 12, model->config().vocab_size}, generator, at::kFloat);
  auto run = [&](bool recompute) {
    model->set_recompute(recompute);
    model->zero_grad();
    at::Tensor loss = (model->logits(model->forward(tokens, positions, valid)) * weights).sum();
    loss.backward();
    std::map<std::string, at::Tensor> grads;
    for (auto& item : model->named_parameters()) grads[item.key()] = item.value().grad().clone();
    return std::make_pair(loss.item<double>(), grads);
  };
  auto [plain_loss, plain] = run(false);
  auto [recomputed_loss, recomputed] = run(true);
  EXPECT_EQ(plain_loss, recomputed_loss);
  double worst = 0;
  for (const auto& [name, grad] : plain) {
    ASSERT_TRUE(recomputed.at(name).defined()) << name;
    worst = std::max(worst, (grad - recomputed.at(name)).abs().max().item<double>());
  }
  std::cout << "[recompute] max |grad difference| = " << worst << " over " << plain.size() << " tensors\n";
  EXPECT_LT(worst, 1e-6);
  // Under no-grad (generation) recomputation is off: outputs equal the plain forward.
  torch::NoGradGuard no_grad;
  model->set_recompute(true);
  at::Tensor a = model->forward(tokens, positions, valid);
  model->set_recompute(false);
  EXPECT_TRUE(at::equal(a, model->forward(tokens, positions, valid)));
}
