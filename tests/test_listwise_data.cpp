// The listwise judge dataset reader (data/listwise.h): a valid file, and each kind of bad input
// rejected with the file, the line and the field named.
#include "data/listwise.h"
#include "tests/test_util.h"

#include <gtest/gtest.h>

namespace precept {
namespace {

using testing::error_of;

const char* kGood =
    R"({"id": "c1", "principle": "Be brief.", "prompt": "Hi?", "responses": {"a": "Hello.", "b": "Well, hello there!", "c": "Hi"}, "ground_truth": {"scores": {"a": 4, "b": 2, "c": 4.5}, "best-to-worst": ["c", "a", "b"]}, "domain": "chat", "category": "style", "rubric": "ignored"})"
    "\n\n"
    R"({"id": 7, "principle": "Be kind.", "prompt": "Help", "responses": {"x": "No.", "y": "Sure!"}, "ground_truth": {"scores": {"y": 5, "x": 1}}})"
    "\n";

// Writes `text` as a one-file dataset and returns the error of reading it ("" when none).
std::string read_error(const std::string& text) {
  const auto dir = testing::temp_dir("listwise_data");
  testing::write_all(dir / "cases.jsonl", text);
  return error_of([&] { data::read_listwise_jsonl(dir / "cases.jsonl"); });
}

std::string one_case(const std::string& responses, const std::string& truth, const std::string& extra = "") {
  return R"({"id": "c1", "principle": "P", "prompt": "Q", "responses": )" + responses + R"(, "ground_truth": )" + truth +
         extra + "}\n";
}

TEST(ListwiseData, ReadsCasesInFileOrder) {
  const auto dir = testing::temp_dir("listwise_data_good");
  testing::write_all(dir / "cases.jsonl", kGood);
  const auto cases = data::read_listwise_jsonl(dir / "cases.jsonl");
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].id, "c1");
  EXPECT_EQ(cases[0].response_names, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(cases[0].responses[1], "Well, hello there!");
  EXPECT_EQ(cases[0].gold_scores, (std::vector<double>{4, 2, 4.5}));
  EXPECT_EQ(cases[0].gold_ranking, (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_EQ(cases[0].domain, "chat");
  EXPECT_EQ(cases[0].category, "style");
  EXPECT_EQ(cases[1].id, "7");  // an integer id
  EXPECT_EQ(cases[1].response_names, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(cases[1].gold_scores, (std::vector<double>{1, 5}));  // in response order, not score order
  EXPECT_TRUE(cases[1].gold_ranking.empty());
  EXPECT_EQ(cases[1].domain, "");
  EXPECT_NE(cases[1].where.find("cases.jsonl:3"), std::string::npos);
}

TEST(ListwiseData, MissingScoreNamesTheResponseAndLine) {
  const std::string error = read_error(one_case(R"({"a": "x", "b": "y"})", R"({"scores": {"a": 1}})"));
  EXPECT_NE(error.find("cases.jsonl:1"), std::string::npos) << error;
  EXPECT_NE(error.find("ground_truth.scores"), std::string::npos) << error;
  EXPECT_NE(error.find("missing score for response 'b'"), std::string::npos) << error;
}

TEST(ListwiseData, MissingFieldIsNamed) {
  std::string error = read_error(R"({"id": "c1", "principle": "P", "responses": {"a": "x", "b": "y"}, "ground_truth": {"scores": {"a": 1, "b": 2}}})");
  EXPECT_NE(error.find("cases.jsonl:1: field 'prompt': missing"), std::string::npos) << error;
  error = read_error(one_case(R"({"a": "x", "b": "y"})", R"({"best-to-worst": ["a", "b"]})"));
  EXPECT_NE(error.find("field 'ground_truth.scores': missing"), std::string::npos) << error;
}

TEST(ListwiseData, RankingNamingAnUnknownResponse) {
  const std::string error =
      read_error(one_case(R"({"a": "x", "b": "y"})", R"({"scores": {"a": 1, "b": 2}, "best-to-worst": ["b", "z"]})"));
  EXPECT_NE(error.find("cases.jsonl:1: field 'ground_truth.best-to-worst': names 'z', which is not a response"),
            std::string::npos)
      << error;
  EXPECT_NE(read_error(one_case(R"({"a": "x", "b": "y"})", R"({"scores": {"a": 1, "b": 2}, "best-to-worst": ["b"]})"))
                .find("does not rank response 'a'"),
            std::string::npos);
  EXPECT_NE(read_error(one_case(R"({"a": "x", "b": "y"})", R"({"scores": {"a": 1, "b": 2}, "best-to-worst": ["b", "b"]})"))
                .find("names 'b' twice"),
            std::string::npos);
}

TEST(ListwiseData, ScoreForAnUnknownResponse) {
  const std::string error = read_error(one_case(R"({"a": "x", "b": "y"})", R"({"scores": {"a": 1, "b": 2, "c": 3}})"));
  EXPECT_NE(error.find("field 'ground_truth.scores.c': scores a response that is not in \"responses\""), std::string::npos)
      << error;
}

TEST(ListwiseData, DuplicateIdNamesBothLines) {
  const std::string line = one_case(R"({"a": "x", "b": "y"})", R"({"scores": {"a": 1, "b": 2}})");
  const std::string error = read_error(line + line);
  EXPECT_NE(error.find("cases.jsonl:2: field 'id': duplicate id 'c1' (first at "), std::string::npos) << error;
  EXPECT_NE(error.find("cases.jsonl:1)"), std::string::npos) << error;
}

TEST(ListwiseData, EmptyOrSingleResponseCase) {
  std::string error = read_error(one_case("{}", R"({"scores": {}})"));
  EXPECT_NE(error.find("cases.jsonl:1: field 'responses': a listwise case needs at least 2 responses, got 0"),
            std::string::npos)
      << error;
  error = read_error(one_case(R"({"a": "x"})", R"({"scores": {"a": 1}})"));
  EXPECT_NE(error.find("at least 2 responses, got 1"), std::string::npos) << error;
  EXPECT_NE(read_error("\n \n").find("holds no listwise cases"), std::string::npos);
}

TEST(ListwiseData, WrongTypes) {
  EXPECT_NE(read_error(one_case(R"({"a": "x", "b": 3})", R"({"scores": {"a": 1, "b": 2}})"))
                .find("field 'responses.b': expected a string, got a number"),
            std::string::npos);
  EXPECT_NE(read_error(one_case(R"({"a": "x", "b": "y"})", R"({"scores": {"a": 1, "b": "2"}})"))
                .find("field 'ground_truth.scores.b': expected a number, got a string"),
            std::string::npos);
  EXPECT_NE(read_error(one_case(R"({"a": "x", "b": "y"})", R"({"scores": {"a": 1, "b": true}})"))
                .find("expected a number, got a boolean"),
            std::string::npos);
  EXPECT_NE(read_error(one_case(R"(["x", "y"])", R"({"scores": {}})")).find("field 'responses': expected an object"),
            std::string::npos);
  EXPECT_NE(read_error(one_case(R"({"a": "x", "b": "y"})", R"({"scores": {"a": 1, "b": 2}})", R"(, "domain": 3)"))
                .find("field 'domain': expected a string, got a number"),
            std::string::npos);
  EXPECT_NE(read_error(R"({"id": 1.5, "principle": "P"})").find("field 'id': expected a string or an integer"),
            std::string::npos);
  EXPECT_NE(read_error("[1, 2]\n").find("cases.jsonl:1: expected a JSON object, got an array"), std::string::npos);
  EXPECT_NE(read_error("{\"id\": \n").find("cases.jsonl:1: not valid JSON"), std::string::npos);
}

TEST(ListwiseData, DuplicateKeyIsAnError) {
  // Python and nlohmann would both keep one of the two texts silently.
  const std::string error = read_error(one_case(R"({"a": "x", "a": "y"})", R"({"scores": {"a": 1}})"));
  EXPECT_NE(error.find("cases.jsonl:1: duplicate key 'a'"), std::string::npos) << error;
}

}  // namespace
}  // namespace precept
