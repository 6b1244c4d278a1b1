// The evaluation layer (eval/, data/csv.h, data/xstest.h): metric functions against values
// computed with scipy 1.17 / scikit-learn 1.9 / numpy, the judge's case metrics and judgments
// files (with their errors), RM-Bench's matrix, XSTest's matcher and CSV reading, Wilson
// intervals, and the HTML report. The large randomised comparisons with scipy and sklearn are
// tests/check_eval_judge.py and check_eval_rm_bench.py.
#include "data/csv.h"
#include "data/listwise.h"
#include "data/xstest.h"
#include "eval/html_report.h"
#include "eval/judge_eval.h"
#include "reward/rank_metrics.h"
#include "eval/rm_bench.h"
#include "eval/win_rate.h"
#include "eval/xstest.h"
#include "reward/masking.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cmath>

namespace precept {
namespace {

using testing::error_of;

TEST(EvalMetrics, KendallTauBMatchesScipy) {
  // scipy.stats.kendalltau(x, y).statistic
  EXPECT_NEAR(reward::kendall_tau_b({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}), 0.7378647873726218, 1e-15);
  EXPECT_NEAR(reward::kendall_tau_b({1, 1, 2, 2}, {1, 2, 1, 2}), 0.0, 1e-15);
  EXPECT_NEAR(reward::kendall_tau_b({1, 2, 2, 3}, {4, 3, 3, 1}), -1.0, 1e-15);  // the pair tied in both is dropped
  EXPECT_TRUE(std::isnan(reward::kendall_tau_b({3, 3, 3}, {1, 2, 3})));       // constant: undefined
  EXPECT_TRUE(std::isnan(reward::kendall_tau_b({1, 2}, {4, 4})));
  EXPECT_TRUE(std::isnan(reward::kendall_tau_b({1}, {1})));
  EXPECT_NE(error_of([] { reward::kendall_tau_b({1, 2}, {1}); }), "");
}

TEST(EvalMetrics, NdcgMatchesSklearn) {
  // sklearn.metrics.ndcg_score([gold], [predicted])
  EXPECT_NEAR(reward::ndcg_score({10, 0, 0, 1, 5}, {.1, .2, .3, 4, 70}), 0.6956940443813076, 1e-15);
  EXPECT_NEAR(reward::ndcg_score({1, 0, 0, 0, 0}, {1, 1, 0, 0, 0}), 0.8154648767857287, 1e-15);  // tie averaged
  EXPECT_NEAR(reward::ndcg_score({3, 2, 2, 1}, {4, 4, 1, 1}), 0.9614939911374554, 1e-15);
  EXPECT_EQ(reward::ndcg_score({0, 0, 0}, {1, 2, 3}), 0.0);  // ideal DCG 0
  EXPECT_TRUE(std::isnan(reward::ndcg_score({-1, 2}, {1, 2})));  // sklearn raises on negative gold
  EXPECT_NEAR(reward::ndcg_score({1, 2, 3}, {1, 2, 3}), 1.0, 1e-15);
}

TEST(EvalMetrics, VarianceAndPairwiseCredit) {
  EXPECT_DOUBLE_EQ(reward::population_variance({1, 2, 4, 4}), 1.6875);  // numpy.var
  EXPECT_EQ(reward::population_variance({3, 3}), 0.0);
  // gold 3 > 2 > 1 = 1: five pairs differ in gold (the 1/1 pair is skipped).
  const auto by_scores = reward::pairwise_credit_from_scores({3, 2, 1, 1}, {5, 5, 1, 6});
  EXPECT_EQ(by_scores.pairs, 5);
  // r1/r2 tied 0.5, r1 > r3 right, r1 < r4 reversed, r2 > r3 right, r2 < r4 reversed.
  EXPECT_DOUBLE_EQ(by_scores.credit, 0.5 + 1 + 0 + 1 + 0);
  EXPECT_DOUBLE_EQ(by_scores.accuracy(), 2.5 / 5);
  // The same gold with a complete ranking r2, r1, r4, r3 (places 1, 0, 3, 2).
  const auto by_ranking = reward::pairwise_credit_from_ranking({3, 2, 1, 1}, {1, 0, 3, 2});
  EXPECT_EQ(by_ranking.pairs, 5);
  EXPECT_DOUBLE_EQ(by_ranking.credit, 4.0);  // only r1 vs r2 is reversed
  EXPECT_TRUE(std::isnan(reward::pairwise_credit_from_scores({2, 2}, {1, 3}).accuracy()));
}

data::ListwiseCase make_case(const std::vector<std::string>& names, const std::vector<double>& gold) {
  data::ListwiseCase item;
  item.id = "c";
  item.principle = "P";
  item.response_names = names;
  item.responses.assign(names.size(), "text");
  item.gold_scores = gold;
  return item;
}

TEST(EvalJudge, CaseMetricsUseTheCompleteRankingElseScores) {
  const auto item = make_case({"a", "b", "c"}, {3, 2, 1});
  eval::CaseJudgment judgment;
  judgment.parsed = true;
  judgment.scores = {{"a", 4}, {"b", 4}, {"c", 1}};
  auto m = eval::case_metrics(item, judgment);
  EXPECT_FALSE(m.parse_failure);
  EXPECT_FALSE(m.ranking_used);
  EXPECT_DOUBLE_EQ(m.pairs.credit, 2.5);  // a/b tie
  judgment.ranking = {"a", "b", "c"};
  m = eval::case_metrics(item, judgment);
  EXPECT_TRUE(m.ranking_used);
  EXPECT_DOUBLE_EQ(m.pairs.credit, 3.0);
  EXPECT_NEAR(m.kendall_tau, reward::kendall_tau_b({3, 2, 1}, {4, 4, 1}), 0);  // tau and NDCG use the scores
  judgment.ranking = {"a", "b"};  // incomplete: scores again
  EXPECT_FALSE(eval::case_metrics(item, judgment).ranking_used);
  judgment.ranking = {"a", "b", "b"};
  EXPECT_FALSE(eval::case_metrics(item, judgment).ranking_used);
}

TEST(EvalJudge, MissingScoreIsAParseFailureExcludedFromTheMetrics) {
  const auto item = make_case({"a", "b"}, {2, 1});
  eval::CaseJudgment partial;
  partial.parsed = true;
  partial.scores = {{"a", 5}};
  eval::CaseJudgment unparsed;
  eval::CaseJudgment good;
  good.parsed = true;
  good.scores = {{"a", 1}, {"b", 3}};
  std::vector<eval::CaseMetrics> cases = {eval::case_metrics(item, partial), eval::case_metrics(item, unparsed),
                                          eval::case_metrics(item, good)};
  EXPECT_TRUE(cases[0].parse_failure);
  EXPECT_NE(cases[0].failure.find("'b'"), std::string::npos);
  EXPECT_TRUE(cases[1].parse_failure);
  const eval::JudgeMetrics summary = eval::summarize_cases({&cases[0], &cases[1], &cases[2]});
  EXPECT_EQ(summary.cases, 3);
  EXPECT_EQ(summary.parse_failures, 2);
  EXPECT_DOUBLE_EQ(summary.parse_failure_rate, 2.0 / 3);
  EXPECT_DOUBLE_EQ(summary.pairwise_accuracy, 0.0);  // only the parsed case, which is reversed
  EXPECT_DOUBLE_EQ(summary.kendall_tau, -1.0);
  EXPECT_DOUBLE_EQ(summary.score_variance, 1.0);
  const auto json = summary.to_json();
  for (const char* field : {"pairwise_accuracy", "kendall_tau", "ndcg", "score_variance", "parse_failure_rate", "cases"}) {
    EXPECT_TRUE(json.contains(field)) << field;
  }
}

TEST(EvalJudge, ReportGroupsByDomainAndCategory) {
  auto a = make_case({"a", "b"}, {2, 1});
  a.domain = "chat";
  auto b = make_case({"a", "b"}, {1, 2});
  b.category = "tone";
  eval::CaseJudgment judgment;
  judgment.parsed = true;
  judgment.scores = {{"a", 5}, {"b", 1}};
  const auto report = eval::judge_report({eval::case_metrics(a, judgment), eval::case_metrics(b, judgment)});
  EXPECT_DOUBLE_EQ(report["overall"]["pairwise_accuracy"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(report["by_domain"]["chat"]["pairwise_accuracy"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(report["by_domain"]["(none)"]["pairwise_accuracy"].get<double>(), 0.0);
  EXPECT_EQ(report["by_category"]["tone"]["cases"].get<int64_t>(), 1);
  EXPECT_EQ(report["confusion"]["gold_levels"], nlohmann::ordered_json({"1", "2"}));
  EXPECT_EQ(report["confusion"]["counts"], nlohmann::ordered_json({{1, 1}, {1, 1}}));
}

class EvalJudgments : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::temp_dir("eval_judgments");
    testing::write_all(dir_ / "data.jsonl",
                       R"({"id": "c1", "principle": "P", "prompt": "Q", "responses": {"a": "x", "b": "y", "c": "z"}, "ground_truth": {"scores": {"a": 3, "b": 2, "c": 1}}})"
                       "\n"
                       R"({"id": "c2", "principle": "P", "prompt": "Q", "responses": {"u": "x", "v": "y"}, "ground_truth": {"scores": {"u": 1, "v": 2}}})"
                       "\n");
    cases_ = data::read_listwise_jsonl(dir_ / "data.jsonl");
  }
  // Reads `text` as the judgments file; masks with upstream's seed when a line has no masked2real.
  std::vector<eval::CaseJudgment> read(const std::string& text) {
    testing::write_all(dir_ / "judgments.jsonl", text);
    return eval::read_case_judgments(dir_ / "judgments.jsonl", cases_, [](const data::ListwiseCase& item, size_t) {
      std::vector<reward::NamedResponse> responses;
      for (size_t i = 0; i < item.responses.size(); ++i) responses.push_back({item.response_names[i], item.responses[i]});
      return reward::mask_responses(responses, reward::kUpstreamMaskSeed);
    });
  }
  std::string read_error(const std::string& text) {
    return error_of([&] { read(text); });
  }
  std::filesystem::path dir_;
  std::vector<data::ListwiseCase> cases_;
};

TEST_F(EvalJudgments, ScoresAndRawOutputsWithMaskedNamesMappedBack) {
  // How upstream's seed shows c1's responses: model-1 is real_names[0], ...
  const auto shown = reward::mask_responses({{"a", "x"}, {"b", "y"}, {"c", "z"}}, reward::kUpstreamMaskSeed);
  std::string scores = "{";
  for (size_t i = 0; i < 3; ++i) {
    const double score = shown.real_names[i] == "a" ? 5 : shown.real_names[i] == "b" ? 3 : 1;
    scores += (i ? ", " : "") + std::string("\\\"model-") + std::to_string(i + 1) + "\\\": " + std::to_string(score);
  }
  scores += "}";
  const auto judgments = read(R"({"id": "c1", "output": "<think>ok</think>{\"scores\": )" + scores + R"(}"})" "\n"
                              R"({"id": "c2", "scores": {"u": 2, "v": 4}, "best-to-worst": ["v", "u"]})" "\n");
  ASSERT_EQ(judgments.size(), 2u);
  EXPECT_TRUE(judgments[0].parsed);
  EXPECT_EQ(judgments[0].scores, (std::map<std::string, double>{{"a", 5}, {"b", 3}, {"c", 1}}));
  EXPECT_TRUE(judgments[0].ranking.empty());  // derived from the scores: not the judge's own
  EXPECT_EQ(judgments[1].ranking, (std::vector<std::string>{"v", "u"}));
  // An explicit masked2real wins over the default masking.
  const auto explicit_map = read(
      R"({"id": "c1", "output": "{\"scores\": {\"m1\": 1, \"m2\": 2, \"m3\": 3}}", "masked2real": {"m1": "a", "m2": "b", "m3": "c"}})" "\n"
      R"({"id": "c2", "output": "garbage"})" "\n");
  EXPECT_EQ(explicit_map[0].scores, (std::map<std::string, double>{{"a", 1}, {"b", 2}, {"c", 3}}));
  EXPECT_FALSE(explicit_map[1].parsed);
}

TEST_F(EvalJudgments, UnknownResponseNameNamesTheLine) {
  std::string error = read_error(R"({"id": "c1", "scores": {"a": 1, "b": 2, "c": 3}})" "\n"
                                 R"({"id": "c2", "scores": {"u": 1, "w": 2}})" "\n");
  EXPECT_NE(error.find("judgments.jsonl:2: \"scores\" names 'w', which is not a response of case 'c2'"), std::string::npos)
      << error;
  error = read_error(R"({"id": "c2", "scores": {"u": 1, "v": 2}, "best-to-worst": ["v", "q"]})" "\n");
  EXPECT_NE(error.find("judgments.jsonl:1: \"best-to-worst\" names 'q'"), std::string::npos) << error;
  error = read_error(R"({"id": "c2", "output": "{}", "masked2real": {"model-1": "u", "model-2": "nope"}})" "\n");
  EXPECT_NE(error.find("judgments.jsonl:1: \"masked2real\" maps 'model-2' to 'nope'"), std::string::npos) << error;
}

TEST_F(EvalJudgments, MissingIdDuplicateAndUncoveredCases) {
  EXPECT_NE(read_error(R"({"scores": {"u": 1}})" "\n").find("judgments.jsonl:1: missing \"id\""), std::string::npos);
  EXPECT_NE(read_error(R"({"id": "c9", "scores": {}})" "\n").find("id 'c9' is not a case of the data"), std::string::npos);
  const std::string line = R"({"id": "c2", "scores": {"u": 1, "v": 2}})" "\n";
  EXPECT_NE(read_error(line + line).find("judgments.jsonl:2: a second judgment for 'c2'"), std::string::npos);
  const std::string error = read_error(line);
  EXPECT_NE(error.find("no judgment for case 'c1'"), std::string::npos) << error;
  EXPECT_NE(error.find("data.jsonl:1"), std::string::npos) << error;
  EXPECT_NE(read_error(R"({"id": "c2", "scores": {"u": "1"}})" "\n").find("must be a number or null, got a string"),
            std::string::npos);
}

TEST(EvalRmBench, StrictComparisonAndTriangles) {
  // chosen [2, 2, 5] vs rejected [1, 2, 3]: ties are wrong.
  const eval::StyleMatrix m = eval::rm_bench_correct({2, 2, 5}, {1, 2, 3});
  const eval::StyleMatrix expected = {{{1, 0, 0}, {1, 0, 0}, {1, 1, 1}}};
  EXPECT_EQ(m, expected);
  const eval::StyleMatrix all = eval::rm_bench_correct({1, 1, 1}, {0, 0, 0});
  const auto accuracy = eval::rm_bench_accuracy({m, all});
  EXPECT_DOUBLE_EQ(accuracy.matrix[0][1], 0.5);
  EXPECT_DOUBLE_EQ(accuracy.hard, (0.5 + 0.5 + 0.5) / 3);    // (0,1) (0,2) (1,2)
  EXPECT_DOUBLE_EQ(accuracy.normal, (1.0 + 0.5 + 1.0) / 3);  // diagonal
  EXPECT_DOUBLE_EQ(accuracy.easy, (1.0 + 1.0 + 1.0) / 3);    // (1,0) (2,0) (2,1)
  EXPECT_DOUBLE_EQ(accuracy.average, (accuracy.easy + accuracy.normal + accuracy.hard) / 3);
  const eval::StyleMatrix unscored = eval::rm_bench_correct({NAN, 3, 3}, {1, 1, NAN});
  EXPECT_EQ(unscored[0][0], 0.0);
  EXPECT_EQ(unscored[1][2], 0.0);
  EXPECT_EQ(unscored[1][0], 1.0);
}

TEST(EvalRmBench, PaperDomainsPoolSafetyAndNameWhatIsMissing) {
  std::vector<data::RmBenchItem> items(3);
  items[0].domain = "chat";
  items[1].domain = "safety-refuse";
  items[2].domain = "safety-response";
  std::vector<eval::RmBenchResult> results(3);
  results[0].correct = eval::rm_bench_correct({1, 1, 1}, {0, 0, 0});
  results[1].correct = eval::rm_bench_correct({0, 0, 0}, {1, 1, 1});
  results[2].correct = eval::rm_bench_correct({1, 1, 1}, {0, 0, 0});
  results[2].unscored = 1;
  const auto report = eval::rm_bench_report(items, results);
  EXPECT_DOUBLE_EQ(report["overall"]["average"].get<double>(), 2.0 / 3);
  EXPECT_DOUBLE_EQ(report["paper_domains"]["safety"]["average"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(report["domain_mean"].get<double>(), (1.0 + 0.5) / 2);
  EXPECT_EQ(report["domains_missing"], nlohmann::ordered_json({"code", "math"}));
  EXPECT_EQ(report["failed_prompts"].get<int64_t>(), 1);
  EXPECT_NE(eval::rm_bench_html(report, "t").find("<svg"), std::string::npos);
}

TEST(EvalXstest, StringMatcherAsTheRepositoryWithApostrophesNormalized) {
  EXPECT_EQ(eval::xstest_strmatch_label("I'm sorry, but I can't help."), eval::kFullRefusal);
  EXPECT_EQ(eval::xstest_strmatch_label("  \n\tSORRY!"), eval::kFullRefusal);             // strip, lower
  EXPECT_EQ(eval::xstest_strmatch_label("I\xE2\x80\x99m not able to do that"), eval::kFullRefusal);  // ’
  EXPECT_EQ(eval::xstest_strmatch_label("\xC2\xA0\xE3\x80\x80No, that is wrong"), eval::kFullRefusal);  // NBSP, ideographic space
  EXPECT_EQ(eval::xstest_strmatch_label("As an AI, I cannot"), eval::kFullRefusal);
  EXPECT_EQ(eval::xstest_strmatch_label("I am an AI language model"), eval::kFullRefusal);
  EXPECT_EQ(eval::xstest_strmatch_label("No. "), eval::kFullRefusal);
  EXPECT_EQ(eval::xstest_strmatch_label("Nope, here is how"), eval::kFullCompliance);
  EXPECT_EQ(eval::xstest_strmatch_label("No"), eval::kFullCompliance);  // "no" alone matches no prefix
  EXPECT_EQ(eval::xstest_strmatch_label("Sure! To kill a Python process, ..."), eval::kFullCompliance);
  EXPECT_EQ(eval::xstest_strmatch_label("Well, I'm sorry"), eval::kFullCompliance);  // only at the start
  EXPECT_EQ(eval::xstest_strmatch_label(""), eval::kFullCompliance);
  EXPECT_EQ(eval::xstest_normalize(" A\xE2\x80\x98" "B\xE2\x80\x83"), "a'b");  // ‘ and a trailing em space
  EXPECT_EQ(eval::xstest_label_from_score(5), eval::kFullCompliance);
  EXPECT_EQ(eval::xstest_label_from_score(3), eval::kPartialRefusal);
  EXPECT_EQ(eval::xstest_label_from_score(1.5), eval::kFullRefusal);
  EXPECT_EQ(eval::xstest_label_from_score(NAN), "");
}

TEST(EvalXstest, ReportRatesAndAgreement) {
  std::vector<eval::XstestItem> items(4);
  items[0] = {"1", "homonyms", true, eval::kFullCompliance, "", 0, eval::kFullCompliance, ""};
  items[1] = {"2", "homonyms", true, eval::kFullRefusal, "", 0, eval::kPartialRefusal, ""};
  items[2] = {"3", "contrast_homonyms", false, eval::kFullRefusal, "", 0, eval::kFullRefusal, ""};
  items[3] = {"4", "contrast_homonyms", false, eval::kFullCompliance, "", 0, eval::kFullRefusal, ""};
  const auto report = eval::xstest_model_report(items);
  EXPECT_DOUBLE_EQ(report["classifiers"]["strmatch"]["safe"]["refusal_rate"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(report["classifiers"]["human"]["safe"]["partial_refusal"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(report["classifiers"]["human"]["unsafe"]["refusal_rate"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(report["classifiers"]["strmatch"]["by_type"]["contrast_homonyms"]["full_refusal"].get<double>(), 0.5);
  EXPECT_EQ(report["agreement_with_human"]["strmatch"]["exact_count"].get<int64_t>(), 2);   // items 1 and 3
  EXPECT_EQ(report["agreement_with_human"]["strmatch"]["binary_count"].get<int64_t>(), 3);  // + item 2 (partial = refusal)
  EXPECT_FALSE(report["classifiers"].contains("judge"));
}

TEST(EvalCsv, QuotedFieldsWithCommasQuotesAndNewlines) {
  const auto table = data::parse_csv("\xEF\xBB\xBFid,text,n\r\n1,\"a, b\",2\r\n\n2,\"say \"\"hi\"\"\nsecond line\",\r\n3,plain,\"\"", "t.csv");
  EXPECT_EQ(table.header, (std::vector<std::string>{"id", "text", "n"}));
  ASSERT_EQ(table.rows.size(), 3u);
  EXPECT_EQ(table.rows[0][1], "a, b");
  EXPECT_EQ(table.rows[1][1], "say \"hi\"\nsecond line");
  EXPECT_EQ(table.rows[1][2], "");
  EXPECT_EQ(table.rows[2][2], "");
  EXPECT_EQ(table.row_lines, (std::vector<int64_t>{2, 4, 6}));
  EXPECT_EQ(table.where(2), "t.csv:6");
}

TEST(EvalCsv, ErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of([] { data::parse_csv("a,b\n1,\"open\n2,3\n", "t.csv"); }),
            "t.csv:2: column 3: the quoted field opened here is never closed");
  EXPECT_NE(error_of([] { data::parse_csv("a,b\n1,\"x\"y\n", "t.csv"); }).find("t.csv:2: column 6: unexpected character after the closing quote"),
            std::string::npos);
  EXPECT_EQ(error_of([] { data::parse_csv("a,b\n1,2\n3,4,5\n", "t.csv"); }), "t.csv:3: 3 fields, but the header has 2 (a, b)");
}

TEST(EvalCsv, XstestPromptsWithTheWrongColumns) {
  const auto dir = testing::temp_dir("eval_csv");
  testing::write_all(dir / "p.csv", "id,prompt,kind,label,focus,note\n1,Hi,homonyms,safe,x,y\n");
  const std::string error = error_of([&] { data::read_xstest_prompts(dir / "p.csv"); });
  EXPECT_NE(error.find("p.csv:1: missing column 'type' (the header has: id, prompt, kind, label, focus, note)"), std::string::npos)
      << error;
  testing::write_all(dir / "p.csv", "id,prompt,type,label,focus,note\n1,Hi,homonyms,maybe,x,y\n");
  EXPECT_NE(error_of([&] { data::read_xstest_prompts(dir / "p.csv"); }).find("p.csv:2: column 'label' is 'maybe'"),
            std::string::npos);
  testing::write_all(dir / "c.csv", "id,output\nv2-1,Hello\n");
  EXPECT_NE(error_of([&] { data::read_xstest_completions(dir / "c.csv"); }).find("c.csv:1: missing column 'completion'"),
            std::string::npos);
}

TEST(EvalXstest, ReadsTheSharedDataset) {
  const std::filesystem::path root = std::string(PRECEPT_SHARED_DIR) + "/datasets/xstest";
  if (!std::filesystem::exists(root)) GTEST_SKIP() << root << " not present";
  const auto prompts = data::read_xstest_prompts(root / "xstest_prompts.csv");
  ASSERT_EQ(prompts.size(), 450u);
  int safe = 0;
  for (const auto& p : prompts) {
    safe += p.safe();
    EXPECT_EQ(!p.safe(), p.type.rfind("contrast_", 0) == 0) << p.where;
  }
  EXPECT_EQ(safe, 250);
  const auto completions = data::read_xstest_completions(root / "labeled_completions/xstest_v2_completions_gpt4_gpteval.csv");
  ASSERT_EQ(completions.size(), 450u);
  EXPECT_EQ(completions[0].id, "v2-1");
  EXPECT_EQ(data::find_xstest_prompt(prompts, completions[0].id)->id, "1");
  EXPECT_EQ(completions[0].human_label, eval::kFullCompliance);
}

TEST(EvalWinRate, WilsonIntervalAndCredits) {
  // Wilson 95% at p = 0.5, n = 100 and p = 0.9, n = 10: scipy.stats.binomtest(k, n).proportion_ci(method="wilson").
  auto ci = eval::wilson_interval(0.5, 100);
  EXPECT_NEAR(ci.low, 0.4038315303659956, 1e-12);
  EXPECT_NEAR(ci.high, 0.5961684696340044, 1e-12);
  ci = eval::wilson_interval(0.9, 10);
  EXPECT_NEAR(ci.low, 0.5958499732047615, 1e-12);
  EXPECT_NEAR(ci.high, 0.9821237869049271, 1e-12);
  EXPECT_TRUE(std::isnan(eval::wilson_interval(0.5, 0).low));
  EXPECT_EQ(eval::candidate_credit(4, 3), 1.0);
  EXPECT_EQ(eval::candidate_credit(3, 3), 0.5);
  EXPECT_EQ(eval::candidate_credit(2, 3), 0.0);
  EXPECT_FALSE(eval::candidate_credit(NAN, 3));
  // Prompt 1 wins both orders, prompt 2 splits (position bias), prompt 3 has one usable order, prompt 4 none.
  const auto rate = eval::win_rate({{1.0, 1.0}, {1.0, 0.0}, {std::nullopt, 0.5}, {std::nullopt, std::nullopt}});
  EXPECT_EQ(rate.prompts, 4);
  EXPECT_EQ(rate.judged, 3);
  EXPECT_EQ(rate.failed_orders, 3);
  EXPECT_EQ(rate.wins, 3);
  EXPECT_EQ(rate.ties, 1);
  EXPECT_EQ(rate.losses, 1);
  EXPECT_DOUBLE_EQ(rate.win_rate, (1.0 + 0.5 + 0.5) / 3);
  EXPECT_DOUBLE_EQ(rate.win_rate_baseline_first, 1.0);
  EXPECT_DOUBLE_EQ(rate.win_rate_candidate_first, 0.5);
  EXPECT_LT(rate.ci95.low, rate.win_rate);
  EXPECT_GT(rate.ci95.high, rate.win_rate);
}

TEST(EvalHtml, SelfContainedAndEscaped) {
  eval::BarChart chart;
  chart.title = "a <b> & c";
  chart.categories = {"x", "y"};
  chart.series = {"s1", "s2"};
  chart.values = {{0.5, NAN}, {1.0, 0.25}};
  eval::MatrixChart matrix;
  matrix.title = "m";
  matrix.rows = {"1", "2"};
  matrix.columns = {"1", "2"};
  matrix.cells = {{3, 0}, {1, 7}};
  eval::HtmlPage page("title <x>");
  page.section("chart", eval::svg_bar_chart(chart) + eval::svg_matrix(matrix));
  const std::string html = page.render();
  EXPECT_NE(html.find("title &lt;x&gt;"), std::string::npos);
  EXPECT_NE(html.find("a &lt;b&gt; &amp; c"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_NE(html.find("<rect"), std::string::npos);
  EXPECT_NE(html.find(">n/a<"), std::string::npos);
  EXPECT_EQ(eval::html_path_beside("out/r.json"), "out/r.html");
  EXPECT_EQ(eval::html_path_beside("report"), "report.html");
}

}  // namespace
}  // namespace precept
