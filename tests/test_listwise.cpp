// Listwise judgment -> per-response values, against numbers worked out by hand.
#include "reward/listwise.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace precept::reward;
using precept::testing::error_of;

namespace {

Judgment judged(std::map<std::string, double> scores, std::vector<std::string> ranking, bool derived = false) {
  Judgment judgment;
  judgment.scores = std::move(scores);
  judgment.ranking = std::move(ranking);
  judgment.ranking_derived = derived;
  return judgment;
}

void expect_values(const ListwiseRewards& rewards, const std::vector<double>& expected) {
  ASSERT_EQ(rewards.values.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(rewards.values[i])) << i;
      EXPECT_TRUE(rewards.missing[i]) << i;
    } else {
      EXPECT_NEAR(rewards.values[i], expected[i], 1e-12) << i;
      EXPECT_FALSE(rewards.missing[i]) << i;
    }
  }
}

const double kNaN = std::nan("");
const std::vector<std::string> kAbcd = {"a", "b", "c", "d"};

}  // namespace

TEST(Listwise, ModeNames) {
  for (const char* name : {"score", "normalized", "rank", "score_rank_tiebreak"})
    EXPECT_EQ(listwise_mode_name(parse_listwise_mode(name)), name);
  const std::string error = error_of([] { parse_listwise_mode("normalised"); });
  EXPECT_NE(error.find("'normalised'"), std::string::npos) << error;
  EXPECT_NE(error.find("score, normalized, rank, score_rank_tiebreak"), std::string::npos) << error;
}

TEST(Listwise, ScoreAndNormalized) {
  const Judgment judgment = judged({{"a", 2}, {"b", 4}, {"c", 7}, {"x", 5}}, {"b", "a"});
  const ListwiseRewards score = listwise_rewards(judgment, kAbcd, ListwiseMode::kScore);
  expect_values(score, {2, 4, 7, kNaN});
  EXPECT_EQ(score.missing_count(), 1u);
  expect_values(listwise_rewards(judgment, kAbcd, ListwiseMode::kNormalized), {0.25, 0.75, 1.0, kNaN});
  expect_values(listwise_rewards(judged({{"a", 0}}, {}), {"a"}, ListwiseMode::kNormalized), {0.0});
}

TEST(Listwise, RankIsLinearOverTheRankedNames) {
  // "x" is not requested and does not take a place; "d" is not ranked.
  const Judgment judgment = judged({{"a", 2}, {"b", 4}, {"c", 4}}, {"c", "x", "b", "a", "c"});
  expect_values(listwise_rewards(judgment, kAbcd, ListwiseMode::kRank), {0.0, 0.5, 1.0, kNaN});
  expect_values(listwise_rewards(judged({}, {"a"}), {"a", "b"}, ListwiseMode::kRank), {0.5, kNaN});
}

TEST(Listwise, RankTiesShareTheMeanWhenDerivedFromScores) {
  const Judgment derived = judged({{"a", 4}, {"b", 4}, {"c", 2}, {"d", 1}}, {"a", "b", "c", "d"}, true);
  // places 1, 2/3, 1/3, 0; a and b tie: (1 + 2/3) / 2
  expect_values(listwise_rewards(derived, kAbcd, ListwiseMode::kRank), {5.0 / 6.0, 5.0 / 6.0, 1.0 / 3.0, 0.0});
  Judgment explicit_ranking = derived;
  explicit_ranking.ranking_derived = false;  // the judge ordered the tie itself
  expect_values(listwise_rewards(explicit_ranking, kAbcd, ListwiseMode::kRank), {1.0, 2.0 / 3.0, 1.0 / 3.0, 0.0});
}

TEST(Listwise, TiebreakSplitsEqualScoresByRank) {
  const Judgment all_fours = judged({{"a", 4}, {"b", 4}, {"c", 4}, {"d", 4}}, {"d", "c", "b", "a"});
  expect_values(listwise_rewards(all_fours, kAbcd, ListwiseMode::kScoreRankTiebreak),
                {4.0, 4.0 + 0.1 / 3, 4.0 + 0.2 / 3, 4.1});
  expect_values(listwise_rewards(all_fours, kAbcd, ListwiseMode::kScoreRankTiebreak, 0.3), {4.0, 4.1, 4.2, 4.3});

  // Only ties move; a lone score gets nothing; unranked members of a tie come last, in name order.
  const Judgment mixed = judged({{"a", 3}, {"b", 5}, {"c", 3}, {"d", 3}}, {"b", "d"});
  expect_values(listwise_rewards(mixed, kAbcd, ListwiseMode::kScoreRankTiebreak), {3.05, 5.0, 3.0, 3.1});
  expect_values(listwise_rewards(judged({{"a", 2}}, {}), {"a", "z"}, ListwiseMode::kScoreRankTiebreak), {2.0, kNaN});
}

TEST(Listwise, RejectsBadArguments) {
  const Judgment judgment = judged({{"a", 1}}, {"a"});
  EXPECT_NE(error_of([&] { listwise_rewards(judgment, {"a"}, ListwiseMode::kScoreRankTiebreak, 1.0); })
                .find("epsilon"),
            std::string::npos);
  EXPECT_NE(error_of([&] { listwise_rewards(judgment, {"a"}, ListwiseMode::kScore, -0.1); }).find("epsilon"),
            std::string::npos);
  EXPECT_NE(error_of([&] { listwise_rewards(judgment, {"a", "a"}, ListwiseMode::kScore); }).find("'a'"),
            std::string::npos);
}

TEST(Listwise, EmptyJudgmentIsAllMissing) {
  for (ListwiseMode mode : {ListwiseMode::kScore, ListwiseMode::kNormalized, ListwiseMode::kRank,
                            ListwiseMode::kScoreRankTiebreak}) {
    const ListwiseRewards rewards = listwise_rewards(Judgment{}, kAbcd, mode);
    EXPECT_EQ(rewards.missing_count(), 4u) << listwise_mode_name(mode);
  }
}
