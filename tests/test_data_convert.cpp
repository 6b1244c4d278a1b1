// The dataset converters (data/convert.h) on small hand-written records shaped like the real
// ones: the responses, scores, principle, domain, category and ids each format produces, what is
// skipped, and the errors for bad input (file, line and field named).
#include "data/convert.h"
#include "data/listwise.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

namespace precept {
namespace {

using data::ordered_json;
using data::SourceFormat;
using testing::error_of;

std::filesystem::path write_input(const std::string& name, const std::string& text) {
  const auto dir = testing::temp_dir("data_convert");
  testing::write_all(dir / name, text);
  return dir / name;
}

data::Conversion convert(SourceFormat format, const std::string& text, const std::string& name = "in.jsonl") {
  return data::convert_to_listwise(format, write_input(name, text));
}

std::string convert_error(SourceFormat format, const std::string& text, const std::string& name = "in.jsonl") {
  return error_of([&] { convert(format, text, name); });
}

TEST(DataConvert, FormatNamesAndUnknownFormatListsThem) {
  EXPECT_EQ(data::parse_source_format("helpsteer"), SourceFormat::helpsteer);
  EXPECT_EQ(data::parse_source_format("rm-bench"), SourceFormat::rm_bench);
  EXPECT_EQ(data::source_format_name(SourceFormat::reward_bench_bon), "reward-bench-bon");
  const std::string error = error_of([] { data::parse_source_format("helpsteer2"); });
  EXPECT_NE(error.find("unknown format 'helpsteer2' (known: prometheus-listwise, alpacaeval-listwise, reward-bench-bon, "
                       "helpsteer, rm-bench)"),
            std::string::npos)
      << error;
}

const char* kPrometheus =
    R"({"id": "vicuna:1", "category": "coding", "principle": "Is the code right?", "rubric": "[Is the code right?]", "prompt": "Sort a list.", "reference_answer": "sorted x", "response_sources": ["vicuna", "chat_gpt"], "responses": ["use sort", "sorted x"], "gpt4_scores": [[2, 2, 3], [5, 5, 5]], "scores": [2.3333, 5]})"
    "\n"
    R"({"id": "vicuna:2", "category": "writing", "principle": "Is it vivid?", "prompt": "Write.", "response_sources": ["a", "b", "c"], "responses": ["x", "y", "z"], "scores": [4, 4, 4]})"
    "\n";

TEST(DataConvert, PrometheusKeepsItsCriterionAndScores) {
  const auto conversion = convert(SourceFormat::prometheus_listwise, kPrometheus);
  ASSERT_EQ(conversion.records.size(), 2u);
  EXPECT_EQ(conversion.source_records, 2);
  EXPECT_EQ(conversion.all_tied, 1);  // vicuna:2
  const ordered_json expected = ordered_json::parse(
      R"({"id": "prometheus:vicuna:1", "principle": "Is the code right?", "prompt": "Sort a list.",
          "responses": {"vicuna": "use sort", "chat_gpt": "sorted x"},
          "ground_truth": {"scores": {"vicuna": 2.3333, "chat_gpt": 5}},
          "domain": "code", "category": "coding", "source": "in.jsonl:1"})");
  EXPECT_EQ(conversion.records[0], expected) << conversion.records[0].dump();
  EXPECT_EQ(conversion.records[1]["domain"], "chat");
  EXPECT_EQ(conversion.records[1]["ground_truth"]["scores"].dump(), R"({"a":4,"b":4,"c":4})");
}

TEST(DataConvert, PrometheusErrorsNameLineAndField) {
  std::string error = convert_error(SourceFormat::prometheus_listwise,
                                    std::string(kPrometheus) + R"({"id": "v3", "category": "math", "principle": "P", "prompt": "Q", "response_sources": ["a", "b"], "responses": ["x", "y"], "scores": [4]})");
  EXPECT_NE(error.find("in.jsonl:3: field 'scores': expected 2 entries (one per response), got 1"), std::string::npos) << error;
  error = convert_error(SourceFormat::prometheus_listwise,
                        R"({"id": "v3", "category": "math", "principle": "P", "prompt": "Q", "response_sources": ["a", "b"], "responses": ["x", "y"], "scores": [4, 7]})");
  EXPECT_NE(error.find("in.jsonl:1: field 'scores[1]': expected a number from 1.0 to 5.0, got 7"), std::string::npos) << error;
  error = convert_error(SourceFormat::prometheus_listwise,
                        R"({"id": "v3", "category": "math", "principle": "P", "prompt": "Q", "response_sources": ["a", "a"], "responses": ["x", "y"], "scores": [4, 3]})");
  EXPECT_NE(error.find("in.jsonl:1: field 'response_sources': names 'a' twice"), std::string::npos) << error;
  error = convert_error(SourceFormat::prometheus_listwise,
                        R"({"id": "v3", "category": "math", "principle": " ", "prompt": "Q", "response_sources": ["a", "b"], "responses": ["x", "y"], "scores": [4, 3]})");
  EXPECT_NE(error.find("in.jsonl:1: field 'principle': is blank"), std::string::npos) << error;
  error = convert_error(SourceFormat::prometheus_listwise,
                        R"({"id": "v3", "category": "math", "principle": "P", "response_sources": ["a", "b"], "responses": ["x", "y"], "scores": [4, 3]})");
  EXPECT_NE(error.find("in.jsonl:1: field 'prompt': missing"), std::string::npos) << error;
}

// Index 0 is the reference at p = 0.5; scores are P(beats the reference).
const char* kAlpacaEval =
    R"({"id": 0, "dataset": "helpful_base", "instruction": "Name a fruit.", "generators": ["gpt4_1106_preview", "claude-2.1", "alpaca-7b"], "responses": ["Apple.", "Pear.", "Apple."], "scores": [0.5, 0.038466, 1e-06]})"
    "\n"
    R"({"id": 1, "dataset": "koala", "instruction": "Say hi.", "generators": ["gpt4_1106_preview", "claude-2.1", "alpaca-7b"], "responses": ["Hi.", "Hello!", "hi"], "scores": [0.5, 1.0, 0.0]})"
    "\n";

TEST(DataConvert, AlpacaEvalKeepsTheBaselineOnOneToFive) {
  const auto conversion = convert(SourceFormat::alpacaeval_listwise, kAlpacaEval);
  ASSERT_EQ(conversion.records.size(), 2u);
  const ordered_json& first = conversion.records[0];
  EXPECT_EQ(first["id"], "alpacaeval:0");
  EXPECT_EQ(first["principle"], data::alpacaeval_principle());
  EXPECT_EQ(first["prompt"], "Name a fruit.");
  EXPECT_EQ(first["responses"].dump(), R"({"gpt4_1106_preview":"Apple.","claude-2.1":"Pear.","alpaca-7b":"Apple."})");
  // 1 + 4p: the baseline 3, 1 + 4 * 0.038466 = 1.153864, 1 + 4e-06 = 1.000004.
  EXPECT_EQ(first["ground_truth"]["scores"]["gpt4_1106_preview"], 3);
  EXPECT_DOUBLE_EQ(first["ground_truth"]["scores"]["claude-2.1"].get<double>(), 1.153864);
  EXPECT_DOUBLE_EQ(first["ground_truth"]["scores"]["alpaca-7b"].get<double>(), 1.000004);
  EXPECT_EQ(first["domain"], "chat");
  EXPECT_EQ(first["category"], "helpful_base");
  EXPECT_EQ(conversion.records[1]["ground_truth"]["scores"].dump(), R"({"gpt4_1106_preview":3,"claude-2.1":5,"alpaca-7b":1})");
  EXPECT_FALSE(first["ground_truth"].contains("best-to-worst"));  // the ranking follows from the scores
}

TEST(DataConvert, RewardBenchBonDropsTheReference) {
  const auto conversion = convert(
      SourceFormat::reward_bench_bon,
      R"({"id": 7, "dataset": "oasst", "instruction": "Q", "generators": ["gpt-3.5-turbo-0613", "allenai/tulu-2-dpo-13b.0", "allenai/tulu-2-dpo-13b.1"], "responses": ["ref", "s0", "s1"], "scores": [0.5, 0.25, 0.75]})");
  ASSERT_EQ(conversion.records.size(), 1u);
  EXPECT_EQ(conversion.records[0]["id"], "reward-bench-bon:7");
  EXPECT_EQ(conversion.records[0]["responses"].dump(), R"({"allenai/tulu-2-dpo-13b.0":"s0","allenai/tulu-2-dpo-13b.1":"s1"})");
  EXPECT_EQ(conversion.records[0]["ground_truth"]["scores"].dump(), R"({"allenai/tulu-2-dpo-13b.0":2,"allenai/tulu-2-dpo-13b.1":4})");
}

TEST(DataConvert, AlpacaEvalShapeErrors) {
  std::string error = convert_error(SourceFormat::reward_bench_bon,
                                    R"({"id": 7, "dataset": "oasst", "instruction": "Q", "generators": ["r", "a", "b"], "responses": ["ref", "s0", "s1"], "scores": [0.4, 0.25, 0.75]})");
  EXPECT_NE(error.find("in.jsonl:1: field 'scores[0]': expected the reference's 0.5 at index 0"), std::string::npos) << error;
  error = convert_error(SourceFormat::alpacaeval_listwise,
                        R"({"id": 7, "dataset": "oasst", "instruction": "Q", "generators": ["r", "a"], "responses": ["ref", "s0"], "scores": [0.5, 1.5]})");
  EXPECT_NE(error.find("field 'scores[1]': expected a number from 0.0 to 1.0, got 1.5"), std::string::npos) << error;
  error = convert_error(SourceFormat::alpacaeval_listwise,
                        R"({"id": 7, "dataset": "oasst", "instruction": "Q", "generators": ["r", "a"], "responses": ["ref", 3], "scores": [0.5, 0.5]})");
  EXPECT_NE(error.find("field 'responses[1]': expected a string, got a number"), std::string::npos) << error;
  const std::string line =
      R"({"id": 7, "dataset": "oasst", "instruction": "Q", "generators": ["r", "a"], "responses": ["ref", "s"], "scores": [0.5, 0.5]})";
  error = convert_error(SourceFormat::alpacaeval_listwise, line + "\n" + line + "\n");
  EXPECT_NE(error.find("in.jsonl:2: field 'id': gives the case id 'alpacaeval:7' again (first at "), std::string::npos) << error;
  // Only the reference is left: a listwise case needs 2 responses.
  error = convert_error(SourceFormat::reward_bench_bon,
                        R"({"id": 7, "dataset": "oasst", "instruction": "Q", "generators": ["r", "a"], "responses": ["ref", "s"], "scores": [0.5, 0.5]})");
  EXPECT_NE(error.find("in.jsonl:1: field 'responses': a listwise case needs at least 2 responses, got 1"), std::string::npos)
      << error;
}

std::string helpsteer_row(const std::string& prompt, const std::string& response, const std::string& scores) {
  return R"({"prompt": ")" + prompt + R"(", "response": ")" + response + R"(", )" + scores + "}\n";
}

TEST(DataConvert, HelpSteerOneCasePerPromptAndAttribute) {
  const std::string text =
      helpsteer_row("P1", "r1", R"("helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 2, "verbosity": 2)") +
      helpsteer_row("P1", "r2", R"("helpfulness": 1, "correctness": 0, "coherence": 3, "complexity": 1, "verbosity": 4)") +
      helpsteer_row("P2", "alone", R"("helpfulness": 4, "correctness": 4, "coherence": 4, "complexity": 1, "verbosity": 1)") +
      helpsteer_row("P1", "r1", R"("helpfulness": 0, "correctness": 0, "coherence": 0, "complexity": 0, "verbosity": 0)") +
      helpsteer_row("P3", "a", R"("helpfulness": 2, "correctness": 2, "coherence": 2, "complexity": 2, "verbosity": 2)") +
      helpsteer_row("P3", "a", R"("helpfulness": 2, "correctness": 2, "coherence": 2, "complexity": 2, "verbosity": 2)") +
      helpsteer_row("P1", "r3", R"("helpfulness": 4, "correctness": 4, "coherence": 4, "complexity": 4, "verbosity": 0)");
  const auto conversion = convert(SourceFormat::helpsteer, text);
  EXPECT_EQ(conversion.source_records, 7);
  ASSERT_EQ(conversion.records.size(), 5u);  // P1 only, one case per attribute
  ASSERT_EQ(conversion.skipped.size(), 2u);
  EXPECT_EQ(conversion.skipped.at("prompt with fewer than 2 distinct responses"), 2);        // P2, P3
  EXPECT_EQ(conversion.skipped.at("row repeating a response already given for its prompt (first kept)"), 2);
  const std::vector<std::string> expected_scores = {R"({"response-1":4,"response-2":2,"response-3":5})",
                                                    R"({"response-1":5,"response-2":1,"response-3":5})",
                                                    R"({"response-1":5,"response-2":4,"response-3":5})",
                                                    R"({"response-1":3,"response-2":2,"response-3":5})",
                                                    R"({"response-1":3,"response-2":5,"response-3":1})"};
  for (size_t a = 0; a < 5; ++a) {
    const ordered_json& record = conversion.records[a];
    const std::string attribute = data::helpsteer_attributes()[a];
    EXPECT_EQ(record["id"], "helpsteer:1:" + attribute);
    EXPECT_EQ(record["principle"], data::helpsteer_principle(attribute));
    EXPECT_EQ(record["category"], attribute);
    EXPECT_EQ(record["prompt"], "P1");
    EXPECT_EQ(record["responses"].dump(), R"({"response-1":"r1","response-2":"r2","response-3":"r3"})");
    EXPECT_EQ(record["ground_truth"]["scores"].dump(), expected_scores[a]) << attribute;
  }
}

TEST(DataConvert, HelpSteerErrors) {
  std::string error = convert_error(
      SourceFormat::helpsteer,
      helpsteer_row("P1", "r1", R"("helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 2, "verbosity": 5)"));
  EXPECT_NE(error.find("in.jsonl:1: field 'verbosity': expected a number from 0.0 to 4.0, got 5"), std::string::npos) << error;
  error = convert_error(SourceFormat::helpsteer,
                        helpsteer_row("P1", "r1", R"("helpfulness": 3, "correctness": 4, "coherence": 4, "complexity": 2)"));
  EXPECT_NE(error.find("in.jsonl:1: field 'verbosity': missing"), std::string::npos) << error;
  error = convert_error(SourceFormat::helpsteer,
                        helpsteer_row("P1", "r1", R"("helpfulness": 3.5, "correctness": 4, "coherence": 4, "complexity": 2, "verbosity": 1)"));
  EXPECT_NE(error.find("in.jsonl:1: field 'helpfulness': expected an integer 0-4, got 3.5"), std::string::npos) << error;
  error = convert_error(SourceFormat::helpsteer, "{\"prompt\": 3}\n");
  EXPECT_NE(error.find("in.jsonl:1: field 'prompt': expected a string, got a number"), std::string::npos) << error;
}

const char* kRmBenchChat =
    R"([{"id": 11, "subset": "alpacaeval", "prompt": "Capital of France?", "chosen": ["Paris.", "The capital is Paris.", "**Paris**"], "rejected": ["Lyon.", "The capital is Lyon.", "**Lyon**"], "error_key": "city", "error": "Lyon"},)"
    R"( {"id": 12, "subset": "alpacaeval", "prompt": "2+2?", "chosen": ["4", "4", "4"], "rejected": ["5", "4", "five"]}])";

TEST(DataConvert, RmBenchChosenTwoRejectedOne) {
  const auto conversion = convert(SourceFormat::rm_bench, kRmBenchChat, "chat_filtered.json");
  EXPECT_EQ(conversion.source_records, 2);
  ASSERT_EQ(conversion.records.size(), 1u);
  EXPECT_EQ(conversion.skipped.at("a rejected response has the text of a chosen one"), 1);
  const ordered_json expected = ordered_json::parse(
      R"({"id": "rm-bench:chat/11", "principle": "", "prompt": "Capital of France?",
          "responses": {"chosen-concise": "Paris.", "chosen-detailed": "The capital is Paris.", "chosen-markdown": "**Paris**",
                        "rejected-concise": "Lyon.", "rejected-detailed": "The capital is Lyon.", "rejected-markdown": "**Lyon**"},
          "ground_truth": {"scores": {"chosen-concise": 2, "chosen-detailed": 2, "chosen-markdown": 2,
                                      "rejected-concise": 1, "rejected-detailed": 1, "rejected-markdown": 1}},
          "domain": "chat", "category": "chat", "source": "chat/11"})");
  ordered_json record = conversion.records[0];
  EXPECT_EQ(record["principle"], data::rm_bench_principle("chat"));
  record["principle"] = "";
  EXPECT_EQ(record, expected) << record.dump();
}

TEST(DataConvert, RmBenchDirectoryAndSafetyDomain) {
  const auto dir = testing::temp_dir("data_convert_rm_bench");
  testing::write_all(dir / "chat_filtered.json", kRmBenchChat);
  testing::write_all(dir / "safety-refuse_filtered.json",
                     R"([{"id": 3, "subset": "refusals-dangerous", "prompt": "How to X?", "chosen": ["No.", "I can't help.", "**No**"], "rejected": ["Do X.", "Step 1: X.", "**X**"]}])");
  const auto conversion = data::convert_to_listwise(SourceFormat::rm_bench, dir);
  ASSERT_EQ(conversion.records.size(), 2u);
  EXPECT_EQ(conversion.records[1]["id"], "rm-bench:safety-refuse/3");
  EXPECT_EQ(conversion.records[1]["domain"], "safety");
  EXPECT_EQ(conversion.records[1]["category"], "safety-refuse");
  EXPECT_EQ(conversion.records[1]["principle"], data::rm_bench_principle("safety-response"));  // one for both
  const std::string error = error_of([&] {
    testing::write_all(dir / "code_filtered.json", R"([{"id": 1, "prompt": "P", "chosen": ["a", "b"], "rejected": ["c", "d", "e"]}])");
    data::convert_to_listwise(SourceFormat::rm_bench, dir);
  });
  EXPECT_NE(error.find("code_filtered.json: record 0"), std::string::npos) << error;
  EXPECT_NE(error.find("field 'chosen': expected 3 responses"), std::string::npos) << error;
}

TEST(DataConvert, WrittenTextLoadsAsListwise) {
  const auto conversion = convert(SourceFormat::prometheus_listwise, kPrometheus);
  const auto path = write_input("out.jsonl", data::listwise_jsonl_text(conversion.records));
  const auto cases = data::read_listwise_jsonl(path);
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].id, "prometheus:vicuna:1");
  EXPECT_EQ(cases[0].response_names, (std::vector<std::string>{"vicuna", "chat_gpt"}));
  EXPECT_EQ(cases[0].gold_scores, (std::vector<double>{2.3333, 5}));
  EXPECT_EQ(cases[0].domain, "code");
}

TEST(DataConvert, MissingInputIsNamed) {
  const std::string error = error_of([] { data::convert_to_listwise(SourceFormat::helpsteer, "/nonexistent/x.jsonl"); });
  EXPECT_NE(error.find("/nonexistent/x.jsonl: no such file or directory"), std::string::npos) << error;
}

}  // namespace
}  // namespace precept
