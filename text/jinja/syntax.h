// Jinja syntax: the lexer (with Jinja2's whitespace control: {%- -%}, trim_blocks,
// lstrip_blocks) and the recursive-descent parser that turns template source into the tree
// below. It knows the grammar, not what filters or tags do; lm/jinja.cpp evaluates the tree.
#pragma once

#include "text/jinja/value.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace precept::text::jinja {

// ---- Expressions -------------------------------------------------------------------------

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// One node kind per Jinja expression form. The layout of `operands` per kind:
//   Literal      (none)                   value in `literal`
//   Name         (none)                   variable in `name`
//   List, Tuple  items
//   Dict         key0, value0, key1, value1, ...
//   GetAttr      object                   attribute in `name`            x.name
//   GetItem      object, index            index may be a Slice           x[i], x[a:b:c]
//   Slice        start, stop, step        each may be null
//   Call         callee, positional args  keyword args in `keywords`
//   Filter       input, positional args   filter in `name`, `keywords`   x | f(a, k=b)
//   Test         input, positional args   test in `name`, `negated`      x is not t(a)
//   Unary        operand                  "not", "-" or "+" in `name`
//   Binary       left, right              "and", "or", "+", "-", "*", "/", "//", "%", "**", "~"
//   Compare      first, then one per op   "==", "!=", "<", "<=", ">", ">=", "in", "not in" in `operators`
//   Conditional  then, condition, else    else may be null               a if c else b
struct Expr {
  enum class Kind {
    Literal,
    Name,
    List,
    Tuple,
    Dict,
    GetAttr,
    GetItem,
    Slice,
    Call,
    Filter,
    Test,
    Unary,
    Binary,
    Compare,
    Conditional
  };
  Kind kind;
  int line = 0;
  Value literal;
  std::string name;
  std::vector<ExprPtr> operands;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
  std::vector<std::string> operators;
  bool negated = false;
};

// ---- Statements --------------------------------------------------------------------------

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  enum class Kind { Text, Print, If, For, Set, SetBlock, Macro, With, Break, Continue, Generation };
  Kind kind;
  int line = 0;
  virtual ~Node() = default;

 protected:
  Node(Kind kind, int line) : kind(kind), line(line) {}
};

// The left-hand side of an assignment: a variable, or an attribute of a namespace.
struct AssignTarget {
  std::string name;
  std::string attribute;  // set ns.attribute = ...; empty for a plain variable
};

struct TextNode : Node {
  TextNode(int line, std::string text) : Node(Kind::Text, line), text(std::move(text)) {}
  std::string text;
};
struct PrintNode : Node {  // {{ value }}
  PrintNode(int line, ExprPtr value) : Node(Kind::Print, line), value(std::move(value)) {}
  ExprPtr value;
};
struct IfNode : Node {  // {% if %} {% elif %} {% else %} {% endif %}
  explicit IfNode(int line) : Node(Kind::If, line) {}
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body otherwise;
};
struct ForNode : Node {  // {% for a, b in iterable if filter %} body {% else %} otherwise {% endfor %}
  explicit ForNode(int line) : Node(Kind::For, line) {}
  std::vector<std::string> targets;
  bool unpack = false;  // targets written as a tuple
  ExprPtr iterable;
  ExprPtr filter;
  Body body;
  Body otherwise;
};
struct SetNode : Node {  // {% set a = value %}, {% set a, b = value %}, {% set ns.a = value %}
  explicit SetNode(int line) : Node(Kind::Set, line) {}
  std::vector<AssignTarget> targets;
  bool unpack = false;
  ExprPtr value;
};
struct SetBlockNode : Node {  // {% set a %} body {% endset %}
  explicit SetBlockNode(int line) : Node(Kind::SetBlock, line) {}
  AssignTarget target;
  Body body;
};
struct MacroNode : Node {  // {% macro name(a, b=default) %} body {% endmacro %}
  explicit MacroNode(int line) : Node(Kind::Macro, line) {}
  std::string name;
  std::vector<std::pair<std::string, ExprPtr>> parameters;  // default may be null
  Body body;
};
struct WithNode : Node {  // {% with a = 1 %} body {% endwith %}
  explicit WithNode(int line) : Node(Kind::With, line) {}
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  Body body;
};
struct BreakNode : Node {
  explicit BreakNode(int line) : Node(Kind::Break, line) {}
};
struct ContinueNode : Node {
  explicit ContinueNode(int line) : Node(Kind::Continue, line) {}
};
struct GenerationNode : Node {  // transformers' {% generation %} body {% endgeneration %}
  explicit GenerationNode(int line) : Node(Kind::Generation, line) {}
  Body body;
};

// ---- Parsing -----------------------------------------------------------------------------

struct SyntaxOptions {
  bool trim_blocks = false;            // drop the first newline after a block or comment tag
  bool lstrip_blocks = false;          // drop spaces and tabs before a block or comment tag on its line
  bool keep_trailing_newline = false;  // otherwise one newline at the end of the source is dropped
  bool loop_controls = false;          // {% break %} and {% continue %} (jinja2.ext.loopcontrols)
  bool generation_blocks = false;      // {% generation %} (transformers' AssistantTracker)
  std::set<std::string> filters;       // names a template may use; others are syntax errors
  std::set<std::string> tests;
};

// Parses a whole template. Throws TemplateSyntaxError naming `template_name` and the line.
Body parse_template(const std::string& source, const SyntaxOptions& options, const std::string& template_name);

}  // namespace precept::text::jinja
