// A Jinja2 interpreter for the subset chat templates use: {{ }}, {% if/for/set/macro/with %},
// whitespace control, filters, tests, Python-style expressions and string methods. It renders
// byte-for-byte what jinja2 3.1 renders for the same template and inputs. Not supported:
// template inheritance and includes, call blocks, autoescaping, async, sandbox policies beyond
// refusing mutating methods. Used by lm/chat_template.cpp; tests in tests/test_chat_template.cpp.
#pragma once

#include "text/jinja/value.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace precept::text::jinja {

struct Environment;
using Filter = std::function<Value(const Value& input, const Arguments& arguments, const Environment& environment)>;
using Test = std::function<bool(const Value& input, const Arguments& arguments, const Environment& environment)>;

// What jinja2.Environment configures: whitespace handling, extensions, filters, tests and
// globals. The default is jinja2's: no trimming, jinja2's built-in filters, tests and globals.
struct Environment {
  Environment();

  bool trim_blocks = false;            // drop the first newline after a block tag
  bool lstrip_blocks = false;          // drop spaces and tabs before a block tag on its line
  bool keep_trailing_newline = false;  // keep a newline that ends the template
  bool loop_controls = false;          // {% break %} and {% continue %} (jinja2.ext.loopcontrols)
  bool generation_blocks = false;      // {% generation %} (transformers' AssistantTracker)
  std::map<std::string, Filter> filters;
  std::map<std::string, Test> tests;
  std::map<std::string, Value> globals;
};

class Template {
 public:
  // Parses `source`; throws TemplateSyntaxError naming `name` and the line.
  Template(const std::string& source, Environment environment, std::string name = "template");
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with `variables` over the environment's globals. Throws TemplateError (naming the
  // template and line) for runtime errors: undefined values used as objects, type errors,
  // raise_exception().
  std::string render(const std::vector<std::pair<std::string, Value>>& variables) const;

  const std::string& name() const { return name_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string name_;
};

}  // namespace precept::text::jinja
