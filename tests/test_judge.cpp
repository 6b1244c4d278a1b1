// The RewardAnything judge end to end with a tiny random Qwen3 (made by `precept init-model`
// with the real Qwen3 tokenizer and chat template): through `precept judge` and through the
// Reward interface. Random weights produce unparseable judgments, which must be retried,
// counted and replaced by the fallback without any crash; the conversion and fallback logic is
// checked on hand-made judgments; prompts that do not fit are split or refused, never cut.
#include "reward/principle.h"
#include "reward/rewardanything.h"
#include "test_util.h"
#include "text/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using namespace precept;

namespace {

std::string run(const std::string& command, int* status = nullptr) {
  std::string output;
  FILE* pipe = popen((command + " 2>/dev/null").c_str(), "r");
  if (!pipe) return output;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int code = pclose(pipe);
  if (status) *status = WEXITSTATUS(code);
  return output;
}

// One tiny judge per test process, made once.
const fs::path& tiny_judge() {
  static const fs::path dir = [] {
    const fs::path out = precept::testing::temp_dir("tiny_judge") / "judge";
    const fs::path qwen = fs::path(PRECEPT_SHARED_DIR) / "assets" / "qwen-tokenizer";
    const std::string command = std::string(PRECEPT_BINARY) + " init-model --preset qwen3-tiny --seed 3 --tokenizer " +
                                qwen.string() + " --tokenizer-config " + (qwen / "tokenizer_config.qwen3.json").string() +
                                " --out " + out.string();
    int status = -1;
    run(command, &status);
    EXPECT_EQ(status, 0) << command;
    return out;
  }();
  return dir;
}

reward::JudgeSettings small_settings() {
  reward::JudgeSettings settings;
  settings.principle = "Answer kindly and correctly; refuse only what is truly dangerous.";
  settings.max_new_tokens = 24;
  settings.max_retries = 1;
  settings.max_responses_per_call = 4;
  return settings;
}

rollout::GeneratorConfig small_generator(int64_t max_length = 2048) {
  rollout::GeneratorConfig config;
  config.max_slots = 4;
  config.max_length = max_length;
  return config;
}

}  // namespace

TEST(Judge, RandomJudgeThroughRewardInterfaceCountsFailuresAndFallsBack) {
  auto judge = reward::RewardAnythingJudge::load(tiny_judge().string(), small_settings(), small_generator());
  std::vector<reward::Group> groups(3);
  groups[0].prompt = "How do I bake bread?";
  groups[0].responses = {"Mix flour, water, salt and yeast.", "I cannot help with that."};
  groups[1].prompt = "Tell me a joke about \"quotes\" and \\backslashes\\.";
  groups[1].responses = {"Why did the quote escape? \\\"", "Emoji 🍞 and 日本語", "\x01 control"};
  groups[2].prompt = "Ten answers";
  for (int i = 0; i < 10; ++i) groups[2].responses.push_back("answer number " + std::to_string(i));
  for (size_t g = 0; g < groups.size(); ++g) groups[g].seed = 100 + g;

  std::vector<reward::GroupScores> scores;
  ASSERT_NO_THROW(scores = judge->score_batch(groups));
  ASSERT_EQ(scores.size(), 3u);
  // 10 responses with at most 4 per call: 4 + 3 + 3.
  ASSERT_EQ(judge->last_calls().size(), 1u + 1u + 3u);
  int64_t calls_failed = 0;
  for (const auto& call : judge->last_calls()) {
    EXPECT_LE(call.members.size(), 4u);
    EXPECT_GE(call.outputs.size(), 1u);
    EXPECT_LE(call.outputs.size(), 2u);  // one retry at most
    EXPECT_EQ(call.ok, call.judgment.json_parsed && call.judgment.complete);
    calls_failed += !call.ok;
  }
  int64_t failures = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    ASSERT_EQ(scores[g].rewards.size(), groups[g].responses.size());
    ASSERT_EQ(scores[g].valid.size(), groups[g].responses.size());
    for (double r : scores[g].rewards) EXPECT_TRUE(std::isfinite(r));
    failures += scores[g].failures;
    EXPECT_EQ(scores[g].diagnostics["calls"].size(), g == 2 ? 3u : 1u);
    // A failed call was retried once: its attempts show in the diagnostics with the raw text.
    for (const auto& call : scores[g].diagnostics["calls"]) {
      EXPECT_EQ(call["outputs"].size(), call["attempts"].get<size_t>());
      if (!call["ok"].get<bool>()) EXPECT_EQ(call["attempts"].get<int64_t>(), 2);
    }
  }
  EXPECT_EQ(failures, calls_failed);
  std::cout << "[judge] random tiny judge: " << calls_failed << " of " << judge->last_calls().size()
            << " calls unparseable after 1 retry (expected with random weights)\n";
  // The same seeds give the same judgments: the sampled raw texts of every call and attempt
  // (not only the rewards, which are fallback constants when every call fails to parse).
  std::vector<std::vector<std::string>> first_outputs;
  for (const auto& call : judge->last_calls()) first_outputs.push_back(call.outputs);
  size_t sampled_characters = 0;
  for (const auto& outputs : first_outputs) {
    for (const auto& text : outputs) sampled_characters += text.size();
  }
  EXPECT_GT(sampled_characters, 0u) << "the judge sampled nothing, so equal outputs would prove nothing";
  auto again = judge->score_batch(groups);
  for (size_t g = 0; g < groups.size(); ++g) EXPECT_EQ(again[g].rewards, scores[g].rewards);
  ASSERT_EQ(judge->last_calls().size(), first_outputs.size());
  for (size_t c = 0; c < first_outputs.size(); ++c) EXPECT_EQ(judge->last_calls()[c].outputs, first_outputs[c]) << "call " << c;
}

TEST(Judge, ConversionAndFallbackFromParsedCalls) {
  reward::Group group;
  group.prompt = "q";
  group.responses = {"a", "b", "c", "d"};
  group.response_names = {"a", "b", "c", "d"};
  reward::ShownResponses shown = reward::mask_responses({{"a", "a"}, {"b", "b"}, {"c", "c"}, {"d", "d"}}, 42);
  auto masked = [&](const std::string& real) {
    for (size_t i = 0; i < shown.real_names.size(); ++i) {
      if (shown.real_names[i] == real) return shown.shown[i].name;
    }
    return std::string("?");
  };
  // First call covers a, b (complete); second covers c, d but scores only c.
  reward::JudgeCall first, second;
  first.members = {0, 1};
  second.members = {2, 3};
  reward::ShownResponses shown_ab = reward::unmasked_responses({{"a", "a"}, {"b", "b"}});
  reward::ShownResponses shown_cd = reward::unmasked_responses({{"c", "c"}, {"d", "d"}});
  first.outputs = {"<think>a is better</think>{\"scores\": {\"a\": 5, \"b\": 2}, \"best-to-worst\": [\"a\", \"b\"]}"};
  first.judgment = reward::parse_judgment(first.outputs[0], shown_ab);
  first.ok = first.judgment.json_parsed && first.judgment.complete;
  second.outputs = {"garbage", "{\"scores\": {\"c\": 4}}"};
  second.judgment = reward::parse_judgment(second.outputs[1], shown_cd);
  second.ok = second.judgment.json_parsed && second.judgment.complete;
  ASSERT_TRUE(first.ok);
  ASSERT_FALSE(second.ok);
  (void)masked;

  reward::JudgeSettings settings = small_settings();
  settings.conversion = reward::ListwiseMode::kScore;
  auto scores = reward::group_scores_from_calls(group, {&first, &second}, settings);
  EXPECT_EQ(scores.rewards, (std::vector<double>{5, 2, 4, (5 + 2 + 4) / 3.0}));
  EXPECT_EQ(scores.valid, (std::vector<bool>{true, true, true, false}));
  EXPECT_EQ(scores.failures, 1);
  EXPECT_EQ(scores.retries, 1);
  EXPECT_EQ(scores.explanations[0], "a is better");

  settings.fallback = reward::JudgeFallback::constant;
  settings.fallback_value = -1.0;
  settings.conversion = reward::ListwiseMode::kNormalized;
  scores = reward::group_scores_from_calls(group, {&first, &second}, settings);
  EXPECT_EQ(scores.rewards, (std::vector<double>{1.0, 0.25, 0.75, -1.0}));

  // Nothing parsed at all: every response gets the fallback (group mean of nothing = the value).
  reward::JudgeCall broken = second;
  broken.judgment = reward::parse_judgment("no json here", shown_cd);
  settings.fallback = reward::JudgeFallback::group_mean;
  settings.fallback_value = 0.0;
  reward::Group pair = group;
  pair.responses = {"c", "d"};
  pair.response_names = {"c", "d"};
  broken.members = {0, 1};
  scores = reward::group_scores_from_calls(pair, {&broken}, settings);
  EXPECT_EQ(scores.rewards, (std::vector<double>{0.0, 0.0}));
  EXPECT_EQ(scores.valid, (std::vector<bool>{false, false}));
}

TEST(Judge, PromptsThatDoNotFitAreSplitOrRefusedNeverCut) {
  reward::JudgeSettings settings = small_settings();
  settings.max_responses_per_call = 8;
  reward::Group group;
  group.prompt = "Which is best?";
  for (int i = 0; i < 6; ++i) group.responses.push_back(std::string(300, 'a' + i) + " end");
  // A context that holds the prompt with about three of these responses, not six.
  auto judge = reward::RewardAnythingJudge::load(tiny_judge().string(), settings, small_generator(700));
  std::vector<reward::JudgeCall> calls = judge->plan_calls(group);
  ASSERT_GT(calls.size(), 1u);
  size_t covered = 0;
  for (const auto& call : calls) {
    EXPECT_LE(call.prompt_tokens + settings.max_new_tokens, 700);
    covered += call.members.size();
    for (size_t i : call.members) {
      EXPECT_NE(call.prompt.text.find(group.responses[i]), std::string::npos) << "a response was cut";
    }
  }
  EXPECT_EQ(covered, group.responses.size());

  settings.overflow = reward::JudgeOverflow::error;
  auto strict = reward::RewardAnythingJudge::load(tiny_judge().string(), settings, small_generator(700));
  const std::string error = precept::testing::error_of([&] { strict->plan_calls(group, 7); });
  EXPECT_NE(error.find("group 7"), std::string::npos) << error;
  EXPECT_NE(error.find("never truncates"), std::string::npos) << error;

  reward::Group huge;
  huge.prompt = "one long answer";
  huge.responses = {std::string(5000, 'z')};
  const std::string single = precept::testing::error_of([&] { judge->plan_calls(huge); });
  EXPECT_NE(single.find("exceeds the judge's context"), std::string::npos) << single;
}

TEST(JudgeCli, ScoresPrintsPromptsAndParses) {
  const fs::path dir = precept::testing::temp_dir("judge_cli");
  precept::testing::write_all(dir / "responses.json",
                              "{\"helpful\": \"Knead the dough for ten minutes.\", \"refusal\": \"Sorry, I can't.\"}");
  const std::string base = std::string(PRECEPT_BINARY) + " judge --model " + tiny_judge().string() +
                           " --principle 'Be helpful.' --prompt 'How do I knead dough?' --responses " +
                           (dir / "responses.json").string() + " -n 16 --retries 1";
  int status = -1;
  const std::string out = run(base, &status);
  ASSERT_EQ(status, 0) << base;
  auto record = nlohmann::json::parse(out);
  EXPECT_EQ(record["rewards"].size(), 2u);
  EXPECT_TRUE(record["rewards"].contains("helpful"));
  EXPECT_TRUE(record["rewards"].contains("refusal"));
  EXPECT_EQ(record["calls"].size(), 1u);
  EXPECT_EQ(record["failures"].get<int64_t>(), record["calls"][0]["ok"].get<bool>() ? 0 : 1);

  // --print-prompt shows exactly what the builder renders, here with upstream's system prompt
  // and upstream's fixed mask order.
  const fs::path upstream = fs::path(PRECEPT_SHARED_DIR) / "reference" / "rewardanything_system_prompt.txt";
  const std::string printed = run(base + " --mask-seed 42 --system-prompt-file " + upstream.string() + " --print-prompt");
  reward::JudgePromptBuilder builder(text::ChatTemplate::from_model_dir(tiny_judge()),
                                     reward::load_judge_system_prompt(upstream));
  reward::JudgeRequest request{"Be helpful.", "How do I knead dough?",
                               {{"helpful", "Knead the dough for ten minutes."}, {"refusal", "Sorry, I can't."}}};
  EXPECT_EQ(printed, builder.build(request, 42).text);
  EXPECT_EQ(printed.rfind("<|im_start|>assistant\n"), printed.size() - std::string("<|im_start|>assistant\n").size());

  // --parse needs no model.
  precept::testing::write_all(
      dir / "outputs.jsonl",
      "{\"output\": \"<think>x</think>{\\\"scores\\\": {\\\"model-1\\\": 4, \\\"model-2\\\": \\\"2\\\"}}\", "
      "\"masked2real\": {\"model-1\": \"helpful\", \"model-2\": \"refusal\"}}\n"
      "{\"output\": \"no judgment at all\"}\n");
  const std::string parsed = run(std::string(PRECEPT_BINARY) + " judge --parse " + (dir / "outputs.jsonl").string(), &status);
  ASSERT_EQ(status, 0);
  std::istringstream lines(parsed);
  std::string line;
  std::getline(lines, line);
  auto first = nlohmann::json::parse(line);
  EXPECT_EQ(first["scores"]["helpful"], 4.0);
  EXPECT_EQ(first["scores"]["refusal"], 2.0);
  EXPECT_EQ(first["ranking"], (std::vector<std::string>{"helpful", "refusal"}));
  EXPECT_TRUE(first["valid"].get<bool>());
  std::getline(lines, line);
  auto second = nlohmann::json::parse(line);
  EXPECT_FALSE(second["valid"].get<bool>());

  // Bad input is an error naming it, with a non-zero exit.
  run(std::string(PRECEPT_BINARY) + " judge --model " + tiny_judge().string() + " --prompt x --response y", &status);
  EXPECT_NE(status, 0);  // no principle
  run(base + " --conversion median", &status);
  EXPECT_NE(status, 0);
}

// A batch file whose lines carry their own principles: each group's prompt holds its own (a
// line without one gets --principle-file's), in one run of the judge, and a bad "principle" is
// an error naming the line.
TEST(JudgeCli, BatchLinesJudgeUnderTheirOwnPrinciples) {
  const fs::path dir = precept::testing::temp_dir("judge_batch");
  const fs::path principle_file = fs::path(PRECEPT_SOURCE_DIR) / "configs" / "principles" / "concise.toml";
  const std::string file_principle = reward::load_principle(principle_file.string()).text;
  const std::string brief = "Be brief.";
  const std::string careful = "Prefer the answer that states its assumptions, checks its arithmetic, names the units "
                              "of every quantity and says plainly where it is unsure.";
  struct Line {
    std::string principle, prompt;
    std::vector<std::pair<std::string, std::string>> responses;
  };
  const std::vector<Line> lines = {{brief, "What is 2+2?", {{"a", "4"}, {"b", "It is four, because 2+2=4."}}},
                                   {"", "Name a colour.", {{"a", "Blue."}, {"b", "Red, like a fire engine."}}},
                                   {careful, "How far is 3 km in m?", {{"a", "3000 m"}, {"b", "About 3000."}}}};
  std::string batch;
  for (const auto& line : lines) {
    nlohmann::ordered_json record = {{"prompt", line.prompt}, {"responses", nlohmann::ordered_json::object()}};
    for (const auto& [name, text] : line.responses) record["responses"][name] = text;
    if (!line.principle.empty()) record["principle"] = line.principle;
    batch += record.dump() + "\n";
  }
  precept::testing::write_all(dir / "batch.jsonl", batch);
  const std::string base = std::string(PRECEPT_BINARY) + " judge --model " + tiny_judge().string() +
                           " --principle-file " + principle_file.string() + " --batch " + (dir / "batch.jsonl").string() +
                           " -n 8 --retries 0 --mask-seed 42";

  // The prompts: each line's own principle, the file's where a line has none.
  reward::JudgePromptBuilder builder(text::ChatTemplate::from_model_dir(tiny_judge()),
                                     reward::default_judge_system_prompt());
  std::string expected;
  for (const auto& line : lines) {
    reward::JudgeRequest request{line.principle.empty() ? file_principle : line.principle, line.prompt, {}};
    for (const auto& [name, text] : line.responses) request.responses.push_back({name, text});
    expected += builder.build(request, 42).text;
  }
  int status = -1;
  const std::string printed = run(base + " --print-prompt", &status);
  ASSERT_EQ(status, 0) << base;
  EXPECT_EQ(printed, expected);
  EXPECT_NE(printed.find(file_principle), std::string::npos);

  // --print-calls: the same texts, one JSON line per call, numbered by group.
  const std::string calls = run(base + " --print-calls", &status);
  ASSERT_EQ(status, 0) << base;
  std::istringstream call_lines(calls);
  std::string call_line, joined;
  int64_t group = 0;
  for (; std::getline(call_lines, call_line); ++group) {
    const auto call = nlohmann::json::parse(call_line);
    EXPECT_EQ(call["group"].get<int64_t>(), group);
    EXPECT_EQ(call["call"].get<int64_t>(), 0);
    joined += call["prompt"].get<std::string>();
  }
  EXPECT_EQ(group, static_cast<int64_t>(lines.size()));
  EXPECT_EQ(joined, expected);

  // Judged in one run: one record per line, in order, each call's prompt of its own length.
  const std::string out = run(base, &status);
  ASSERT_EQ(status, 0) << base;
  std::istringstream records(out);
  std::string record_line;
  std::vector<int64_t> prompt_tokens;
  for (size_t i = 0; std::getline(records, record_line); ++i) {
    const auto record = nlohmann::json::parse(record_line);
    ASSERT_LT(i, lines.size());
    EXPECT_EQ(record["prompt"], lines[i].prompt);
    ASSERT_EQ(record["calls"].size(), 1u);
    prompt_tokens.push_back(record["calls"][0]["prompt_tokens"].get<int64_t>());
  }
  ASSERT_EQ(prompt_tokens.size(), lines.size());
  auto tokenizer = text::load_tokenizer(tiny_judge().string());
  for (size_t i = 0; i < lines.size(); ++i) {
    reward::JudgeRequest request{lines[i].principle.empty() ? file_principle : lines[i].principle, lines[i].prompt, {}};
    for (const auto& [name, text] : lines[i].responses) request.responses.push_back({name, text});
    EXPECT_EQ(prompt_tokens[i], static_cast<int64_t>(tokenizer->encode(builder.build(request, 42).text, false).size())) << i;
  }

  // A principle that is not a non-empty string is an error naming the line.
  precept::testing::write_all(dir / "bad.jsonl", batch + "{\"prompt\": \"x\", \"responses\": {\"a\": \"y\"}, \"principle\": 3}\n");
  const std::string bad = std::string(PRECEPT_BINARY) + " judge --model " + tiny_judge().string() +
                          " --principle-file " + principle_file.string() + " --batch " + (dir / "bad.jsonl").string();
  const std::string message = run("(" + bad + " 2>&1)", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(message.find("bad.jsonl:4: \"principle\" must be a non-empty string"), std::string::npos) << message;
}
