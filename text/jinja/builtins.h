// jinja2's built-in filters, tests and globals, and the attribute and item lookup of its
// sandbox: methods of str, dict and list (mutating ones refused), dict keys, namespace
// attributes. Internal to lm/jinja.cpp, which registers these in every Environment.
#pragma once

#include "text/jinja/jinja.h"

#include <string>

namespace precept::text::jinja {

void add_builtin_filters(Environment& environment);
void add_builtin_tests(Environment& environment);
void add_builtin_globals(Environment& environment);

// object.name, as jinja2's sandboxed getattr: an attribute (a method) first, then a key.
Value get_attribute(const Value& object, const std::string& name);
// object[key], as jinja2's sandboxed getitem: a key or index first, then an attribute.
Value get_item(const Value& object, const Value& key);

}  // namespace precept::text::jinja
