// Byte-level BPE (lm/bpe_tokenizer.h and its readers): UTF-8 repair and the byte alphabet; the
// Oniguruma -> PCRE2 translation and the split behaviors of the pre-tokenizer; the BPE merge
// order, ignore_merges, added tokens (longest match, lstrip/rstrip/single_word, normalized), byte
// fallback and unk on hand-made vocabularies; the real Qwen3, Llama 3 and tiny GPT-2 tokenizers on
// known ids; load_tokenizer's choice of files; errors for missing or malformed files; invalid
// UTF-8 and very long inputs; concurrent encoding. HardStrings compares with Hugging Face on the
// corpus of tests/check_bpe_vs_hf.py, which runs it (skipped otherwise).
#include "text/bpe_files.h"
#include "text/bpe_pretokenizer.h"
#include "text/bpe_tokenizer.h"
#include "text/sentencepiece_tokenizer.h"
#include "text/tiktoken.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace precept::text;
using namespace precept::testing;
using Ids = std::vector<int64_t>;

namespace {
const fs::path kAssets = fs::path(PRECEPT_SHARED_DIR) / "assets";
const fs::path kQwen = kAssets / "qwen-tokenizer";
const fs::path kLlama3 = kAssets / "llama3-tokenizer";
const fs::path kTinyGpt2 = kAssets / "tiny-random-gpt2";
const std::string kReplacement = "\xEF\xBF\xBD";  // U+FFFD

#define EXPECT_CONTAINS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// A directory that looks like a Qwen3 checkpoint's tokenizer files: symlinks to the assets.
fs::path qwen3_dir() {
  fs::path dir = temp_dir("bpe_qwen3");
  fs::create_symlink(kQwen / "vocab.json", dir / "vocab.json");
  fs::create_symlink(kQwen / "merges.txt", dir / "merges.txt");
  fs::create_symlink(kQwen / "tokenizer_config.qwen3.json", dir / "tokenizer_config.json");
  return dir;
}
std::unique_ptr<BpeTokenizer> qwen3() {
  return std::make_unique<BpeTokenizer>(
      read_vocab_and_merges(kQwen / "vocab.json", kQwen / "merges.txt", kQwen / "tokenizer_config.qwen3.json"));
}
std::unique_ptr<BpeTokenizer> llama3() {
  return std::make_unique<BpeTokenizer>(read_llama3_tiktoken(kLlama3 / "tokenizer.model"));
}

// A byte-level vocabulary: the 256 bytes (id = byte value) and then the given tokens.
BpeSpec byte_spec(const std::vector<std::string>& extra_tokens,
                  const std::vector<std::pair<std::string, std::string>>& merges) {
  BpeSpec spec;
  spec.source = "test spec";
  for (int byte = 0; byte < 256; ++byte) {
    spec.vocab.emplace_back(std::string(unicode::byte_to_char(static_cast<unsigned char>(byte))), byte);
  }
  for (size_t i = 0; i < extra_tokens.size(); ++i) spec.vocab.emplace_back(extra_tokens[i], 256 + i);
  spec.merges = merges;
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  byte_level.add_prefix_space = false;
  byte_level.use_regex = true;
  spec.pre_tokenizer = {byte_level};
  return spec;
}

std::vector<std::string> words_of(const std::vector<PreTokenizerStep>& steps, const std::string& text) {
  std::vector<std::string> words;
  PreTokenizer(steps).split(text, [&](std::string_view word) { words.emplace_back(word); });
  return words;
}
PreTokenizerStep split_step(const std::string& pattern, SplitBehavior behavior, bool literal = false,
                            bool invert = false) {
  PreTokenizerStep step;
  step.pattern = pattern;
  step.literal = literal;
  step.behavior = behavior;
  step.invert = invert;
  return step;
}

std::string from_hex(const std::string& hex) {
  std::string bytes;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  return bytes;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
// UTF-8 and the byte alphabet

TEST(Unicode, InvalidUtf8IsRepairedLikePython) {
  // Expected values: Python's bytes.decode("utf-8", "replace").
  EXPECT_EQ(unicode::to_valid_utf8("abc"), "abc");
  EXPECT_EQ(unicode::to_valid_utf8("\xF0\x9F\x98"), kReplacement);                 // truncated emoji: one
  EXPECT_EQ(unicode::to_valid_utf8("\xC0\xAF"), kReplacement + kReplacement);       // overlong: two
  EXPECT_EQ(unicode::to_valid_utf8("\xED\xA0\x80"), kReplacement + kReplacement + kReplacement);  // surrogate
  EXPECT_EQ(unicode::to_valid_utf8("\xF4\x90\x80\x80"), kReplacement + kReplacement + kReplacement + kReplacement);
  EXPECT_EQ(unicode::to_valid_utf8("a\xE4\xB8"), "a" + kReplacement);
  EXPECT_EQ(unicode::to_valid_utf8("\xE4\xB8" "a\xE4\xB8\xAD"), kReplacement + "a\xE4\xB8\xAD");
  EXPECT_EQ(unicode::to_valid_utf8(std::string("\0\xFF", 2)), std::string("\0", 1) + kReplacement);
  EXPECT_TRUE(unicode::is_valid_utf8("na\xC3\xAFve \xF0\x9F\xA6\x99"));
  EXPECT_FALSE(unicode::is_valid_utf8("\xC3"));
}

TEST(Unicode, ByteAlphabetIsGpt2s) {
  EXPECT_EQ(unicode::byte_to_char(' '), "\xC4\xA0");   // Ġ
  EXPECT_EQ(unicode::byte_to_char('\n'), "\xC4\x8A");  // Ċ
  EXPECT_EQ(unicode::byte_to_char('A'), "A");
  EXPECT_EQ(unicode::byte_to_char(0xAD), "\xC5\x83");  // the soft hyphen byte is not printable: Ń
  std::string all;
  for (int byte = 0; byte < 256; ++byte) all += static_cast<char>(byte);
  EXPECT_EQ(unicode::byte_level_to_bytes(unicode::bytes_to_byte_level(all)), all);
  EXPECT_EQ(unicode::byte_level_to_bytes("\xE6\x97\xA5"), std::nullopt);  // 日 is not in the alphabet
}

TEST(Unicode, NormalFormsAndWhiteSpace) {
  EXPECT_EQ(unicode::normalize("e\xCC\x81", unicode::NormalForm::kNfc), "\xC3\xA9");
  EXPECT_EQ(unicode::normalize("\xC3\xA9", unicode::NormalForm::kNfd), "e\xCC\x81");
  EXPECT_EQ(unicode::normalize("\xEF\xAC\x81", unicode::NormalForm::kNfkc), "fi");
  EXPECT_EQ(unicode::normalize("\xEF\xAC\x81", unicode::NormalForm::kNfc), "\xEF\xAC\x81");
  EXPECT_EQ(unicode::normalize(std::string("a\0b", 3), unicode::NormalForm::kNfc), std::string("a\0b", 3));
  EXPECT_TRUE(unicode::is_white_space(0x85));
  EXPECT_TRUE(unicode::is_white_space(0x3000));
  EXPECT_FALSE(unicode::is_white_space(0x180E));
  EXPECT_FALSE(unicode::is_white_space(0x200B));
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizer

TEST(BpePreTokenizer, WhiteSpaceClassIsOniguruma) {
  const std::string body =
      R"(\t\n\x{0B}\f\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";
  EXPECT_EQ(oniguruma_to_pcre2(R"(\s+(?!\S))"), "[" + body + "]+(?![^" + body + "])");
  EXPECT_EQ(oniguruma_to_pcre2(R"([^\s\p{L}])"), "[^" + body + R"(\p{L}])");
  // An escaped backslash is not \s; a ']' first in a class is literal; POSIX classes pass.
  EXPECT_EQ(oniguruma_to_pcre2(R"(\\s[]\s][[:alpha:]\s])"), R"(\\s[])" + body + "][[:alpha:]" + body + "]");
  EXPECT_EQ(oniguruma_to_pcre2(R"(\Q\s\E\s)"), R"(\Q\s\E[)" + body + "]");
  // U+180E is White_Space for PCRE2's \s but not for Oniguruma's: it is not split off here.
  PreTokenizerStep whitespace = split_step(R"(\s)", SplitBehavior::kRemoved);
  EXPECT_EQ(words_of({whitespace}, "a\xE1\xA0\x8E" "b c\xC2\x85" "d"),
            (std::vector<std::string>{"a\xE1\xA0\x8E" "b", "c", "d"}));
}

TEST(BpePreTokenizer, SplitBehaviorsAreTokenizers) {
  // The examples of tokenizers' SplitDelimiterBehavior documentation.
  const std::string text = "the-final--countdown";
  using V = std::vector<std::string>;
  EXPECT_EQ(words_of({split_step("-", SplitBehavior::kRemoved, true)}, text), (V{"the", "final", "countdown"}));
  EXPECT_EQ(words_of({split_step("-", SplitBehavior::kIsolated, true)}, text),
            (V{"the", "-", "final", "-", "-", "countdown"}));
  EXPECT_EQ(words_of({split_step("-", SplitBehavior::kMergedWithPrevious, true)}, text),
            (V{"the-", "final-", "-", "countdown"}));
  EXPECT_EQ(words_of({split_step("-", SplitBehavior::kMergedWithNext, true)}, text),
            (V{"the", "-final", "-", "-countdown"}));
  EXPECT_EQ(words_of({split_step("-", SplitBehavior::kContiguous, true)}, text),
            (V{"the", "-", "final", "--", "countdown"}));
  // invert: the pattern matches the words, and Removed drops what lies between them.
  EXPECT_EQ(words_of({split_step(R"(\p{L}+)", SplitBehavior::kRemoved, false, true)}, text),
            (V{"the", "final", "countdown"}));
  EXPECT_EQ(words_of({split_step(R"(\p{L}+)", SplitBehavior::kRemoved, false, false)}, text), (V{"-", "--"}));
  EXPECT_EQ(words_of({split_step(R"(-)", SplitBehavior::kRemoved, false, true)}, text), (V{"-", "-", "-"}));
}

// Issue 20: the retry after PCRE2's default limits lifted them to UINT32_MAX, so a backtracking
// pattern could hang encoding. The retry is bounded; the error names the pattern.
TEST(BpePreTokenizer, CatastrophicBacktrackingIsAnErrorNamingThePattern) {
  const std::string text = std::string(40, 'a') + "b";
  const std::string error = error_of([&] { words_of({split_step("(a+)+$", SplitBehavior::kIsolated)}, text); });
  EXPECT_CONTAINS(error, "pre-tokenizer regex '(a+)+$' failed on a text of 41 bytes");
  EXPECT_CONTAINS(error, "limit");
}

TEST(BpePreTokenizer, Qwen2AndGpt2Regexes) {
  using V = std::vector<std::string>;
  PreTokenizerStep qwen = split_step(kQwen2PreTokenizerPattern, SplitBehavior::kIsolated);
  PreTokenizerStep byte_level;
  byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
  byte_level.use_regex = false;
  EXPECT_EQ(words_of({qwen, byte_level}, "Hello world's 123\n\n  x"),
            (V{"Hello", " world", "'s", " ", "1", "2", "3", "\n\n", " ", " x"}));
  byte_level.use_regex = true;
  EXPECT_EQ(words_of({byte_level}, "Hello world's 123\n\n  x"),
            (V{"Hello", " world", "'s", " 123", "\n\n ", " x"}));
  byte_level.add_prefix_space = true;
  EXPECT_EQ(words_of({byte_level}, "Hi"), (V{" Hi"}));
  EXPECT_EQ(words_of({byte_level}, " Hi"), (V{" Hi"}));
  EXPECT_THROW(PreTokenizer({byte_level, qwen}), std::runtime_error);
  std::string error = error_of([] { PreTokenizer({split_step("(unclosed", SplitBehavior::kIsolated)}); });
  EXPECT_CONTAINS(error, "'(unclosed'");
}

// ---------------------------------------------------------------------------------------------
// The BPE model on hand-made vocabularies (ids: bytes are their value, extra tokens from 256)

TEST(BpeModel, LowestRankMergesFirstLeftmostAmongEquals) {
  BpeTokenizer bc_first(byte_spec({"bc", "ab"}, {{"b", "c"}, {"a", "b"}}));
  EXPECT_EQ(bc_first.encode("abc", false), (Ids{'a', 256}));
  BpeTokenizer ab_first(byte_spec({"bc", "ab"}, {{"a", "b"}, {"b", "c"}}));
  EXPECT_EQ(ab_first.encode("abc", false), (Ids{257, 'c'}));
  BpeTokenizer pairs(byte_spec({"aa", "aaaa"}, {{"a", "a"}, {"aa", "aa"}}));
  EXPECT_EQ(pairs.encode("aaa", false), (Ids{256, 'a'}));
  EXPECT_EQ(pairs.encode("aaaaa", false), (Ids{257, 'a'}));
  EXPECT_EQ(pairs.encode("aaaaa", false), (Ids{257, 'a'}));  // from the cache
  EXPECT_EQ(pairs.decode({257, 'a'}, false), "aaaaa");
}

TEST(BpeModel, IgnoreMergesTakesWholeWords) {
  BpeSpec spec = byte_spec({"abc"}, {});
  EXPECT_EQ(BpeTokenizer(spec).encode("abc", false), (Ids{'a', 'b', 'c'}));
  spec.ignore_merges = true;
  EXPECT_EQ(BpeTokenizer(spec).encode("abc abc", false), (Ids{256, ' ', 'a', 'b', 'c'}));
}

TEST(BpeModel, MissingBytesFallBackOrBecomeUnkOrVanish) {
  BpeSpec spec = byte_spec({"<0x7A>"}, {});
  spec.vocab.erase(spec.vocab.begin() + 'z');
  spec.vocab.erase(spec.vocab.begin() + 'y');
  EXPECT_EQ(BpeTokenizer(spec).encode("xyzx", false), (Ids{'x', 'x'}));  // no unk, no fallback: dropped
  spec.byte_fallback = true;
  EXPECT_EQ(BpeTokenizer(spec).encode("xzx", false), (Ids{'x', 256, 'x'}));
  spec.byte_fallback = false;
  spec.unk_token = "<0x7A>";
  EXPECT_EQ(BpeTokenizer(spec).encode("xyzzx", false), (Ids{'x', 256, 256, 256, 'x'}));
  spec.fuse_unk = true;
  EXPECT_EQ(BpeTokenizer(spec).encode("xyzzx", false), (Ids{'x', 256, 'x'}));
}

TEST(BpeModel, AddedTokensLongestFirstWithTheirOptions) {
  BpeSpec spec = byte_spec({}, {});
  spec.added_tokens = {
      {300, "<x>", true, false, false, false, false},
      {301, "<x>y", false, false, false, false, false},
      {302, "<m>", false, true, true, false, false},  // lstrip + rstrip
      {303, "ab", false, false, false, true, false},  // single_word
  };
  BpeTokenizer tokenizer(spec);
  EXPECT_EQ(tokenizer.encode("a<x>y<x>", false), (Ids{'a', 301, 300}));
  EXPECT_EQ(tokenizer.encode("a  <m>\t b", false), (Ids{'a', 302, 'b'}));
  EXPECT_EQ(tokenizer.encode("ab cab ab.", false), (Ids{303, ' ', 'c', 'a', 'b', ' ', 303, '.'}));
  EXPECT_EQ(tokenizer.decode({'a', 300, 301}, false), "a<x><x>y");
  EXPECT_EQ(tokenizer.decode({'a', 300, 301}, true), "a<x>y");  // only 300 is special
  EXPECT_TRUE(tokenizer.is_special(300));
  EXPECT_FALSE(tokenizer.is_special(301));
  EXPECT_EQ(tokenizer.token_id("<m>"), 302);
  EXPECT_EQ(tokenizer.piece(303), "ab");
  EXPECT_EQ(tokenizer.vocab_size(), 304);
  EXPECT_EQ(tokenizer.decode({'a', 299, 'b'}, false), "ab");  // 299 names no token: skipped
  EXPECT_THROW(tokenizer.piece(299), std::out_of_range);
  EXPECT_THROW(tokenizer.decode({304}, false), std::out_of_range);
  EXPECT_THROW(tokenizer.decode({-1}, false), std::out_of_range);
}

TEST(BpeModel, NormalizedAddedTokensMatchTheNormalizedText) {
  BpeSpec spec = byte_spec({}, {});
  spec.normalizers = {unicode::NormalForm::kNfc};
  spec.added_tokens = {{300, "\xC3\xA9", false, false, false, false, true},   // é, normalized
                       {301, "\xC3\xB1", false, false, false, false, false}};  // ñ, raw
  BpeTokenizer tokenizer(spec);
  EXPECT_EQ(tokenizer.encode("e\xCC\x81", false), (Ids{300}));
  EXPECT_EQ(tokenizer.encode("n\xCC\x83", false), (Ids{0xC3, 0xB1}));  // NFC makes ñ, but too late for 301
  EXPECT_EQ(tokenizer.encode("\xC3\xB1", false), (Ids{301}));
  // The ByteLevel decoder reads an added token as byte-level text when it can: "é" is the byte 0xE9.
  EXPECT_EQ(tokenizer.decode({300}, false), kReplacement);
}

TEST(BpeModel, PostProcessorAndChecks) {
  BpeSpec spec = byte_spec({}, {});
  spec.added_tokens = {{256, "<s>", true, false, false, false, false}, {257, "</s>", true, false, false, false, false}};
  spec.prefix_ids = {256};
  spec.suffix_ids = {257};
  BpeTokenizer tokenizer(spec);
  EXPECT_EQ(tokenizer.encode("a", true), (Ids{256, 'a', 257}));
  EXPECT_EQ(tokenizer.encode("", true), (Ids{256, 257}));
  EXPECT_EQ(tokenizer.encode("", false), (Ids{}));

  BpeSpec bad = byte_spec({}, {{"a", "q"}});
  EXPECT_CONTAINS(error_of([&] { BpeTokenizer{bad}; }), "merge 0 ('a' 'q') needs the token 'aq'");
  bad = byte_spec({"x"}, {});
  EXPECT_CONTAINS(error_of([&] { BpeTokenizer{bad}; }), "token 'x' appears twice");
  bad = byte_spec({}, {});
  bad.prefix_ids = {999};
  EXPECT_CONTAINS(error_of([&] { BpeTokenizer{bad}; }), "the post-processor adds the id 999");
  bad = byte_spec({}, {});
  bad.pre_tokenizer.clear();
  EXPECT_THROW(BpeTokenizer{bad}, UnsupportedTokenizerError);
}

// ---------------------------------------------------------------------------------------------
// The real vocabularies

TEST(BpeQwen3, KnownIdsAndSpecialTokens) {
  auto tokenizer = qwen3();
  EXPECT_EQ(tokenizer->encode("Hello world", false), (Ids{9707, 1879}));
  EXPECT_EQ(tokenizer->encode("Hello world", true), (Ids{9707, 1879}));  // Qwen adds nothing
  EXPECT_EQ(tokenizer->encode("e\xCC\x81", false), (Ids{963}));          // NFC: é
  EXPECT_EQ(tokenizer->encode("<|im_start|>user\nHi<|im_end|>", false), (Ids{151644, 872, 198, 13048, 151645}));
  const Ids think = tokenizer->encode("<think>hi</think>", false);
  EXPECT_EQ(think, (Ids{151667, 6023, 151668}));
  EXPECT_EQ(tokenizer->decode(think, true), "<think>hi</think>");  // <think> is added but not special
  EXPECT_EQ(tokenizer->decode({151644, 872, 151645}, true), "user");
  EXPECT_EQ(tokenizer->decode({151644, 872, 151645}, false), "<|im_start|>user<|im_end|>");
  EXPECT_EQ(tokenizer->vocab_size(), 151669);
  EXPECT_EQ(tokenizer->bos_id(), std::nullopt);
  EXPECT_EQ(tokenizer->eos_id(), 151645);  // <|im_end|>, from tokenizer_config.json
  EXPECT_EQ(tokenizer->piece(1879), "\xC4\xA0world");  // Ġworld
  EXPECT_EQ(tokenizer->token_id("<|endoftext|>"), 151643);
  EXPECT_TRUE(tokenizer->is_special(151643));
  EXPECT_FALSE(tokenizer->is_special(151667));
  // A lone first byte of 中 (E4 B8 AD) decodes to U+FFFD, as Hugging Face's decoder does.
  const Ids zhong = tokenizer->encode("\xE4\xB8\xAD\xE4\xB8\xAD\xE4\xB8\xAD\xE4\xB8\xAD \xF0\x9F\xA6\x99", false);
  std::string joined;
  for (int64_t id : zhong) joined += tokenizer->decode({id}, false);
  EXPECT_EQ(tokenizer->decode(zhong, false), "\xE4\xB8\xAD\xE4\xB8\xAD\xE4\xB8\xAD\xE4\xB8\xAD \xF0\x9F\xA6\x99");
  EXPECT_NE(joined.find(kReplacement), std::string::npos) << "the llama emoji is more than one token";
}

TEST(BpeQwen3, Qwen25ConfigHasFewerAddedTokens) {
  BpeTokenizer tokenizer(
      read_vocab_and_merges(kQwen / "vocab.json", kQwen / "merges.txt", kQwen / "tokenizer_config.qwen2.5.json"));
  EXPECT_EQ(tokenizer.vocab_size(), 151665);
  EXPECT_EQ(tokenizer.token_id("<think>"), std::nullopt);
  EXPECT_EQ(tokenizer.encode("<think>", false), (Ids{13708, 766, 29}));
}

TEST(BpeLlama3, SpecialTokensAreMetas) {
  auto tokenizer = llama3();
  std::ifstream in(kLlama3 / "special_tokens.json");
  const json special = json::parse(in);
  for (const auto& [name, id] : special["special_tokens"].items()) {
    EXPECT_EQ(tokenizer->token_id(name), id.get<int64_t>()) << name;
    EXPECT_TRUE(tokenizer->is_special(id.get<int64_t>())) << name;
  }
  EXPECT_EQ(special["special_tokens"].size(), 256u);
  EXPECT_EQ(special["pat_str"].get<std::string>(), kLlama3PreTokenizerPattern);
  EXPECT_EQ(tokenizer->bos_id(), special["bos_id"].get<int64_t>());
  EXPECT_EQ(tokenizer->eos_id(), special["eos_id"].get<int64_t>());
  EXPECT_EQ(tokenizer->vocab_size(), 128256);
  EXPECT_EQ(tokenizer->encode("Hello world", true), (Ids{128000, 9906, 1917}));
  EXPECT_EQ(tokenizer->decode({128000, 9906, 1917, 128009}, true), "Hello world");
  EXPECT_EQ(tokenizer->decode({128000, 9906, 1917, 128009}, false), "<|begin_of_text|>Hello world<|eot_id|>");
}

TEST(BpeTinyGpt2, TokenizerJson) {
  BpeTokenizer tokenizer(read_tokenizer_json(kTinyGpt2 / "tokenizer.json", kTinyGpt2 / "tokenizer_config.json"));
  EXPECT_EQ(tokenizer.encode("Hello world", false), (Ids{40, 416, 79, 206, 750}));
  EXPECT_EQ(tokenizer.encode(" Hello, world!", true), (Ids{282, 416, 79, 12, 206, 750, 1}));
  EXPECT_EQ(tokenizer.encode("a<|endoftext|>b", false), (Ids{65, 0, 66}));
  EXPECT_EQ(tokenizer.decode({65, 0, 66}, false), "a<|endoftext|>b");
  EXPECT_EQ(tokenizer.decode({65, 0, 66}, true), "ab");
  EXPECT_EQ(tokenizer.vocab_size(), 1000);
  EXPECT_EQ(tokenizer.bos_id(), 0);
  EXPECT_EQ(tokenizer.eos_id(), 0);
}

// ---------------------------------------------------------------------------------------------
// load_tokenizer

TEST(BpeLoad, PicksTheFileByPreferenceAndContent) {
  const fs::path qwen_dir = qwen3_dir();
  auto qwen = load_tokenizer(qwen_dir);
  EXPECT_NE(dynamic_cast<BpeTokenizer*>(qwen.get()), nullptr);
  EXPECT_EQ(qwen->encode("<think>", false), (Ids{151667}));
  fs::remove_all(qwen_dir);

  auto llama = load_tokenizer(kLlama3);  // tokenizer.model in tiktoken's format
  ASSERT_NE(dynamic_cast<BpeTokenizer*>(llama.get()), nullptr);
  EXPECT_EQ(llama->encode("Hello world", true), (Ids{128000, 9906, 1917}));

  auto gpt2 = load_tokenizer(kTinyGpt2);  // tokenizer.json wins over vocab.json + merges.txt
  auto* gpt2_bpe = dynamic_cast<BpeTokenizer*>(gpt2.get());
  ASSERT_NE(gpt2_bpe, nullptr);
  EXPECT_CONTAINS(gpt2_bpe->source(), "tokenizer.json");

  auto llama2 = load_tokenizer(kAssets / "llama2-tokenizer");
  EXPECT_NE(dynamic_cast<SentencePieceTokenizer*>(llama2.get()), nullptr);

  // A SentencePiece-style tokenizer.json (not byte-level) next to tokenizer.model: SentencePiece.
  fs::path dir = temp_dir("bpe_spm_json");
  fs::create_symlink(kAssets / "llama2-tokenizer/tokenizer.model", dir / "tokenizer.model");
  write_all(dir / "tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}, "merges": [], "byte_fallback": true},
      "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "_"}]},
      "pre_tokenizer": null, "decoder": null})");
  auto fallback = load_tokenizer(dir);
  EXPECT_NE(dynamic_cast<SentencePieceTokenizer*>(fallback.get()), nullptr);
  fs::remove(dir / "tokenizer.model");
  std::string error = error_of([&] { load_tokenizer(dir); });
  EXPECT_CONTAINS(error, "the normalizer 'Prepend' is not supported");
  fs::remove_all(dir);
}

TEST(BpeLoad, TokenizerConfigSetsSpecialTokens) {
  fs::path dir = temp_dir("bpe_config");
  fs::create_symlink(kTinyGpt2 / "tokenizer.json", dir / "tokenizer.json");
  write_all(dir / "tokenizer_config.json", R"({"add_bos_token": true, "add_eos_token": true,
      "bos_token": "<|endoftext|>", "eos_token": {"content": "<|endoftext|>"}})");
  auto tokenizer = load_tokenizer(dir);
  EXPECT_EQ(tokenizer->encode("a", true), (Ids{0, 65, 0}));
  write_all(dir / "tokenizer_config.json", R"({"eos_token": "<nope>"})");
  EXPECT_CONTAINS(error_of([&] { load_tokenizer(dir); }), "eos_token '<nope>' is neither in the vocabulary");
  write_all(dir / "tokenizer_config.json", R"({"add_bos_token": "yes"})");
  EXPECT_CONTAINS(error_of([&] { load_tokenizer(dir); }), "add_bos_token must be true or false");
  write_all(dir / "tokenizer_config.json", R"({"added_tokens_decoder": {"x": {"content": "a"}}})");
  EXPECT_CONTAINS(error_of([&] { load_tokenizer(dir); }), "the key must be an integer id");
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Missing and malformed files

TEST(BpeErrors, MissingAndMalformedFilesAreNamed) {
  fs::path dir = temp_dir("bpe_errors");
  auto load_error = [&] { return error_of([&] { load_tokenizer(dir); }); };
  std::string error = load_error();
  EXPECT_CONTAINS(error, "no tokenizer in " + dir.string());
  EXPECT_CONTAINS(error, "tokenizer.json");
  EXPECT_CONTAINS(error, "vocab.json + merges.txt");

  write_all(dir / "vocab.json", R"({"a": 0})");
  EXPECT_CONTAINS(load_error(), "vocab.json but no merges.txt");
  write_all(dir / "merges.txt", "#version: 0.2\na\n");
  EXPECT_CONTAINS(load_error(), (dir / "merges.txt").string() + ": line 2 'a' is not two tokens");
  write_all(dir / "merges.txt", "a b\n");
  EXPECT_CONTAINS(load_error(), "merge 0 ('a' 'b') needs the token 'b'");
  write_all(dir / "vocab.json", R"(["a"])");
  EXPECT_CONTAINS(load_error(), (dir / "vocab.json").string() + ": expected a JSON object");
  write_all(dir / "vocab.json", R"({"a": "zero"})");
  EXPECT_CONTAINS(load_error(), "vocab.json[\"a\"] must be an integer id");
  write_all(dir / "vocab.json", R"({"a": 0)");
  EXPECT_CONTAINS(load_error(), (dir / "vocab.json").string() + " is not valid JSON");
  write_all(dir / "tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer"})");
  write_all(dir / "vocab.json", R"({"a": 0})");
  EXPECT_CONTAINS(load_error(), "tokenizer_class 'BertTokenizer' with vocab.json + merges.txt is not supported");
  fs::remove(dir / "tokenizer_config.json");
  fs::remove(dir / "vocab.json");
  fs::remove(dir / "merges.txt");

  const fs::path json_path = dir / "tokenizer.json";
  write_all(json_path, "{}");
  EXPECT_CONTAINS(load_error(), json_path.string() + ": model must be an object");
  write_all(json_path, R"({"model": {"type": "WordPiece", "vocab": {}}})");
  EXPECT_CONTAINS(load_error(), "the model is WordPiece");
  write_all(json_path, R"({"model": {"type": "BPE", "vocab": {}, "merges": [3]}})");
  EXPECT_CONTAINS(load_error(), "model.merges[0] must be");
  write_all(json_path, R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
      "pre_tokenizer": {"type": "Metaspace"}})");
  EXPECT_CONTAINS(load_error(), "the pre-tokenizer 'Metaspace' is not supported");
  write_all(json_path, R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
      "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "WordPiece"}})");
  EXPECT_CONTAINS(load_error(), "the decoder 'WordPiece' is not supported");
  write_all(json_path, R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
      "pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?<"},
      "behavior": "Isolated"}, {"type": "ByteLevel"}]}, "decoder": {"type": "ByteLevel"}})");
  EXPECT_CONTAINS(load_error(), "regex '(?<' does not compile");
  write_all(json_path, R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
      "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "x"}, "behavior": "Sideways"}})");
  EXPECT_CONTAINS(load_error(), "Split behavior 'Sideways' is not one of");
  fs::remove(json_path);

  const fs::path model = dir / "tokenizer.model";
  write_all(model, "IQ== 0\nIg== 1\nnot base64! 2\n");
  EXPECT_CONTAINS(load_error(), model.string() + ": line 3: expected '<base64 token> <rank>'");
  write_all(model, "IQ== 0\nIg== 0\n");
  EXPECT_CONTAINS(load_error(), "line 2: rank 0 is given twice");
  fs::remove_all(dir);

  EXPECT_CONTAINS(error_of([] { read_tokenizer_json("/nonexistent/tokenizer.json"); }),
                  "cannot open /nonexistent/tokenizer.json");
  EXPECT_CONTAINS(error_of([] { read_llama3_tiktoken("/nonexistent/tokenizer.model"); }),
                  "cannot open /nonexistent/tokenizer.model");
}

// Issue 20: nested Sequence normalizers, pre-tokenizers and decoders recursed without a bound;
// 100,000 levels overflowed the stack. Past 32 levels they are errors naming the part.
TEST(BpeErrors, DeeplyNestedSequencesAreErrorsNotStackOverflows) {
  fs::path dir = temp_dir("bpe_nested");
  const int n = 100000;
  auto nested = [&](const std::string& list_key, const std::string& leaf) {
    std::string text;
    for (int i = 0; i < n; ++i) text += R"({"type": "Sequence", ")" + list_key + R"(": [)";
    text += leaf;
    for (int i = 0; i < n; ++i) text += "]}";
    return text;
  };
  const std::string base = R"("model": {"type": "BPE", "vocab": {"a": 0}, "merges": []})";
  const std::string byte_level = R"({"type": "ByteLevel"})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"normalizer", "{" + base + R"(, "normalizer": )" + nested("normalizers", R"({"type": "NFC"})") +
                         R"(, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}})"},
      {"pre_tokenizer", "{" + base + R"(, "pre_tokenizer": )" + nested("pretokenizers", byte_level) +
                            R"(, "decoder": {"type": "ByteLevel"}})"},
      {"decoder", "{" + base + R"(, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": )" + nested("decoders", byte_level) + "}"}};
  for (const auto& [part, text] : cases) {
    write_all(dir / "tokenizer.json", text);
    EXPECT_CONTAINS(error_of([&] { load_tokenizer(dir); }), part + " Sequences nest more than 32 levels deep");
  }
  fs::remove_all(dir);
}

// Issue 20: one id near INT32_MAX made precept allocate ~2^31 pieces (a tokenizer.json) or
// strings (a tiktoken file). The id space is now bounded by the file's real size.
TEST(BpeErrors, AHugeTokenIdIsAnErrorNotAnAllocation) {
  fs::path dir = temp_dir("bpe_huge_id");
  auto load_error = [&] { return error_of([&] { load_tokenizer(dir); }); };
  const fs::path json_path = dir / "tokenizer.json";
  write_all(json_path, R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 2147483000}, "merges": []},
      "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}})");
  std::string error = load_error();
  EXPECT_CONTAINS(error, "token 'b' has the id 2147483000");
  EXPECT_CONTAINS(error, "ids must be below 65540 for 2 tokens");
  write_all(json_path, R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
      "added_tokens": [{"id": 2000000000, "content": "<x>", "special": true}],
      "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}})");
  EXPECT_CONTAINS(load_error(), "added token '<x>' has the id 2000000000");
  fs::remove(json_path);
  const fs::path model = dir / "tokenizer.model";
  write_all(model, "IQ== 0\nIg== 2147483000\n");
  EXPECT_CONTAINS(load_error(), model.string() + ": line 2: rank 2147483000 is too large for a 23-byte file");
  fs::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// Any input bytes, long inputs, threads

TEST(BpeRobustness, AnyBytesEncodeAndRoundTrip) {
  auto llama = llama3();
  auto qwen = qwen3();
  std::mt19937 random(1234);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bytes(random() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(trial % 3 == 0 ? random() % 256 : 0x80 + random() % 0x80);
    const std::string valid = unicode::to_valid_utf8(bytes);
    EXPECT_EQ(llama->decode(llama->encode(bytes, false), false), valid);
    EXPECT_EQ(llama->encode(bytes, false), llama->encode(valid, false));
    EXPECT_EQ(qwen->decode(qwen->encode(bytes, false), false), unicode::normalize(valid, unicode::NormalForm::kNfc));
  }
}

TEST(BpeRobustness, LongInputs) {
  auto llama = llama3();
  auto qwen = qwen3();
  const std::vector<std::string> inputs = {
      std::string(1 << 20, ' ') + "x", std::string(1 << 18, '\n'), std::string(1 << 18, 'a'),
      std::string(1 << 16, '7'), [] {
        std::string s;
        for (int i = 0; i < 20000; ++i) s += "\xE4\xB8\xAD\xF0\x9F\x98\x80 \t\r\n";
        return s;
      }()};
  for (const std::string& text : inputs) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(llama->decode(llama->encode(text, false), false), text);
    EXPECT_EQ(qwen->decode(qwen->encode(text, false), false), text);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 30.0) << text.size() << " bytes";
  }
}

TEST(BpeRobustness, ConcurrentEncodingAgrees) {
  auto qwen = qwen3();
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    texts.push_back("Sample " + std::to_string(i * 7919) + " with words like tokenization, caching and " +
                    std::string(i % 5, ' ') + "\xE4\xB8\xAD\xE6\x96\x87 " + std::to_string(i));
  }
  std::vector<Ids> expected;
  for (const auto& text : texts) expected.push_back(qwen->encode(text, false));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          if (qwen->encode(texts[(i + t * 31) % texts.size()], false) != expected[(i + t * 31) % texts.size()]) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int count : mismatches) EXPECT_EQ(count, 0);
}

// ---------------------------------------------------------------------------------------------
// Hugging Face on the hard-strings corpus (tests/check_bpe_vs_hf.py writes the references)

TEST(HardStrings, MatchHuggingFace) {
  const char* path = std::getenv("PRECEPT_HARD_STRINGS_JSON");
  if (path == nullptr) GTEST_SKIP() << "PRECEPT_HARD_STRINGS_JSON is set by tests/check_bpe_vs_hf.py";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const json document = json::parse(in);

  std::map<std::string, std::unique_ptr<BpeTokenizer>> tokenizers;
  std::vector<std::string> order;
  for (const json& entry : document["tokenizers"]) {
    const std::string name = entry["name"];
    const json& load = entry["load"];
    BpeSpec spec;
    if (load.contains("tokenizer_json")) {
      spec = read_tokenizer_json(load["tokenizer_json"].get<std::string>());
    } else if (load.contains("tiktoken")) {
      spec = read_llama3_tiktoken(load["tiktoken"].get<std::string>());
    } else {
      spec = read_vocab_and_merges(load["vocab_json"].get<std::string>(), load["merges_txt"].get<std::string>(),
                                   fs::path(load["tokenizer_config"].get<std::string>()));
    }
    tokenizers[name] = std::make_unique<BpeTokenizer>(std::move(spec));
    order.push_back(name);
  }

  std::map<std::string, std::pair<int, int>> counts;  // name -> (passed, total)
  int reported = 0;
  for (const json& c : document["cases"]) {
    const std::string name = c["tokenizer"];
    const BpeTokenizer& tokenizer = *tokenizers.at(name);
    const std::string text = from_hex(c["text_hex"]);
    std::vector<std::string> problems;
    const Ids ids = tokenizer.encode(text, false);
    if (ids != c["ids"].get<Ids>()) problems.push_back("ids");
    if (tokenizer.encode(text, true) != c["ids_special"].get<Ids>()) problems.push_back("ids with special tokens");
    const Ids expected_ids = c["ids"].get<Ids>();
    if (tokenizer.decode(expected_ids, false) != c["decoded"].get<std::string>()) problems.push_back("decode");
    if (tokenizer.decode(expected_ids, true) != c["decoded_skip"].get<std::string>()) {
      problems.push_back("decode skipping special tokens");
    }
    const auto pieces = c["piece_decodes"].get<std::vector<std::string>>();
    for (size_t i = 0; i < expected_ids.size(); ++i) {
      if (tokenizer.decode({expected_ids[i]}, false) != pieces[i]) {
        problems.push_back("decode of id " + std::to_string(expected_ids[i]) + " alone");
        break;
      }
    }
    auto& [passed, total] = counts[name];
    ++total;
    if (problems.empty()) {
      ++passed;
      continue;
    }
    if (reported++ < 20) {
      std::string what;
      for (const auto& problem : problems) what += (what.empty() ? "" : ", ") + problem;
      ADD_FAILURE() << name << " differs from Hugging Face (" << what << ") on "
                    << json(unicode::to_valid_utf8(text.substr(0, 120))).dump() << "\n  expected " << c["ids"].dump()
                    << "\n  got      " << json(ids).dump();
    }
  }
  for (const auto& name : order) {
    std::cout << "hard strings " << name << " " << counts[name].first << "/" << counts[name].second << "\n";
    EXPECT_EQ(counts[name].first, counts[name].second) << name;
    EXPECT_GT(counts[name].second, 100) << name;
  }
}
