// CompositeReward (reward/composite.h): weighted sums of real rule rewards and of a scripted
// reward that records how it was called, so that batching (one score_batch per component),
// validity, failure counts and nested diagnostics are checked.
#include "reward/composite.h"
#include "reward/rule_rewards.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace precept::reward;
using precept::testing::error_of;
using json = nlohmann::json;

namespace {

// Rewards response i with values[i % size], marks the responses in `invalid` invalid, and
// counts its calls. Stands in for a judge: it reports failures, retries and explanations.
class ScriptedReward : public Reward {
 public:
  ScriptedReward(std::string name, std::vector<double> values, std::vector<size_t> invalid = {})
      : name_(std::move(name)), values_(std::move(values)), invalid_(std::move(invalid)) {}
  std::string name() const override { return name_; }
  GroupScores score(const Group& group) override {
    ++score_calls;
    return scores_of(group);
  }
  std::vector<GroupScores> score_batch(const std::vector<Group>& groups) override {
    ++batch_calls;
    groups_per_batch.push_back(groups.size());
    std::vector<GroupScores> out;
    for (const auto& group : groups) out.push_back(scores_of(group));
    return out;
  }
  int score_calls = 0, batch_calls = 0;
  std::vector<size_t> groups_per_batch;
  bool wrong_count = false;

 private:
  GroupScores scores_of(const Group& group) const {
    GroupScores scores;
    const size_t count = wrong_count ? group.responses.size() + 1 : group.responses.size();
    for (size_t i = 0; i < count; ++i) {
      scores.rewards.push_back(values_[i % values_.size()]);
      const bool bad = std::find(invalid_.begin(), invalid_.end(), i) != invalid_.end();
      scores.valid.push_back(!bad);
      scores.explanations.push_back(bad ? "" : "why " + std::to_string(i));
      scores.failures += bad;
    }
    scores.retries = 2;
    scores.diagnostics["raw"] = name_ + " output";
    return scores;
  }
  std::string name_;
  std::vector<double> values_;
  std::vector<size_t> invalid_;
};

Group group_of(std::vector<std::string> responses, json record = json::object()) {
  Group group;
  group.prompt = "How many legs do 3 spiders have?";
  group.responses = std::move(responses);
  group.record = std::move(record);
  return group;
}

}  // namespace

TEST(CompositeReward, WeightedSumOfRuleRewardsAndAJudgeStandIn) {
  auto judge = std::make_shared<ScriptedReward>("judge", std::vector<double>{0.9, 0.2, 0.5}, std::vector<size_t>{1});
  MatchRewardConfig answer;
  LengthRewardConfig length;
  length.min = 1;
  length.max = 6;  // words
  CompositeReward composite({{judge, 1.0, ""},
                             {std::make_shared<MatchReward>(answer), 0.5, "correct"},
                             {std::make_shared<LengthReward>(length), -0.25, ""}});
  EXPECT_EQ(composite.name(), "composite");
  const Group group = group_of({"3 x 8 = \\boxed{24}", "24", "Spiders have eight legs, so three have 24 legs in total."},
                               {{"answer", "#### 24"}});
  GroupScores scores = composite.score(group);
  // length words: 5, 1, 11 -> 1, 1, 1 - 5/6
  const std::vector<double> length_rewards = {1.0, 1.0, 1.0 - 5.0 / 6.0};
  const std::vector<double> judge_rewards = {0.9, 0.2, 0.5};
  ASSERT_EQ(scores.rewards.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(scores.rewards[i], 1.0 * judge_rewards[i] + 0.5 * 1.0 - 0.25 * length_rewards[i]) << i;
  }
  EXPECT_EQ(scores.valid, (std::vector<bool>{true, false, true}));  // the judge failed on response 1
  EXPECT_EQ(scores.failures, 1);
  EXPECT_EQ(scores.retries, 2);
  EXPECT_EQ(judge->score_calls, 1);

  // Diagnostics nested by component name, with each part's own numbers.
  ASSERT_TRUE(scores.diagnostics.contains("judge"));
  ASSERT_TRUE(scores.diagnostics.contains("correct"));
  ASSERT_TRUE(scores.diagnostics.contains("length"));
  EXPECT_EQ(scores.diagnostics["judge"]["diagnostics"]["raw"], "judge output");
  EXPECT_EQ(scores.diagnostics["judge"]["valid"], json({true, false, true}));
  EXPECT_DOUBLE_EQ(scores.diagnostics["correct"]["weight"].get<double>(), 0.5);
  EXPECT_EQ(scores.diagnostics["correct"]["rewards"], json({1.0, 1.0, 1.0}));
  EXPECT_EQ(scores.diagnostics["correct"]["diagnostics"]["extracted"], json({"24", "24", "24"}));
  EXPECT_EQ(scores.diagnostics["length"]["diagnostics"]["lengths"], json({5, 1, 11}));
  // Explanations: only the judge gives any; the invalid response has none.
  EXPECT_EQ(scores.explanations, (std::vector<std::string>{"judge: why 0", "", "judge: why 2"}));
}

TEST(CompositeReward, ScoreBatchCallsEachComponentOnceWithAllGroups) {
  auto first = std::make_shared<ScriptedReward>("first", std::vector<double>{1.0, 2.0});
  auto second = std::make_shared<ScriptedReward>("second", std::vector<double>{10.0}, std::vector<size_t>{0});
  CompositeReward composite({{first, 2.0, ""}, {second, 0.1, ""}}, "mix");
  std::vector<Group> groups = {group_of({"a", "b"}), group_of({"c"}), group_of({"d", "e", "f"})};
  std::vector<GroupScores> results = composite.score_batch(groups);
  EXPECT_EQ(first->batch_calls, 1);
  EXPECT_EQ(second->batch_calls, 1);
  EXPECT_EQ(first->score_calls, 0);
  EXPECT_EQ(second->score_calls, 0);
  EXPECT_EQ(first->groups_per_batch, std::vector<size_t>{3});
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].rewards, (std::vector<double>{2.0 * 1.0 + 1.0, 2.0 * 2.0 + 1.0}));
  EXPECT_EQ(results[1].rewards, (std::vector<double>{3.0}));
  EXPECT_EQ(results[2].rewards, (std::vector<double>{3.0, 5.0, 3.0}));
  for (const auto& result : results) {
    EXPECT_FALSE(result.valid[0]);  // `second` fails on response 0 of every group
    EXPECT_EQ(result.failures, 1);
    EXPECT_EQ(result.retries, 4);  // 2 + 2
  }
  EXPECT_TRUE(results[2].valid[1]);

  // A composite inside a composite still batches once per leaf.
  auto inner = std::make_shared<CompositeReward>(std::vector<WeightedReward>{{first, 1.0, ""}}, "inner");
  CompositeReward outer({{inner, 1.0, ""}, {second, 1.0, ""}}, "outer");
  outer.score_batch(groups);
  EXPECT_EQ(first->batch_calls, 2);
  EXPECT_EQ(second->batch_calls, 2);
  EXPECT_TRUE(outer.score(groups[0]).diagnostics["inner"]["diagnostics"].contains("first"));
}

TEST(CompositeReward, MisuseIsAnError) {
  auto judge = std::make_shared<ScriptedReward>("judge", std::vector<double>{1.0});
  EXPECT_NE(error_of([] { CompositeReward({}); }).find("no component rewards"), std::string::npos);
  EXPECT_NE(error_of([&] { CompositeReward({{judge, 1.0, ""}, {judge, 2.0, ""}}); }).find("two components are named 'judge'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { CompositeReward({{nullptr, 1.0, "x"}}); }).find("component 0 has no reward"), std::string::npos);
  EXPECT_NE(error_of([&] { CompositeReward({{judge, std::nan(""), ""}}); }).find("not finite"), std::string::npos);

  CompositeReward composite({{judge, 1.0, ""}});
  EXPECT_NE(error_of([&] { composite.score(group_of({})); }).find("at least one response"), std::string::npos);
  judge->wrong_count = true;
  const std::string message = error_of([&] { composite.score(group_of({"a", "b"})); });
  EXPECT_NE(message.find("component 'judge' returned 3 rewards and 3 validity flags for 2 responses"), std::string::npos)
      << message;
}
