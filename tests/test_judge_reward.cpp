// The judge-training reward (reward/judge_reward.h) on hand-written judgments: the seven format
// terms for every output shape the parser knows, the accuracy terms against numbers worked out
// by hand (the pair penalties also by upstream's calculate_weighted_pair_penalty), config
// validation, think_terms = false, and JudgeTrainingReward's group scores. The randomised
// comparison with upstream and a numpy reference is tests/check_judge_reward.py.
#include "reward/judge_reward.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

using namespace precept::reward;
using precept::testing::error_of;

namespace {

const std::map<std::string, double> kGold = {{"a", 5}, {"b", 3}, {"c", 1}};
const std::map<std::string, std::string> kUnmasked;
// 69 characters: earns the think-length bonus (> 50). No quotes or braces, so that upstream's
// repair and brace fallback do not see it.
const std::string kLong = "The first response follows the principle closely and the others less.";
const std::string kJson = R"({"scores": {"a": 5, "b": 3, "c": 1}, "best-to-worst": ["a", "b", "c"]})";

std::string thought(const std::string& text) { return "<think>\n" + text + "\n</think>\n\n"; }

double term(const JudgeGrade& grade, const std::string& name) {
  for (const auto& [key, value] : grade.terms)
    if (key == name) return value;
  ADD_FAILURE() << "no term " << name;
  return std::nan("");
}

struct FormatCase {
  const char* what;
  std::string output;
  // think_tags, think_length, json, scores_key, ranking_key, coverage, consistency
  std::vector<double> format;
  bool valid;
};

std::vector<FormatCase> format_cases() {
  const double all = 0.2;  // coverage of every gold response
  return {
      {"perfect", thought(kLong) + kJson, {.15, .05, .20, .10, .10, all, .20}, true},
      {"short thought", thought("a is best.") + kJson, {.15, 0, .20, .10, .10, all, .20}, true},
      {"no think block", kJson, {0, 0, .20, .10, .10, all, .20}, true},
      {"only <think>: upstream's brace fallback", "<think>" + kLong + "\n" + kJson, {.05, 0, .15, .10, .10, all, .20}, true},
      {"only </think>", kLong + "</think>\n" + kJson, {.05, 0, .15, .10, .10, all, .20}, true},
      {"fenced JSON", thought(kLong) + "```json\n" + kJson + "\n```", {.15, .05, .20, .10, .10, all, .20}, true},
      {"plain fence", "```\n" + kJson + "\n```", {0, 0, .20, .10, .10, all, .20}, true},
      {"repaired single quotes", "{'scores': {'a': 5, 'b': 3, 'c': 1}, 'best-to-worst': ['a', 'b', 'c']}",
       {0, 0, .20, .10, .10, all, .20}, true},
      {"trailing commas", R"({"scores": {"a": 5, "b": 3, "c": 1,}, "best-to-worst": ["a", "b", "c",],})",
       {0, 0, .20, .10, .10, all, .20}, true},
      {"bare keys", R"({scores: {a: 5, b: 3, c: 1}, best-to-worst: ["a", "b", "c"]})", {0, 0, .20, .10, .10, all, .20}, true},
      {"brace fallback", "Here is my verdict: " + kJson + " Hope this helps.", {0, 0, .15, .10, .10, all, .20}, true},
      {"best-to-worse typo", R"({"scores": {"a": 5, "b": 3, "c": 1}, "best-to-worse": ["a", "b", "c"]})",
       {0, 0, .20, .10, .10, all, .20}, true},
      {"scores as strings: no consistency", R"({"scores": {"a": "5", "b": "3", "c": "1"}, "best-to-worst": ["a", "b", "c"]})",
       {0, 0, .20, .10, .10, all, 0}, true},
      {"float scores", R"({"scores": {"a": 4.5, "b": 2.5, "c": 1.0}, "best-to-worst": ["a", "b", "c"]})",
       {0, 0, .20, .10, .10, all, .20}, true},
      {"missing scores key", R"({"best-to-worst": ["a", "b", "c"]})", {0, 0, .20, 0, .10, 0, 0}, false},
      {"missing ranking", R"({"scores": {"a": 5, "b": 3, "c": 1}})", {0, 0, .20, .10, 0, all, 0}, true},
      {"unknown names", R"({"scores": {"x": 5, "y": 3, "z": 1}, "best-to-worst": ["x", "y", "z"]})",
       {0, 0, .20, .10, .10, 0, .20}, false},
      {"two of three scored", R"({"scores": {"a": 5, "b": 3}, "best-to-worst": ["a", "b"]})",
       {0, 0, .20, .10, .10, all * 2 / 3, .20}, false},
      {"inverted ranking", R"({"scores": {"a": 5, "b": 3, "c": 1}, "best-to-worst": ["c", "b", "a"]})",
       {0, 0, .20, .10, .10, all, 0}, true},
      {"one adjacent pair inverted", R"({"scores": {"a": 5, "b": 3, "c": 1}, "best-to-worst": ["a", "c", "b"]})",
       {0, 0, .20, .10, .10, all, .10}, true},
      {"ranking names one of three", R"({"scores": {"a": 5, "b": 3, "c": 1}, "best-to-worst": ["a"]})",
       {0, 0, .20, .10, .10, all, 0}, true},
      {"tied scores in either order", R"({"scores": {"a": 4, "b": 4, "c": 1}, "best-to-worst": ["b", "a", "c"]})",
       {0, 0, .20, .10, .10, all, .20}, true},
      {"duplicate in ranking", R"({"scores": {"a": 5, "b": 3, "c": 1}, "best-to-worst": ["a", "a", "b", "c"]})",
       {0, 0, .20, .10, .10, all, .20}, true},
      {"scores a list", R"({"scores": [5, 3, 1], "best-to-worst": ["a", "b", "c"]})", {0, 0, .20, .10, .10, 0, 0}, false},
      {"boolean score", R"({"scores": {"a": true, "b": 3, "c": 1}, "best-to-worst": ["a", "b", "c"]})",
       {0, 0, .20, .10, .10, all, .20}, false},
      {"cut off: scores salvaged by precept", thought(kLong) + R"({"scores": {"a": 5, "b": 3, "c": 1}, "best-to-worst": ["a", "b")",
       {.15, .05, 0, 0, 0, 0, 0}, true},
      {"cut off while thinking", "<think>\nThe first response", {.05, 0, 0, 0, 0, 0, 0}, false},
      {"two objects: only precept's search reads it", kJson + " or maybe {not this}", {0, 0, 0, 0, 0, 0, 0}, true},
      {"no JSON", thought(kLong) + "I think a is best.", {.15, .05, 0, 0, 0, 0, 0}, false},
      {"a JSON list", "[1, 2, 3]", {0, 0, .20, 0, 0, 0, 0}, false},
      {"an empty object", "{}", {0, 0, 0, 0, 0, 0, 0}, false},
      {"empty output", "", {0, 0, 0, 0, 0, 0, 0}, false},
      {"thought of exactly 50 characters", thought(std::string(50, 'x')) + kJson, {.15, 0, .20, .10, .10, all, .20}, true},
      {"thought of 51 characters", thought(std::string(51, 'x')) + kJson, {.15, .05, .20, .10, .10, all, .20}, true},
      {"26 two-byte characters are 26, not 52", thought([] { std::string s; for (int i = 0; i < 26; ++i) s += "\xC3\xA9"; return s; }()) + kJson,
       {.15, 0, .20, .10, .10, all, .20}, true},
      {"the first think block is the thought", "<think>short</think><think>" + kLong + "</think>" + kJson,
       {.15, 0, .20, .10, .10, all, .20}, true},
      {"</think> before <think>", "</think> " + kLong + " <think> " + kJson, {.15, 0, .15, .10, .10, all, .20}, true},
  };
}

TEST(JudgeReward, FormatTermsOfEveryOutputShape) {
  const JudgeRewardConfig config;
  const std::vector<std::string> names = judge_reward_term_names(config);
  int checked = 0;
  for (const FormatCase& c : format_cases()) {
    const JudgeGrade grade = grade_judgment(c.output, kGold, kUnmasked, config);
    ASSERT_EQ(grade.terms.size(), names.size()) << c.what;
    double sum = 0;
    for (size_t t = 0; t < c.format.size(); ++t) {
      EXPECT_EQ(grade.terms[t].first, names[t]);
      EXPECT_NEAR(grade.terms[t].second, c.format[t], 1e-12) << c.what << ": " << names[t];
      sum += c.format[t];
    }
    EXPECT_NEAR(grade.format, std::min(1.0, sum), 1e-12) << c.what;
    EXPECT_EQ(grade.valid, c.valid) << c.what;
    EXPECT_EQ(std::isnan(grade.pairwise_accuracy), !c.valid) << c.what;
    EXPECT_NEAR(grade.reward, 0.15 * grade.format + 0.85 * grade.accuracy, 1e-12) << c.what;
    ++checked;
  }
  EXPECT_GE(checked, 30);
}

TEST(JudgeReward, TermNamesAreFixed) {
  const std::vector<std::string> expected = {
      "format_think_tags", "format_think_length", "format_json",   "format_scores_key",
      "format_ranking_key", "format_coverage",    "format_consistency", "pair_penalty",
      "distribution",       "partial_credit",     "ranking_agreement"};
  JudgeRewardConfig no_think;
  no_think.think_terms = false;
  EXPECT_EQ(judge_reward_term_names(JudgeRewardConfig{}), expected);
  EXPECT_EQ(judge_reward_term_names(no_think), expected);
  const auto json = grade_judgment("", kGold, kUnmasked, no_think).to_json();
  EXPECT_EQ(json.size(), 5u);
  EXPECT_EQ(json["terms"].size(), expected.size());
  EXPECT_EQ(json.begin().key(), "format");
  EXPECT_FALSE(json["valid"].get<bool>());
}

TEST(JudgeReward, PerfectJudgmentEarnsOne) {
  const JudgeGrade grade = grade_judgment(thought(kLong) + kJson, kGold, kUnmasked, JudgeRewardConfig{});
  EXPECT_NEAR(grade.format, 1.0, 1e-12);
  EXPECT_NEAR(grade.accuracy, 1.0, 1e-12);
  EXPECT_NEAR(grade.reward, 1.0, 1e-12);
  EXPECT_EQ(grade.pairwise_accuracy, 1.0);
  for (const char* name : {"pair_penalty", "distribution", "partial_credit", "ranking_agreement"})
    EXPECT_NEAR(term(grade, name), 1.0, 1e-12) << name;
}

TEST(JudgeReward, AccuracyTermsByHand) {
  const JudgeRewardConfig config;
  // Reversed: every pair reversed (upstream: 0); mean and spread equal; only b exact; tau -1, top-1 wrong.
  const JudgeGrade reversed = grade_judgment(R"({"scores": {"a": 1, "b": 3, "c": 5}})", kGold, kUnmasked, config);
  EXPECT_NEAR(term(reversed, "pair_penalty"), 0.0, 1e-12);
  EXPECT_NEAR(term(reversed, "distribution"), 1.0, 1e-12);
  EXPECT_NEAR(term(reversed, "partial_credit"), 1.0 / 3, 1e-12);
  EXPECT_NEAR(term(reversed, "ranking_agreement"), 0.0, 1e-12);
  EXPECT_NEAR(reversed.accuracy, (0.1 * 1.0 + 0.2 / 3) / 1.0, 1e-12);
  EXPECT_EQ(reversed.pairwise_accuracy, 0.0);

  // All tied: upstream 0.5; spread 0 vs sqrt(8/3); tau undefined (0.5), top-1 Jaccard {a} vs {a,b,c}.
  const JudgeGrade tied = grade_judgment(R"({"scores": {"a": 3, "b": 3, "c": 3}})", kGold, kUnmasked, config);
  EXPECT_NEAR(term(tied, "pair_penalty"), 0.5, 1e-12);
  EXPECT_NEAR(term(tied, "distribution"), (1.0 + (1.0 - std::sqrt(8.0 / 3) / 2)) / 2, 1e-12);
  EXPECT_NEAR(term(tied, "distribution"), 0.591751709536137, 1e-12);
  EXPECT_NEAR(term(tied, "partial_credit"), 1.0 / 3, 1e-12);
  EXPECT_NEAR(term(tied, "ranking_agreement"), 0.5 * 0.5 + 0.5 / 3, 1e-12);
  EXPECT_EQ(tied.pairwise_accuracy, 0.5);

  // One pair reversed: upstream 1 - 3/11 = 0.7272...; tau-b (1 - 1 + 1... ) = 1/3; best right.
  const JudgeGrade close = grade_judgment(R"({"scores": {"a": 4.5, "b": 1, "c": 2}})", kGold, kUnmasked, config);
  EXPECT_NEAR(term(close, "pair_penalty"), 0.7272727272727273, 1e-12);
  EXPECT_NEAR(term(close, "partial_credit"), (0.75 + 0.0 + 0.5) / 3, 1e-12);
  EXPECT_NEAR(term(close, "ranking_agreement"), 0.5 * (1.0 / 3 + 1) / 2 + 0.5, 1e-12);
  EXPECT_NEAR(close.pairwise_accuracy, 2.0 / 3, 1e-12);

  // One predicted tie where gold differs: upstream 1 - (4 / 2) / 11 = 0.8636...
  EXPECT_NEAR(weighted_pair_penalty({{"a", 5}, {"b", 5}, {"c", 1}}, kGold), 0.8636363636363636, 1e-12);
  // Fewer than two shared names: upstream's 1, whatever the score.
  EXPECT_EQ(weighted_pair_penalty({{"a", 1}, {"x", 5}}, kGold), 1.0);
  EXPECT_EQ(weighted_pair_penalty({}, kGold), 1.0);
  // A tie in the gold costs nothing.
  EXPECT_EQ(weighted_pair_penalty({{"a", 1}, {"b", 5}}, {{"a", 3}, {"b", 3}}), 1.0);
  // top-k with k = 2: gold {a, b}; predicted {a, c} -> 1 / 3; k beyond the list is capped.
  EXPECT_NEAR(top_k_agreement({{"a", 5}, {"b", 1}, {"c", 4}}, kGold, 2), 1.0 / 3, 1e-12);
  EXPECT_NEAR(top_k_agreement({{"a", 5}, {"b", 1}, {"c", 4}}, kGold, 10), 1.0, 1e-12);
  // Constant gold: no order to break.
  EXPECT_NEAR(ranking_agreement({{"a", 5}, {"b", 1}}, {{"a", 2}, {"b", 2}}, 1, 0.0), 1.0, 1e-12);
}

TEST(JudgeReward, UnparseableJudgmentHasNoAccuracy) {
  for (const std::string output : {"", "no idea", "<think>\nlet me see", R"({"scores": {"x": 5}})"}) {
    const JudgeGrade grade = grade_judgment(output, kGold, kUnmasked, JudgeRewardConfig{});
    EXPECT_FALSE(grade.valid) << output;
    EXPECT_EQ(grade.accuracy, 0.0) << output;
    for (const char* name : {"pair_penalty", "distribution", "partial_credit", "ranking_agreement"})
      EXPECT_EQ(term(grade, name), 0.0) << output << ": " << name;
    EXPECT_NEAR(grade.reward, 0.15 * grade.format, 1e-12) << output;
  }
  // Invalid UTF-8 does not throw.
  EXPECT_NO_THROW(grade_judgment("\xff\xfe{\"scores\": {\"a\": 5}}", kGold, kUnmasked, JudgeRewardConfig{}));
}

TEST(JudgeReward, MaskedNamesAreMappedBack) {
  const std::map<std::string, std::string> masked2real = {{"model-1", "c"}, {"model-2", "a"}, {"model-3", "b"}};
  const std::string output =
      thought(kLong) +
      R"({"scores": {"model-1": 1, "model-2": 5, "model-3": 3}, "best-to-worst": ["model-2", "model-3", "model-1"]})";
  const JudgeGrade grade = grade_judgment(output, kGold, masked2real, JudgeRewardConfig{});
  EXPECT_TRUE(grade.valid);
  EXPECT_NEAR(grade.reward, 1.0, 1e-12);
  EXPECT_NEAR(term(grade, "format_coverage"), 0.2, 1e-12);
  // Unmasked, the same output covers nothing and scores no gold response.
  const JudgeGrade unmapped = grade_judgment(output, kGold, kUnmasked, JudgeRewardConfig{});
  EXPECT_FALSE(unmapped.valid);
  EXPECT_EQ(term(unmapped, "format_coverage"), 0.0);
  EXPECT_EQ(unmapped.accuracy, 0.0);
}

TEST(JudgeReward, WithoutThinkTermsPerfectStillEarnsOne) {
  JudgeRewardConfig config;
  config.think_terms = false;
  for (const std::string& output : {kJson, thought(kLong) + kJson}) {
    const JudgeGrade grade = grade_judgment(output, kGold, kUnmasked, config);
    EXPECT_NEAR(grade.format, 1.0, 1e-12) << output;
    EXPECT_EQ(term(grade, "format_think_tags"), 0.0);
    EXPECT_EQ(term(grade, "format_think_length"), 0.0);
    EXPECT_NEAR(term(grade, "format_json"), 0.25, 1e-12);
    EXPECT_NEAR(term(grade, "format_scores_key"), 0.125, 1e-12);
    EXPECT_NEAR(term(grade, "format_coverage"), 0.25, 1e-12);
  }
  // Each contribution is upstream's divided by 0.8.
  const JudgeGrade partial = grade_judgment(R"({"best-to-worst": ["a"]})", kGold, kUnmasked, config);
  EXPECT_NEAR(partial.format, (0.20 + 0.10) / 0.8, 1e-12);
}

TEST(JudgeReward, WeightsAreConfigurable) {
  JudgeRewardConfig config;
  config.format_weight = 1.0;
  config.accuracy_weight = 0.0;
  const JudgeGrade format_only = grade_judgment(kJson, kGold, kUnmasked, config);
  EXPECT_NEAR(format_only.reward, 0.8, 1e-12);
  config = JudgeRewardConfig{};
  config.pair_penalty = 1.0;
  config.distribution = config.partial_credit = config.ranking_agreement = 0.0;
  const JudgeGrade penalty_only = grade_judgment(R"({"scores": {"a": 4.5, "b": 1, "c": 2}})", kGold, kUnmasked, config);
  EXPECT_NEAR(penalty_only.accuracy, 0.7272727272727273, 1e-12);
}

// docs/judge-reward.md states every default; JudgeRewardConfig holds the only copy.
TEST(JudgeReward, DocsStateTheConfigDefaults) {
  const std::string doc =
      precept::testing::read_all(std::filesystem::path(PRECEPT_SOURCE_DIR) / "docs" / "judge-reward.md");
  const JudgeRewardConfig config;
  auto number = [](double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return std::string(text);
  };
  const std::pair<const char*, double> defaults[] = {
      {"pair_penalty", config.pair_penalty},     {"distribution", config.distribution},
      {"partial_credit", config.partial_credit}, {"ranking_agreement", config.ranking_agreement},
      {"top_k", static_cast<double>(config.top_k)}, {"top_k_share", config.top_k_share},
      {"score_range", config.score_range},       {"partial_credit_distance", config.partial_credit_distance}};
  for (const auto& [field, value] : defaults) {
    const std::string stated = "`" + std::string(field) + "` " + number(value);
    EXPECT_NE(doc.find(stated), std::string::npos) << "docs/judge-reward.md should say " << stated;
  }
  EXPECT_NE(doc.find("defaults " + number(config.format_weight) + " and " + number(config.accuracy_weight)),
            std::string::npos);
}

TEST(JudgeReward, ConfigValidationNamesTheField) {
  auto error_with = [](auto change) {
    JudgeRewardConfig config;
    change(config);
    return error_of([&] { config.validate(); });
  };
  EXPECT_EQ(error_with([](JudgeRewardConfig&) {}), "");
  EXPECT_NE(error_with([](JudgeRewardConfig& c) { c.pair_penalty = -0.1; }).find("pair_penalty"), std::string::npos);
  EXPECT_NE(error_with([](JudgeRewardConfig& c) { c.format_weight = -1; }).find("format_weight"), std::string::npos);
  EXPECT_NE(error_with([](JudgeRewardConfig& c) { c.accuracy_weight = std::nan(""); }).find("accuracy_weight"),
            std::string::npos);
  EXPECT_NE(error_with([](JudgeRewardConfig& c) {
              c.pair_penalty = c.distribution = c.partial_credit = c.ranking_agreement = 0;
            }).find("must not all be 0"),
            std::string::npos);
  EXPECT_NE(error_with([](JudgeRewardConfig& c) { c.format_weight = c.accuracy_weight = 0; }).find("format_weight"),
            std::string::npos);
  EXPECT_NE(error_with([](JudgeRewardConfig& c) { c.top_k = 0; }).find("top_k"), std::string::npos);
  EXPECT_NE(error_with([](JudgeRewardConfig& c) { c.top_k_share = 1.5; }).find("top_k_share"), std::string::npos);
  EXPECT_NE(error_with([](JudgeRewardConfig& c) { c.score_range = 0; }).find("score_range"), std::string::npos);
  EXPECT_NE(error_with([](JudgeRewardConfig& c) { c.partial_credit_distance = -2; }).find("partial_credit_distance"),
            std::string::npos);
  JudgeRewardConfig bad;
  bad.top_k = 0;
  EXPECT_NE(error_of([&] { grade_judgment(kJson, kGold, kUnmasked, bad); }).find("top_k"), std::string::npos);
  EXPECT_NE(error_of([&] { JudgeTrainingReward reward(bad); }).find("top_k"), std::string::npos);
  EXPECT_NE(error_of([&] { grade_judgment(kJson, {}, kUnmasked, JudgeRewardConfig{}); }).find("gold_scores"),
            std::string::npos);
}

Group judge_group(std::vector<std::string> responses) {
  Group group;
  group.prompt = "(the judge prompt)";
  group.responses = std::move(responses);
  group.record = {{"ground_truth", {{"scores", {{"a", 5}, {"b", 3}, {"c", 1}}}, {"best-to-worst", {"a", "b", "c"}}}},
                  {"masked2real", {{"model-1", "c"}, {"model-2", "a"}, {"model-3", "b"}}}};
  return group;
}

TEST(JudgeReward, TrainingRewardScoresAGroupWithMaskedNames) {
  const std::string perfect =
      thought(kLong) +
      R"({"scores": {"model-1": 1, "model-2": 5, "model-3": 3}, "best-to-worst": ["model-2", "model-3", "model-1"]})";
  const std::string reversed = R"({"scores": {"model-1": 5, "model-2": 1, "model-3": 3}})";
  const std::string broken = "<think>\nI was cut off";
  JudgeTrainingReward reward(JudgeRewardConfig{});
  const Group group = judge_group({perfect, reversed, broken});
  const GroupScores scores = reward.score(group);
  ASSERT_EQ(scores.rewards.size(), 3u);
  EXPECT_EQ(scores.valid, std::vector<bool>({true, true, true}));  // a parse failure is rewarded, not a fallback
  EXPECT_EQ(scores.failures, 0);
  EXPECT_EQ(scores.explanations, std::vector<std::string>(3, ""));
  const std::map<std::string, std::string> masked2real = {{"model-1", "c"}, {"model-2", "a"}, {"model-3", "b"}};
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(scores.rewards[i], grade_judgment(group.responses[i], kGold, masked2real, JudgeRewardConfig{}).reward);
  EXPECT_NEAR(scores.rewards[0], 1.0, 1e-12);
  EXPECT_LT(scores.rewards[1], scores.rewards[0]);
  EXPECT_NEAR(scores.rewards[2], 0.15 * 0.05, 1e-12);

  EXPECT_EQ(scores.metric_sums.at("parse_failure"), 1.0);
  EXPECT_EQ(scores.metric_sums.at("pairwise_accuracy_count"), 2.0);
  EXPECT_NEAR(scores.metric_sums.at("pairwise_accuracy"), 1.0 + 0.0, 1e-12);
  EXPECT_NEAR(scores.metric_sums.at("format_think_tags"), 0.15 + 0.05, 1e-12);
  EXPECT_NEAR(scores.metric_sums.at("pair_penalty"), 1.0 + 0.0 + 0.0, 1e-12);

  // The same keys for every group, whatever its judgments.
  std::set<std::string> keys, failed_keys;
  for (const auto& [key, value] : scores.metric_sums) keys.insert(key);
  const GroupScores failed = reward.score(judge_group({"", "nothing"}));
  for (const auto& [key, value] : failed.metric_sums) failed_keys.insert(key);
  EXPECT_EQ(keys, failed_keys);
  EXPECT_EQ(keys.size(), 11u + 5u);
  for (const char* key : {"format", "accuracy", "parse_failure", "pairwise_accuracy", "pairwise_accuracy_count"})
    EXPECT_EQ(keys.count(key), 1u) << key;
  EXPECT_EQ(failed.metric_sums.at("pairwise_accuracy_count"), 0.0);
  EXPECT_EQ(failed.metric_sums.at("parse_failure"), 2.0);

  // Without masked2real the names are taken as written.
  Group unmasked = judge_group({kJson});
  unmasked.record.erase("masked2real");
  EXPECT_NEAR(reward.score(unmasked).rewards[0], 0.15 * 0.8 + 0.85, 1e-12);
}

TEST(JudgeReward, TrainingRewardRejectsABadRecord) {
  JudgeTrainingReward reward(JudgeRewardConfig{});
  Group group = judge_group({kJson});
  group.record.erase("ground_truth");
  EXPECT_NE(error_of([&] { reward.score(group); }).find("ground_truth"), std::string::npos);
  group.record["ground_truth"] = {{"best-to-worst", {"a"}}};
  EXPECT_NE(error_of([&] { reward.score(group); }).find("ground_truth.scores"), std::string::npos);
  group.record["ground_truth"] = {{"scores", {{"a", "five"}}}};
  EXPECT_NE(error_of([&] { reward.score(group); }).find("ground_truth.scores.a"), std::string::npos);
  group = judge_group({kJson});
  group.record["masked2real"] = {{"model-1", 3}};
  EXPECT_NE(error_of([&] { reward.score(group); }).find("masked2real.model-1"), std::string::npos);
  EXPECT_NE(error_of([&] { reward.score(judge_group({})); }), "");
}

}  // namespace
