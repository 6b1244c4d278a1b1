// Rank metrics of one list of predicted scores against gold scores: pairwise accuracy, Kendall's
// tau-b, NDCG and the variance of the predicted scores, as small free functions over plain
// vectors, each equal to its reference (scipy.stats.kendalltau, sklearn.metrics.ndcg_score,
// numpy.var) to 1e-9 (tests/check_eval_judge.py). Exact definitions: docs/eval.md. Used by the
// judge evaluation (eval/judge_eval.h) and the judge-training reward (reward/judge_reward.h);
// not the aggregation over cases or the report. No torch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace precept::reward {

// Kendall's tau-b of two equally long lists, as scipy.stats.kendalltau(x, y) computes it by
// default (variant 'b'): (C - D) / sqrt(C + D + T_x) / sqrt(C + D + T_y) over the n(n-1)/2
// pairs, where C and D count concordant and discordant pairs, T_x pairs tied in x only and T_y
// pairs tied in y only (pairs tied in both count in neither), clipped into [-1, 1]. NaN when it
// is undefined: fewer than 2 items, or every pair tied in x, or every pair tied in y (a
// constant list). O(n^2), which is right for lists of a few dozen responses.
double kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y);

// sklearn.metrics.ndcg_score([gold], [predicted]) (k=None, ignore_ties=False): gains are the
// gold values themselves (linear, not 2^g - 1), position p (0-based) is discounted by
// 1 / log2(p + 2), responses with equal predicted scores share the mean of their gains over the
// positions they occupy, and the DCG is divided by the DCG of the gold order; 0 when that ideal
// DCG is 0 (every gold value 0). NaN where sklearn raises: fewer than 2 items, or a negative
// gold value ("ndcg_score should not be used on negative y_true values").
double ndcg_score(const std::vector<double>& gold, const std::vector<double>& predicted);

// numpy.var(values): the population variance, mean of squared deviations from the mean
// (divided by n, not n - 1). NaN for an empty list.
double population_variance(const std::vector<double>& values);

// Credit over the pairs whose gold scores differ: `pairs` such pairs, `credit` the sum of each
// pair's credit (1 ordered as gold orders it, 0 reversed, 0.5 for a predicted tie).
struct PairwiseCredit {
  double credit = 0.0;
  int64_t pairs = 0;
  double accuracy() const;  // credit / pairs; NaN without pairs
};

// From predicted scores: a pair is right when the response with the higher gold score has the
// strictly higher predicted score, 0.5 when the predicted scores are equal.
PairwiseCredit pairwise_credit_from_scores(const std::vector<double>& gold, const std::vector<double>& predicted);

// From a complete predicted ranking: place[i] is response i's 0-based position in the judge's
// best-to-worst list (a permutation of 0..n-1); a pair is right when the response with the
// higher gold score is placed first. A ranking has no ties, so every credit is 0 or 1.
PairwiseCredit pairwise_credit_from_ranking(const std::vector<double>& gold, const std::vector<size_t>& place);

}  // namespace precept::reward
