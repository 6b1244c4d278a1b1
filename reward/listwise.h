// From one listwise judgment to one number per response: the conversions a GRPO group needs
// (raw score, normalised score, rank, score with a rank tie-break). Small free functions, no
// state; not the parsing (reward/judge_parser.h) and not advantages (the trainer's).
// Used by the RewardAnything judge when it fills a group's rewards.
#pragma once

#include "reward/judge_parser.h"

#include <string>
#include <string_view>
#include <vector>

namespace precept::reward {

enum class ListwiseMode {
  kScore,              // "score": the judge's score as given (1..5)
  kNormalized,         // "normalized": (score - 1) / 4, clamped into [0, 1]
  kRank,               // "rank": best 1 .. worst 0, linear in the position in the ranking
  kScoreRankTiebreak,  // "score_rank_tiebreak": score + a bonus below epsilon inside equal scores
};

// "score", "normalized", "rank", "score_rank_tiebreak"; throws std::invalid_argument naming the
// valid ones for anything else.
ListwiseMode parse_listwise_mode(std::string_view name);
std::string listwise_mode_name(ListwiseMode mode);

// The default tie-break epsilon: the largest bonus, given to the best of a group of equal scores.
// Bonuses lie in [0, epsilon], so with epsilon < 1 no bonus reorders two different integer
// scores; it only splits ties, so that a group the judge scored 4, 4, 4, 4 but ranked still gets
// a non-zero spread (after GRPO's standardisation a tie-broken group gets advantages of ordinary
// size: the epsilon's size matters only relative to real score gaps).
inline constexpr double kDefaultTiebreakEpsilon = 0.1;

struct ListwiseRewards {
  std::vector<double> values;  // one per requested name; NaN where missing
  std::vector<bool> missing;   // the judgment gives this name no value (no score, or not ranked)
  size_t missing_count() const;
};

// One value per name in `names` (the caller's names, in the caller's order):
//  - kScore: judgment.scores[name]; missing without a score.
//  - kNormalized: (score - 1) / 4 clamped into [0, 1]; missing without a score.
//  - kRank: from judgment.ranking (the judge's, or the one derived from scores). Only the
//    requested names count, at their first place in the ranking; with m of them ranked, the
//    i-th best (0-based) gets 1 - i / (m - 1), a single one 0.5. Where the ranking was derived
//    from scores (Judgment::ranking_derived), names with equal scores form a tie and share the
//    mean of their values. Names not in the ranking are missing.
//  - kScoreRankTiebreak: score + bonus. Names with exactly equal scores form a tie group of
//    size t, ordered by their place in judgment.ranking (unranked ones last, in `names`
//    order); the j-th of them (0-based, best first) gets epsilon * (t - 1 - j) / (t - 1); a score
//    shared by no other name gets no bonus. Missing without a score.
// Throws std::invalid_argument when epsilon is negative or not below 1.
ListwiseRewards listwise_rewards(const Judgment& judgment, const std::vector<std::string>& names, ListwiseMode mode,
                                 double tiebreak_epsilon = kDefaultTiebreakEpsilon);

}  // namespace precept::reward
