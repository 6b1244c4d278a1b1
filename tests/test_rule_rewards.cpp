// Rule rewards (reward/rule_rewards.h): length targets in characters, words and real Qwen
// tokens; PCRE2 must / must-not patterns on tricky UTF-8; verifiable answers on GSM8K-style
// references and messy model output. Expected values are worked out by hand in the comments.
#include "reward/rule_rewards.h"

#include "text/tokenizer.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

namespace fs = std::filesystem;
using namespace precept::reward;
using precept::testing::error_of;
using precept::testing::temp_dir;
using json = nlohmann::json;

namespace {

Group group_of(std::vector<std::string> responses, json record = json::object()) {
  Group group;
  group.prompt = "prompt";
  group.responses = std::move(responses);
  group.record = std::move(record);
  return group;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The real Qwen tokenizer from ../shared (vocab.json + merges.txt + Qwen3 tokenizer_config.json).
std::shared_ptr<const precept::text::Tokenizer> qwen_tokenizer() {
  const fs::path assets = fs::path(PRECEPT_SHARED_DIR) / "assets" / "qwen-tokenizer";
  const fs::path dir = temp_dir("rule_rewards_qwen");
  fs::create_symlink(assets / "vocab.json", dir / "vocab.json");
  fs::create_symlink(assets / "merges.txt", dir / "merges.txt");
  fs::create_symlink(assets / "tokenizer_config.qwen3.json", dir / "tokenizer_config.json");
  return precept::text::load_tokenizer(dir);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Length

TEST(LengthReward, CountsCodePointsAndWhiteSpaceSeparatedWords) {
  EXPECT_EQ(count_characters("héllo"), 5);
  EXPECT_EQ(count_characters("日本語"), 3);
  EXPECT_EQ(count_characters("😀👍🏽"), 3);      // the skin tone is its own code point
  EXPECT_EQ(count_characters("\xFF\xFE a"), 4);  // two ill-formed bytes -> two U+FFFD, as Python decodes
  EXPECT_EQ(count_characters("\xE6\x97"), 1);    // a cut-off 3-byte sequence is one U+FFFD
  EXPECT_EQ(count_words("  two   words\n"), 2);
  EXPECT_EQ(count_words("日本語のテキスト"), 1);                   // no spaces, one word
  EXPECT_EQ(count_words("a\u00A0b tab\tand\u3000ideographic"), 5);  // NBSP and U+3000 are White_Space
  EXPECT_EQ(count_words(""), 0);
  EXPECT_EQ(count_words(" \n\t "), 0);
}

TEST(LengthReward, BandWithLinearFallOff) {
  LengthRewardConfig band;
  band.min = 50;
  band.max = 100;  // fall-offs default to min (50) below and max (100) above
  EXPECT_DOUBLE_EQ(length_band_reward(75, band), 1.0);
  EXPECT_DOUBLE_EQ(length_band_reward(50, band), 1.0);
  EXPECT_DOUBLE_EQ(length_band_reward(100, band), 1.0);
  EXPECT_DOUBLE_EQ(length_band_reward(25, band), 0.5);   // 1 - 25/50
  EXPECT_DOUBLE_EQ(length_band_reward(0, band), 0.0);    // 1 - 50/50
  EXPECT_DOUBLE_EQ(length_band_reward(150, band), 0.5);  // 1 - 50/100
  EXPECT_DOUBLE_EQ(length_band_reward(260, band), 0.0);  // clipped

  LengthRewardConfig target;  // min = max = 10: 1 - |len - 10| / 10
  target.min = target.max = 10;
  EXPECT_DOUBLE_EQ(length_band_reward(7, target), 0.7);
  EXPECT_DOUBLE_EQ(length_band_reward(13, target), 0.7);
  EXPECT_DOUBLE_EQ(length_band_reward(30, target), 0.0);

  LengthRewardConfig hard = band;  // hard edge above, gentle slope below
  hard.falloff_above = 0.0;
  hard.falloff_below = 200.0;
  EXPECT_DOUBLE_EQ(length_band_reward(101, hard), 0.0);
  EXPECT_DOUBLE_EQ(length_band_reward(0, hard), 0.75);  // 1 - 50/200
}

TEST(LengthReward, ScoresAGroupInWordsAndCharacters) {
  LengthRewardConfig config;
  config.min = 3;
  config.max = 5;
  LengthReward words(config);
  GroupScores scores = words.score(group_of({"one two three four", "one", "一 二 三 四 五 六 七 八", ""}));
  // 4 words -> 1; 1 word -> 1 - 2/3; 8 words -> 1 - 3/5; 0 words -> 0.
  ASSERT_EQ(scores.rewards.size(), 4u);
  EXPECT_DOUBLE_EQ(scores.rewards[0], 1.0);
  EXPECT_DOUBLE_EQ(scores.rewards[1], 1.0 - 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(scores.rewards[2], 1.0 - 3.0 / 5.0);
  EXPECT_DOUBLE_EQ(scores.rewards[3], 0.0);
  EXPECT_EQ(scores.valid, std::vector<bool>(4, true));
  EXPECT_EQ(scores.failures, 0);
  EXPECT_EQ(scores.diagnostics["lengths"], json({4, 1, 8, 0}));
  EXPECT_EQ(scores.diagnostics["unit"], "words");

  config.unit = LengthUnit::characters;
  config.min = config.max = 4;
  LengthReward characters(config);
  scores = characters.score(group_of({"äöüß", "🙂🙂"}));
  EXPECT_DOUBLE_EQ(scores.rewards[0], 1.0);
  EXPECT_DOUBLE_EQ(scores.rewards[1], 0.5);  // 2 characters: 1 - 2/4
}

TEST(LengthReward, CountsTokensWithTheGivenTokenizer) {
  auto tokenizer = qwen_tokenizer();
  LengthRewardConfig config;
  config.unit = LengthUnit::tokens;
  config.min = config.max = 4;
  LengthReward reward(config, tokenizer);
  const std::string hello = "Hello world";  // [9707, 1879] in Qwen's vocabulary (llama.cpp's vectors)
  EXPECT_EQ(reward.length_of(hello), 2);
  const std::string long_text = "Tokenization of 日本語 and emoji 🙂 is uneven.";
  const int64_t expected = static_cast<int64_t>(tokenizer->encode(long_text, false).size());
  EXPECT_EQ(reward.length_of(long_text), expected);
  GroupScores scores = reward.score(group_of({hello, long_text}));
  EXPECT_DOUBLE_EQ(scores.rewards[0], 0.5);  // 1 - |2 - 4| / 4
  EXPECT_DOUBLE_EQ(scores.rewards[1], std::max(0.0, 1.0 - std::abs(expected - 4.0) / 4.0));
  EXPECT_EQ(scores.diagnostics["unit"], "tokens");
}

TEST(LengthReward, BadConfigurationIsAnError) {
  LengthRewardConfig config;
  config.min = 10;
  config.max = 5;
  EXPECT_TRUE(contains(error_of([&] { LengthReward{config}; }), "max (5) is below min (10)"));
  config.max = 0;
  config.min = 0;
  EXPECT_TRUE(contains(error_of([&] { LengthReward{config}; }), "max must be > 0"));
  config.max = 10;
  config.falloff_above = -1.0;
  EXPECT_TRUE(contains(error_of([&] { LengthReward{config}; }), "falloff_above"));
  config.falloff_above.reset();
  config.unit = LengthUnit::tokens;
  EXPECT_TRUE(contains(error_of([&] { LengthReward{config}; }), "needs a tokenizer"));
  EXPECT_TRUE(contains(error_of([] { length_unit_from_name("lines", "reward.length.unit"); }), "reward.length.unit"));
  config.unit = LengthUnit::words;
  LengthReward ok(config);
  EXPECT_TRUE(contains(error_of([&] { ok.score(group_of({})); }), "at least one response"));
}

// ---------------------------------------------------------------------------------------------
// Regular expressions

TEST(RegexReward, UnicodeAwarePatternsOnTrickyUtf8) {
  struct Case {
    std::string pattern, subject;
    bool found;
  };
  const std::vector<Case> cases = {
      {R"(^\p{Han}+$)", "漢字", true},
      {R"(^\p{Han}+$)", "漢字a", false},
      {R"(\bcafé\b)", "un café noir", true},
      {R"(\bcafé\b)", "deux cafés", false},         // \b knows é is a word character (UCP)
      {R"(^\w+$)", "Καλημέρα", true},              // \w is Unicode-aware
      {R"(^.$)", "😀", true},                       // one code point is one character
      {R"(^.$)", "👍🏽", false},                     // two code points
      {R"((?i)ÉCOLE)", "une école", true},          // caseless beyond ASCII
      {R"((?i)straße)", "STRASSE", false},          // but simple folding only: ß is not ss
      {R"(^\d+$)", "١٢٣", true},                    // Arabic-Indic digits are \d under UCP
      {R"(^[0-9]+$)", "١٢٣", false},
      {R"(\x{FFFD})", "caf\xC3", true},             // a cut-off é is matched as U+FFFD, never an error
      {R"((?m)^- )", "intro\n- item", true},
      {R"(^- )", "intro\n- item", false},
      {R"((?s)begin.*end)", "begin\nmiddle\nend", true},
      {R"(begin.*end)", "begin\nmiddle\nend", false},
  };
  for (const auto& c : cases) {
    RegexRewardConfig config;
    config.must_match = {c.pattern};
    RegexReward reward(config);
    GroupScores scores = reward.score(group_of({c.subject}));
    EXPECT_DOUBLE_EQ(scores.rewards[0], c.found ? 1.0 : 0.0) << c.pattern << " on " << c.subject;
    EXPECT_TRUE(scores.valid[0]);
    EXPECT_EQ(scores.diagnostics["missing"][0].size(), c.found ? 0u : 1u);
  }
}

TEST(RegexReward, AllOrFractionOfPatterns) {
  RegexRewardConfig config;
  config.must_match = {R"(\\boxed\{)", R"((?i)\bbecause\b)"};
  config.must_not_match = {R"(\p{Cyrillic})", R"((?i)as an ai)"};
  const std::vector<std::string> responses = {
      "Because 2+2=4, the answer is \\boxed{4}.",          // 4 of 4
      "The answer is \\boxed{4}.",                         // no "because": 3 of 4
      "As an AI, я думаю \\boxed{4} because of reasons.",  // both forbidden: 2 of 4
      "",                                                  // no required, none forbidden: 2 of 4
  };
  RegexReward all(config);
  GroupScores scores = all.score(group_of(responses));
  EXPECT_EQ(scores.rewards, (std::vector<double>{1.0, 0.0, 0.0, 0.0}));
  EXPECT_EQ(scores.diagnostics["missing"][1], json({R"((?i)\bbecause\b)"}));
  EXPECT_EQ(scores.diagnostics["forbidden"][2], json({R"(\p{Cyrillic})", R"((?i)as an ai)"}));

  config.combine = RegexCombine::fraction;
  RegexReward fraction(config);
  scores = fraction.score(group_of(responses));
  EXPECT_EQ(scores.rewards, (std::vector<double>{1.0, 0.75, 0.5, 0.5}));

  RegexRewardConfig only_forbidden;
  only_forbidden.must_not_match = {R"(https?://)"};
  RegexReward no_links(only_forbidden);
  EXPECT_EQ(no_links.score(group_of({"see https://x.y", "no links"})).rewards, (std::vector<double>{0.0, 1.0}));
}

TEST(RegexReward, BadPatternsNamePatternMessageAndOffset) {
  RegexRewardConfig config;
  config.name = "format";
  config.must_match = {"ok", "(unclosed"};
  std::string message = error_of([&] { RegexReward{config}; });
  EXPECT_TRUE(contains(message, "regex reward 'format' must_match")) << message;
  EXPECT_TRUE(contains(message, "'(unclosed'")) << message;
  EXPECT_TRUE(contains(message, "missing closing parenthesis")) << message;
  EXPECT_TRUE(contains(message, "at offset 9")) << message;

  config.must_match = {};
  config.must_not_match = {"a{2,1}"};
  message = error_of([&] { RegexReward{config}; });
  EXPECT_TRUE(contains(message, "must_not_match")) << message;
  EXPECT_TRUE(contains(message, "out of order")) << message;

  config.must_not_match = {"caf\xC3"};  // the pattern itself is not UTF-8
  message = error_of([&] { RegexReward{config}; });
  EXPECT_TRUE(contains(message, "UTF-8")) << message;

  config.must_not_match = {};
  EXPECT_TRUE(contains(error_of([&] { RegexReward{config}; }), "no patterns"));
}

TEST(RegexReward, RunawayBacktrackingIsAFailureNotAHang) {
  RegexRewardConfig config;
  config.must_match = {R"(^(a|aa)+$)"};  // exponential on a long run of a's that cannot end the match
  RegexReward reward(config);
  const std::string evil = std::string(60, 'a') + "!";
  const auto start = std::chrono::steady_clock::now();
  GroupScores scores = reward.score(group_of({evil, "aaaa"}));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 30.0);
  EXPECT_FALSE(scores.valid[0]);
  EXPECT_DOUBLE_EQ(scores.rewards[0], 0.0);
  EXPECT_TRUE(scores.valid[1]);
  EXPECT_DOUBLE_EQ(scores.rewards[1], 1.0);
  EXPECT_EQ(scores.failures, 1);
  EXPECT_TRUE(contains(scores.diagnostics["errors"]["0"].get<std::string>(), "limit")) << scores.diagnostics.dump();
}

// ---------------------------------------------------------------------------------------------
// Verifiable answers: pieces

TEST(MatchReward, FindsTheLastBoxedAnswer) {
  EXPECT_EQ(last_boxed("so \\boxed{42}."), "42");
  EXPECT_EQ(last_boxed("\\boxed{1} then \\boxed{\\frac{1}{2}}"), "\\frac{1}{2}");
  EXPECT_EQ(last_boxed("\\boxed {7}"), "7");
  EXPECT_EQ(last_boxed("\\boxed{2} and finally \\boxed{3"), "2");  // a cut-off box does not count
  EXPECT_EQ(last_boxed("no box here"), std::nullopt);
  EXPECT_EQ(final_answer_text("work...\n#### 18"), " 18");
  EXPECT_EQ(final_answer_text("#### 3 but \\boxed{4}"), "4");
  EXPECT_EQ(final_answer_text("just text"), "just text");
}

TEST(MatchReward, ReadsTheLastNumber) {
  struct Case {
    std::string text;
    std::optional<double> value;
    std::string written;
  };
  const std::vector<Case> cases = {
      {"She has 3 apples and buys 4 more, so 7.", 7, "7"},
      {"The total is $1,234,567.", 1234567, "1,234,567"},
      {"That costs $1,250.50 in all", 1250.5, "1,250.50"},
      {"lists 3,4", 4, "4"},                       // not a thousands group
      {"1,2345", 2345, "2345"},                    // ",2345" is no group of three
      {"It fell to -5 degrees.", -5, "-5"},
      {"5 - 10 = -5", -5, "-5"},
      {"10-5", 5, "5"},                            // a minus after a digit is subtraction
      {"x-3", 3, "3"},
      {"temperature \xE2\x88\x92" "12", -12, "-12"},  // U+2212 MINUS SIGN
      {"about .5 of it", 0.5, ".5"},
      {"version 1.2.3", 3, "3"},
      {"The answer is 42.", 42, "42"},
      {"3/4 of the cake", 0.75, "3/4"},
      {"-3/4", -0.75, "-3/4"},
      {"on 12/25/2024", 2024, "2024"},             // a date is not a fraction
      {"1/0 is undefined", 0, "0"},
      {"\\frac{3}{4}", 0.75, "3/4"},
      {"\\dfrac{-10}{4}", -2.5, "-10/4"},
      {"\\frac{\\sqrt{3}}{2}", 2, "2"},            // not a simple fraction: its last number
      {"1{,}000", 1000, "1,000"},
      {"1\\,000", 1000, "1,000"},
      {"25%", 25, "25"},
      {"no digits at all", std::nullopt, ""},
      {"", std::nullopt, ""},
      {"\xFF\xFE 12 \xC3", 12, "12"},              // ill-formed UTF-8 around it
  };
  for (const auto& c : cases) {
    std::optional<ParsedNumber> number = last_number(c.text);
    ASSERT_EQ(number.has_value(), c.value.has_value()) << c.text;
    if (!number) continue;
    EXPECT_DOUBLE_EQ(number->value, *c.value) << c.text;
    EXPECT_EQ(number->text, c.written) << c.text;
  }
  // A boxed answer wins over later numbers; a box without a number is no answer.
  EXPECT_DOUBLE_EQ(final_answer_number("\\boxed{72} (checked with 3 other methods)")->value, 72);
  EXPECT_DOUBLE_EQ(final_answer_number("\\boxed{x = -2}")->value, -2);
  EXPECT_FALSE(final_answer_number("7 ... \\boxed{\\text{none}}").has_value());
}

TEST(MatchReward, NormalizesText) {
  TextNormalization all;
  EXPECT_EQ(normalize_answer("  New   York\n", all), "new york");
  EXPECT_EQ(normalize_answer("STRASSE", all), normalize_answer("straße", all));  // full case folding
  EXPECT_EQ(normalize_answer("E\xCC\x81" "COLE", all), normalize_answer("école", all));  // NFC
  EXPECT_EQ(normalize_answer("a\u00A0\u3000b", all), "a b");
  TextNormalization none{false, false, false};
  EXPECT_EQ(normalize_answer("  New   York\n", none), "  New   York\n");
  TextNormalization trim_only{true, false, false};
  EXPECT_EQ(normalize_answer("  New   York\n", trim_only), "New   York");
  TextNormalization collapse_only{false, false, true};
  EXPECT_EQ(normalize_answer("  New   York\n", collapse_only), " New York ");
  EXPECT_EQ(normalize_answer("caf\xC3", all), "caf\xEF\xBF\xBD");  // repaired, never thrown
  EXPECT_TRUE(numbers_match(0.1 + 0.2, 0.3, 1e-9, 0));
  EXPECT_FALSE(numbers_match(72, 72.01, 1e-6, 1e-9));
  EXPECT_TRUE(numbers_match(1.0 / 3.0, 0.3333, 1e-3, 0));
  EXPECT_TRUE(numbers_match(0, 1e-12, 0, 1e-9));
}

// ---------------------------------------------------------------------------------------------
// Verifiable answers: the reward on GSM8K-style records

TEST(MatchReward, NumericMatchOnGsm8kStyleReferences) {
  MatchReward reward(MatchRewardConfig{});
  struct Case {
    std::string reference;
    std::vector<std::pair<std::string, bool>> responses;
  };
  const std::vector<Case> cases = {
      {"Tom reads 12 pages a day for 6 days: 12*6 = <<12*6=72>>72 pages.\n#### 72",
       {{"He reads 12 * 6 = 72 pages.", true},
        {"12 pages times 6 days gives \\boxed{72}. Double-checking with 2 methods.", true},
        {"72.0", true},
        {"So the answer is 70, not 72? No: final answer 70.", false},
        {"1,072", false},
        {"-72", false},
        {"I cannot tell.", false}}},
      {"The shop sells 1,000 + 250 = <<1000+250=1250>>1250 cups.\n#### 1,250",
       {{"$1,250", true}, {"1250.00 cups", true}, {"12,50", false}, {"1 250", false}}},
      {"She ate 3 of 4 slices.\n#### 3/4",
       {{"\\boxed{\\frac{3}{4}}", true}, {"0.75", true}, {"3/4 of the pizza", true}, {"\\boxed{0.7}", false}}},
      {"The temperature dropped 8 degrees from 3: 3 - 8 = <<3-8=-5>>-5\n#### -5",
       {{"It ends at -5 degrees.", true}, {"\xE2\x88\x92" "5", true}, {"8-5", false}, {"5", false}}},
      {"#### 0.5", {{"Half: .5", true}, {"1/2", true}, {"\\dfrac{1}{2}", true}, {"0.05", false}}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> responses;
    for (const auto& [response, correct] : c.responses) responses.push_back(response);
    GroupScores scores = reward.score(group_of(responses, {{"question", "q"}, {"answer", c.reference}}));
    for (size_t i = 0; i < responses.size(); ++i) {
      EXPECT_DOUBLE_EQ(scores.rewards[i], c.responses[i].second ? 1.0 : 0.0)
          << "reference " << c.reference << " | response " << responses[i] << " | extracted "
          << scores.diagnostics["extracted"][i];
      EXPECT_TRUE(scores.valid[i]);
    }
  }
}

TEST(MatchReward, ReferenceAsNumberOrListAndTolerances) {
  MatchRewardConfig config;
  config.reference_field = "solution";
  config.correct = 2.0;
  config.incorrect = -1.0;
  MatchReward reward(config);
  GroupScores scores = reward.score(group_of({"42", "41"}, {{"solution", 42}}));
  EXPECT_EQ(scores.rewards, (std::vector<double>{2.0, -1.0}));
  scores = reward.score(group_of({"\\boxed{41}", "43"}, {{"solution", json::array({"41", 42.0})}}));
  EXPECT_EQ(scores.rewards, (std::vector<double>{2.0, -1.0}));

  config.relative_tolerance = 1e-3;
  MatchReward loose(config);
  EXPECT_EQ(loose.score(group_of({"1/3", "0.33"}, {{"solution", "0.3333"}})).rewards, (std::vector<double>{2.0, -1.0}));
  EXPECT_EQ(reward.score(group_of({"1/3"}, {{"solution", "0.3333"}})).rewards, (std::vector<double>{-1.0}));
}

TEST(MatchReward, ExactMatchAfterNormalization) {
  MatchRewardConfig config;
  config.mode = MatchMode::exact;
  MatchReward reward(config);
  GroupScores scores = reward.score(group_of(
      {"  paris ", "\\boxed{PARIS}", "The answer is Paris", "Reasoning...\n#### Paris", "Pa ris"}, {{"answer", "Paris"}}));
  EXPECT_EQ(scores.rewards, (std::vector<double>{1, 1, 0, 1, 0}));
  scores = reward.score(group_of({"new   york", "Straße", "strasse"}, {{"answer", json::array({"New York", "STRASSE"})}}));
  EXPECT_EQ(scores.rewards, (std::vector<double>{1, 1, 1}));
  scores = reward.score(group_of({"#### 72", "72.0"}, {{"answer", "work\n#### 72"}}));
  EXPECT_EQ(scores.rewards, (std::vector<double>{1, 0}));  // exact text, not a number

  config.normalization.case_fold = false;
  MatchReward case_sensitive(config);
  EXPECT_EQ(case_sensitive.score(group_of({"PARIS", "Paris"}, {{"answer", "Paris"}})).rewards,
            (std::vector<double>{0, 1}));
}

TEST(MatchReward, MissingOrUnusableReferenceIsAConfigurationError) {
  MatchReward reward(MatchRewardConfig{});
  std::string message = error_of([&] { reward.score(group_of({"42"}, {{"question", "q"}, {"id", 7}})); });
  EXPECT_TRUE(contains(message, "no field \"answer\"")) << message;
  EXPECT_TRUE(contains(message, "its keys: id, question")) << message;
  message = error_of([&] { reward.score(group_of({"42"}, json::array({1, 2}))); });
  EXPECT_TRUE(contains(message, "not an object")) << message;
  message = error_of([&] { reward.score(group_of({"42"}, {{"answer", "no number here"}})); });
  EXPECT_TRUE(contains(message, "holds no number")) << message;
  message = error_of([&] { reward.score(group_of({"42"}, {{"answer", nullptr}})); });
  EXPECT_TRUE(contains(message, "must be a string, a number or a list")) << message;
  message = error_of([&] { reward.score(group_of({"42"}, {{"answer", json::array()}})); });
  EXPECT_TRUE(contains(message, "empty list")) << message;

  MatchRewardConfig bad;
  bad.relative_tolerance = -1;
  EXPECT_TRUE(contains(error_of([&] { MatchReward{bad}; }), "relative_tolerance"));
  EXPECT_TRUE(contains(error_of([] { match_mode_from_name("fuzzy", "reward.mode"); }), "fuzzy"));
}

TEST(RuleRewards, NeverThrowOnWhatAResponseSays) {
  // Ill-formed UTF-8, NUL bytes, huge numbers, lone backslashes and braces, a very long text.
  const std::vector<std::string> responses = {
      std::string("\xC0\x80\xED\xA0\x80\xF4\x90\x80\x80", 9), std::string("a\0b", 3), std::string(400, '9'),
      "\\boxed{", "\\boxed{}}}{{{", "\\frac{1}{", "-", "-.", "1,", ",000", std::string(100000, 'x') + " 5"};
  LengthRewardConfig length;
  length.max = 10;
  RegexRewardConfig regex;
  regex.must_match = {R"(\d)"};
  regex.must_not_match = {R"(\p{Cs})"};
  MatchRewardConfig exact;
  exact.mode = MatchMode::exact;
  std::vector<std::unique_ptr<Reward>> rewards;
  rewards.push_back(std::make_unique<LengthReward>(length));
  rewards.push_back(std::make_unique<RegexReward>(regex));
  rewards.push_back(std::make_unique<MatchReward>(MatchRewardConfig{}));
  rewards.push_back(std::make_unique<MatchReward>(exact));
  for (auto& reward : rewards) {
    GroupScores scores;
    ASSERT_EQ(error_of([&] { scores = reward->score(group_of(responses, {{"answer", "5"}})); }), "") << reward->name();
    ASSERT_EQ(scores.rewards.size(), responses.size());
    for (double value : scores.rewards) EXPECT_TRUE(std::isfinite(value)) << reward->name();
    EXPECT_TRUE(scores.diagnostics.dump().size() > 0);  // diagnostics serialize (valid UTF-8)
  }
  // 400 nines are too many for a double: no answer there, and no error.
  GroupScores numeric = rewards[2]->score(group_of(responses, {{"answer", "5"}}));
  EXPECT_DOUBLE_EQ(numeric.rewards[2], 0.0);
  EXPECT_DOUBLE_EQ(numeric.rewards.back(), 1.0);
}
