// The PPO critic (trainer/critic.h) on tiny random Llama models: where it starts (the policy's
// body with a seeded fresh head, a reward model's score head, a critic precept saved), the values
// it reads at the hidden states that predict each response token, LoRA with a trainable head,
// and the checkpoint round trip, with or without adapters.
#include "lm/pretrained.h"
#include "policy/lora.h"
#include "policy/sequences.h"
#include "trainer/config.h"
#include "trainer/critic.h"
#include "trainer/dist/communicator.h"
#include "trainer/memory_plan.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace precept;
using nlohmann::json;
using precept::testing::error_of;
using precept::testing::temp_dir;

namespace {

fs::path save_tiny(const fs::path& dir, const std::string& architecture, int64_t labels = 0, uint64_t seed = 0) {
  json raw = {{"architectures", {architecture}}, {"vocab_size", 64},       {"hidden_size", 32},
              {"intermediate_size", 48},         {"num_hidden_layers", 2}, {"num_attention_heads", 4},
              {"num_key_value_heads", 2},        {"rms_norm_eps", 1e-5},   {"torch_dtype", "float32"}};
  if (labels > 0) raw["num_labels"] = labels;
  lm::Transformer model(lm::config_from_json(raw, "config.json"), at::kFloat);
  model->init_random(seed);
  lm::save_pretrained(*model, dir);
  return dir;
}

trainer::RunConfig recipe(const fs::path& work, const fs::path& policy, const std::string& critic_lines = "") {
  std::ofstream(work / "prompts.jsonl") << "{\"prompt\": \"a\"}\n";
  std::ofstream(work / "recipe.toml") << "[policy]\nmodel = \"" << policy.string() << "\"\n[data]\nprompts = \""
                                      << (work / "prompts.jsonl").string()
                                      << "\"\nchat = false\n[reward]\ntype = \"regex\"\nmust_match = ['x']\n"
                                         "[algorithm]\nadvantage = \"gae\"\n[critic]\n"
                                      << critic_lines;
  return trainer::load_run_config((work / "recipe.toml").string());
}

policy::SequenceBatch batch_of(c10::Device device) {
  const std::vector<int64_t> p0{1, 5, 9}, r0{4, 7, 2, 8}, p1{3}, r1{6};
  return policy::make_sequence_batch({&p0, &p1}, {&r0, &r1}, device);
}


}  // namespace

TEST(Critic, StartsFromThePolicysBodyWithASeededFreshHead) {
  const fs::path work = temp_dir("critic_fresh");
  const fs::path policy_dir = save_tiny(work / "policy", "LlamaForCausalLM");
  const trainer::RunConfig config = recipe(work, policy_dir);
  const lm::Transformer policy = lm::load_pretrained(policy_dir);
  const lm::Transformer critic = trainer::make_critic_model(config, at::kCPU, 5);
  EXPECT_EQ(critic->config().head, lm::ModelHead::token_classification);
  EXPECT_EQ(critic->config().architecture, "LlamaForTokenClassification");
  const auto policy_parameters = policy->named_parameters();
  int64_t copied = 0;
  for (const auto& item : critic->named_parameters()) {
    if (item.key().rfind("score.", 0) == 0) continue;
    EXPECT_TRUE(at::equal(item.value(), *policy_parameters.find(item.key()))) << item.key();
    ++copied;
  }
  EXPECT_EQ(copied, static_cast<int64_t>(policy_parameters.size()) - 1);  // all but the policy's lm_head
  EXPECT_EQ(critic->score->weight.sizes(), (c10::IntArrayRef{1, 32}));
  EXPECT_EQ(critic->score->bias.abs().sum().item<double>(), 0.0);
  const double std = critic->score->weight.std().item<double>();
  EXPECT_GT(std, 0.01);
  EXPECT_LT(std, 0.04);
  EXPECT_TRUE(at::equal(critic->score->weight, trainer::make_critic_model(config, at::kCPU, 5)->score->weight));
  EXPECT_FALSE(at::equal(critic->score->weight, trainer::make_critic_model(config, at::kCPU, 6)->score->weight));
}

TEST(Critic, ValuesAreTheHeadAtTheStatesThatPredictEachResponseToken) {
  const fs::path work = temp_dir("critic_values");
  trainer::RunConfig config = recipe(work, save_tiny(work / "policy", "LlamaForCausalLM"));
  config.run.seed = 3;
  trainer::Critic critic(config, trainer::single_process_communicator(), at::kCPU, 10);
  const policy::SequenceBatch batch = batch_of(at::kCPU);
  at::NoGradGuard no_grad;
  const at::Tensor values = critic.values(batch);
  ASSERT_EQ(values.sizes(), (c10::IntArrayRef{2, 4}));
  // By hand: row 0 is [1 5 9 | 4 7 2 8], so response token r is predicted by position 2 + r.
  const at::Tensor hidden = critic.model().forward(batch.tokens, batch.positions, batch.valid);
  const at::Tensor& w = critic.model().score->weight;
  const at::Tensor& b = critic.model().score->bias;
  for (int64_t r = 0; r < 4; ++r) {
    const double expected = (at::matmul(hidden[0][2 + r], w[0]) + b[0]).item<double>();
    EXPECT_NEAR(values[0][r].item<double>(), expected, 1e-6) << r;
  }
  // Row 1 is [3 | 6] and padding: one value, then zeros.
  EXPECT_NEAR(values[1][0].item<double>(), (at::matmul(hidden[1][0], w[0]) + b[0]).item<double>(), 1e-6);
  EXPECT_EQ(values[1].narrow(0, 1, 3).abs().sum().item<double>(), 0.0);
}

TEST(Critic, ARewardModelsScoreBecomesTheHead) {
  const fs::path work = temp_dir("critic_rm");
  const fs::path policy_dir = save_tiny(work / "policy", "LlamaForCausalLM");
  const fs::path rm_dir = save_tiny(work / "rm", "LlamaForSequenceClassification", 1, 9);
  const trainer::RunConfig config = recipe(work, policy_dir, "model = \"" + rm_dir.string() + "\"\n");
  lm::Transformer rm = lm::load_pretrained(rm_dir);
  lm::Transformer critic = trainer::make_critic_model(config, at::kCPU, 1);
  EXPECT_TRUE(at::equal(critic->score->weight, rm->score->weight));
  EXPECT_EQ(critic->score->bias.abs().sum().item<double>(), 0.0);
  // So the critic's value at the last token is the reward model's score of the sequence.
  const at::Tensor tokens = at::tensor({1, 5, 9, 4}, at::kLong).view({1, 4});
  const at::Tensor positions = at::arange(4, at::kLong).view({1, 4});
  at::NoGradGuard no_grad;
  const double score = rm->logits(rm->forward(tokens, positions)[0][3]).item<double>();
  const double value = critic->logits(critic->forward(tokens, positions)[0][3]).item<double>();
  EXPECT_NEAR(value, score, 1e-6);
  // A reward model of two labels is refused, naming it.
  const fs::path two = save_tiny(work / "rm2", "LlamaForSequenceClassification", 2);
  const std::string message = error_of([&] { trainer::make_critic_model(recipe(work, policy_dir, "model = \"" + two.string() + "\"\n"), at::kCPU, 1); });
  EXPECT_NE(message.find(two.string()), std::string::npos) << message;
  EXPECT_NE(message.find("one label"), std::string::npos) << message;
}

TEST(Critic, CheckpointRoundTripRestoresWeightsAndOptimizer) {
  for (const bool lora : {false, true}) {
    const fs::path work = temp_dir(lora ? "critic_ckpt_lora" : "critic_ckpt");
    const std::string lines = lora ? "lr = 1e-2\n[critic.lora]\nr = 4\nalpha = 8\n" : "lr = 1e-2\n";
    const trainer::RunConfig config = recipe(work, save_tiny(work / "policy", "LlamaForCausalLM"), lines);
    trainer::Critic critic(config, trainer::single_process_communicator(), at::kCPU, 10);
    if (lora) {
      int64_t trainable = 0;
      for (const auto& item : critic.model().named_parameters()) {
        if (!item.value().requires_grad()) continue;
        ++trainable;
        EXPECT_TRUE(lm::is_adapter_parameter(item.key()) || item.key().rfind("score.", 0) == 0) << item.key();
      }
      EXPECT_GT(trainable, 2);
    }
    // One optimizer step on a value loss, so that there is state to save.
    const policy::SequenceBatch batch = batch_of(at::kCPU);
    critic.values(batch).square().sum().backward();
    trainer::Optimization optimization = critic.optimization();
    trainer::optimizer_step(optimization, 1, 0);
    fs::create_directories(work / "checkpoint");
    critic.save(work / "checkpoint", critic.optimizer_state());
    EXPECT_TRUE(fs::exists(work / "checkpoint" / "critic" / (lora ? policy::kAdapterConfigFile : "config.json")));
    if (!lora) {
      EXPECT_EQ(lm::load_config(work / "checkpoint" / "critic").head, lm::ModelHead::token_classification);
    }

    trainer::Critic restored(config, trainer::single_process_communicator(), at::kCPU, 10);
    restored.load(work / "checkpoint", critic.optimizer_steps());
    EXPECT_EQ(restored.optimizer_steps(), 1);
    const auto before = critic.model().named_parameters(), after = restored.model().named_parameters();
    for (const auto& item : before) EXPECT_TRUE(at::equal(item.value(), *after.find(item.key()))) << item.key();
    const auto state = critic.optimizer_state(), restored_state = restored.optimizer_state();
    ASSERT_EQ(state.size(), restored_state.size());
    for (const auto& [name, tensor] : state) EXPECT_TRUE(at::equal(tensor, restored_state.at(name))) << name;
    // The saved full critic is itself a starting point.
    if (!lora) {
      const trainer::RunConfig again = recipe(work, work / "policy", "model = \"" + (work / "checkpoint" / "critic").string() + "\"\n");
      EXPECT_TRUE(at::equal(trainer::make_critic_model(again, at::kCPU, 99)->score->weight, critic.model().score->weight));
    }
  }
}

TEST(Critic, ResumingAFolderWithoutACriticIsANamedError) {
  const fs::path work = temp_dir("critic_missing");
  const trainer::RunConfig config = recipe(work, save_tiny(work / "policy", "LlamaForCausalLM"));
  trainer::Critic critic(config, trainer::single_process_communicator(), at::kCPU, 10);
  fs::create_directories(work / "empty");
  const std::string message = error_of([&] { critic.load(work / "empty", 0); });
  EXPECT_NE(message.find("holds no critic/"), std::string::npos) << message;
}

TEST(CriticConfig, PpoKeysNeedGaeAndGaeRefusesDynamicSampling) {
  const fs::path work = temp_dir("critic_config");
  std::ofstream(work / "p.jsonl") << "{\"prompt\": \"a\"}\n";
  auto load = [&](const std::string& algorithm, const std::string& rest = "") {
    std::ofstream(work / "r.toml") << "[policy]\nmodel = \"m\"\n[data]\nprompts = \"p.jsonl\"\n[reward]\ntype = \"regex\"\n"
                                      "must_match = ['x']\n[algorithm]\n"
                                   << algorithm << rest;
    return error_of([&] { trainer::load_run_config((work / "r.toml").string()); });
  };
  EXPECT_NE(load("lam = 0.9\n").find("algorithm.lam"), std::string::npos);
  EXPECT_NE(load("advantage = \"grpo\"\n", "[critic]\nlr = 1e-5\n").find("advantage = \"gae\""), std::string::npos);
  EXPECT_NE(load("advantage = \"gae\"\nfilter_zero_variance = true\n").find("filter_zero_variance"), std::string::npos);
  EXPECT_NE(load("advantage = \"gae\"\ngamma = 1.5\n").find("gamma"), std::string::npos);
  EXPECT_NE(load("advantage = \"gae\"\nkl_target = 0.1\n").find("kl = \"reward\""), std::string::npos);
  EXPECT_NE(load("advantage = \"gae\"\n", "[critic]\nlearning_rate = 1\n").find("critic.learning_rate"), std::string::npos);
  EXPECT_EQ(load("advantage = \"gae\"\nkl = \"reward\"\n"), "");
  // PPO's KL in the reward is k1 unless kl_estimator says otherwise.
  std::ofstream(work / "r.toml") << "[policy]\nmodel = \"m\"\n[data]\nprompts = \"p.jsonl\"\n[reward]\ntype = \"regex\"\n"
                                    "must_match = ['x']\n[algorithm]\nadvantage = \"gae\"\nkl = \"reward\"\n";
  EXPECT_EQ(trainer::kl_estimator_name(trainer::load_run_config((work / "r.toml").string()).algorithm.kl), "k1");
}

// The memory plan counts the critic as the trainer builds it: its weights, and AdamW moments
// equal to the bytes its optimizer holds after a step, with and without LoRA.
TEST(CriticMemoryPlan, CountsTheCriticsWeightsAndOptimizerExactly) {
  for (const bool lora : {false, true}) {
    const fs::path work = temp_dir(lora ? "critic_plan_lora" : "critic_plan");
    trainer::RunConfig config =
        recipe(work, save_tiny(work / "policy", "LlamaForCausalLM"), lora ? "[critic.lora]\nr = 4\n" : "");
    config.run.memory_limit_gb = -1;
    const trainer::MemoryPlan plan = trainer::plan_run_memory(config);
    auto bytes_of = [&](const std::string& part) {
      for (const auto& item : plan.items) {
        if (item.part == part) return item.bytes;
      }
      ADD_FAILURE() << "no plan item " << part << "\n" << plan.table();
      return int64_t(-1);
    };
    trainer::Critic critic(config, trainer::single_process_communicator(), at::kCPU, 10);
    int64_t weights = 0;
    for (const auto& item : critic.model().named_parameters()) {
      if (!lm::is_adapter_parameter(item.key())) weights += item.value().numel() * 4;
    }
    EXPECT_EQ(bytes_of("critic weights"), weights);
    critic.values(batch_of(at::kCPU)).sum().backward();
    trainer::Optimization optimization = critic.optimization();
    trainer::optimizer_step(optimization, 1, 0);
    EXPECT_EQ(bytes_of("critic AdamW moments (fp32)"), critic.optimizer().measured_memory().state_bytes_per_rank)
        << (lora ? "with LoRA" : "full");
  }
}
