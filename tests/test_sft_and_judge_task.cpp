// The SFT loop's data and the judge-training task's configuration: assistant spans from chat
// templates, the masked batch layout, the [task] and [reward] rules, the SFT recipe, and how a
// reward's metric sums become the step's means. The numbers against transformers are
// tests/check_sft.py; the learning runs are tests/check_judge_training.py.
#include "policy/sequences.h"
#include "test_util.h"
#include "text/chat_template.h"
#include "trainer/config.h"
#include "trainer/sft_data.h"
#include "trainer/step_metrics.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

namespace fs = std::filesystem;
using namespace precept;

namespace {

const fs::path kTemplates = fs::path(PRECEPT_SOURCE_DIR) / ".." / "shared" / "assets" / "chat-templates";

// ChatML as SmolLM2 writes it: every turn "<|im_start|>role\ncontent<|im_end|>\n".
text::ChatTemplate chatml() {
  return text::ChatTemplate::from_source(
      "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
      "", "<|im_end|>");
}

std::string expect_error(const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& error) {
    return error.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

fs::path recipe(const std::string& name, const std::string& text) {
  const fs::path dir = precept::testing::temp_dir("sft_judge_task");
  precept::testing::write_all(dir / name, text);
  return dir / name;
}

}  // namespace

TEST(SftData, AssistantPiecesAlternateContextAndReplies) {
  const std::vector<text::ChatMessage> chat = {{"system", "Be brief.", std::nullopt},
                                               {"user", "Hi", std::nullopt},
                                               {"assistant", "Hello.", std::nullopt},
                                               {"user", "Bye", std::nullopt},
                                               {"assistant", "Goodbye.", std::nullopt}};
  const auto pieces = trainer::assistant_pieces(chatml(), chat, false, "x:1");
  ASSERT_EQ(pieces.size(), 5u);
  EXPECT_EQ(pieces[0], "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(pieces[1], "Hello.<|im_end|>\n");
  EXPECT_EQ(pieces[2], "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(pieces[3], "Goodbye.<|im_end|>\n");
  EXPECT_EQ(pieces[4], "");
  std::string joined;
  for (const auto& piece : pieces) joined += piece;
  EXPECT_EQ(joined, chatml().render(chat, false));
}

TEST(SftData, RefusesChatsWithoutAReplyAndUnstableTemplates) {
  EXPECT_NE(expect_error([] {
              trainer::assistant_pieces(chatml(), {{"user", "Hi", std::nullopt}}, false, "f.jsonl:3");
            }).find("f.jsonl:3: the chat has no assistant turn"),
            std::string::npos);
  EXPECT_NE(expect_error([] {
              trainer::assistant_pieces(chatml(), {{"assistant", "Hi", std::nullopt}}, false, "f.jsonl:4");
            }).find("f.jsonl:4: the chat starts with an assistant turn"),
            std::string::npos);
  // Qwen3 drops the thinking of earlier replies once a later user turn follows.
  const auto qwen3 = text::ChatTemplate::from_source(precept::testing::read_all(kTemplates / "Qwen-Qwen3-0.6B.jinja"), "",
                                                     "<|im_end|>");
  const std::vector<text::ChatMessage> chat = {{"user", "Q1", std::nullopt},
                                               {"assistant", "A1", std::string("thinking 1")},
                                               {"user", "Q2", std::nullopt},
                                               {"assistant", "A2", std::string("thinking 2")}};
  EXPECT_NE(expect_error([&] { trainer::assistant_pieces(qwen3, chat, true, "f.jsonl:5"); })
                .find("f.jsonl:5: the chat template does not render turn 2 (assistant) as a continuation"),
            std::string::npos);
}

TEST(SftData, MaskedBatchPredictsEachTargetFromThePreviousPosition) {
  const std::vector<int64_t> a = {5, 6, 7, 8}, b = {9, 10};
  const std::vector<uint8_t> ta = {0, 0, 1, 1}, tb = {0, 1};
  const auto batch = policy::make_masked_batch({&a, &b}, {&ta, &tb}, c10::Device("cpu"));
  EXPECT_EQ(batch.tokens.sizes(), (std::vector<int64_t>{2, 4}));
  EXPECT_TRUE(batch.valid.defined());
  EXPECT_EQ(std::vector<int64_t>(batch.predictor.data_ptr<int64_t>(), batch.predictor.data_ptr<int64_t>() + 4),
            (std::vector<int64_t>{1, 2, 4, 0}));
  EXPECT_EQ(std::vector<int64_t>(batch.targets.data_ptr<int64_t>(), batch.targets.data_ptr<int64_t>() + 4),
            (std::vector<int64_t>{7, 8, 10, -1}));
  EXPECT_EQ(batch.mask.sum().item<int64_t>(), 3);
  const std::vector<uint8_t> first = {1, 0, 0, 0};
  EXPECT_NE(expect_error([&] { policy::make_masked_batch({&a}, {&first}, c10::Device("cpu")); }).find("first token"),
            std::string::npos);
  const std::vector<uint8_t> short_mask = {0, 1};
  EXPECT_NE(expect_error([&] { policy::make_masked_batch({&a}, {&short_mask}, c10::Device("cpu")); }).find("length"),
            std::string::npos);
}

TEST(SftConfig, DefaultsAndErrors) {
  const auto config = trainer::load_sft_config(
      recipe("sft.toml", "[policy]\nmodel = \"m\"\n[data]\ntrain = \"chats.jsonl\"\n").string());
  EXPECT_EQ(config.optim.lr, 2e-5);
  EXPECT_EQ(config.sft.batch_size, 8);
  EXPECT_EQ(config.sft.micro_batch_size, 4);
  EXPECT_EQ(config.data.field, "messages");
  EXPECT_EQ(config.data.max_length, 2048);
  EXPECT_NE(expect_error([] {
              trainer::load_sft_config(recipe("bad.toml", "[policy]\nmodel = \"m\"\n[data]\ntrain = \"c\"\n[sft]\nbatch = 4\n").string());
            }).find("batch"),
            std::string::npos);
  EXPECT_NE(expect_error([] {
              trainer::load_sft_config(
                  recipe("bad2.toml", "[policy]\nmodel = \"m\"\n[data]\ntrain = \"c\"\n[logging]\nsamples_every = 2\n").string());
            }).find("samples_every"),
            std::string::npos);
  EXPECT_NE(expect_error([] { trainer::load_sft_config(recipe("bad3.toml", "[policy]\nmodel = \"m\"\n").string()); })
                .find("train"),
            std::string::npos);
}

TEST(JudgeTaskConfig, JudgeTaskDefaultsToTheJudgeRewardAndPairsWithItOnly) {
  const std::string base = "[policy]\nmodel = \"m\"\n[data]\nprompts = \"cases.jsonl\"\n";
  const auto judge = trainer::load_run_config(recipe("j.toml", base + "[task]\nkind = \"judge\"\n").string());
  EXPECT_EQ(judge.task.kind, "judge");
  EXPECT_TRUE(judge.task.mask);
  EXPECT_EQ(judge.reward.type, "judge_grade");
  const std::string regex = "[reward]\ntype = \"regex\"\nmust_match = ['x']\n";
  EXPECT_NE(expect_error([&] {
              trainer::load_run_config(recipe("j2.toml", base + "[task]\nkind = \"judge\"\n" + regex).string());
            }).find("cannot train a judge"),
            std::string::npos);
  EXPECT_NE(expect_error([&] {
              trainer::load_run_config(recipe("j3.toml", base + "[reward]\ntype = \"judge_grade\"\n").string());
            }).find("needs [task] kind = \"judge\""),
            std::string::npos);
  EXPECT_NE(expect_error([&] {
              trainer::load_run_config(recipe("j4.toml", base + "[task]\nkind = \"critic\"\n" + regex).string());
            }).find("task.kind"),
            std::string::npos);
  EXPECT_NE(expect_error([&] {
              trainer::load_run_config(recipe("j5.toml", base + "[task]\nmask = false\n" + regex).string());
            }).find("only goes with kind = \"judge\""),
            std::string::npos);
}

TEST(JudgeTaskMetrics, RewardTermMeansUseResponsesOrTheirOwnCounts) {
  const auto means = trainer::reward_term_means(
      {{"format", 6.0}, {"pairwise_accuracy", 1.5}, {"pairwise_accuracy_count", 2.0}, {"responses", 8.0}, {"none", 0.0},
       {"none_count", 0.0}});
  EXPECT_DOUBLE_EQ(means.at("format"), 0.75);
  EXPECT_DOUBLE_EQ(means.at("pairwise_accuracy"), 0.75);
  EXPECT_TRUE(std::isnan(means.at("none")));
  EXPECT_FALSE(means.count("responses"));
  EXPECT_FALSE(means.count("pairwise_accuracy_count"));
}
