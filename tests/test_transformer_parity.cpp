// Parity of lm::Transformer with Hugging Face transformers on tiny random checkpoints of every
// family (made by tests/fixtures/make_hf_fixtures.py). fp32 logits must agree within 1e-4 max
// absolute difference. bf16 logits (magnitude up to ~6.5 here) must agree within 0.125, four
// bf16 steps in [4, 8): transformers' own bf16 paths disagree by that much among themselves
// (eager vs sdpa: up to 0.19 on these fixtures; bf16 vs fp32: up to 0.13).
#include "lm/pretrained.h"
#include "lm/safetensors.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace precept::lm;
using namespace precept::text;

namespace {
constexpr double kFp32Tolerance = 1e-4;
constexpr double kBf16Tolerance = 0.125;

// The cases tests/fixtures/make_hf_fixtures.py writes. Listed here, not read from its output,
// because tests are discovered at build time, before the fixtures exist.
const std::vector<std::string> kCases = {"llama",          "llama3_rope",     "llama_linear_bias", "mistral_window",
                                         "qwen2_bias_tied", "qwen3_head_dim", "qwen3_sharded"};

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>();
}

class FamilyParity : public ::testing::TestWithParam<std::string> {
 protected:
  fs::path model_dir() const { return fs::path(PRECEPT_FIXTURE_DIR) / GetParam(); }
  at::Tensor reference(const std::string& name) const {
    SafetensorsFile file(fs::path(PRECEPT_FIXTURE_DIR) / (GetParam() + ".reference.safetensors"));
    return file.tensor(name).clone();
  }
};

at::Tensor positions_like(const at::Tensor& ids) {
  return at::arange(ids.size(1), at::kLong).unsqueeze(0).expand_as(ids).contiguous();
}
}  // namespace

TEST(FamilyParityFixtures, GeneratorMadeExactlyTheseCases) {
  std::ifstream in(fs::path(PRECEPT_FIXTURE_DIR) / "cases.json");
  ASSERT_TRUE(in) << "run tests/fixtures/make_hf_fixtures.py --out " << PRECEPT_FIXTURE_DIR;
  auto made = nlohmann::json::parse(in).get<std::vector<std::string>>();
  auto expected = kCases;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(made, expected);
}

TEST_P(FamilyParity, Fp32LogitsMatchTransformers) {
  torch::NoGradGuard no_grad;
  Transformer model = load_pretrained(model_dir());
  at::Tensor ids = reference("input_ids");
  at::Tensor logits = model->logits(model->forward(ids, positions_like(ids)));
  const double diff = max_abs_diff(logits, reference("logits_fp32"));
  RecordProperty("fp32_max_abs_diff", std::to_string(diff));
  std::cout << "[parity] " << GetParam() << " fp32 max |diff| = " << diff << " (logit scale "
            << reference("logits_fp32").abs().max().item<double>() << ")\n";
  EXPECT_LT(diff, kFp32Tolerance);
}

TEST_P(FamilyParity, LeftPaddedBatchMatchesTransformers) {
  torch::NoGradGuard no_grad;
  Transformer model = load_pretrained(model_dir());
  at::Tensor ids = reference("padded_ids");
  at::Tensor valid = reference("padded_mask").to(at::kBool);
  at::Tensor logits = model->logits(model->forward(ids, reference("padded_positions"), valid));
  at::Tensor expected = reference("padded_logits_fp32");
  // Only real tokens carry meaning; padding rows are free to differ.
  at::Tensor keep = valid.unsqueeze(-1).expand_as(logits);
  const double diff = max_abs_diff(logits.masked_select(keep), expected.masked_select(keep));
  std::cout << "[parity] " << GetParam() << " left-padded fp32 max |diff| = " << diff << "\n";
  EXPECT_LT(diff, kFp32Tolerance);
  // And padding must not change a sequence: row 0's real tokens equal an unpadded run.
  at::Tensor row = ids[0].slice(0, 3).unsqueeze(0);
  at::Tensor alone = model->logits(model->forward(row, positions_like(row)));
  EXPECT_LT(max_abs_diff(alone[0], logits[0].slice(0, 3)), kFp32Tolerance);
}

TEST_P(FamilyParity, Bf16LogitsMatchTransformers) {
  torch::NoGradGuard no_grad;
  LoadOptions options;
  options.dtype = at::kBFloat16;
  Transformer model = load_pretrained(model_dir(), options);
  at::Tensor ids = reference("input_ids");
  at::Tensor logits = model->logits(model->forward(ids, positions_like(ids)));
  EXPECT_EQ(logits.scalar_type(), at::kBFloat16);
  const double diff = max_abs_diff(logits, reference("logits_bf16"));
  std::cout << "[parity] " << GetParam() << " bf16 max |diff| = " << diff << "\n";
  EXPECT_LT(diff, kBf16Tolerance);
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyParity, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param; });
