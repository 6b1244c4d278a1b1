// ScalarRewardModel (reward/scalar_reward_model.h) against transformers: tiny random
// XxxForSequenceClassification checkpoints with the real Qwen tokenizer and chat templates
// (tests/fixtures/make_rm_fixtures.py). The token ids must equal apply_chat_template's exactly and
// the fp32 rewards must agree within 1e-4; precept-saved classifiers must load in transformers.
#include "reward/scalar_reward_model.h"

#include "lm/model_config.h"
#include "lm/pretrained.h"
#include "lm/safetensors.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <map>

namespace fs = std::filesystem;
using namespace precept::reward;
using precept::testing::error_of;
using precept::testing::temp_dir;
using json = nlohmann::json;
namespace lm = precept::lm;

namespace {

constexpr double kFp32Tolerance = 1e-4;

// The reward-model cases make_rm_fixtures.py writes (listed here: tests are discovered before
// the fixtures exist). qwen2_two_labels is an error case, not a reward model.
const std::vector<std::string> kCases = {"llama_rm", "mistral_rm", "qwen2_rm", "qwen3_rm"};

fs::path fixture_dir() { return fs::path(PRECEPT_FIXTURE_DIR) / "rm"; }

json reference(const std::string& name) {
  std::ifstream in(fixture_dir() / (name + ".json"));
  if (!in) throw std::runtime_error("no " + (fixture_dir() / (name + ".json")).string() + "; run make_rm_fixtures.py");
  return json::parse(in);
}

ScalarRewardModelConfig config_for(const std::string& name, int64_t batch_size = 8) {
  ScalarRewardModelConfig config;
  config.model_dir = fixture_dir() / name;
  config.batch_size = batch_size;
  return config;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST(ScalarRewardModelFixtures, GeneratorMadeExactlyTheseCases) {
  std::ifstream in(fixture_dir() / "cases.json");
  ASSERT_TRUE(in) << "run tests/fixtures/make_rm_fixtures.py --out " << PRECEPT_FIXTURE_DIR;
  auto made = json::parse(in).get<std::vector<std::string>>();
  auto expected = kCases;
  expected.push_back("qwen2_two_labels");
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(made, expected);
}

TEST(ScalarRewardModel, PoolsTheLastTokenThatIsNotPadAsTransformersDoes) {
  EXPECT_EQ(pooled_position({5, 6, 7}, 0), 2);
  EXPECT_EQ(pooled_position({5, 6, 0, 0}, 0), 1);
  EXPECT_EQ(pooled_position({5, 0, 6, 0}, 0), 2);  // a pad inside the sequence is skipped over, not stopped at
  EXPECT_EQ(pooled_position({0, 0}, 0), 0);        // all pad: argmax over zeros
  EXPECT_EQ(pooled_position({5, 6, 0}, -1), 2);    // no pad token: the last token
}

TEST(ScalarRewardModel, ReadsSequenceClassifierConfigs) {
  json raw = {{"architectures", {"Qwen2ForSequenceClassification"}},
              {"vocab_size", 64},
              {"hidden_size", 32},
              {"intermediate_size", 48},
              {"num_hidden_layers", 1},
              {"num_attention_heads", 4},
              {"id2label", {{"0", "LABEL_0"}}},
              {"pad_token_id", 3}};
  lm::ModelConfig config = lm::config_from_json(raw, "config.json");
  EXPECT_EQ(config.head, lm::ModelHead::sequence_classification);
  EXPECT_EQ(config.model_type, "qwen2");
  EXPECT_EQ(config.num_labels, 1);
  EXPECT_EQ(config.pad_token_id, 3);
  raw.erase("id2label");  // transformers omits the default of two labels
  EXPECT_EQ(lm::config_from_json(raw, "config.json").num_labels, 2);
  raw["num_labels"] = 3;
  EXPECT_EQ(lm::config_from_json(raw, "config.json").num_labels, 3);
  raw["architectures"] = {"Qwen2ForQuestionAnswering"};
  const std::string message = error_of([&] { lm::config_from_json(raw, "x/config.json"); });
  EXPECT_TRUE(contains(message, "Qwen2ForQuestionAnswering")) << message;
  EXPECT_TRUE(contains(message, "Qwen3ForSequenceClassification")) << message;  // the list of what is supported

  // The model gets `score` [num_labels, C] and no lm_head; a causal LM keeps its lm_head.
  raw["architectures"] = {"LlamaForSequenceClassification"};
  raw["id2label"] = {{"0", "LABEL_0"}};
  lm::Transformer classifier(lm::config_from_json(raw, "config.json"), at::kFloat);
  auto parameters = classifier->named_parameters();
  EXPECT_TRUE(parameters.contains("score.weight"));
  EXPECT_FALSE(parameters.contains("lm_head.weight"));
  EXPECT_EQ(classifier->output_weight().sizes(), (std::vector<int64_t>{1, 32}));
  raw["architectures"] = {"LlamaForCausalLM"};
  lm::Transformer causal(lm::config_from_json(raw, "config.json"), at::kFloat);
  EXPECT_TRUE(causal->named_parameters().contains("lm_head.weight"));
  EXPECT_FALSE(causal->named_parameters().contains("score.weight"));
  EXPECT_FALSE(causal->score);
}

class RewardModelParity : public ::testing::TestWithParam<std::string> {};

TEST_P(RewardModelParity, IdsEqualApplyChatTemplateAndRewardsEqualTransformers) {
  const json expected = reference(GetParam());
  ScalarRewardModel model(config_for(GetParam(), /*batch_size=*/3));
  EXPECT_EQ(model.model().config().architecture, expected["architecture"]);

  // Group the pairs by prompt, as a trainer would, and score every group in one batch.
  std::vector<Group> groups;
  std::vector<std::vector<double>> hf_scores;
  std::map<std::string, size_t> group_of_prompt;
  for (const auto& pair : expected["pairs"]) {
    const std::string prompt = pair["prompt"], response = pair["response"];
    EXPECT_EQ(model.encode(prompt, response), pair["input_ids"].get<std::vector<int64_t>>())
        << GetParam() << ": ids differ from apply_chat_template for " << response << "\n"
        << model.render(prompt, response);
    auto [where, added] = group_of_prompt.emplace(prompt, groups.size());
    if (added) {
      groups.push_back(Group{prompt, {}, {}, json::object(), 0});
      hf_scores.emplace_back();
    }
    groups[where->second].responses.push_back(response);
    hf_scores[where->second].push_back(pair["score"][0].get<double>());
  }
  std::vector<GroupScores> results = model.score_batch(groups);
  ASSERT_EQ(results.size(), groups.size());
  double worst = 0, smallest = 1e9, largest = -1e9;
  for (size_t g = 0; g < groups.size(); ++g) {
    ASSERT_EQ(results[g].rewards.size(), hf_scores[g].size());
    EXPECT_EQ(results[g].failures, 0);
    for (size_t i = 0; i < hf_scores[g].size(); ++i) {
      EXPECT_TRUE(results[g].valid[i]);
      worst = std::max(worst, std::abs(results[g].rewards[i] - hf_scores[g][i]));
      smallest = std::min(smallest, hf_scores[g][i]);
      largest = std::max(largest, hf_scores[g][i]);
    }
  }
  std::cout << "[rm parity] " << GetParam() << " pairs: max |diff| = " << worst << " (scores " << smallest << " .. "
            << largest << ")\n";
  EXPECT_LT(worst, kFp32Tolerance);
  // The scores must be spread out, or a pooling mistake could pass unnoticed.
  EXPECT_GT(largest - smallest, 0.1);

  // One group at a time, and one sequence per forward, give the same numbers.
  ScalarRewardModel single(config_for(GetParam(), /*batch_size=*/1));
  for (size_t g = 0; g < groups.size(); ++g) {
    GroupScores alone = single.score(groups[g]);
    for (size_t i = 0; i < hf_scores[g].size(); ++i) EXPECT_NEAR(alone.rewards[i], hf_scores[g][i], kFp32Tolerance);
  }
}

TEST_P(RewardModelParity, RawSequencesPoolLikeTransformers) {
  const json expected = reference(GetParam());
  ScalarRewardModel model(config_for(GetParam(), /*batch_size=*/4));
  std::vector<std::vector<int64_t>> rows;
  for (const auto& row : expected["raw"]) rows.push_back(row["input_ids"].get<std::vector<int64_t>>());
  std::vector<double> ours = model.score_sequences(rows);
  double worst = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    worst = std::max(worst, std::abs(ours[i] - expected["raw"][i]["score"][0].get<double>()));
  }
  std::cout << "[rm parity] " << GetParam() << " raw rows (trailing and inner pads): max |diff| = " << worst << "\n";
  EXPECT_LT(worst, kFp32Tolerance);
  // Pooling the very last token instead would have been wrong for rows that end in pads.
  std::vector<std::vector<int64_t>> unpooled;
  for (const auto& row : rows) {
    std::vector<int64_t> changed = row;
    changed.back() = changed.back() == 0 ? 1 : 0;  // no longer pad: the last position is pooled
    unpooled.push_back(changed);
  }
  std::vector<double> wrong = model.score_sequences(unpooled);
  EXPECT_GT(std::abs(wrong[1] - expected["raw"][1]["score"][0].get<double>()), 1e-3);  // row 1 ends in 3 pads
}

INSTANTIATE_TEST_SUITE_P(Families, RewardModelParity, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return info.param; });

TEST(ScalarRewardModel, SystemPromptAndOverlongPairs) {
  ScalarRewardModelConfig config = config_for("qwen3_rm");
  config.max_tokens = 40;
  config.fallback_value = -7.0;
  config.system_prompt = "You grade answers.";
  ScalarRewardModel model(config);
  const std::string text = model.render("Q?", "A.");
  EXPECT_EQ(text.rfind("<|im_start|>system\nYou grade answers.<|im_end|>\n", 0), 0u) << text;
  Group group{"What is 2+2?", {"4", std::string(200, 'x') + " is a long answer with many tokens in it, " + std::string(50, '!')},
              {}, json::object(), 0};
  GroupScores scores = model.score(group);
  EXPECT_TRUE(scores.valid[0]);
  EXPECT_FALSE(scores.valid[1]);
  EXPECT_DOUBLE_EQ(scores.rewards[1], -7.0);
  EXPECT_EQ(scores.failures, 1);
  EXPECT_TRUE(contains(scores.diagnostics["errors"]["1"].get<std::string>(), "more than max_tokens = 40"))
      << scores.diagnostics.dump();
  EXPECT_LE(scores.diagnostics["tokens"][0].get<int64_t>(), 40);
  EXPECT_GT(scores.diagnostics["tokens"][1].get<int64_t>(), 40);
  EXPECT_TRUE(contains(error_of([&] { model.score(Group{}); }), "at least one response"));
}

TEST(ScalarRewardModel, CheckpointsThatAreNotRewardModelsAreErrors) {
  std::string message = error_of([] { ScalarRewardModel{config_for("qwen2_two_labels")}; });
  EXPECT_TRUE(contains(message, "needs num_labels = 1")) << message;
  EXPECT_TRUE(contains(message, "has 2 labels")) << message;
  EXPECT_TRUE(contains(message, "qwen2_two_labels/config.json")) << message;

  // A checkpoint without score.weight.
  const fs::path dir = temp_dir("rm_no_score");
  for (const auto& entry : fs::directory_iterator(fixture_dir() / "qwen2_rm")) {
    if (entry.path().extension() != ".safetensors") fs::copy_file(entry.path(), dir / entry.path().filename());
  }
  lm::CheckpointTensors checkpoint(fixture_dir() / "qwen2_rm");
  lm::NamedTensors tensors;
  for (const auto& name : checkpoint.names()) {
    if (name != "score.weight") tensors.push_back({name, checkpoint.tensor(name)});
  }
  lm::write_checkpoint_tensors(dir, tensors, 1ull << 30);
  ScalarRewardModelConfig config;
  config.model_dir = dir;
  message = error_of([&] { ScalarRewardModel{config}; });
  EXPECT_TRUE(contains(message, "missing weights: score.weight")) << message;
  EXPECT_TRUE(contains(message, "Qwen2ForSequenceClassification")) << message;

  // A causal LM is not a reward model.
  config.model_dir = fs::path(PRECEPT_FIXTURE_DIR) / "qwen3_head_dim";
  message = error_of([&] { ScalarRewardModel{config}; });
  EXPECT_TRUE(contains(message, "Qwen3ForCausalLM is a causal LM")) << message;
}

// precept saves a classifier -> transformers loads it (AutoModelForSequenceClassification) ->
// the same scores; precept reads its own output back exactly.
TEST(ScalarRewardModel, SavedClassifierLoadsInTransformersWithEqualScores) {
  torch::NoGradGuard no_grad;
  for (const std::string name : {"qwen3_rm", "qwen2_rm"}) {
    lm::Transformer model = lm::load_pretrained(fixture_dir() / name);
    const fs::path out = temp_dir("rm_roundtrip_" + name);
    lm::SaveOptions options;
    options.source_dir = fixture_dir() / name;
    lm::save_pretrained(*model, out, options);
    const json config = json::parse(std::ifstream(out / "config.json"));
    EXPECT_EQ(config["architectures"][0], model->config().architecture);
    EXPECT_EQ(config["id2label"], json({{"0", "LABEL_0"}}));
    EXPECT_EQ(config["pad_token_id"], 151643);
    lm::CheckpointTensors saved(out);
    const auto names = saved.names();
    EXPECT_NE(std::find(names.begin(), names.end(), "score.weight"), names.end());
    EXPECT_EQ(std::find(names.begin(), names.end(), "lm_head.weight"), names.end());

    // The fixture's chat-rendered pairs, right-padded with the pad token to one width: transformers
    // pools each row's last non-pad token, so padding changes nothing on either side.
    const json expected = reference(name);
    std::vector<std::vector<int64_t>> same_width;
    size_t width = 0;
    for (const auto& pair : expected["pairs"]) {
      same_width.push_back(pair["input_ids"].get<std::vector<int64_t>>());
      width = std::max(width, same_width.back().size());
    }
    for (auto& row : same_width) row.resize(width, model->config().pad_token_id);
    at::Tensor ids = at::empty({static_cast<int64_t>(same_width.size()), static_cast<int64_t>(width)}, at::kLong);
    for (size_t i = 0; i < same_width.size(); ++i) ids[i].copy_(at::tensor(same_width[i], at::kLong));
    lm::write_safetensors(out / "ids.safetensors", {{"input_ids", ids}});
    const std::string command = std::string(PRECEPT_PYTHON) + " " + PRECEPT_SOURCE_DIR +
                                "/tests/fixtures/hf_rm_scores.py --model " + out.string() + " --ids " +
                                (out / "ids.safetensors").string() + " --out " + (out / "hf.safetensors").string() +
                                " > " + (out / "log.txt").string() + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << "transformers could not load " << out << "; see log.txt there";
    at::Tensor theirs = lm::SafetensorsFile(out / "hf.safetensors").tensor("scores").clone();  // [N, 1]
    at::Tensor ours = classify_sequences(*model, same_width, 8);                                // [N, 1]
    const double diff = (ours - theirs).abs().max().item<double>();
    std::cout << "[rm roundtrip] " << name << " precept-saved, transformers-loaded: max |diff| = " << diff << "\n";
    EXPECT_LT(diff, kFp32Tolerance) << name;

    lm::Transformer again = lm::load_pretrained(out);
    EXPECT_TRUE(torch::equal(classify_sequences(*again, same_width, 8), ours)) << name;
  }
}
