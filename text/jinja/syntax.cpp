// Lexer and parser of the Jinja subset; see lm/jinja_syntax.h. The whitespace rules follow
// jinja2/lexer.py (3.1): a "-" on a tag strips all whitespace on that side; lstrip_blocks drops
// the spaces and tabs between the start of a line and a block or comment tag; trim_blocks drops
// one newline after a block or comment tag; "+" turns both off for that tag. The grammar and
// operator precedence follow jinja2/parser.py.
#include "text/jinja/syntax.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace precept::text::jinja {

namespace {

// ---- Tokens ------------------------------------------------------------------------------

enum class TokenType {
  Data,
  VariableBegin,
  VariableEnd,
  BlockBegin,
  BlockEnd,
  Name,
  String,
  Integer,
  Float,
  Operator,
  End
};

struct Token {
  TokenType type;
  std::string text;  // data, name, decoded string, operator, or the number as written
  int line;
  int64_t integer = 0;
  double floating = 0.0;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

bool is_all_space(std::string_view text) {
  if (text.empty()) return false;
  for (char32_t c : utf8_decode(text)) {
    if (!is_python_space(c)) return false;
  }
  return true;
}

// Length of the run of whitespace (Python's \s) at `position`.
size_t space_run(const std::string& source, size_t position) {
  size_t end = position;
  while (end < source.size()) {
    const auto byte = static_cast<unsigned char>(source[end]);
    if (byte < 0x80) {
      if (!is_python_space(byte)) break;
      ++end;
      continue;
    }
    // A multi-byte character: decode it to see whether it is whitespace (e.g. U+3000).
    size_t width = (byte & 0xE0) == 0xC0 ? 2 : (byte & 0xF0) == 0xE0 ? 3 : (byte & 0xF8) == 0xF0 ? 4 : 1;
    const std::u32string decoded = utf8_decode(std::string_view(source).substr(end, width));
    if (decoded.size() != 1 || !is_python_space(decoded[0])) break;
    end += width;
  }
  return end - position;
}

int count_newlines(std::string_view text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

// Newlines normalized to "\n", and one trailing newline dropped unless kept, as jinja2 does.
std::string normalize_source(const std::string& source, bool keep_trailing_newline) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!keep_trailing_newline && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(const std::string& source, const SyntaxOptions& options, const std::string& template_name)
      : source_(normalize_source(source, options.keep_trailing_newline)), options_(options), name_(template_name) {}

  std::vector<Token> tokenize() {
    while (position_ < source_.size()) {
      const size_t tag = find_tag(position_);
      if (tag == std::string::npos) {
        emit(TokenType::Data, source_.substr(position_));
        break;
      }
      const char kind = source_[tag + 1];  // '{', '%' or '#'
      const char sign =
          tag + 2 < source_.size() && (source_[tag + 2] == '-' || source_[tag + 2] == '+') ? source_[tag + 2] : '\0';
      const size_t raw_end = kind == '%' ? match_raw_begin(tag) : std::string::npos;
      emit_text_before_tag(source_.substr(position_, tag - position_), sign, kind != '{');
      position_ = tag + 2 + (sign ? 1 : 0);
      if (raw_end != std::string::npos) {
        lex_raw(raw_end);
      } else if (kind == '#') {
        lex_comment();
      } else {
        lex_tag(kind == '{');
      }
    }
    tokens_.push_back(Token{TokenType::End, "", line_});
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const { throw TemplateSyntaxError(message, line_, name_); }

  void emit(TokenType type, std::string text) {
    const int newlines = count_newlines(text);
    if (type != TokenType::Data || !text.empty()) tokens_.push_back(Token{type, std::move(text), line_});
    line_ += newlines;
  }

  size_t find_tag(size_t from) const {
    for (size_t i = source_.find('{', from); i != std::string::npos; i = source_.find('{', i + 1)) {
      if (i + 1 < source_.size() && (source_[i + 1] == '{' || source_[i + 1] == '%' || source_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  // The text before a tag, after the tag's whitespace control.
  void emit_text_before_tag(std::string text, char sign, bool block_or_comment) {
    const int newlines = count_newlines(text);
    if (sign == '-') {
      text = python_strip(text, std::nullopt, false, true);
    } else if (sign != '+' && options_.lstrip_blocks && block_or_comment) {
      const size_t line_start = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
      if ((line_start > 0 || line_starting_) && is_all_space(std::string_view(text).substr(line_start))) {
        text.resize(line_start);
      }
    }
    if (!text.empty()) tokens_.push_back(Token{TokenType::Data, text, line_});
    line_ += newlines;
  }

  // After `{%` at `tag`: the end of "{%[-+]? raw [-]%}" (and of the whitespace a "-%}" strips),
  // or npos when this is not a raw tag.
  size_t match_raw_begin(size_t tag) const {
    size_t p = tag + 2;
    if (p < source_.size() && (source_[p] == '-' || source_[p] == '+')) ++p;
    p += space_run(source_, p);
    if (source_.compare(p, 3, "raw") != 0) return std::string::npos;
    p += 3;
    p += space_run(source_, p);
    if (source_.compare(p, 3, "-%}") == 0) return p + 3 + space_run(source_, p + 3);
    if (source_.compare(p, 2, "%}") == 0) return p + 2;
    return std::string::npos;
  }

  // {% raw %} ... {% endraw %}: the text between is data, whatever it holds.
  void lex_raw(size_t body_start) {
    line_ += count_newlines(std::string_view(source_).substr(position_, body_start - position_));
    line_starting_ = body_start > 0 && source_[body_start - 1] == '\n';
    for (size_t p = source_.find("{%", body_start); p != std::string::npos; p = source_.find("{%", p + 1)) {
      size_t q = p + 2;
      const char sign = q < source_.size() && (source_[q] == '-' || source_[q] == '+') ? source_[q] : '\0';
      if (sign) ++q;
      q += space_run(source_, q);
      if (source_.compare(q, 6, "endraw") != 0) continue;
      q += 6;
      q += space_run(source_, q);
      size_t end = std::string::npos;
      if (source_.compare(q, 3, "+%}") == 0) {
        end = q + 3;
      } else if (source_.compare(q, 3, "-%}") == 0) {
        end = q + 3 + space_run(source_, q + 3);
      } else if (source_.compare(q, 2, "%}") == 0) {
        end = q + 2 + (options_.trim_blocks && q + 2 < source_.size() && source_[q + 2] == '\n' ? 1 : 0);
      }
      if (end == std::string::npos) continue;
      emit_text_before_tag(source_.substr(body_start, p - body_start), sign, true);
      line_ += count_newlines(std::string_view(source_).substr(p, end - p));
      line_starting_ = source_[end - 1] == '\n';
      position_ = end;
      return;
    }
    fail("Missing end of raw directive");
  }

  void lex_comment() {
    size_t close = source_.find("#}", position_);
    if (close == std::string::npos) fail("Missing end of comment tag");
    size_t end = close + 2;
    if (close > position_ && source_[close - 1] == '-') {
      end += space_run(source_, end);
    } else if (!(close > position_ && source_[close - 1] == '+') && options_.trim_blocks && end < source_.size() &&
               source_[end] == '\n') {
      ++end;
    }
    line_ += count_newlines(std::string_view(source_).substr(position_, end - position_));
    line_starting_ = source_[end - 1] == '\n';
    position_ = end;
  }

  // The inside of {{ ... }} or {% ... %}, through its end delimiter.
  void lex_tag(bool variable) {
    emit(variable ? TokenType::VariableBegin : TokenType::BlockBegin, "");
    std::vector<char> brackets;  // the closing brackets expected, innermost last
    while (true) {
      if (position_ >= source_.size()) {  // reported, as jinja2 does, at the last token's line
        throw TemplateSyntaxError(std::string("unexpected end of template, expected '") +
                                      (variable ? "end of print statement" : "end of statement block") + "'",
                                  tokens_.back().line, name_);
      }
      if (brackets.empty()) {
        const size_t end = match_tag_end(variable);
        if (end != std::string::npos) {
          const std::string_view consumed = std::string_view(source_).substr(position_, end - position_);
          tokens_.push_back(Token{variable ? TokenType::VariableEnd : TokenType::BlockEnd, "", line_});
          line_ += count_newlines(consumed);
          line_starting_ = consumed.back() == '\n';
          position_ = end;
          return;
        }
      }
      const size_t spaces = space_run(source_, position_);
      if (spaces > 0) {
        line_ += count_newlines(std::string_view(source_).substr(position_, spaces));
        position_ += spaces;
        continue;
      }
      const char c = source_[position_];
      if (is_digit(c)) {
        lex_number();
      } else if (is_name_start(c)) {
        size_t end = position_;
        while (end < source_.size() && is_name_char(source_[end])) ++end;
        emit(TokenType::Name, source_.substr(position_, end - position_));
        position_ = end;
      } else if (c == '\'' || c == '"') {
        lex_string();
      } else {
        lex_operator(brackets);
      }
    }
  }

  size_t match_tag_end(bool variable) const {
    const char* close = variable ? "}}" : "%}";
    if (!variable && source_.compare(position_, 3, "+%}") == 0) return position_ + 3;
    if (source_.compare(position_, 1, "-") == 0 && source_.compare(position_ + 1, 2, close) == 0) {
      return position_ + 3 + space_run(source_, position_ + 3);
    }
    if (source_.compare(position_, 2, close) == 0) {
      const size_t end = position_ + 2;
      if (!variable && options_.trim_blocks && end < source_.size() && source_[end] == '\n') return end + 1;
      return end;
    }
    return std::string::npos;
  }

  // Digits with single underscores between them, as (\d+_)*\d+; returns the end.
  size_t digit_run(size_t p) const {
    if (p >= source_.size() || !is_digit(source_[p])) return p;
    while (p < source_.size()) {
      if (is_digit(source_[p])) {
        ++p;
      } else if (source_[p] == '_' && p + 1 < source_.size() && is_digit(source_[p + 1])) {
        ++p;
      } else {
        break;
      }
    }
    return p;
  }

  size_t exponent_end(size_t p) const {
    if (p >= source_.size() || (source_[p] != 'e' && source_[p] != 'E')) return std::string::npos;
    size_t q = p + 1;
    if (q < source_.size() && (source_[q] == '+' || source_[q] == '-')) ++q;
    const size_t end = digit_run(q);
    return end == q ? std::string::npos : end;
  }

  void lex_number() {
    auto without_underscores = [](std::string text) {
      text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
      return text;
    };
    // A float: digits, then a fraction and/or an exponent; not right after a '.' (x.0.1).
    const bool after_dot = position_ > 0 && source_[position_ - 1] == '.';
    const size_t whole = digit_run(position_);
    size_t float_end = std::string::npos;
    if (!after_dot) {
      if (whole < source_.size() && source_[whole] == '.' && whole + 1 < source_.size() &&
          is_digit(source_[whole + 1])) {
        const size_t fraction = digit_run(whole + 1);
        const size_t exponent = exponent_end(fraction);
        float_end = exponent == std::string::npos ? fraction : exponent;
      } else {
        float_end = exponent_end(whole);
      }
    }
    if (float_end != std::string::npos) {
      Token token{TokenType::Float, source_.substr(position_, float_end - position_), line_};
      token.floating = std::stod(without_underscores(token.text));
      tokens_.push_back(token);
      position_ = float_end;
      return;
    }
    // An integer: 0b.., 0o.., 0x.., or decimal without leading zeros.
    size_t end = position_;
    int base = 10;
    if (source_[position_] == '0' && position_ + 1 < source_.size() &&
        std::string("bBoOxX").find(source_[position_ + 1]) != std::string::npos) {
      const char prefix = static_cast<char>(std::tolower(static_cast<unsigned char>(source_[position_ + 1])));
      base = prefix == 'b' ? 2 : prefix == 'o' ? 8 : 16;
      end = position_ + 2;
      auto is_base_digit = [&](char c) {
        const int digit = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
                          : std::isxdigit(static_cast<unsigned char>(c))
                              ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                              : 99;
        return digit < base;
      };
      while (end < source_.size() && (is_base_digit(source_[end]) || (source_[end] == '_' && end + 1 < source_.size() &&
                                                                      is_base_digit(source_[end + 1])))) {
        ++end;
      }
      if (end == position_ + 2) end = position_ + 1;  // just "0"
    } else if (source_[position_] == '0') {
      end = position_ + 1;
      while (end < source_.size() &&
             (source_[end] == '0' || (source_[end] == '_' && end + 1 < source_.size() && source_[end + 1] == '0'))) {
        ++end;
      }
    } else {
      end = whole;
    }
    Token token{TokenType::Integer, source_.substr(position_, end - position_), line_};
    std::string digits = without_underscores(token.text);
    if (base != 10 && digits.size() > 2) digits = digits.substr(2);
    try {
      token.integer = std::stoll(digits, nullptr, base);
    } catch (const std::out_of_range&) {
      fail("integer literal " + token.text + " does not fit in 64 bits");
    }
    tokens_.push_back(token);
    position_ = end;
  }

  // A quoted string, unescaped as Python's "unicode-escape" codec does.
  void lex_string() {
    const char quote = source_[position_];
    const int start_line = line_;
    std::string value;
    size_t p = position_ + 1;
    while (true) {
      if (p >= source_.size()) {
        fail(std::string("unexpected char ") + (quote == '\'' ? "\"'\"" : "'\"'") + " at " + std::to_string(position_));
      }
      const char c = source_[p];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++p;
        continue;
      }
      if (p + 1 >= source_.size()) {
        ++p;
        continue;
      }
      const char escape = source_[p + 1];
      p += 2;
      auto read_hex = [&](int digits) {
        if (p + digits > source_.size()) fail("truncated \\x, \\u or \\U escape in a string");
        const std::string hex = source_.substr(p, static_cast<size_t>(digits));
        if (!std::all_of(hex.begin(), hex.end(), [](char h) { return std::isxdigit(static_cast<unsigned char>(h)); })) {
          fail("truncated \\x, \\u or \\U escape in a string");
        }
        p += static_cast<size_t>(digits);
        return static_cast<char32_t>(std::stoul(hex, nullptr, 16));
      };
      switch (escape) {
        case '\n': break;  // a line continuation
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'n': value += '\n'; break;
        case 'r': value += '\r'; break;
        case 't': value += '\t'; break;
        case 'v': value += '\v'; break;
        case 'x': value += utf8_encode(std::u32string(1, read_hex(2))); break;
        case 'u': value += utf8_encode(std::u32string(1, read_hex(4))); break;
        case 'U': value += utf8_encode(std::u32string(1, read_hex(8))); break;
        case 'N': fail("\\N{...} escapes are not supported in strings");
        default:
          if (escape >= '0' && escape <= '7') {
            char32_t code = static_cast<char32_t>(escape - '0');
            for (int k = 0; k < 2 && p < source_.size() && source_[p] >= '0' && source_[p] <= '7'; ++k, ++p) {
              code = code * 8 + static_cast<char32_t>(source_[p] - '0');
            }
            value += utf8_encode(std::u32string(1, code));
          } else {  // an unknown escape keeps its backslash
            value += '\\';
            value += escape;
          }
      }
    }
    tokens_.push_back(Token{TokenType::String, value, start_line});
    line_ += count_newlines(std::string_view(source_).substr(position_, p + 1 - position_));
    position_ = p + 1;
  }

  void lex_operator(std::vector<char>& brackets) {
    static const char* const kOperators[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[",
                                             "]",  "(",  ")",  "{",  "}",  ">",  "<", "=", ".", ":", "|", ",", ";"};
    for (const char* op : kOperators) {
      const std::string_view text(op);
      if (source_.compare(position_, text.size(), text) != 0) continue;
      const char c = text[0];
      if (text.size() == 1 && (c == '(' || c == '[' || c == '{')) {
        brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
      } else if (text.size() == 1 && (c == ')' || c == ']' || c == '}')) {
        if (brackets.empty()) fail(std::string("unexpected '") + c + "'");
        if (brackets.back() != c) fail(std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
        brackets.pop_back();
      }
      emit(TokenType::Operator, std::string(text));
      position_ += text.size();
      return;
    }
    const std::u32string rest = utf8_decode(std::string_view(source_).substr(position_, 4));
    fail("unexpected char " + repr(Value(utf8_encode(rest.substr(0, 1)))) + " at " + std::to_string(position_));
  }

  std::string source_;
  const SyntaxOptions& options_;
  const std::string& name_;
  std::vector<Token> tokens_;
  size_t position_ = 0;
  int line_ = 1;
  bool line_starting_ = true;  // the last thing lexed ended a line
};

// ---- Parser ------------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::vector<Token> tokens, const SyntaxOptions& options, const std::string& template_name)
      : tokens_(std::move(tokens)), options_(options), name_(template_name) {}

  Body parse() { return subparse({}); }

 private:
  // ---- the token stream ----
  const Token& current() const { return tokens_[index_]; }
  const Token& look() const { return tokens_[std::min(index_ + 1, tokens_.size() - 1)]; }
  void advance() {
    if (index_ + 1 < tokens_.size()) ++index_;
  }
  bool is_operator(const char* op) const { return current().type == TokenType::Operator && current().text == op; }
  bool is_name(const char* name) const { return current().type == TokenType::Name && current().text == name; }
  bool skip_operator(const char* op) {
    if (!is_operator(op)) return false;
    advance();
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    advance();
    return true;
  }

  [[noreturn]] void fail(const std::string& message, int line = 0) const {
    throw TemplateSyntaxError(message, line > 0 ? line : current().line, name_);
  }

  // The parser recurses once per nested expression or block; a hostile template (a chat
  // template inside a downloaded tokenizer_config.json) could nest deep enough to overflow the
  // stack. Real templates nest a few levels; past kMaxDepth the template is an error.
  static constexpr int kMaxDepth = 256;
  struct Nesting {
    explicit Nesting(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > kMaxDepth) {
        --parser_.depth_;
        parser_.fail("the template nests expressions or blocks more than " + std::to_string(kMaxDepth) + " levels deep");
      }
    }
    ~Nesting() { --parser_.depth_; }
    Parser& parser_;
  };

  static std::string describe(const Token& token) {
    switch (token.type) {
      case TokenType::End: return "end of template";
      case TokenType::BlockEnd: return "end of statement block";
      case TokenType::VariableEnd: return "end of print statement";
      case TokenType::BlockBegin: return "begin of statement block";
      case TokenType::VariableBegin: return "begin of print statement";
      case TokenType::String: return "string";
      case TokenType::Data: return "template data";
      default: return token.text;
    }
  }

  void expect_operator(const char* op) {
    if (!skip_operator(op)) fail(std::string("expected '") + op + "', got '" + describe(current()) + "'");
  }
  std::string expect_name() {
    if (current().type != TokenType::Name) fail("expected a name, got '" + describe(current()) + "'");
    std::string name = current().text;
    advance();
    return name;
  }
  void expect_block_end() {
    if (current().type != TokenType::BlockEnd) {
      fail("expected 'end of statement block', got '" + describe(current()) + "'");
    }
    advance();
  }
  // After subparse() stopped at `tag`: consume it and the end of its block.
  void close_tag(const char* tag) {
    if (!skip_name(tag)) fail(std::string("expected '") + tag + "'");
    expect_block_end();
  }

  static std::string quoted_list(const std::vector<std::string>& names) {
    std::string out;
    for (size_t i = 0; i < names.size(); ++i) out += (i == 0 ? "" : " or ") + ("'" + names[i] + "'");
    return out;
  }
  std::string looking_for() const {
    if (open_blocks_.empty()) return "";
    return " Jinja was looking for the following tags: " + quoted_list(open_blocks_.back().second) +
           ". The innermost block that needs to be closed is '" + open_blocks_.back().first + "'.";
  }

  // ---- statements ----

  // Template data, prints and statements until a block tag named in `end_tags`; leaves the
  // stream at that tag's name.
  Body subparse(const std::vector<std::string>& end_tags) {
    Body body;
    while (true) {
      const Token& token = current();
      switch (token.type) {
        case TokenType::Data:
          body.push_back(std::make_unique<TextNode>(token.line, token.text));
          advance();
          break;
        case TokenType::VariableBegin: {
          const int line = token.line;
          advance();
          ExprPtr value = parse_tuple();
          if (current().type != TokenType::VariableEnd) {
            fail("expected 'end of print statement', got '" + describe(current()) + "'");
          }
          advance();
          body.push_back(std::make_unique<PrintNode>(line, std::move(value)));
          break;
        }
        case TokenType::BlockBegin:
          advance();
          if (current().type == TokenType::Name &&
              std::find(end_tags.begin(), end_tags.end(), current().text) != end_tags.end()) {
            return body;
          }
          body.push_back(parse_statement());
          break;
        case TokenType::End:
          if (!end_tags.empty()) fail("Unexpected end of template." + looking_for());
          return body;
        default: fail("unexpected '" + describe(token) + "'");
      }
    }
  }

  // Parses a block's body until one of `end_tags`, remembering the block for error messages.
  Body block_body(const std::string& tag, const std::vector<std::string>& end_tags) {
    open_blocks_.emplace_back(tag, end_tags);
    Body body = subparse(end_tags);
    open_blocks_.pop_back();
    return body;
  }

  NodePtr parse_statement() {
    const Nesting nesting(*this);
    if (current().type != TokenType::Name) fail("tag name expected");
    const std::string tag = current().text;
    if (tag == "for") return parse_for();
    if (tag == "if") return parse_if();
    if (tag == "set") return parse_set();
    if (tag == "macro") return parse_macro();
    if (tag == "with") return parse_with();
    if (options_.loop_controls && (tag == "break" || tag == "continue")) {
      const int line = current().line;
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      advance();
      expect_block_end();
      if (tag == "break") return std::make_unique<BreakNode>(line);
      return std::make_unique<ContinueNode>(line);
    }
    if (options_.generation_blocks && tag == "generation") {
      auto node = std::make_unique<GenerationNode>(current().line);
      advance();
      expect_block_end();
      node->body = block_body("generation", {"endgeneration"});
      close_tag("endgeneration");
      return node;
    }
    static const std::set<std::string> kUnsupported = {"block", "extends", "include",    "import", "from",
                                                       "call",  "filter",  "autoescape", "do",     "trans"};
    if (kUnsupported.count(tag)) {
      fail("the tag '" + tag + "' is not supported by precept's Jinja interpreter (see docs/chat-templates.md)");
    }
    fail("Encountered unknown tag '" + tag + "'." + looking_for());
  }

  // for a in x | for a, b in x | for (a, b) in x
  std::vector<std::string> parse_loop_targets(bool& unpack) {
    std::vector<std::string> names;
    const bool parenthesized = skip_operator("(");
    while (true) {
      names.push_back(expect_name());
      if (!skip_operator(",")) break;
      unpack = true;
      if (parenthesized && is_operator(")")) break;
    }
    if (parenthesized) {
      expect_operator(")");
      unpack = true;
    }
    return names;
  }

  NodePtr parse_for() {
    auto node = std::make_unique<ForNode>(current().line);
    advance();
    node->targets = parse_loop_targets(node->unpack);
    if (!skip_name("in")) fail("expected 'in', got '" + describe(current()) + "'");
    node->iterable = parse_tuple(false, false, {"recursive"});
    if (skip_name("if")) node->filter = parse_expression();
    if (is_name("recursive")) fail("recursive loops are not supported by precept's Jinja interpreter");
    expect_block_end();
    ++loop_depth_;
    node->body = block_body("for", {"endfor", "else"});
    --loop_depth_;
    if (skip_name("else")) {
      expect_block_end();
      node->otherwise = block_body("for", {"endfor"});
    }
    close_tag("endfor");
    return node;
  }

  NodePtr parse_if() {
    auto node = std::make_unique<IfNode>(current().line);
    advance();
    while (true) {
      ExprPtr condition = parse_tuple(false, false);
      expect_block_end();
      Body body = block_body("if", {"elif", "else", "endif"});
      node->branches.emplace_back(std::move(condition), std::move(body));
      if (skip_name("elif")) continue;
      if (skip_name("else")) {
        expect_block_end();
        node->otherwise = block_body("if", {"endif"});
      }
      break;
    }
    close_tag("endif");
    return node;
  }

  AssignTarget parse_assign_target() {
    AssignTarget target;
    target.name = expect_name();
    if (skip_operator(".")) target.attribute = expect_name();
    return target;
  }

  NodePtr parse_set() {
    const int line = current().line;
    advance();
    std::vector<AssignTarget> targets{parse_assign_target()};
    bool unpack = false;
    while (skip_operator(",")) {
      unpack = true;
      if (is_operator("=")) break;
      targets.push_back(parse_assign_target());
    }
    if (skip_operator("=")) {
      auto node = std::make_unique<SetNode>(line);
      for (const auto& target : targets) {
        if (unpack && !target.attribute.empty()) fail("cannot unpack into a namespace attribute", line);
      }
      node->targets = std::move(targets);
      node->unpack = unpack;
      node->value = parse_tuple();
      expect_block_end();
      return node;
    }
    if (unpack) fail("expected '=', got '" + describe(current()) + "'");
    if (is_operator("|")) fail("filters on {% set %} blocks are not supported by precept's Jinja interpreter");
    expect_block_end();
    auto node = std::make_unique<SetBlockNode>(line);
    node->target = targets[0];
    node->body = block_body("set", {"endset"});
    close_tag("endset");
    return node;
  }

  NodePtr parse_macro() {
    auto node = std::make_unique<MacroNode>(current().line);
    advance();
    node->name = expect_name();
    expect_operator("(");
    bool has_default = false;
    while (!is_operator(")")) {
      if (!node->parameters.empty()) expect_operator(",");
      if (is_operator(")")) break;
      std::string parameter = expect_name();
      ExprPtr fallback;
      if (skip_operator("=")) {
        fallback = parse_expression();
        has_default = true;
      } else if (has_default) {
        fail("non-default argument follows default argument");
      }
      node->parameters.emplace_back(std::move(parameter), std::move(fallback));
    }
    expect_operator(")");
    expect_block_end();
    const int outer_loop_depth = loop_depth_;
    loop_depth_ = 0;
    node->body = block_body("macro", {"endmacro"});
    loop_depth_ = outer_loop_depth;
    close_tag("endmacro");
    return node;
  }

  NodePtr parse_with() {
    auto node = std::make_unique<WithNode>(current().line);
    advance();
    while (current().type != TokenType::BlockEnd) {
      if (!node->assignments.empty()) expect_operator(",");
      std::string name = expect_name();
      expect_operator("=");
      node->assignments.emplace_back(std::move(name), parse_expression());
    }
    expect_block_end();
    node->body = block_body("with", {"endwith"});
    close_tag("endwith");
    return node;
  }

  // ---- expressions ----

  ExprPtr make(Expr::Kind kind, int line) {
    auto expr = std::make_unique<Expr>();
    expr->kind = kind;
    expr->line = line;
    return expr;
  }
  ExprPtr make_binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
    ExprPtr expr = make(Expr::Kind::Binary, line);
    expr->name = op;
    expr->operands.push_back(std::move(left));
    expr->operands.push_back(std::move(right));
    return expr;
  }

  bool is_tuple_end(const std::vector<std::string>& extra_end_names) const {
    const Token& token = current();
    if (token.type == TokenType::VariableEnd || token.type == TokenType::BlockEnd || token.type == TokenType::End) {
      return true;
    }
    if (token.type == TokenType::Operator && token.text == ")") return true;
    return token.type == TokenType::Name &&
           std::find(extra_end_names.begin(), extra_end_names.end(), token.text) != extra_end_names.end();
  }

  // An expression, or several separated by commas (a tuple without parentheses).
  ExprPtr parse_tuple(bool simplified = false, bool with_conditional = true,
                      const std::vector<std::string>& extra_end_names = {}, bool explicit_parentheses = false) {
    const int line = current().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) expect_operator(",");
      if (is_tuple_end(extra_end_names)) break;
      items.push_back(simplified ? parse_primary() : parse_expression(with_conditional));
      if (is_operator(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parentheses) fail("Expected an expression, got '" + describe(current()) + "'");
    }
    ExprPtr tuple = make(Expr::Kind::Tuple, line);
    tuple->operands = std::move(items);
    return tuple;
  }

  ExprPtr parse_expression(bool with_conditional = true) {
    const Nesting nesting(*this);
    return with_conditional ? parse_conditional() : parse_or();
  }

  ExprPtr parse_conditional() {
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      const int line = current().line;
      advance();
      ExprPtr condition = parse_or();
      ExprPtr otherwise = skip_name("else") ? parse_conditional() : nullptr;
      ExprPtr node = make(Expr::Kind::Conditional, line);
      node->operands.push_back(std::move(expr));
      node->operands.push_back(std::move(condition));
      node->operands.push_back(std::move(otherwise));
      expr = std::move(node);
    }
    return expr;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const int line = current().line;
      advance();
      left = make_binary("or", std::move(left), parse_and(), line);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const int line = current().line;
      advance();
      left = make_binary("and", std::move(left), parse_not(), line);
    }
    return left;
  }

  ExprPtr parse_not() {
    const Nesting nesting(*this);
    if (is_name("not")) {
      ExprPtr node = make(Expr::Kind::Unary, current().line);
      advance();
      node->name = "not";
      node->operands.push_back(parse_not());
      return node;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const int line = current().line;
    ExprPtr first = parse_math1();
    std::vector<std::string> operators;
    std::vector<ExprPtr> operands;
    while (true) {
      static const std::set<std::string> kComparisons = {"==", "!=", "<", "<=", ">", ">="};
      if (current().type == TokenType::Operator && kComparisons.count(current().text)) {
        operators.push_back(current().text);
        advance();
      } else if (is_name("in")) {
        operators.push_back("in");
        advance();
      } else if (is_name("not") && look().type == TokenType::Name && look().text == "in") {
        operators.push_back("not in");
        advance();
        advance();
      } else {
        break;
      }
      operands.push_back(parse_math1());
    }
    if (operators.empty()) return first;
    ExprPtr node = make(Expr::Kind::Compare, line);
    node->operands.push_back(std::move(first));
    for (auto& operand : operands) node->operands.push_back(std::move(operand));
    node->operators = std::move(operators);
    return node;
  }

  ExprPtr parse_math1() {  // + -
    ExprPtr left = parse_concat();
    while (is_operator("+") || is_operator("-")) {
      const std::string op = current().text;
      const int line = current().line;
      advance();
      left = make_binary(op, std::move(left), parse_concat(), line);
    }
    return left;
  }

  ExprPtr parse_concat() {  // ~
    ExprPtr left = parse_math2();
    while (is_operator("~")) {
      const int line = current().line;
      advance();
      left = make_binary("~", std::move(left), parse_math2(), line);
    }
    return left;
  }

  ExprPtr parse_math2() {  // * / // %
    ExprPtr left = parse_pow();
    while (is_operator("*") || is_operator("/") || is_operator("//") || is_operator("%")) {
      const std::string op = current().text;
      const int line = current().line;
      advance();
      left = make_binary(op, std::move(left), parse_pow(), line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary();
    while (is_operator("**")) {
      const int line = current().line;
      advance();
      left = make_binary("**", std::move(left), parse_unary(), line);
    }
    return left;
  }

  // Unary minus binds looser than postfix operators but, as in jinja2, before filters:
  // -x|abs is (-x)|abs.
  ExprPtr parse_unary(bool with_filter = true) {
    const Nesting nesting(*this);
    ExprPtr node;
    if (is_operator("-") || is_operator("+")) {
      node = make(Expr::Kind::Unary, current().line);
      node->name = current().text;
      advance();
      node->operands.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expression(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& token = current();
    const int line = token.line;
    ExprPtr node;
    switch (token.type) {
      case TokenType::Name:
        if (token.text == "true" || token.text == "True" || token.text == "false" || token.text == "False") {
          node = make(Expr::Kind::Literal, line);
          node->literal = Value(token.text == "true" || token.text == "True");
        } else if (token.text == "none" || token.text == "None") {
          node = make(Expr::Kind::Literal, line);
          node->literal = Value::none();
        } else {
          node = make(Expr::Kind::Name, line);
          node->name = token.text;
        }
        advance();
        return node;
      case TokenType::String: {
        std::string text;
        while (current().type == TokenType::String) {  // adjacent strings concatenate
          text += current().text;
          advance();
        }
        node = make(Expr::Kind::Literal, line);
        node->literal = Value(std::move(text));
        return node;
      }
      case TokenType::Integer:
      case TokenType::Float:
        node = make(Expr::Kind::Literal, line);
        node->literal = token.type == TokenType::Integer ? Value(token.integer) : Value(token.floating);
        advance();
        return node;
      case TokenType::Operator:
        if (token.text == "(") {
          advance();
          node = parse_tuple(false, true, {}, true);
          expect_operator(")");
          return node;
        }
        if (token.text == "[") return parse_list();
        if (token.text == "{") return parse_dict();
        break;
      default: break;
    }
    fail("unexpected '" + describe(token) + "'");
  }

  ExprPtr parse_list() {
    ExprPtr node = make(Expr::Kind::List, current().line);
    expect_operator("[");
    while (!is_operator("]")) {
      if (!node->operands.empty()) expect_operator(",");
      if (is_operator("]")) break;
      node->operands.push_back(parse_expression());
    }
    expect_operator("]");
    return node;
  }

  ExprPtr parse_dict() {
    ExprPtr node = make(Expr::Kind::Dict, current().line);
    expect_operator("{");
    while (!is_operator("}")) {
      if (!node->operands.empty()) expect_operator(",");
      if (is_operator("}")) break;
      node->operands.push_back(parse_expression());
      expect_operator(":");
      node->operands.push_back(parse_expression());
    }
    expect_operator("}");
    return node;
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_operator(".") || is_operator("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_operator("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_filter_expression(ExprPtr node) {
    while (true) {
      if (is_operator("|")) {
        node = parse_filter(std::move(node));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_operator("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr object) {
    const Token token = current();
    advance();
    if (token.text == ".") {
      const Token& attribute = current();
      if (attribute.type == TokenType::Name) {
        ExprPtr node = make(Expr::Kind::GetAttr, token.line);
        node->name = attribute.text;
        node->operands.push_back(std::move(object));
        advance();
        return node;
      }
      if (attribute.type == TokenType::Integer) {
        ExprPtr index = make(Expr::Kind::Literal, attribute.line);
        index->literal = Value(attribute.integer);
        ExprPtr node = make(Expr::Kind::GetItem, token.line);
        node->operands.push_back(std::move(object));
        node->operands.push_back(std::move(index));
        advance();
        return node;
      }
      fail("expected name or number after '.'");
    }
    std::vector<ExprPtr> indices;
    while (!is_operator("]")) {
      if (!indices.empty()) expect_operator(",");
      indices.push_back(parse_subscribed());
    }
    expect_operator("]");
    ExprPtr node = make(Expr::Kind::GetItem, token.line);
    node->operands.push_back(std::move(object));
    if (indices.size() == 1) {
      node->operands.push_back(std::move(indices[0]));
    } else {
      ExprPtr tuple = make(Expr::Kind::Tuple, token.line);
      tuple->operands = std::move(indices);
      node->operands.push_back(std::move(tuple));
    }
    return node;
  }

  // An index or a slice a:b:c inside [ ].
  ExprPtr parse_subscribed() {
    const int line = current().line;
    std::vector<ExprPtr> parts;
    if (skip_operator(":")) {
      parts.push_back(nullptr);
    } else {
      ExprPtr index = parse_expression();
      if (!skip_operator(":")) return index;
      parts.push_back(std::move(index));
    }
    auto bound_ends = [&] { return is_operator("]") || is_operator(","); };
    if (is_operator(":") || bound_ends()) {
      parts.push_back(nullptr);
    } else {
      parts.push_back(parse_expression());
    }
    if (skip_operator(":") && !bound_ends()) {
      parts.push_back(parse_expression());
    } else {
      parts.push_back(nullptr);
    }
    ExprPtr slice = make(Expr::Kind::Slice, line);
    slice->operands = std::move(parts);
    return slice;
  }

  // ( positional..., name=value... ) into `node`'s operands after its first and its keywords.
  void parse_arguments(Expr& node) {
    expect_operator("(");
    bool first = true;
    while (!is_operator(")")) {
      if (!first) expect_operator(",");
      first = false;
      if (is_operator(")")) break;  // a trailing comma
      if (is_operator("*") || is_operator("**")) {
        fail("*args and **kwargs in calls are not supported by precept's Jinja interpreter");
      }
      if (current().type == TokenType::Name && look().type == TokenType::Operator && look().text == "=") {
        std::string keyword = current().text;
        advance();
        advance();
        node.keywords.emplace_back(std::move(keyword), parse_expression());
      } else {
        if (!node.keywords.empty()) fail("invalid syntax for function call expression");
        node.operands.push_back(parse_expression());
      }
    }
    expect_operator(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    ExprPtr node = make(Expr::Kind::Call, current().line);
    node->operands.push_back(std::move(callee));
    parse_arguments(*node);
    return node;
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (skip_operator(".")) name += "." + expect_name();
    return name;
  }

  ExprPtr parse_filter(ExprPtr input) {
    const int line = current().line;
    advance();  // |
    ExprPtr node = make(Expr::Kind::Filter, line);
    node->name = parse_dotted_name();
    if (!options_.filters.count(node->name)) fail("No filter named '" + node->name + "'.", line);
    node->operands.push_back(std::move(input));
    if (is_operator("(")) parse_arguments(*node);
    return node;
  }

  ExprPtr parse_test(ExprPtr input) {
    const int line = current().line;
    advance();  // is
    ExprPtr node = make(Expr::Kind::Test, line);
    node->negated = skip_name("not");
    node->name = parse_dotted_name();
    if (!options_.tests.count(node->name)) fail("No test named '" + node->name + "'.", line);
    node->operands.push_back(std::move(input));
    const Token& next = current();
    if (is_operator("(")) {
      parse_arguments(*node);
    } else if ((next.type == TokenType::Name || next.type == TokenType::String || next.type == TokenType::Integer ||
                next.type == TokenType::Float || is_operator("[") || is_operator("{")) &&
               !(next.type == TokenType::Name && (next.text == "else" || next.text == "or" || next.text == "and"))) {
      // A single argument without parentheses: x is divisibleby 3.
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      node->operands.push_back(parse_postfix(parse_primary()));
    }
    return node;
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
  const SyntaxOptions& options_;
  const std::string& name_;
  std::vector<std::pair<std::string, std::vector<std::string>>> open_blocks_;  // tag, the tags that end it
  int loop_depth_ = 0;
  int depth_ = 0;  // nested expressions and blocks being parsed (Nesting)
};

}  // namespace

Body parse_template(const std::string& source, const SyntaxOptions& options, const std::string& template_name) {
  Lexer lexer(source, options, template_name);
  Parser parser(lexer.tokenize(), options, template_name);
  return parser.parse();
}

}  // namespace precept::text::jinja
