#include "reward/rank_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace precept::reward {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void require_same_length(size_t a, size_t b, const char* what) {
  if (a != b) {
    throw std::invalid_argument(std::string(what) + ": lists of different lengths (" + std::to_string(a) + " and " +
                                std::to_string(b) + ")");
  }
}

int sign(double value) { return (value > 0) - (value < 0); }

}  // namespace

double kendall_tau_b(const std::vector<double>& x, const std::vector<double>& y) {
  require_same_length(x.size(), y.size(), "kendall_tau_b");
  const size_t n = x.size();
  if (n < 2) return kNaN;
  int64_t concordant = 0, discordant = 0, tied_x = 0, tied_y = 0;  // tied_x/tied_y include pairs tied in both
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const int dx = sign(x[i] - x[j]), dy = sign(y[i] - y[j]);
      if (dx == 0) ++tied_x;
      if (dy == 0) ++tied_y;
      if (dx != 0 && dy != 0) (dx == dy ? concordant : discordant) += 1;
    }
  }
  const int64_t total = static_cast<int64_t>(n * (n - 1) / 2);
  if (tied_x == total || tied_y == total) return kNaN;
  // scipy's order of operations: (con - dis) / sqrt(tot - xtie) / sqrt(tot - ytie), then clip.
  const double tau = static_cast<double>(concordant - discordant) / std::sqrt(static_cast<double>(total - tied_x)) /
                     std::sqrt(static_cast<double>(total - tied_y));
  return std::min(1.0, std::max(-1.0, tau));
}

double ndcg_score(const std::vector<double>& gold, const std::vector<double>& predicted) {
  require_same_length(gold.size(), predicted.size(), "ndcg_score");
  const size_t n = gold.size();
  if (n < 2) return kNaN;
  for (double g : gold)
    if (g < 0) return kNaN;
  std::vector<double> discount(n), cumulative(n);
  for (size_t p = 0; p < n; ++p) {
    discount[p] = 1.0 / std::log2(static_cast<double>(p) + 2.0);
    cumulative[p] = (p ? cumulative[p - 1] : 0.0) + discount[p];
  }
  // DCG with ties averaged (sklearn's _tie_averaged_dcg): groups of equal predicted scores, best
  // first; each group's mean gain times the sum of the discounts of the positions it covers.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return predicted[a] > predicted[b]; });
  double dcg = 0.0, previous_cumulative = 0.0;
  for (size_t begin = 0; begin < n;) {
    size_t end = begin;
    double gain = 0.0;
    while (end < n && predicted[order[end]] == predicted[order[begin]]) gain += gold[order[end++]];
    const double group_discount = cumulative[end - 1] - previous_cumulative;
    previous_cumulative = cumulative[end - 1];
    dcg += gain / static_cast<double>(end - begin) * group_discount;
    begin = end;
  }
  // The ideal DCG: gold sorted best first (ties cannot change it).
  std::vector<double> ideal_order = gold;
  std::sort(ideal_order.begin(), ideal_order.end(), std::greater<double>());
  double ideal = 0.0;
  for (size_t p = 0; p < n; ++p) ideal += discount[p] * ideal_order[p];
  if (ideal == 0.0) return 0.0;
  return dcg / ideal;
}

double population_variance(const std::vector<double>& values) {
  if (values.empty()) return kNaN;
  double sum = 0.0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  double squares = 0.0;
  for (double v : values) squares += (v - mean) * (v - mean);
  return squares / static_cast<double>(values.size());
}

double PairwiseCredit::accuracy() const { return pairs > 0 ? credit / static_cast<double>(pairs) : kNaN; }

PairwiseCredit pairwise_credit_from_scores(const std::vector<double>& gold, const std::vector<double>& predicted) {
  require_same_length(gold.size(), predicted.size(), "pairwise_credit_from_scores");
  PairwiseCredit out;
  for (size_t i = 0; i < gold.size(); ++i) {
    for (size_t j = i + 1; j < gold.size(); ++j) {
      const int gold_order = sign(gold[i] - gold[j]);
      if (gold_order == 0) continue;
      ++out.pairs;
      const int predicted_order = sign(predicted[i] - predicted[j]);
      out.credit += predicted_order == 0 ? 0.5 : (predicted_order == gold_order ? 1.0 : 0.0);
    }
  }
  return out;
}

PairwiseCredit pairwise_credit_from_ranking(const std::vector<double>& gold, const std::vector<size_t>& place) {
  require_same_length(gold.size(), place.size(), "pairwise_credit_from_ranking");
  PairwiseCredit out;
  for (size_t i = 0; i < gold.size(); ++i) {
    for (size_t j = i + 1; j < gold.size(); ++j) {
      const int gold_order = sign(gold[i] - gold[j]);
      if (gold_order == 0) continue;
      ++out.pairs;
      const bool i_first = place[i] < place[j];
      out.credit += (gold_order > 0) == i_first ? 1.0 : 0.0;
    }
  }
  return out;
}

}  // namespace precept::reward
