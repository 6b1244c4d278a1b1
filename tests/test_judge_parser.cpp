// parse_judgment on hand-written outputs: the flags and problems it reports, the ranking it
// derives, masked names mapped back. Agreement with upstream's parser over a corpus of messy
// outputs is JudgeFixtures.Parser* (tests/check_judge_text.py).
#include "reward/judge_parser.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace precept::reward;

namespace {

// model-1 -> carol, model-2 -> alice, model-3 -> bob: shown order carol, alice, bob.
ShownResponses three() {
  ShownResponses names;
  names.shown = {{"model-1", ""}, {"model-2", ""}, {"model-3", ""}};
  names.real_names = {"carol", "alice", "bob"};
  return names;
}

bool mentions(const Judgment& judgment, const std::string& text) {
  return std::any_of(judgment.problems.begin(), judgment.problems.end(),
                     [&](const std::string& problem) { return problem.find(text) != std::string::npos; });
}

std::string problems_of(const Judgment& judgment) { return judgment.to_json()["problems"].dump(1); }

const char* kClean =
    "<think>\nmodel-2 is best\n</think>\n\n"
    R"({"scores": {"model-1": 2, "model-2": 5, "model-3": 3}, "best-to-worst": ["model-2", "model-3", "model-1"]})";

}  // namespace

TEST(JudgeParser, CleanOutputHasNoProblems) {
  const Judgment judgment = parse_judgment(kClean, three());
  EXPECT_EQ(judgment.reasoning, "model-2 is best");
  EXPECT_EQ(judgment.scores, (std::map<std::string, double>{{"carol", 2}, {"alice", 5}, {"bob", 3}}));
  EXPECT_EQ(judgment.ranking, (std::vector<std::string>{"alice", "bob", "carol"}));
  EXPECT_TRUE(judgment.json_parsed);
  EXPECT_FALSE(judgment.repaired || judgment.used_brace_fallback || judgment.beyond_upstream || judgment.ranking_derived);
  EXPECT_TRUE(judgment.has_scores_key && judgment.has_ranking_key);
  EXPECT_TRUE(judgment.complete);
  EXPECT_TRUE(judgment.missing.empty());
  EXPECT_TRUE(judgment.problems.empty()) << problems_of(judgment);
}

TEST(JudgeParser, ReportsRepairAndBraceFallback) {
  const Judgment repaired = parse_judgment("{'scores': {'model-1': 2, model-2: 5, 'model-3': 3,}}", three());
  EXPECT_TRUE(repaired.repaired);
  EXPECT_FALSE(repaired.used_brace_fallback);
  EXPECT_TRUE(mentions(repaired, "repair")) << problems_of(repaired);

  const Judgment braced = parse_judgment(std::string("Verdict: ") + (kClean + 34) + " Done.", three());
  EXPECT_TRUE(braced.used_brace_fallback);
  EXPECT_FALSE(braced.repaired || braced.beyond_upstream);
  EXPECT_TRUE(braced.complete);
}

TEST(JudgeParser, SearchAndSalvageGoBeyondUpstream) {
  const std::string first = R"({"scores": {"model-1": 1, "model-2": 1, "model-3": 1}})";
  const std::string second = R"({"scores": {"model-1": 4, "model-2": 5, "model-3": 3}})";
  const Judgment last = parse_judgment(first + "\nno wait:\n" + second, three());
  EXPECT_TRUE(last.beyond_upstream && last.json_parsed);
  EXPECT_EQ(last.scores.at("carol"), 4);

  const Judgment cut = parse_judgment(
      R"(<think>x</think>{"scores": {"model-1": 4, "model-2": 5, "model-3": 3}, "best-to-worst": ["model-2", "mo)",
      three());
  EXPECT_TRUE(cut.beyond_upstream);
  EXPECT_FALSE(cut.json_parsed);  // only fragments
  EXPECT_TRUE(cut.complete);
  EXPECT_TRUE(cut.ranking_derived);
  EXPECT_EQ(cut.ranking, (std::vector<std::string>{"alice", "carol", "bob"}));
  EXPECT_TRUE(mentions(cut, "fragment")) << problems_of(cut);
}

TEST(JudgeParser, ReportsBadScoresNamesAndGaps) {
  const Judgment judgment = parse_judgment(
      R"({"scores": {"model-1": 7, "model-2": "4", "model-9": 3, "model-3": null},)"
      R"( "best-to-worst": ["model-2", "model-2", "model-9"]})",
      three());
  EXPECT_EQ(judgment.scores, (std::map<std::string, double>{{"carol", 7}, {"alice", 4}, {"model-9", 3}}));
  EXPECT_EQ(judgment.ranking, (std::vector<std::string>{"alice", "alice", "model-9"}));
  EXPECT_EQ(judgment.missing, (std::vector<std::string>{"bob"}));
  EXPECT_FALSE(judgment.complete);
  EXPECT_TRUE(mentions(judgment, "'carol' is 7.0, outside 1..5")) << problems_of(judgment);
  EXPECT_TRUE(mentions(judgment, "'alice' is a string"));
  EXPECT_TRUE(mentions(judgment, "'model-9', which is none of the responses"));
  EXPECT_TRUE(mentions(judgment, "'bob' is null, not a number"));
  EXPECT_TRUE(mentions(judgment, "names 'alice' more than once"));
  EXPECT_TRUE(mentions(judgment, "leaves out 'carol'"));
  EXPECT_TRUE(mentions(judgment, "no score for 'bob'"));
}

TEST(JudgeParser, DerivedRankingBreaksTiesInShownOrder) {
  // Shown order carol (model-1), alice (model-2), bob (model-3); alice and carol tie at 4.
  const Judgment judgment = parse_judgment(R"({"scores": {"model-3": 2, "model-2": 4, "model-1": 4}})", three());
  EXPECT_TRUE(judgment.ranking_derived);
  EXPECT_EQ(judgment.ranking, (std::vector<std::string>{"carol", "alice", "bob"}));
  EXPECT_TRUE(mentions(judgment, "derived"));
}

TEST(JudgeParser, ThinkBlocks) {
  const Judgment orphan = parse_judgment("reasoning only\n</think>\n{\"scores\": {\"model-1\": 3}}", three());
  EXPECT_EQ(orphan.reasoning, "reasoning only");
  EXPECT_TRUE(mentions(orphan, "no <think> before </think>"));

  const Judgment unclosed = parse_judgment("<think>draft {\"scores\": {\"model-1\": 3}} hmm", three());
  EXPECT_EQ(unclosed.reasoning, "");
  EXPECT_EQ(unclosed.scores.at("carol"), 3);  // upstream takes it too (first { to last })
  EXPECT_TRUE(mentions(unclosed, "never closed"));
  EXPECT_TRUE(mentions(unclosed, "inside an unclosed <think> block")) << problems_of(unclosed);
}

TEST(JudgeParser, NothingToReadIsReportedNotThrown) {
  for (const char* output : {"", "<think>cut", "I refuse.", "[1, 2]", "{\"verdict\": 3}"}) {
    const Judgment judgment = parse_judgment(output, three());
    EXPECT_TRUE(judgment.scores.empty()) << output;
    EXPECT_FALSE(judgment.complete) << output;
    EXPECT_EQ(judgment.missing.size(), 3u) << output;
    EXPECT_FALSE(judgment.problems.empty()) << output;
  }
}

TEST(JudgeParser, WithoutNamesKeepsTheJudgesNames) {
  const Judgment judgment = parse_judgment(kClean);
  EXPECT_EQ(judgment.scores.at("model-2"), 5);
  EXPECT_TRUE(judgment.complete);
  EXPECT_TRUE(judgment.problems.empty()) << problems_of(judgment);
  EXPECT_FALSE(parse_judgment("{}").complete);
}

TEST(JudgeParser, InvalidUtf8IsRepaired) {
  const Judgment judgment = parse_judgment("<think>caf\xe9</think>{\"scores\": {\"model-1\": 3}}", three());
  EXPECT_EQ(judgment.reasoning, "caf\xef\xbf\xbd");
  EXPECT_TRUE(mentions(judgment, "not valid UTF-8"));
  EXPECT_EQ(judgment.scores.at("carol"), 3);
}

TEST(JudgeParser, ToJsonCarriesEverything) {
  const nlohmann::json out = parse_judgment(kClean, three()).to_json();
  EXPECT_EQ(out["scores"]["alice"], 5.0);
  EXPECT_EQ(out["ranking"][0], "alice");
  for (const char* key : {"reasoning", "json_parsed", "repaired", "used_brace_fallback", "beyond_upstream",
                          "has_scores_key", "has_ranking_key", "ranking_derived", "complete", "missing", "problems"})
    EXPECT_TRUE(out.contains(key)) << key;
}

TEST(JudgeParser, UpstreamTextSteps) {
  EXPECT_EQ(upstream_json_text("<think>a</think> x <think>b</think>```json\n{}\n```  "), "x \n{}");
  EXPECT_EQ(upstream_json_text("<think>open ```JSON {}"), "<think>open JSON {}");
  EXPECT_EQ(upstream_fix_json("{a: 'b', c :[1,2,], }"), R"({"a": "b","c":[1,2]})");  // as Python printed it
  EXPECT_EQ(upstream_fix_json(R"({"best-to-worse": 1})"), R"({"best-to-worst": 1})");
}
