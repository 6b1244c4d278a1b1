// Weighted sum of rewards: see composite.h.
#include "reward/composite.h"

#include <cmath>
#include <set>
#include <stdexcept>

namespace precept::reward {
using json = nlohmann::json;

CompositeReward::CompositeReward(std::vector<WeightedReward> components, std::string name)
    : components_(std::move(components)), name_(std::move(name)) {
  const std::string where = "composite reward '" + name_ + "'";
  if (components_.empty()) throw std::invalid_argument(where + ": no component rewards");
  std::set<std::string> names;
  for (size_t i = 0; i < components_.size(); ++i) {
    WeightedReward& component = components_[i];
    if (!component.reward) throw std::invalid_argument(where + ": component " + std::to_string(i) + " has no reward");
    if (component.name.empty()) component.name = component.reward->name();
    if (!std::isfinite(component.weight)) {
      throw std::invalid_argument(where + ": the weight of '" + component.name + "' is not finite");
    }
    if (!names.insert(component.name).second) {
      throw std::invalid_argument(where + ": two components are named '" + component.name +
                                  "' (give each a distinct name)");
    }
  }
}

GroupScores combine_scores(const std::vector<WeightedReward>& components, const std::vector<GroupScores>& parts,
                           size_t response_count, const std::string& composite_name) {
  GroupScores out;
  out.rewards.assign(response_count, 0.0);
  out.valid.assign(response_count, true);
  std::vector<std::string> explanations(response_count);
  bool any_explanation = false;
  for (size_t c = 0; c < components.size(); ++c) {
    const WeightedReward& component = components[c];
    const GroupScores& part = parts[c];
    const std::string where = "composite reward '" + composite_name + "': component '" + component.name + "'";
    if (part.rewards.size() != response_count || part.valid.size() != response_count) {
      throw std::runtime_error(where + " returned " + std::to_string(part.rewards.size()) + " rewards and " +
                               std::to_string(part.valid.size()) + " validity flags for " +
                               std::to_string(response_count) + " responses");
    }
    if (!part.explanations.empty() && part.explanations.size() != response_count) {
      throw std::runtime_error(where + " returned " + std::to_string(part.explanations.size()) + " explanations for " +
                               std::to_string(response_count) + " responses");
    }
    for (size_t i = 0; i < response_count; ++i) {
      if (!std::isfinite(part.rewards[i])) {
        throw std::runtime_error(where + " returned a non-finite reward for response " + std::to_string(i));
      }
      out.rewards[i] += component.weight * part.rewards[i];
      out.valid[i] = out.valid[i] && part.valid[i];
      if (!part.explanations.empty() && !part.explanations[i].empty()) {
        if (!explanations[i].empty()) explanations[i] += "\n";
        explanations[i] += component.name + ": " + part.explanations[i];
        any_explanation = true;
      }
    }
    out.failures += part.failures;
    out.retries += part.retries;
    out.diagnostics[component.name] = {{"weight", component.weight},
                                       {"rewards", part.rewards},
                                       {"valid", part.valid},
                                       {"failures", part.failures},
                                       {"retries", part.retries},
                                       {"diagnostics", part.diagnostics}};
  }
  if (any_explanation) out.explanations = std::move(explanations);
  return out;
}

GroupScores CompositeReward::score(const Group& group) {
  if (group.responses.empty()) throw std::invalid_argument("composite reward '" + name_ + "': a group needs at least one response");
  std::vector<GroupScores> parts;
  parts.reserve(components_.size());
  for (const auto& component : components_) parts.push_back(component.reward->score(group));
  return combine_scores(components_, parts, group.responses.size(), name_);
}

std::vector<GroupScores> CompositeReward::score_batch(const std::vector<Group>& groups) {
  for (const auto& group : groups) {
    if (group.responses.empty()) throw std::invalid_argument("composite reward '" + name_ + "': a group needs at least one response");
  }
  // by_component[c][g]: component c's scores of group g, one score_batch call per component.
  std::vector<std::vector<GroupScores>> by_component;
  by_component.reserve(components_.size());
  for (const auto& component : components_) {
    by_component.push_back(component.reward->score_batch(groups));
    if (by_component.back().size() != groups.size()) {
      throw std::runtime_error("composite reward '" + name_ + "': component '" + component.name + "' returned " +
                               std::to_string(by_component.back().size()) + " results for " +
                               std::to_string(groups.size()) + " groups");
    }
  }
  std::vector<GroupScores> out;
  out.reserve(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<GroupScores> parts;
    parts.reserve(components_.size());
    for (auto& scores : by_component) parts.push_back(std::move(scores[g]));
    out.push_back(combine_scores(components_, parts, groups[g].responses.size(), name_));
  }
  return out;
}

}  // namespace precept::reward
