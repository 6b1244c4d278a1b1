// ChatTemplate and the Jinja interpreter under it. Plain tests check the real Qwen3, Qwen2.5 and
// Llama 3.x templates against strings rendered by jinja2 in transformers' environment, the
// loader's choice of template and its errors, and syntax and runtime errors with their lines.
// ChatTemplateFixtures.* compare every template x conversation and a list of Jinja snippets
// byte-for-byte with transformers; tests/check_chat_templates.py writes their expected bytes
// and runs them (they skip without PRECEPT_CHAT_FIXTURES).
#include "text/chat_template.h"
#include "text/jinja/jinja.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <fstream>
#include <iostream>
#include <map>

#include <pthread.h>
#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using namespace precept::text;
using namespace precept::testing;

namespace {

const fs::path kAssets = fs::path(PRECEPT_SHARED_DIR) / "assets";
const fs::path kTemplates = kAssets / "chat-templates";
const fs::path kQwen3Config = kAssets / "qwen-tokenizer" / "tokenizer_config.qwen3.json";
const fs::path kQwen25Config = kAssets / "qwen-tokenizer" / "tokenizer_config.qwen2.5.json";

std::string render_snippet(const std::string& source, const json& variables = json::object()) {
  jinja::Template compiled(source, transformers_environment(), "snippet");
  std::vector<std::pair<std::string, jinja::Value>> values;
  for (auto it = variables.begin(); it != variables.end(); ++it)
    values.emplace_back(it.key(), jinja::from_json(it.value()));
  return compiled.render(values);
}

const std::vector<ChatMessage> kHello = {{"user", "Hello!", std::nullopt}};

}  // namespace

// ---- the real templates against jinja2 --------------------------------------------------------

// Expected strings rendered by jinja2 3.1.6 through transformers' render_jinja_template.
TEST(ChatTemplate, Qwen3SingleTurnThinkingOnAndOff) {
  const ChatTemplate qwen3 = ChatTemplate::from_tokenizer_config(kQwen3Config);
  EXPECT_EQ(qwen3.render(kHello, true), "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(qwen3.render(kHello, true, false),
            "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  EXPECT_EQ(qwen3.render(kHello, false), "<|im_start|>user\nHello!<|im_end|>\n");
}

TEST(ChatTemplate, Qwen3DropsReasoningOfEarlierTurns) {
  const ChatTemplate qwen3 =
      ChatTemplate::from_source(read_all(kTemplates / "Qwen-Qwen3-0.6B.jinja"), "", "<|im_end|>");
  const std::vector<ChatMessage> chat = {
      {"system", "Be brief.", std::nullopt},
      {"user", "2+2?", std::nullopt},
      {"assistant", "<think>\nadd them\n</think>\n\n4", std::nullopt},
      {"user", "3+3?", std::nullopt},
      {"assistant", "6", std::string("add again")},
  };
  EXPECT_EQ(qwen3.render(chat, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n4"
            "<|im_end|>\n<|im_start|>user\n3+3?<|im_end|>\n<|im_start|>assistant\n<think>\nadd again\n</think>\n\n6"
            "<|im_end|>\n");
}

TEST(ChatTemplate, Qwen25AddsItsDefaultSystemPrompt) {
  const ChatTemplate qwen25 = ChatTemplate::from_tokenizer_config(kQwen25Config);
  EXPECT_EQ(qwen25.render(kHello, true),
            "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, LlamaGetsAFixedDateByDefault) {
  const std::string expected =
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
      "Today Date: 26 Jul 2024\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n";
  const std::vector<ChatMessage> chat = {{"system", "  Be brief.\n", std::nullopt}, {"user", "Hello!", std::nullopt}};
  for (const char* file : {"meta-llama-Llama-3.1-8B-Instruct.jinja", "meta-llama-Llama-3.2-3B-Instruct.jinja"}) {
    const ChatTemplate llama =
        ChatTemplate::from_source(read_all(kTemplates / file), "<|begin_of_text|>", "<|eot_id|>");
    EXPECT_EQ(llama.render(chat, true), expected) << file;
  }
}

TEST(ChatTemplate, Llama32PrintsTodayWithoutADateString) {
  ChatTemplate llama = ChatTemplate::from_source(read_all(kTemplates / "meta-llama-Llama-3.2-3B-Instruct.jinja"),
                                                 "<|begin_of_text|>", "<|eot_id|>");
  llama.remove_variable("date_string");
  const std::string rendered = llama.render(kHello, true);
  char today[64];
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(today, sizeof today, "%d %b %Y", &local);
  EXPECT_NE(rendered.find(std::string("Today Date: ") + today + "\n"), std::string::npos) << rendered;

  llama.set_variable("date_string", "01 Jan 2030");
  EXPECT_NE(llama.render(kHello, true).find("Today Date: 01 Jan 2030\n"), std::string::npos);
}

// ---- loading -----------------------------------------------------------------------------------

TEST(ChatTemplate, LoadsFromAModelDirectory) {
  const fs::path dir = temp_dir("chat_model_dir");
  fs::copy_file(kQwen3Config, dir / "tokenizer_config.json");
  EXPECT_EQ(ChatTemplate::from_model_dir(dir).render(kHello, true),
            "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n");

  // chat_template.jinja beside the config takes precedence over its "chat_template" key.
  write_all(dir / "chat_template.jinja", "{{ eos_token }}|{{ bos_token is defined }}|{{ pad_token }}\n");
  EXPECT_EQ(ChatTemplate::from_model_dir(dir).render(kHello, true), "<|im_end|>|False|<|endoftext|>");
  fs::remove_all(dir);
}

TEST(ChatTemplate, ChoosesANamedTemplateFromAList) {
  const fs::path dir = temp_dir("chat_named");
  json config = {{"bos_token", {{"__type", "AddedToken"}, {"content", "<s>"}}},
                 {"eos_token", "</s>"},
                 {"chat_template", json::array({{{"name", "default"}, {"template", "default {{ bos_token }}"}},
                                                {{"name", "tool_use"}, {"template", "tools {{ eos_token }}"}}})}};
  write_all(dir / "tokenizer_config.json", config.dump());
  EXPECT_EQ(ChatTemplate::from_model_dir(dir).render(kHello, false), "default <s>");
  EXPECT_EQ(ChatTemplate::from_model_dir(dir, "tool_use").render(kHello, false), "tools </s>");
  const std::string error = error_of([&] { ChatTemplate::from_model_dir(dir, "rag"); });
  EXPECT_NE(error.find("no chat template named 'rag'"), std::string::npos) << error;
  EXPECT_NE(error.find("'default', 'tool_use'"), std::string::npos) << error;
  fs::remove_all(dir);
}

TEST(ChatTemplate, MissingConfigOrTemplateIsAnError) {
  const fs::path dir = temp_dir("chat_missing");
  std::string error = error_of([&] { ChatTemplate::from_model_dir(dir); });
  EXPECT_NE(error.find("no tokenizer_config.json in " + dir.string()), std::string::npos) << error;

  write_all(dir / "tokenizer_config.json", R"({"eos_token": "</s>"})");
  error = error_of([&] { ChatTemplate::from_model_dir(dir); });
  EXPECT_NE(error.find("has no \"chat_template\""), std::string::npos) << error;
  EXPECT_NE(error.find("chat_template.jinja"), std::string::npos) << error;

  write_all(dir / "tokenizer_config.json", "{not json");
  error = error_of([&] { ChatTemplate::from_model_dir(dir); });
  EXPECT_NE(error.find("is not valid JSON"), std::string::npos) << error;
  fs::remove_all(dir);
}

// ---- errors --------------------------------------------------------------------------------------

TEST(ChatTemplate, SyntaxErrorsNameTheLineAndSayWhatToDo) {
  auto syntax_error = [](const std::string& source) -> std::pair<int, std::string> {
    try {
      ChatTemplate::from_source(source, "", "");
    } catch (const jinja::TemplateSyntaxError& error) {
      return {error.line(), error.what()};
    }
    return {0, "no error"};
  };
  auto [line, message] = syntax_error("{% for m in messages %}\n{{ m.content }\n{% endfor %}");
  EXPECT_EQ(line, 2) << message;
  EXPECT_NE(message.find("unexpected '}'"), std::string::npos) << message;
  EXPECT_NE(message.find("chat_template.jinja"), std::string::npos) << message;
  EXPECT_NE(message.find("from_source"), std::string::npos) << message;

  std::tie(line, message) = syntax_error("a\n\n{% for m in messages %}{{ m }}");
  EXPECT_EQ(line, 3) << message;
  EXPECT_NE(message.find("'endfor' or 'else'"), std::string::npos) << message;

  std::tie(line, message) = syntax_error("{{ messages }}\n{{ messages | shuffle }}");
  EXPECT_EQ(line, 2) << message;
  EXPECT_NE(message.find("No filter named 'shuffle'"), std::string::npos) << message;

  std::tie(line, message) = syntax_error("{% include 'other.jinja' %}");
  EXPECT_NE(message.find("'include' is not supported"), std::string::npos) << message;

  std::tie(line, message) = syntax_error("{% if x %}{% else %}{% else %}{% endif %}");
  EXPECT_NE(message.find("Encountered unknown tag 'else'"), std::string::npos) << message;

  std::tie(line, message) = syntax_error("{{ 'unterminated }}");
  EXPECT_NE(message.find("unexpected char"), std::string::npos) << message;
}

TEST(ChatTemplate, RuntimeErrorsNameTheLine) {
  const ChatTemplate strict = ChatTemplate::from_source(
      "{% for m in messages %}\n{% if m.role == 'tool' %}\n{{ raise_exception('no tools here') }}\n{% endif %}\n"
      "{% endfor %}",
      "", "");
  try {
    strict.render({{"tool", "x", std::nullopt}}, false);
    FAIL() << "expected an error";
  } catch (const jinja::TemplateError& error) {
    EXPECT_EQ(error.line(), 3);
    EXPECT_EQ(error.message(), "no tools here");
  }
  EXPECT_EQ(strict.render({{"user", "x", std::nullopt}}, false), "");
  EXPECT_THROW(strict.render({}, true), std::invalid_argument);

  const ChatTemplate undefined = ChatTemplate::from_source("ok\n{{ messages[0].missing.deeper }}", "", "");
  const std::string error = error_of([&] { undefined.render(kHello, false); });
  EXPECT_NE(error.find("line 2"), std::string::npos) << error;
  EXPECT_NE(error.find("'dict object' has no attribute 'missing'"), std::string::npos) << error;
}

// ---- the interpreter ---------------------------------------------------------------------------

// Expected strings rendered by jinja2 3.1.6 in transformers' environment.
TEST(Jinja, ScopingFollowsJinja2) {
  EXPECT_EQ(render_snippet("{% set x = 0 %}{% for i in [1,2] %}{{ x }}{% set x = i %}{% endfor %}{{ x }}"), "000");
  EXPECT_EQ(render_snippet("{% for i in [1,2] %}{% if loop.first %}{% set y = 5 %}{% endif %}[{{ y }}]{% endfor %}"),
            "[5][]");
  EXPECT_EQ(render_snippet("{% set ns = namespace(a=1) %}{% for i in [1,2] %}{% set ns.a = ns.a + i %}{% endfor %}"
                           "{{ ns.a }}"),
            "4");
  EXPECT_EQ(render_snippet("{% set x = 1 %}{% macro m() %}{{ x }}{% endmacro %}{% set x = 2 %}{{ m() }}"), "2");
  EXPECT_EQ(render_snippet("{% set b %}{% set c = 1 %}x{% endset %}[{{ c }}]{{ b }}"), "[]x");
  EXPECT_EQ(render_snippet("{% with a = 1 %}{% set d = 2 %}{{ a }}{% endwith %}[{{ a }}{{ d }}]"), "1[]");
}

TEST(Jinja, EndlessMacroRecursionIsAnError) {
  const std::string error = error_of([] { render_snippet("{% macro f(n) %}{{ f(n) }}{% endmacro %}\n{{ f(1) }}"); });
  EXPECT_NE(error.find("nested deeper than"), std::string::npos) << error;
}

// Each macro call costs several C++ frames, more through loops and conditions, and far more under
// AddressSanitizer: there 500 nested calls of a macro like this one overflowed the main thread's
// 8 MiB (found by scripts/sanitize.sh). Rendered on a thread with a 4 MiB stack, the recursion
// must end in an error once the renderer has used 2 MiB, whatever a frame costs in this build.
TEST(Jinja, EndlessRecursionEndsWithinTheStack) {
  struct Job {
    std::string error;
  } job;
  const auto body = [](void* argument) -> void* {
    auto* job = static_cast<Job*>(argument);
    job->error = error_of([] {
      render_snippet("{% macro f(n) %}{% for i in [n] %}{% if i is defined %}{% set x = i %}"
                     "{{ (f(x) ~ '') | trim }}{% endif %}{% endfor %}{% endmacro %}{{ f(1) }}");
    });
    return nullptr;
  };
  pthread_attr_t attributes;
  ASSERT_EQ(pthread_attr_init(&attributes), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attributes, size_t(4) << 20), 0);
  pthread_t thread;
  ASSERT_EQ(pthread_create(&thread, &attributes, +body, &job), 0);
  ASSERT_EQ(pthread_join(thread, nullptr), 0);
  pthread_attr_destroy(&attributes);
  EXPECT_NE(job.error.find("nested deeper than"), std::string::npos) << job.error;
}

// Issue 20: the parser recursed once per nesting level, so a deeply nested template (inside a
// downloaded tokenizer_config.json) could overflow the stack. Past 256 levels it is an error.
TEST(Jinja, DeeplyNestedTemplatesAreErrorsNotStackOverflows) {
  const int n = 100000;
  for (const std::string& source : {"{{ " + std::string(n, '(') + "1" + std::string(n, ')') + " }}",
                                    "{{ " + std::string(n, '[') + std::string(n, ']') + " }}",
                                    "{{ " + std::string(n, '-') + "1 }}", "{{ " + [&] {
                                      std::string nots;
                                      for (int i = 0; i < n; ++i) nots += "not ";
                                      return nots;
                                    }() + "x }}",
                                    [&] {
                                      std::string blocks;
                                      for (int i = 0; i < n; ++i) blocks += "{% if true %}";
                                      return blocks;
                                    }()}) {
    const std::string error = error_of([&] { jinja::Template compiled(source, transformers_environment(), "hostile"); });
    EXPECT_NE(error.find("more than 256 levels deep"), std::string::npos) << error.substr(0, 300);
  }
  // A real template's depth is far below the limit: 40 nested parentheses parse and render.
  EXPECT_EQ(render_snippet("{{ " + std::string(40, '(') + "1 + 1" + std::string(40, ')') + " }}"), "2");
}

TEST(Jinja, WhitespaceControlWithTrimAndLstripBlocks) {
  EXPECT_EQ(render_snippet("{% if true %}\n  hello\n{% endif %}\n  {{ 1 }}\n"), "  hello\n  1");
  EXPECT_EQ(render_snippet("  {% if true %}x{% endif %}  \n{# c #}\n  {# c2 #}  y"), "x  \n  y");
  EXPECT_EQ(render_snippet("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(render_snippet("{{- 'a' -}}\n\n   {{- 'b' }}   {{ 'c' -}}    \n   d"), "ab   cd");
  EXPECT_EQ(render_snippet("  {%+ if true %}x{% endif +%}  \nq"), "  x  \nq");
}

TEST(Jinja, PythonValuesPrintAsPython) {
  EXPECT_EQ(render_snippet("{{ none }}|{{ [1, 'a', none, true, 1.5] }}|{{ {'a': 1} }}|{{ 1/2 }}|{{ 4/2 }}|{{ -7//2 }}"),
            "None|[1, 'a', None, True, 1.5]|{'a': 1}|0.5|2.0|-4");
  EXPECT_EQ(render_snippet("{{ 1e20 }}|{{ 1e-5 }}|{{ 0.1+0.2 }}|{{ 12345678901234567.0 }}|{{ 0.0001 }}"),
            "1e+20|1e-05|0.30000000000000004|1.2345678901234568e+16|0.0001");
  EXPECT_EQ(render_snippet("{{ {'b': 1, 'a': 'é'}|tojson }}|{{ [1, [2]]|tojson(indent=2) }}"),
            "{\"b\": 1, \"a\": \"é\"}|[\n  1,\n  [\n    2\n  ]\n]");
  EXPECT_EQ(render_snippet("{{ 'héllo'[1] }}|{{ 'héllo'|length }}|{{ [1,2,3][::-1] }}|{{ 'a,b,,c'.split(',') }}"),
            "é|5|[3, 2, 1]|['a', 'b', '', 'c']");
  EXPECT_EQ(render_snippet("{{ '\u00a0x\u3000'|trim|length }}|{{ 'xxaxx'.strip('x') }}"), "1|a");
}

// ---- byte equality with transformers (fixtures from tests/check_chat_templates.py) -----------------

namespace {

json load_fixtures() {
  const char* path = std::getenv("PRECEPT_CHAT_FIXTURES");
  if (path == nullptr) return nullptr;
  return json::parse(read_all(path));
}

// agreed/total, printed as "agreed/total".
struct Tally {
  int agreed = 0;
  int total = 0;
  void add(bool agrees) {
    ++total;
    agreed += agrees ? 1 : 0;
  }
  friend std::ostream& operator<<(std::ostream& out, const Tally& t) { return out << t.agreed << "/" << t.total; }
};

// Where two renderings first differ, with some context, for the failure message.
std::string first_difference(const std::string& expected, const std::string& actual) {
  size_t at = 0;
  while (at < expected.size() && at < actual.size() && expected[at] == actual[at]) ++at;
  const size_t from = at > 40 ? at - 40 : 0;
  return "first difference at byte " + std::to_string(at) + ":\n  expected " + json(expected.substr(from, 100)).dump() +
         "\n  actual   " + json(actual.substr(from, 100)).dump();
}

}  // namespace

TEST(ChatTemplateFixtures, Conversations) {
  const json fixtures = load_fixtures();
  if (fixtures.is_null()) GTEST_SKIP() << "PRECEPT_CHAT_FIXTURES not set; run tests/check_chat_templates.py";
  std::map<std::string, ChatTemplate> templates;
  for (const json& spec : fixtures["templates"]) {
    const std::string path = spec["path"];
    if (spec["kind"] == "tokenizer_config") {
      templates.emplace(spec["name"], ChatTemplate::from_tokenizer_config(path));
    } else {
      templates.emplace(spec["name"], ChatTemplate::from_source(
                                          read_all(path), spec["bos_token"].is_string() ? spec["bos_token"] : "",
                                          spec["eos_token"].is_string() ? spec["eos_token"] : ""));
    }
  }
  std::map<std::string, Tally> per_template;
  Tally rendered, raised;
  for (const json& c : fixtures["chat_cases"]) {
    std::vector<ChatMessage> messages;
    for (const json& m : c["messages"]) {
      ChatMessage message{m["role"], m["content"], std::nullopt};
      if (m.contains("reasoning_content")) message.reasoning_content = m["reasoning_content"].get<std::string>();
      messages.push_back(message);
    }
    const std::string name = c["template"];
    const std::string label = name + " / " + c["conversation"].get<std::string>() +
                              " add_generation_prompt=" + c["add_generation_prompt"].dump() +
                              " enable_thinking=" + c["enable_thinking"].dump();
    std::string actual;
    std::string error;
    try {
      actual = templates.at(name).render(messages, c["add_generation_prompt"], c["enable_thinking"]);
    } catch (const std::exception& e) {
      error = e.what();
    }
    // A case where transformers raises agrees when precept raises too, whatever its message:
    // those are counted apart from the renderings, so that "byte-equal" counts bytes only.
    if (c.contains("error")) {
      raised.add(!error.empty());
      EXPECT_FALSE(error.empty()) << label << ": transformers raises (" << c["error"] << ") but precept rendered";
      continue;
    }
    const bool same = error.empty() && actual == c["expected"].get<std::string>();
    EXPECT_TRUE(same) << label << ": " << (error.empty() ? first_difference(c["expected"], actual) : error);
    rendered.add(same);
    per_template[name].add(same);
  }
  for (const auto& [name, counts] : per_template) std::cout << "  " << name << ": " << counts << "\n";
  std::cout << rendered << " templates x conversations byte-equal\n";
  std::cout << raised << " templates x conversations where transformers raises and precept raises\n";
}

TEST(ChatTemplateFixtures, JinjaSnippets) {
  const json fixtures = load_fixtures();
  if (fixtures.is_null()) GTEST_SKIP() << "PRECEPT_CHAT_FIXTURES not set; run tests/check_chat_templates.py";
  Tally rendered, raised, same_line;
  std::map<std::string, Tally> raised_by_kind;  // jinja2's exception class: precept raised too
  for (const json& c : fixtures["snippet_cases"]) {
    const std::string source = c["source"];
    std::string actual;
    std::string error;
    int error_line = 0;
    try {
      actual = render_snippet(source, c["variables"]);
    } catch (const jinja::TemplateError& e) {
      error = e.what();
      error_line = e.line();
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (c.contains("error")) {
      const std::string message = c["error"];
      raised.add(!error.empty());
      raised_by_kind[message.substr(0, message.find(':'))].add(!error.empty());
      EXPECT_FALSE(error.empty()) << json(source).dump() << ": jinja2 raises (" << message << ") but precept rendered "
                                  << json(actual).dump();
      if (c.contains("error_line") && c["error_line"].is_number()) {  // syntax errors: the same line
        same_line.add(!error.empty() && error_line == c["error_line"].get<int>());
        EXPECT_EQ(error_line, c["error_line"].get<int>()) << json(source).dump() << ": " << error;
      }
      continue;
    }
    const bool same = error.empty() && actual == c["expected"].get<std::string>();
    EXPECT_TRUE(same) << json(source).dump() << ": " << (error.empty() ? first_difference(c["expected"], actual) : error);
    rendered.add(same);
  }
  for (const auto& [kind, counts] : raised_by_kind) std::cout << "  jinja2 " << kind << ": precept raises " << counts << "\n";
  std::cout << rendered << " Jinja snippets byte-equal\n";
  std::cout << raised << " Jinja snippets where jinja2 raises and precept raises (" << same_line
            << " syntax errors on jinja2's line)\n";
}
