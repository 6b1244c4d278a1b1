// JudgeFixtures.*: precept's judge text layer against the upstream `rewardanything` 1.0.1 package.
// tests/check_judge_text.py (tests/fixtures/make_judge_fixtures.py) writes what upstream builds
// and parses, then runs these with PRECEPT_JUDGE_FIXTURES pointing at it; without it they skip.
//   Prompts                  full rendered prompt, USER_JSON and name mapping, byte for byte
//   PythonJsonStrings        python_json_string against json.dumps on generated strings
//   UpstreamTextSteps        upstream_json_text / upstream_fix_json against upstream's functions
//   ParserAgreesWithUpstream parse_judgment against parse_rewardanything_output on a messy corpus:
//                            equal wherever upstream returns numeric scores, except the cases the
//                            corpus declares (where precept accepts more), which must come out as
//                            declared and really differ from upstream
#include "reward/judge_parser.h"
#include "reward/judge_prompt.h"
#include "core/python_strings.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iostream>

using json = nlohmann::json;
using namespace precept::reward;
using precept::core::python_json_string;
using precept::text::ChatTemplate;
using precept::testing::read_all;

namespace {

json load_fixtures() {
  const char* path = std::getenv("PRECEPT_JUDGE_FIXTURES");
  if (path == nullptr) return nullptr;
  return json::parse(read_all(path));
}

std::string first_difference(const std::string& expected, const std::string& actual) {
  size_t at = 0;
  while (at < expected.size() && at < actual.size() && expected[at] == actual[at]) ++at;
  const size_t from = at > 40 ? at - 40 : 0;
  return "first difference at byte " + std::to_string(at) + ":\n  expected " + json(expected.substr(from, 100)).dump() +
         "\n  actual   " + json(actual.substr(from, 100)).dump();
}

bool same_scores(const std::map<std::string, double>& ours, const json& theirs) {
  if (ours.size() != theirs.size()) return false;
  for (auto it = theirs.begin(); it != theirs.end(); ++it) {
    auto found = ours.find(it.key());
    if (found == ours.end() || found->second != it.value().get<double>()) return false;
  }
  return true;
}

std::string describe(const Judgment& judgment) {
  json out = judgment.to_json();
  out.erase("reasoning");
  return out.dump();
}

}  // namespace

TEST(JudgeFixtures, Prompts) {
  const json fixtures = load_fixtures();
  if (fixtures.is_null()) GTEST_SKIP() << "PRECEPT_JUDGE_FIXTURES not set; run tests/check_judge_text.py";
  const std::string upstream_prompt = load_judge_system_prompt(fixtures["system_prompt_file"].get<std::string>());
  ASSERT_EQ(upstream_prompt, fixtures["system_prompt"].get<std::string>())
      << "the reference file is not rewardanything.processing.SYSTEM_PROMPT";
  const std::string precept_prompt =
      load_judge_system_prompt(fixtures["precept_system_prompt_file"].get<std::string>());
  ASSERT_EQ(precept_prompt, default_judge_system_prompt());
  const ChatTemplate qwen3 =
      ChatTemplate::from_source(read_all(fixtures["template_file"].get<std::string>()), "", "<|im_end|>");

  int equal = 0;
  int total = 0;
  for (const json& c : fixtures["prompt_cases"]) {
    const std::string name = c["name"];
    JudgePromptOptions options;
    options.mask = c["mask"];
    options.enable_thinking = c["enable_thinking"];
    const JudgePromptBuilder builder(qwen3, c["system_prompt"] == "precept" ? precept_prompt : upstream_prompt,
                                     options);
    JudgeRequest request{c["principle"], c["prompt"], {}};
    for (const json& response : c["responses"]) request.responses.push_back({response[0], response[1]});
    const JudgePrompt prompt = builder.build(request);

    std::vector<std::string> shown;
    for (const NamedResponse& response : prompt.names.shown) shown.push_back(response.name);
    const bool same_json = prompt.user_json == c["user_json"].get<std::string>();
    const bool same_text = prompt.text == c["text"].get<std::string>();
    const bool same_names = shown == c["shown_names"].get<std::vector<std::string>>() &&
                            prompt.names.real_names == c["real_names"].get<std::vector<std::string>>();
    EXPECT_TRUE(same_json) << name << " USER_JSON: " << first_difference(c["user_json"], prompt.user_json);
    EXPECT_TRUE(same_text) << name << " prompt: " << first_difference(c["text"], prompt.text);
    EXPECT_TRUE(same_names) << name << ": masked names or their order differ from upstream's";
    ++total;
    equal += same_json && same_text && same_names;
  }
  std::cout << equal << "/" << total << " judge prompts byte-equal to upstream's construction\n";
}

TEST(JudgeFixtures, PythonJsonStrings) {
  const json fixtures = load_fixtures();
  if (fixtures.is_null()) GTEST_SKIP() << "PRECEPT_JUDGE_FIXTURES not set; run tests/check_judge_text.py";
  int equal = 0;
  int total = 0;
  for (const json& c : fixtures["json_strings"]) {
    const std::string expected = c[1];
    const std::string actual = python_json_string(c[0].get<std::string>());
    EXPECT_EQ(actual, expected) << json(c[0]).dump();
    ++total;
    equal += actual == expected;
  }
  std::cout << equal << "/" << total << " strings equal to json.dumps(ensure_ascii=False)\n";
}

TEST(JudgeFixtures, UpstreamTextSteps) {
  const json fixtures = load_fixtures();
  if (fixtures.is_null()) GTEST_SKIP() << "PRECEPT_JUDGE_FIXTURES not set; run tests/check_judge_text.py";
  int equal = 0;
  int total = 0;
  for (const json& c : fixtures["parser_cases"]) {
    const std::string json_text = upstream_json_text(c["text"].get<std::string>());
    const std::string fixed = upstream_fix_json(c["json_text"].get<std::string>());
    EXPECT_EQ(json_text, c["json_text"].get<std::string>()) << c["id"] << ": extract_json_content";
    EXPECT_EQ(fixed, c["fixed"].get<std::string>()) << c["id"] << ": fix_json_format";
    total += 2;
    equal += (json_text == c["json_text"]) + (fixed == c["fixed"]);
  }
  std::cout << equal << "/" << total << " extract_json_content / fix_json_format results equal\n";
}

TEST(JudgeFixtures, ParserAgreesWithUpstream) {
  const json fixtures = load_fixtures();
  if (fixtures.is_null()) GTEST_SKIP() << "PRECEPT_JUDGE_FIXTURES not set; run tests/check_judge_text.py";
  int agree = 0;
  int declared = 0;
  int total = 0;
  for (const json& c : fixtures["parser_cases"]) {
    const std::string id = c["id"];
    const std::string text = c["text"];
    Judgment judgment;
    if (c["shown_names"].is_null()) {
      judgment = parse_judgment(text);
    } else {
      ShownResponses names;
      for (const json& shown : c["shown_names"]) names.shown.push_back({shown, ""});
      names.real_names = c["real_names"].get<std::vector<std::string>>();
      judgment = parse_judgment(text, names);
    }
    const json& upstream = c["upstream"];
    const bool upstream_usable = !upstream.contains("raised") && upstream["usable"].get<bool>();
    const bool matches_upstream =
        upstream_usable && same_scores(judgment.scores, upstream["scores"]) &&
        judgment.reasoning == upstream["reasoning"].get<std::string>() &&
        (judgment.ranking_derived ? upstream["ranking"].empty()
                                  : judgment.ranking == upstream["ranking"].get<std::vector<std::string>>());
    ++total;
    const json& differs = c["precept_differs"];
    if (differs.is_null()) {
      EXPECT_TRUE(matches_upstream) << id << ": precept " << describe(judgment) << "\n  upstream " << upstream.dump();
      agree += matches_upstream;
      continue;
    }
    // A declared difference: precept gives what the corpus says, and upstream really does not.
    const bool as_declared =
        same_scores(judgment.scores, differs["scores"]) &&
        judgment.ranking == differs["ranking"].get<std::vector<std::string>>() &&
        (!differs.contains("reasoning") || judgment.reasoning == differs["reasoning"].get<std::string>());
    EXPECT_TRUE(as_declared) << id << ": precept " << describe(judgment) << "\n  declared " << differs.dump();
    EXPECT_FALSE(matches_upstream) << id << ": declared as a difference, but precept now agrees with upstream";
    if (as_declared && !matches_upstream) {
      ++declared;
      std::cout << "  differs as declared: " << id << ": " << differs["why"].get<std::string>() << "\n";
    }
  }
  std::cout << "judge parser vs rewardanything 1.0.1 on " << total << " outputs: " << agree << " agree, " << declared
            << " differ as declared (precept accepts more), " << (total - agree - declared) << " unexpected\n";
}
