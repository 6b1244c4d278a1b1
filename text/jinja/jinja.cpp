// The evaluator of the Jinja subset; see lm/jinja.h. Scoping follows jinja2: {% if %} and
// {% set %} at the top level share the template's scope; every loop iteration, macro call,
// {% with %} and block {% set %} gets a fresh scope over the one it was written in, so a
// {% set %} inside a loop is gone at the next iteration (templates carry state across
// iterations in a namespace()).
#include "text/jinja/jinja.h"

#include "text/jinja/builtins.h"
#include "text/jinja/syntax.h"

#include <cstdint>
#include <unordered_map>

namespace precept::text::jinja {

namespace {

struct Frame {
  std::shared_ptr<Frame> parent;
  std::unordered_map<std::string, Value> variables;

  const Value* find(const std::string& name) const {
    for (const Frame* frame = this; frame != nullptr; frame = frame->parent.get()) {
      auto found = frame->variables.find(name);
      if (found != frame->variables.end()) return &found->second;
    }
    return nullptr;
  }
};
using FramePtr = std::shared_ptr<Frame>;

FramePtr child_of(const FramePtr& parent) {
  auto frame = std::make_shared<Frame>();
  frame->parent = parent;
  return frame;
}

// How a statement ended: normally, or by {% break %} / {% continue %}.
enum class Flow { Normal, Break, Continue };

class Renderer {
 public:
  Renderer(const Environment& environment, const std::string& template_name)
      : environment_(environment), name_(template_name),
        stack_base_(reinterpret_cast<uintptr_t>(__builtin_frame_address(0))) {}

  Flow execute(const Body& body, const FramePtr& frame, std::string& out) {
    for (const NodePtr& node : body) {
      const Flow flow = execute_located(*node, frame, out);
      if (flow != Flow::Normal) return flow;
    }
    return Flow::Normal;
  }

 private:
  // Errors without a line get the line of the innermost statement or expression.
  Flow execute_located(const Node& node, const FramePtr& frame, std::string& out) {
    try {
      return execute(node, frame, out);
    } catch (const TemplateError& error) {
      if (error.line() > 0) throw;
      throw TemplateError(error.message(), node.line, name_);
    }
  }

  Flow execute(const Node& node, const FramePtr& frame, std::string& out) {
    switch (node.kind) {
      case Node::Kind::Text: out += static_cast<const TextNode&>(node).text; return Flow::Normal;
      case Node::Kind::Print:
        out += to_str(evaluate(*static_cast<const PrintNode&>(node).value, frame));
        return Flow::Normal;
      case Node::Kind::If: {
        const auto& branch_node = static_cast<const IfNode&>(node);
        for (const auto& [condition, body] : branch_node.branches) {
          if (truthy(evaluate(*condition, frame))) return execute(body, frame, out);
        }
        return execute(branch_node.otherwise, frame, out);
      }
      case Node::Kind::For: return execute_for(static_cast<const ForNode&>(node), frame, out);
      case Node::Kind::Set: {
        const auto& set = static_cast<const SetNode&>(node);
        const Value value = evaluate(*set.value, frame);
        if (!set.unpack) {
          assign(set.targets[0], value, frame);
          return Flow::Normal;
        }
        const ValueList items = unpack(value, set.targets.size());
        for (size_t i = 0; i < items.size(); ++i) assign(set.targets[i], items[i], frame);
        return Flow::Normal;
      }
      case Node::Kind::SetBlock: {
        const auto& set = static_cast<const SetBlockNode&>(node);
        std::string captured;  // the block has its own scope, as a macro body does
        execute(set.body, child_of(frame), captured);
        assign(set.target, Value(captured), frame);
        return Flow::Normal;
      }
      case Node::Kind::Macro: {
        const auto& macro = static_cast<const MacroNode&>(node);
        frame->variables[macro.name] = make_macro(macro, frame);
        return Flow::Normal;
      }
      case Node::Kind::With: {
        const auto& with = static_cast<const WithNode&>(node);
        FramePtr scope = child_of(frame);
        for (const auto& [name, value] : with.assignments) scope->variables[name] = evaluate(*value, frame);
        return execute(with.body, scope, out);
      }
      case Node::Kind::Break: return Flow::Break;
      case Node::Kind::Continue: return Flow::Continue;
      case Node::Kind::Generation: return execute(static_cast<const GenerationNode&>(node).body, frame, out);
    }
    return Flow::Normal;
  }

  static ValueList unpack(const Value& value, size_t count) {
    ValueList items = iterate(value);
    if (items.size() > count) throw TemplateError("too many values to unpack (expected " + std::to_string(count) + ")");
    if (items.size() < count) {
      throw TemplateError("not enough values to unpack (expected " + std::to_string(count) + ", got " +
                          std::to_string(items.size()) + ")");
    }
    return items;
  }

  static void bind_targets(const ForNode& loop, const Value& item, Frame& frame) {
    if (!loop.unpack) {
      frame.variables[loop.targets[0]] = item;
      return;
    }
    const ValueList items = unpack(item, loop.targets.size());
    for (size_t i = 0; i < items.size(); ++i) frame.variables[loop.targets[i]] = items[i];
  }

  void assign(const AssignTarget& target, const Value& value, const FramePtr& frame) {
    if (target.attribute.empty()) {
      frame->variables[target.name] = value;
      return;
    }
    const Value* object = frame->find(target.name);
    if (object == nullptr || object->kind() != Value::Kind::Namespace) {
      throw TemplateError("cannot assign attribute on non-namespace object");
    }
    object->namespace_items().set(Value(target.attribute), value);
  }

  Flow execute_for(const ForNode& loop, const FramePtr& frame, std::string& out) {
    const Value iterable = evaluate(*loop.iterable, frame);
    ValueList items = iterate(iterable);
    if (loop.filter) {
      ValueList kept;
      for (const Value& item : items) {
        FramePtr scope = child_of(frame);
        bind_targets(loop, item, *scope);
        if (truthy(evaluate(*loop.filter, scope))) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) return execute(loop.otherwise, child_of(frame), out);
    const auto count = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < count; ++i) {
      FramePtr scope = child_of(frame);
      bind_targets(loop, items[i], *scope);
      ValueDict state{{"index", Value(i + 1)},
                      {"index0", Value(i)},
                      {"revindex", Value(count - i)},
                      {"revindex0", Value(count - i - 1)},
                      {"first", Value(i == 0)},
                      {"last", Value(i == count - 1)},
                      {"length", Value(count)},
                      {"depth", Value(1)},
                      {"depth0", Value(0)}};
      if (i > 0) state.set(Value("previtem"), items[i - 1]);
      if (i + 1 < count) state.set(Value("nextitem"), items[i + 1]);
      state.set(Value("cycle"), Value::function("loop.cycle", [i](const Arguments& arguments) {
                  if (arguments.positional.empty()) throw TemplateError("no items for cycling given");
                  return arguments.positional[static_cast<size_t>(i) % arguments.positional.size()];
                }));
      scope->variables["loop"] = Value::dict(std::move(state));
      if (execute(loop.body, scope, out) == Flow::Break) break;
    }
    return Flow::Normal;
  }

  // The macro holds its defining scope weakly: that scope holds the macro, and a strong
  // reference both ways would never be freed.
  Value make_macro(const MacroNode& macro, const FramePtr& defining_scope) {
    std::weak_ptr<Frame> weak_scope = defining_scope;
    return Value::function(macro.name, [this, &macro, weak_scope](const Arguments& arguments) {
      FramePtr closure = weak_scope.lock();
      if (!closure) throw TemplateError("macro '" + macro.name + "' was called after its scope ended");
      if (macro_depth_ >= kMaxMacroDepth || stack_used() > kMaxStackBytes) {
        throw TemplateError("macro '" + macro.name + "' nested deeper than " + std::to_string(macro_depth_) +
                            " calls, past the renderer's limit of " + std::to_string(kMaxMacroDepth) + " calls or " +
                            std::to_string(kMaxStackBytes >> 20) + " MiB of stack (endless recursion?)");
      }
      struct DepthGuard {
        int& depth;
        explicit DepthGuard(int& d) : depth(d) { ++depth; }
        ~DepthGuard() { --depth; }
      } guard(macro_depth_);
      if (arguments.positional.size() > macro.parameters.size()) {
        throw TemplateError("macro '" + macro.name + "' takes not more than " +
                            std::to_string(macro.parameters.size()) + " argument(s)");
      }
      FramePtr scope = child_of(closure);
      for (const auto& [keyword, value] : arguments.keywords) {
        // Captured by an init-capture: clang before 16 (Debian's 14 builds fuzz/) cannot capture a structured binding.
        const bool known = std::any_of(macro.parameters.begin(), macro.parameters.end(),
                                       [&keyword = keyword](const auto& parameter) { return parameter.first == keyword; });
        if (!known) throw TemplateError("macro '" + macro.name + "' takes no keyword argument '" + keyword + "'");
      }
      for (size_t i = 0; i < macro.parameters.size(); ++i) {
        const auto& [parameter, fallback] = macro.parameters[i];
        const Value* given = arguments.find(i, parameter);
        if (given != nullptr) {
          scope->variables[parameter] = *given;
        } else if (fallback) {
          scope->variables[parameter] = evaluate(*fallback, scope);
        } else {
          scope->variables[parameter] = Value::undefined("parameter '" + parameter + "' was not provided");
        }
      }
      std::string out;
      execute(macro.body, scope, out);
      return Value(out);
    });
  }

  // ---- expressions ----

  Value evaluate(const Expr& expr, const FramePtr& frame) {
    try {
      return evaluate_unlocated(expr, frame);
    } catch (const TemplateError& error) {
      if (error.line() > 0) throw;
      throw TemplateError(error.message(), expr.line, name_);
    }
  }

  Arguments evaluate_arguments(const Expr& expr, size_t first, const FramePtr& frame) {
    Arguments arguments;
    for (size_t i = first; i < expr.operands.size(); ++i)
      arguments.positional.push_back(evaluate(*expr.operands[i], frame));
    for (const auto& [keyword, value] : expr.keywords)
      arguments.keywords.emplace_back(keyword, evaluate(*value, frame));
    return arguments;
  }

  std::optional<int64_t> slice_bound(const Expr* bound, const FramePtr& frame) {
    if (bound == nullptr) return std::nullopt;
    const Value value = evaluate(*bound, frame);
    if (value.is_none()) return std::nullopt;
    if (value.kind() != Value::Kind::Int && value.kind() != Value::Kind::Bool) {
      throw TemplateError("slice indices must be integers or None, not " + type_name(value));
    }
    return value.as_int();
  }

  Value slice(const Value& object, const Expr& slice_expr, const FramePtr& frame) {
    const auto start = slice_bound(slice_expr.operands[0].get(), frame);
    const auto stop = slice_bound(slice_expr.operands[1].get(), frame);
    const auto step = slice_bound(slice_expr.operands[2].get(), frame);
    if (object.is_undefined()) raise_undefined(object);
    if (object.is_string()) {
      const std::u32string code_points = utf8_decode(object.as_string());
      std::u32string out;
      for (int64_t i : slice_indices(static_cast<int64_t>(code_points.size()), start, stop, step)) {
        out += code_points[static_cast<size_t>(i)];
      }
      return Value(utf8_encode(out));
    }
    if (object.is_sequence()) {
      const ValueList& items = object.as_list();
      ValueList out;
      for (int64_t i : slice_indices(static_cast<int64_t>(items.size()), start, stop, step)) {
        out.push_back(items[static_cast<size_t>(i)]);
      }
      return object.is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
    }
    throw TemplateError("'" + type_name(object) + "' object is not subscriptable");
  }

  bool compare(const std::string& op, const Value& left, const Value& right) {
    if (op == "==") return equal(left, right);
    if (op == "!=") return !equal(left, right);
    if (op == "in") return contains(right, left);
    if (op == "not in") return !contains(right, left);
    if (left.is_undefined()) raise_undefined(left);
    if (right.is_undefined()) raise_undefined(right);
    if (op == "<") return less(left, right);
    if (op == ">") return less(right, left);
    if (op == "<=") return !less(right, left);
    return !less(left, right);  // >=
  }

  Value evaluate_unlocated(const Expr& expr, const FramePtr& frame) {
    switch (expr.kind) {
      case Expr::Kind::Literal: return expr.literal;
      case Expr::Kind::Name: {
        const Value* found = frame->find(expr.name);
        return found != nullptr ? *found : Value::undefined("'" + expr.name + "' is undefined");
      }
      case Expr::Kind::List:
      case Expr::Kind::Tuple: {
        ValueList items;
        for (const ExprPtr& item : expr.operands) items.push_back(evaluate(*item, frame));
        return expr.kind == Expr::Kind::Tuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
      }
      case Expr::Kind::Dict: {
        ValueDict items;
        for (size_t i = 0; i + 1 < expr.operands.size(); i += 2) {
          items.set(evaluate(*expr.operands[i], frame), evaluate(*expr.operands[i + 1], frame));
        }
        return Value::dict(std::move(items));
      }
      case Expr::Kind::GetAttr: return get_attribute(evaluate(*expr.operands[0], frame), expr.name);
      case Expr::Kind::GetItem: {
        const Value object = evaluate(*expr.operands[0], frame);
        const Expr& index = *expr.operands[1];
        if (index.kind == Expr::Kind::Slice) return slice(object, index, frame);
        return get_item(object, evaluate(index, frame));
      }
      case Expr::Kind::Slice: throw TemplateError("a slice outside of [ ]");
      case Expr::Kind::Call: {
        const Value callee = evaluate(*expr.operands[0], frame);
        const Arguments arguments = evaluate_arguments(expr, 1, frame);
        if (callee.is_undefined()) raise_undefined(callee);
        if (callee.kind() != Value::Kind::Function) {
          throw TemplateError("'" + type_name(callee) + "' object is not callable");
        }
        return callee.as_function().call(arguments);
      }
      case Expr::Kind::Filter: {
        const Value input = evaluate(*expr.operands[0], frame);
        const Arguments arguments = evaluate_arguments(expr, 1, frame);
        return environment_.filters.at(expr.name)(input, arguments, environment_);
      }
      case Expr::Kind::Test: {
        const Value input = evaluate(*expr.operands[0], frame);
        const Arguments arguments = evaluate_arguments(expr, 1, frame);
        const bool passed = environment_.tests.at(expr.name)(input, arguments, environment_);
        return Value(passed != expr.negated);
      }
      case Expr::Kind::Unary: {
        const Value operand = evaluate(*expr.operands[0], frame);
        if (expr.name == "not") return Value(!truthy(operand));
        if (operand.is_undefined()) raise_undefined(operand);
        if (!operand.is_number()) {
          throw TemplateError("bad operand type for unary " + expr.name + ": '" + type_name(operand) + "'");
        }
        if (operand.kind() == Value::Kind::Float) {
          return Value(expr.name == "-" ? -operand.as_float() : operand.as_float());
        }
        return Value(expr.name == "-" ? -operand.as_int() : operand.as_int());
      }
      case Expr::Kind::Binary: {
        const Value left = evaluate(*expr.operands[0], frame);
        if (expr.name == "and") return truthy(left) ? evaluate(*expr.operands[1], frame) : left;
        if (expr.name == "or") return truthy(left) ? left : evaluate(*expr.operands[1], frame);
        return binary_operation(expr.name, left, evaluate(*expr.operands[1], frame));
      }
      case Expr::Kind::Compare: {
        Value left = evaluate(*expr.operands[0], frame);
        for (size_t i = 0; i < expr.operators.size(); ++i) {
          Value right = evaluate(*expr.operands[i + 1], frame);
          if (!compare(expr.operators[i], left, right)) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case Expr::Kind::Conditional: {
        if (truthy(evaluate(*expr.operands[1], frame))) return evaluate(*expr.operands[0], frame);
        if (expr.operands[2]) return evaluate(*expr.operands[2], frame);
        return Value::undefined("the inline if-expression on line " + std::to_string(expr.line) +
                                " evaluated to false and no else section was defined.");
      }
    }
    return Value();
  }

  // Bytes of C++ stack used below the frame that made the renderer (the stack grows down).
  size_t stack_used() const {
    const uintptr_t here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
    return here < stack_base_ ? stack_base_ - here : 0;
  }

  // Deep enough for any template. The stack limit is the one that holds whatever a frame costs:
  // 500 nested calls took over 8 MiB of stack under AddressSanitizer (scripts/sanitize.sh found
  // it), and a thread's stack may be smaller than the main thread's 8 MiB.
  static constexpr int kMaxMacroDepth = 500;
  static constexpr size_t kMaxStackBytes = size_t(2) << 20;
  const Environment& environment_;
  const std::string& name_;
  const uintptr_t stack_base_;
  int macro_depth_ = 0;
};

SyntaxOptions syntax_options(const Environment& environment) {
  SyntaxOptions options;
  options.trim_blocks = environment.trim_blocks;
  options.lstrip_blocks = environment.lstrip_blocks;
  options.keep_trailing_newline = environment.keep_trailing_newline;
  options.loop_controls = environment.loop_controls;
  options.generation_blocks = environment.generation_blocks;
  for (const auto& filter : environment.filters) options.filters.insert(filter.first);
  for (const auto& test : environment.tests) options.tests.insert(test.first);
  return options;
}

}  // namespace

Environment::Environment() {
  add_builtin_filters(*this);
  add_builtin_tests(*this);
  add_builtin_globals(*this);
}

struct Template::Impl {
  Environment environment;
  Body body;
};

Template::Template(const std::string& source, Environment environment, std::string name)
    : impl_(std::make_unique<Impl>()), name_(std::move(name)) {
  impl_->environment = std::move(environment);
  impl_->body = parse_template(source, syntax_options(impl_->environment), name_);
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const std::vector<std::pair<std::string, Value>>& variables) const {
  auto globals = std::make_shared<Frame>();
  for (const auto& [name, value] : impl_->environment.globals) globals->variables[name] = value;
  FramePtr scope = child_of(globals);
  for (const auto& [name, value] : variables) scope->variables[name] = value;
  std::string out;
  Renderer renderer(impl_->environment, name_);
  renderer.execute(impl_->body, scope, out);
  return out;
}

}  // namespace precept::text::jinja
