// The judge's input: masking (Python's shuffle reproduced), USER_JSON, the rendered prompt with
// the Qwen3 template, the system prompt loader and precept's default prompt, and the balanced
// split of large groups. Expected shuffles and JSON were printed by Python 3; byte equality with
// upstream's own construction on tricky inputs is JudgeFixtures.Prompts (tests/check_judge_text.py).
#include "reward/judge_prompt.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cctype>

namespace fs = std::filesystem;
using namespace precept::reward;
using namespace precept::testing;
using precept::text::ChatTemplate;

namespace {

const fs::path kQwen3Template = fs::path(PRECEPT_SHARED_DIR) / "assets/chat-templates/Qwen-Qwen3-0.6B.jinja";

ChatTemplate qwen3() { return ChatTemplate::from_source(read_all(kQwen3Template), "", "<|im_end|>"); }

std::vector<NamedResponse> five() {
  return {{"a", "A"}, {"b", "B"}, {"c", "C"}, {"d", "D"}, {"e", "E"}};
}

}  // namespace

TEST(JudgeMasking, ReproducesPythonShuffle) {
  // random.seed(s); x = list(range(n)); random.shuffle(x)
  EXPECT_EQ(python_shuffled_order(5, 42), (std::vector<size_t>{3, 1, 2, 4, 0}));
  EXPECT_EQ(python_shuffled_order(3, 42), (std::vector<size_t>{1, 0, 2}));
  EXPECT_EQ(python_shuffled_order(10, 42), (std::vector<size_t>{7, 3, 2, 8, 5, 6, 9, 4, 0, 1}));
  EXPECT_EQ(python_shuffled_order(5, 7), (std::vector<size_t>{4, 0, 3, 1, 2}));
  EXPECT_TRUE(python_shuffled_order(0, 42).empty());
  EXPECT_EQ(python_shuffled_order(1, 42), (std::vector<size_t>{0}));
}

TEST(JudgeMasking, RenamesInShownOrderAndMapsBack) {
  const ShownResponses masked = mask_responses(five());
  ASSERT_EQ(masked.shown.size(), 5u);
  const std::vector<std::string> expected_real = {"d", "b", "c", "e", "a"};  // order 3, 1, 2, 4, 0
  EXPECT_EQ(masked.real_names, expected_real);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(masked.shown[i].name, "model-" + std::to_string(i + 1));
    EXPECT_EQ(masked.shown[i].text, std::string(1, static_cast<char>(std::toupper(expected_real[i][0]))));
    EXPECT_EQ(*masked.real_name(masked.shown[i].name), expected_real[i]);
  }
  EXPECT_EQ(masked.real_name("model-6"), nullptr);
  EXPECT_NE(mask_responses(five(), 7).real_names, masked.real_names);  // another seed, another order
  EXPECT_EQ(mask_responses(five(), 7).real_names, mask_responses(five(), 7).real_names);
}

TEST(JudgeMasking, UnmaskedKeepsNamesAndOrder) {
  const ShownResponses plain = unmasked_responses(five());
  EXPECT_EQ(plain.real_names, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(plain.shown[2].name, "c");
  EXPECT_EQ(*plain.real_name("e"), "e");
}

TEST(JudgeMasking, DuplicateNamesAreAnError) {
  const std::vector<NamedResponse> twice = {{"x", "1"}, {"y", "2"}, {"x", "3"}};
  EXPECT_NE(error_of([&] { mask_responses(twice); }).find("'x'"), std::string::npos);
  EXPECT_NE(error_of([&] { unmasked_responses(twice); }).find("'x'"), std::string::npos);
}

TEST(JudgePrompt, UserJsonAsPythonDumpsIt) {
  // json.dumps({'principle': 'Be brief.', 'prompt': 'Hi "you"', 'responses': {'model-1': 'a\nb',
  // 'model-2': 'é/😀'}}, ensure_ascii=False)
  EXPECT_EQ(judge_user_json("Be brief.", "Hi \"you\"", {{"model-1", "a\nb"}, {"model-2", "é/😀"}}),
            R"({"principle": "Be brief.", "prompt": "Hi \"you\"", "responses": {"model-1": "a\nb", "model-2": "é/😀"}})");
}

TEST(JudgePrompt, RendersSystemAndUserWithTheGenerationPrompt) {
  JudgePromptOptions options;
  options.mask = false;
  const JudgePromptBuilder builder(qwen3(), "\nJudge.\n", options);
  const JudgeRequest request{"P", "Q", {{"x", "1"}, {"y", "2"}}};
  const JudgePrompt prompt = builder.build(request);
  const std::string user = R"({"principle": "P", "prompt": "Q", "responses": {"x": "1", "y": "2"}})";
  EXPECT_EQ(prompt.user_json, user);
  EXPECT_EQ(prompt.text, "<|im_start|>system\n\nJudge.\n<|im_end|>\n<|im_start|>user\n" + user +
                             "<|im_end|>\n<|im_start|>assistant\n");

  options.enable_thinking = false;
  const JudgePromptBuilder no_thinking(qwen3(), "\nJudge.\n", options);
  EXPECT_EQ(no_thinking.build(request).text, prompt.text + "<think>\n\n</think>\n\n");
}

TEST(JudgePrompt, MasksWithTheGivenSeed) {
  const JudgePromptBuilder builder(qwen3(), default_judge_system_prompt());
  const JudgeRequest request{"P", "Q", five()};
  const JudgePrompt upstream_order = builder.build(request);
  EXPECT_EQ(upstream_order.names.real_names, (std::vector<std::string>{"d", "b", "c", "e", "a"}));
  EXPECT_NE(upstream_order.user_json.find(R"("responses": {"model-1": "D", "model-2": "B", "model-3": "C")"),
            std::string::npos)
      << upstream_order.user_json;
  EXPECT_EQ(builder.build(request, 7).names.real_names, mask_responses(five(), 7).real_names);
}

TEST(JudgePrompt, RefusesEmptyInputs) {
  EXPECT_NE(error_of([] { JudgePromptBuilder(qwen3(), ""); }).find("empty"), std::string::npos);
  const JudgePromptBuilder builder(qwen3(), "S");
  EXPECT_NE(error_of([&] { builder.build(JudgeRequest{"P", "Q", {}}); }).find("no responses"), std::string::npos);
}

TEST(JudgeSystemPrompt, LoadsBytesUnchanged) {
  const fs::path dir = temp_dir("judge_system_prompt");
  write_all(dir / "prompt.txt", "\nLeading newline, trailing too.\n");
  EXPECT_EQ(load_judge_system_prompt(dir / "prompt.txt"), "\nLeading newline, trailing too.\n");

  const std::string missing = error_of([&] { load_judge_system_prompt(dir / "nope.txt"); });
  EXPECT_NE(missing.find((dir / "nope.txt").string()), std::string::npos) << missing;
  write_all(dir / "empty.txt", "");
  EXPECT_NE(error_of([&] { load_judge_system_prompt(dir / "empty.txt"); }).find("empty.txt is empty"),
            std::string::npos);
  write_all(dir / "blank.txt", " \n\t\n");
  EXPECT_NE(error_of([&] { load_judge_system_prompt(dir / "blank.txt"); }).find("is empty"), std::string::npos);
  write_all(dir / "latin1.txt", "caf\xe9");
  EXPECT_NE(error_of([&] { load_judge_system_prompt(dir / "latin1.txt"); }).find("not valid UTF-8"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(JudgeSystemPrompt, UpstreamFileIsTheOneThePackageShips) {
  // The reference copy beside REWARDANYTHING.md (sha256 checked by tests/check_judge_text.py).
  const std::string upstream =
      load_judge_system_prompt(fs::path(PRECEPT_SHARED_DIR) / "reference/rewardanything_system_prompt.txt");
  EXPECT_EQ(upstream.size(), 1121u);
  EXPECT_EQ(upstream.front(), '\n');
  EXPECT_EQ(upstream.substr(upstream.size() - 2), "}\n");
}

TEST(JudgeSystemPrompt, DefaultIsTheShippedFileAndAsksForTheFormat) {
  const std::string& prompt = default_judge_system_prompt();
  EXPECT_EQ(prompt, load_judge_system_prompt(fs::path(PRECEPT_SOURCE_DIR) / "configs/judge/default_system_prompt.txt"));
  EXPECT_NE(prompt.find(R"({"scores": {"model-1": 3, "model-2": 5}, "best-to-worst": ["model-2", "model-1"]})"),
            std::string::npos);
  const std::string upstream =
      read_all(fs::path(PRECEPT_SHARED_DIR) / "reference/rewardanything_system_prompt.txt");
  EXPECT_NE(prompt, upstream);
}

TEST(JudgeSplit, BalancedAndInOrder) {
  auto sizes = [](size_t count, size_t max) {
    std::vector<size_t> out;
    size_t next = 0;
    for (const auto& call : split_balanced(count, max)) {
      out.push_back(call.size());
      for (size_t index : call) EXPECT_EQ(index, next++);
    }
    EXPECT_EQ(next, count);
    return out;
  };
  EXPECT_EQ(sizes(10, 8), (std::vector<size_t>{5, 5}));
  EXPECT_EQ(sizes(17, 8), (std::vector<size_t>{6, 6, 5}));
  EXPECT_EQ(sizes(8, 8), (std::vector<size_t>{8}));
  EXPECT_EQ(sizes(9, 4), (std::vector<size_t>{3, 3, 3}));
  EXPECT_EQ(sizes(3, 1), (std::vector<size_t>{1, 1, 1}));
  EXPECT_EQ(sizes(16, 10), (std::vector<size_t>{8, 8}));
  EXPECT_TRUE(sizes(0, 8).empty());
  EXPECT_NE(error_of([] { split_balanced(5, 0); }).find("max_per_call"), std::string::npos);
}
