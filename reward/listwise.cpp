// Listwise judgment -> one value per response; see listwise.h.
#include "reward/listwise.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

namespace precept::reward {

namespace {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

struct Mode {
  const char* name;
  ListwiseMode mode;
};
constexpr Mode kModes[] = {{"score", ListwiseMode::kScore},
                           {"normalized", ListwiseMode::kNormalized},
                           {"rank", ListwiseMode::kRank},
                           {"score_rank_tiebreak", ListwiseMode::kScoreRankTiebreak}};

// Each name's first place in the judgment's ranking.
std::map<std::string, size_t> ranking_places(const Judgment& judgment) {
  std::map<std::string, size_t> places;
  for (size_t i = 0; i < judgment.ranking.size(); ++i) places.emplace(judgment.ranking[i], i);
  return places;
}

void rank_values(const Judgment& judgment, const std::vector<std::string>& names, ListwiseRewards& out) {
  const std::map<std::string, size_t> places = ranking_places(judgment);
  std::vector<size_t> ranked;  // indices into names, best first
  for (size_t i = 0; i < names.size(); ++i)
    if (places.count(names[i])) ranked.push_back(i);
  std::sort(ranked.begin(), ranked.end(),
            [&](size_t a, size_t b) { return places.at(names[a]) < places.at(names[b]); });
  const size_t m = ranked.size();
  auto linear = [m](size_t place) { return m == 1 ? 0.5 : 1.0 - static_cast<double>(place) / static_cast<double>(m - 1); };
  for (size_t begin = 0; begin < m;) {
    size_t end = begin + 1;  // [begin, end): one tie group
    if (judgment.ranking_derived) {
      auto score_of = [&](size_t k) {
        auto it = judgment.scores.find(names[ranked[k]]);
        return it == judgment.scores.end() ? kMissing : it->second;
      };
      while (end < m && score_of(end) == score_of(begin)) ++end;
    }
    double sum = 0.0;
    for (size_t k = begin; k < end; ++k) sum += linear(k);
    for (size_t k = begin; k < end; ++k) {
      out.values[ranked[k]] = sum / static_cast<double>(end - begin);
      out.missing[ranked[k]] = false;
    }
    begin = end;
  }
}

void tiebreak_values(const Judgment& judgment, const std::vector<std::string>& names, double epsilon,
                     ListwiseRewards& out) {
  const std::map<std::string, size_t> places = ranking_places(judgment);
  std::map<double, std::vector<size_t>> groups;  // score -> indices into names with that score
  for (size_t i = 0; i < names.size(); ++i) {
    auto it = judgment.scores.find(names[i]);
    if (it == judgment.scores.end()) continue;
    groups[it->second].push_back(i);
  }
  for (auto& [score, members] : groups) {
    // Best first by place in the ranking; unranked after, in `names` order (stable).
    std::stable_sort(members.begin(), members.end(), [&](size_t a, size_t b) {
      auto place = [&](size_t k) {
        auto it = places.find(names[k]);
        return it == places.end() ? std::numeric_limits<size_t>::max() : it->second;
      };
      return place(a) < place(b);
    });
    const size_t t = members.size();
    for (size_t j = 0; j < t; ++j) {
      const double bonus = t == 1 ? 0.0 : epsilon * static_cast<double>(t - 1 - j) / static_cast<double>(t - 1);
      out.values[members[j]] = score + bonus;
      out.missing[members[j]] = false;
    }
  }
}

}  // namespace

ListwiseMode parse_listwise_mode(std::string_view name) {
  std::string valid;
  for (const Mode& mode : kModes) {
    if (name == mode.name) return mode.mode;
    valid += valid.empty() ? "" : ", ";
    valid += mode.name;
  }
  throw std::invalid_argument("unknown listwise reward mode '" + std::string(name) + "'; valid modes: " + valid);
}

std::string listwise_mode_name(ListwiseMode mode) {
  for (const Mode& entry : kModes)
    if (entry.mode == mode) return entry.name;
  throw std::invalid_argument("listwise_mode_name: not a ListwiseMode value");
}

size_t ListwiseRewards::missing_count() const { return static_cast<size_t>(std::count(missing.begin(), missing.end(), true)); }

ListwiseRewards listwise_rewards(const Judgment& judgment, const std::vector<std::string>& names, ListwiseMode mode,
                                 double tiebreak_epsilon) {
  if (!(tiebreak_epsilon >= 0.0 && tiebreak_epsilon < 1.0))
    throw std::invalid_argument("listwise_rewards: the tie-break epsilon must be in [0, 1), not " +
                                std::to_string(tiebreak_epsilon));
  std::set<std::string> seen;
  for (const std::string& name : names)
    if (!seen.insert(name).second)
      throw std::invalid_argument("listwise_rewards: the response name '" + name + "' is given twice");

  ListwiseRewards out;
  out.values.assign(names.size(), kMissing);
  out.missing.assign(names.size(), true);
  switch (mode) {
    case ListwiseMode::kScore:
    case ListwiseMode::kNormalized:
      for (size_t i = 0; i < names.size(); ++i) {
        auto it = judgment.scores.find(names[i]);
        if (it == judgment.scores.end()) continue;
        out.values[i] = mode == ListwiseMode::kScore ? it->second : std::clamp((it->second - 1.0) / 4.0, 0.0, 1.0);
        out.missing[i] = false;
      }
      break;
    case ListwiseMode::kRank: rank_values(judgment, names, out); break;
    case ListwiseMode::kScoreRankTiebreak: tiebreak_values(judgment, names, tiebreak_epsilon, out); break;
  }
  return out;
}

}  // namespace precept::reward
