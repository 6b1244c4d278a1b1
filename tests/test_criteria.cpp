// Machine-checked criteria (reward/criteria.h), the synthetic listwise cases built from them
// (reward/synthetic_cases.h), the shipped wordings file (configs/paper/principles.toml) and
// satisfaction rates (eval/satisfaction.h). Expected scores are read off the tables in
// docs/paper.md by hand.
#include "eval/satisfaction.h"
#include "reward/criteria.h"
#include "reward/synthetic_cases.h"

#include "data/listwise.h"
#include "data/prompt_sources.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace fs = std::filesystem;
using namespace precept::reward;
using precept::testing::error_of;
using precept::testing::temp_dir;
using precept::testing::write_all;

namespace {

int score(const std::string& id, const std::string& text) { return find_criterion(id).score(text); }

const std::string kBase =
    "Tea is a drink made from leaves. It is popular in many countries, and people drink it hot or cold. "
    "Green tea and black tea come from the same plant. Many people enjoy it every morning.";

}  // namespace

TEST(Criteria, ScoresFollowTheirTables) {
  EXPECT_EQ(score("ends_with_question", "Tea is nice. Do you like it?"), 5);
  EXPECT_EQ(score("ends_with_question", "Do you like it? Tea is nice."), 2);
  EXPECT_EQ(score("ends_with_question", "Tea is nice."), 1);
  EXPECT_EQ(score("lowercase", "tea is nice."), 5);
  EXPECT_EQ(score("lowercase", "Tea is Nice."), 3);
  EXPECT_EQ(score("lowercase", "TEA is nice."), 2);
  EXPECT_EQ(score("bulleted_list", "- a\n- b\n- c"), 5);
  EXPECT_EQ(score("bulleted_list", "- a\n- b"), 3);
  EXPECT_EQ(score("bulleted_list", "1. a\n2. b\n3. c"), 1);
  EXPECT_EQ(score("numbered_list", "1. a\n2) b\n3. c"), 5);
  EXPECT_EQ(score("numbered_list", "- a\n- b\n- c"), 1);
  EXPECT_EQ(score("three_reasons", "1. a\n2. b\n3. c"), 5);
  EXPECT_EQ(score("three_reasons", "- a\n- b\n- c\n- d"), 3);
  EXPECT_EQ(score("three_reasons", "- a\n- b\n- c\n- d\n- e"), 2);
  EXPECT_EQ(score("three_reasons", "No list here."), 1);
  EXPECT_EQ(score("greeting_first", "Hello! Tea is nice."), 5);
  EXPECT_EQ(score("greeting_first", "Tea is nice. Hi."), 2);
  EXPECT_EQ(score("greeting_first", "Tea is nice."), 1);
  EXPECT_EQ(score("no_exclamation", "Tea is nice."), 5);
  EXPECT_EQ(score("no_exclamation", "Tea is nice!"), 3);
  EXPECT_EQ(score("no_exclamation", "Tea! Is! Nice!"), 1);
  EXPECT_EQ(score("avoids_very", "Tea is nice."), 5);
  EXPECT_EQ(score("avoids_very", "Tea is very nice."), 2);
  EXPECT_EQ(score("avoids_very", "Very, very nice."), 1);
  EXPECT_EQ(score("mentions_example", "For example, tea."), 5);
  EXPECT_EQ(score("mentions_example", "An example is tea."), 3);
  EXPECT_EQ(score("summary_last", "Tea is nice. In short, drink tea."), 5);
  EXPECT_EQ(score("summary_last", "In short, tea. It is nice."), 3);
  EXPECT_EQ(score("because", "Tea is nice because it is warm."), 5);
  EXPECT_EQ(score("because", "Tea is nice."), 1);
  EXPECT_EQ(score("thanks", "Thank you for asking."), 5);
  EXPECT_EQ(score("length_band", std::string(30 * 4, 'a')), 2);  // one word: 19 under
  std::string words;
  for (int i = 0; i < 30; ++i) words += "word ";
  EXPECT_EQ(score("length_band", words), 5);
  EXPECT_EQ(score("length_band", words + "a b c d e f g h i j k"), 4);  // 41 words: 1 over
  EXPECT_EQ(score("length_band", words + "a b c d e f g h i j k l m n o p"), 3);  // 46: 6 over
  EXPECT_EQ(score("short_sentences", "Tea is nice. I like it."), 5);
  EXPECT_EQ(score("list_then_short", "- a\n- b\n- c"), 5);
  EXPECT_EQ(score("list_then_short", "Short prose."), 2);
  EXPECT_EQ(score("question_then_lowercase", "tea? yes, do you like it?"), 5);
  EXPECT_EQ(score("question_then_lowercase", "Do you like it?"), 4);
  EXPECT_EQ(score("question_then_lowercase", "tea."), 2);
}

TEST(Criteria, UnknownIdNamesTheKnownOnes) {
  const std::string error = error_of([] { find_criterion("ends_with_questoin"); });
  EXPECT_NE(error.find("ends_with_questoin"), std::string::npos) << error;
  EXPECT_NE(error.find("ends_with_question"), std::string::npos) << error;
}

TEST(Criteria, EveryCriterionsEditsSpanItsScores) {
  // From one real-looking answer every criterion's edits reach a satisfying (5) and a failing
  // (<= 2) variant, so that every list can span the criterion.
  for (const auto& criterion : builtin_criteria()) {
    std::set<int> scores = {criterion.score(kBase)};
    for (const auto& edit : criterion.edits(kBase, 7)) scores.insert(criterion.score(edit));
    EXPECT_TRUE(scores.count(5)) << criterion.id;
    EXPECT_LE(*scores.begin(), 2) << criterion.id;
    auto chosen = spanning_responses(criterion, kBase, 4, 11);
    ASSERT_TRUE(chosen.has_value()) << criterion.id;
    ASSERT_EQ(chosen->size(), 4u) << criterion.id;
    std::set<std::string> texts;
    for (const auto& response : *chosen) {
      texts.insert(response.text);
      EXPECT_EQ(response.score, criterion.score(response.text)) << criterion.id;  // gold is the rule's
    }
    EXPECT_EQ(texts.size(), 4u) << criterion.id;
  }
}

TEST(Criteria, SentencesAndTrimming) {
  EXPECT_EQ(split_sentences("A b. C d? E!\nF"), (std::vector<std::string>{"A b.", "C d?", "E!", "F"}));
  EXPECT_EQ(split_sentences("Pi is 3.14 today."), (std::vector<std::string>{"Pi is 3.14 today."}));
  EXPECT_EQ(trim_to_last_sentence("One. Two is cut"), "One.");
  EXPECT_EQ(trim_to_last_sentence("  no end  "), "no end");
}

TEST(Criteria, ShippedWordingsCoverTheFiveCategoriesAndHoldThreeOut) {
  const auto wordings = load_criterion_wordings(fs::path(PRECEPT_SOURCE_DIR) / "configs" / "paper" / "principles.toml");
  std::set<std::string> categories, held_out_only;
  for (const auto& entry : wordings) {
    categories.insert(criterion_category_name(find_criterion(entry.criterion).category));
    if (entry.held_out_only) held_out_only.insert(entry.criterion);
  }
  EXPECT_GE(wordings.size(), 12u);
  EXPECT_EQ(categories.size(), 5u);
  EXPECT_GE(held_out_only.size(), 3u);
}

TEST(Criteria, WordingsFileErrorsNameTheLineAndKey) {
  const fs::path dir = temp_dir("criteria_wordings");
  auto error_for = [&](const std::string& text) {
    write_all(dir / "w.toml", text);
    return error_of([&] { load_criterion_wordings(dir / "w.toml"); });
  };
  std::string error = error_for("[[criterion]]\nid = \"nope\"\ntrain = [\"a\"]\nheld_out = [\"b\"]\n");
  EXPECT_NE(error.find("w.toml:2"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown criterion 'nope'"), std::string::npos) << error;
  error = error_for("[[criterion]]\nid = \"lowercase\"\ntrain = [\"a\"]\nheld_out = [\"a\"]\n");
  EXPECT_NE(error.find("repeats the wording 'a'"), std::string::npos) << error;
  error = error_for("[[criterion]]\nid = \"lowercase\"\ntrain = [\"a\"]\n");
  EXPECT_NE(error.find("held_out"), std::string::npos) << error;
  error = error_for("[[criterion]]\nid = \"lowercase\"\nheld_out_only = true\ntrain = [\"a\"]\nheld_out = [\"b\"]\n");
  EXPECT_NE(error.find("held_out_only"), std::string::npos) << error;
  error = error_for("[[criterion]]\nid = \"lowercase\"\ntrain = [\"a\"]\nheld_out = [\"b\"]\ntypo = 1\n");
  EXPECT_NE(error.find("typo"), std::string::npos) << error;
  error = error_for("[[criterion]]\nid = \"lowercase\"\ntrain = [\"a\"]\nheld_out = [\"b\"]\n"
                    "[[criterion]]\nid = \"lowercase\"\ntrain = [\"c\"]\nheld_out = [\"d\"]\n");
  EXPECT_NE(error.find("given twice"), std::string::npos) << error;
}

TEST(Criteria, SyntheticCasesAreValidListwiseAndSplitAsDeclared) {
  std::vector<CriterionWordings> wordings = {
      {"ends_with_question", {"End with a question."}, {"Finish by asking something."}, false, "x"},
      {"thanks", {}, {"Thank the user."}, true, "y"}};
  std::vector<BaseResponse> train = {{"About tea?", kBase}, {"About rain?", "Rain falls. It is wet. Plants need it."}};
  std::vector<BaseResponse> held = {{"About owls?", "Owls hunt at night. They have big eyes. Some are small."}};
  SyntheticCasesConfig config;
  config.train_cases_per_criterion = 5;
  config.held_out_cases_per_criterion = 3;
  const auto cases = build_synthetic_cases(wordings, train, held, config);
  ASSERT_EQ(cases.train.size(), 5u);
  ASSERT_EQ(cases.held_out.size(), 6u);
  const fs::path dir = temp_dir("criteria_cases");
  std::string text;
  for (const auto* list : {&cases.train, &cases.held_out})
    for (const auto& record : *list) text += record.dump() + "\n";
  write_all(dir / "cases.jsonl", text);
  const auto read = precept::data::read_listwise_jsonl(dir / "cases.jsonl");  // valid, unique ids
  ASSERT_EQ(read.size(), 11u);
  for (const auto& c : read) {
    const bool train_case = c.domain == "train";
    EXPECT_EQ(c.principle, train_case ? "End with a question." : c.domain == "seen" ? "Finish by asking something." : "Thank the user.");
    if (!train_case) EXPECT_EQ(c.prompt, "About owls?");
    const auto [low, high] = std::minmax_element(c.gold_scores.begin(), c.gold_scores.end());
    EXPECT_GE(*high - *low, 2.0) << c.id;
  }
  // The same inputs give the same cases.
  EXPECT_EQ(build_synthetic_cases(wordings, train, held, config).train, cases.train);
}

TEST(Criteria, SatisfactionCountsScoreFiveWithWilsonInterval) {
  const auto s = precept::eval::measure_satisfaction(find_criterion("ends_with_question"),
                                                     {"Why?", "No.", "Yes? No.", "Really?"});
  EXPECT_EQ(s.completions, 4);
  EXPECT_EQ(s.satisfied, 2);
  EXPECT_DOUBLE_EQ(s.rate, 0.5);
  EXPECT_DOUBLE_EQ(s.mean_score, (5 + 1 + 2 + 5) / 4.0);
  EXPECT_EQ(s.histogram[0], 1);
  EXPECT_EQ(s.histogram[1], 1);
  EXPECT_EQ(s.histogram[4], 2);
  // Wilson at p = 0.5, n = 4: (0.5 + z^2/8 -/+ z sqrt(1/16 + z^2/64)) / (1 + z^2/4).
  const double z = 1.959963984540054, center = 0.5 + z * z / 8, half = z * std::sqrt(1.0 / 16 + z * z / 64);
  EXPECT_NEAR(s.ci95.low, (center - half) / (1 + z * z / 4), 1e-12);
  EXPECT_NEAR(s.ci95.high, (center + half) / (1 + z * z / 4), 1e-12);
}

TEST(PromptSources, ShortPromptsFromTheSharedSets) {
  using precept::data::PromptSource;
  const fs::path datasets = fs::path(PRECEPT_SHARED_DIR) / "datasets";
  for (auto source : {PromptSource::alpacaeval, PromptSource::chatbot_arena, PromptSource::hh_rlhf_helpful}) {
    const auto prompts = precept::data::read_source_prompts(source, precept::data::prompt_source_path(source, datasets), 16);
    EXPECT_GE(prompts.size(), 40u) << precept::data::prompt_source_name(source);
    std::set<std::string> unique(prompts.begin(), prompts.end());
    EXPECT_EQ(unique.size(), prompts.size());
    for (const auto& p : prompts) {
      EXPECT_EQ(p.find('\n'), std::string::npos);
      EXPECT_FALSE(p.empty());
      EXPECT_EQ(p.find("Human:"), std::string::npos);
    }
  }
  const fs::path dir = temp_dir("prompt_sources");
  write_all(dir / "bad.jsonl", "{\"chosen\": \"no turns\"}\n");
  const std::string error = precept::testing::error_of(
      [&] { precept::data::read_source_prompts(PromptSource::hh_rlhf_helpful, dir / "bad.jsonl", 16); });
  EXPECT_NE(error.find("bad.jsonl:1"), std::string::npos) << error;
}
