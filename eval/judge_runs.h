// Running the in-process RewardAnything judge (reward/rewardanything.h) for the evaluation
// commands: many groups, each under its own principle, batched so that the groups of one
// principle share the generator's slots, with a progress callback; and the raw outputs written
// as a judgments file that `precept eval judge --judgments` reads back. Not the metrics
// (eval/judge_eval.h, eval/rm_bench.h, ...), which need no model.
#pragma once

#include "reward/rewardanything.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace precept::eval {

struct JudgedGroup {
  std::vector<reward::JudgeCall> calls;  // the group's calls: raw outputs and parsed judgments (last attempt)
  reward::GroupScores scores;            // the judge's rewards for the group (its conversion and fallback)
};

// groups_done, groups_total, and the generator's progress within the current batch.
using JudgeProgress = std::function<void(int64_t groups_done, int64_t groups_total, const rollout::GenerationProgress&)>;

// Judges every group under principles[g] (one per group). Groups keep their own seeds, so the
// result does not depend on how they are batched. Returns one JudgedGroup per group, in order.
std::vector<JudgedGroup> judge_groups(reward::RewardAnythingJudge& judge, const std::vector<reward::Group>& groups,
                                      const std::vector<std::string>& principles, const JudgeProgress& progress = {});

// The parsed judgments of a group's calls (last attempt of each), in call order.
std::vector<reward::Judgment> judgments_of(const std::vector<reward::JudgeCall>& calls);

// A judgments-file line for a case: {"id", "output", "masked2real"} for one call, or
// {"id", "calls": [{"output", "masked2real"}, ...]} for several. "output" is the raw text of the
// call's last attempt; "masked2real" maps each shown name to the caller's name.
nlohmann::ordered_json judgment_dump_record(const std::string& id, const std::vector<reward::JudgeCall>& calls);

}  // namespace precept::eval
