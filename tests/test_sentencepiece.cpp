// SentencePieceTokenizer and the tokenizer.model writer: the real Llama 2 model against its
// published encodings; Llama 2's tokenizer.bin rewritten as a model against the original;
// stories260K's converted tokenizer against llama2.c's encode and its greedy sample text;
// load_tokenizer's choice of files and its errors.
#include "lm/llama2c.h"
#include "text/sentencepiece_tokenizer.h"
#include "text/tokenizer.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace precept::lm;
using namespace precept::text;
using namespace precept::testing;

namespace {
const fs::path kAssets = fs::path(PRECEPT_SHARED_DIR) / "assets";
const fs::path kLlama2 = kAssets / "llama2-tokenizer";
const fs::path kStories = kAssets / "stories260K";


// llama2.c run.c's encode(), restated from its description: a dummy-prefix " " unless the text
// is empty, one token per UTF-8 code point (its bytes + 3 when the code point is not in the
// vocabulary), then repeatedly merge the leftmost adjacent pair whose concatenation is in the
// vocabulary with the highest score.
std::vector<int64_t> llama2c_encode(const Llama2cVocab& vocab, const std::string& text, bool bos) {
  std::map<std::string, int64_t> ids;
  for (size_t id = 0; id < vocab.pieces.size(); ++id) ids.emplace(vocab.pieces[id], id);
  std::vector<int64_t> tokens;
  if (bos) tokens.push_back(1);
  if (!text.empty()) tokens.push_back(ids.at(" "));
  for (size_t i = 0; i < text.size();) {
    size_t length = 1;
    while (i + length < text.size() && (static_cast<unsigned char>(text[i + length]) & 0xC0) == 0x80 && length < 4) {
      ++length;
    }
    auto found = ids.find(text.substr(i, length));
    if (found != ids.end()) {
      tokens.push_back(found->second);
    } else {
      for (size_t b = i; b < i + length; ++b) tokens.push_back(static_cast<unsigned char>(text[b]) + 3);
    }
    i += length;
  }
  while (true) {
    float best_score = -1e10f;
    int64_t best_id = -1;
    size_t best_index = 0;
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      auto found = ids.find(vocab.pieces[tokens[i]] + vocab.pieces[tokens[i + 1]]);
      if (found != ids.end() && vocab.scores[found->second] > best_score) {
        best_score = vocab.scores[found->second];
        best_id = found->second;
        best_index = i;
      }
    }
    if (best_id < 0) break;
    tokens[best_index] = best_id;
    tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(best_index) + 1);
  }
  return tokens;
}

// Each test gets the stories260K checkpoint freshly converted into its own directory.
class SentencePieceStories : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    convert_llama2c(kStories / "stories260K.bin", kStories / "tok512.bin", model_dir());
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path model_dir() const { return root_ / "model"; }

 private:
  fs::path root_;
};

const std::vector<std::string> kPrompts = {
    "Once upon a time",
    "Lily and Ben went to the park. They saw a big dog!",
    "  two  spaces,\nthen a newline\n\nand a tab\t.",
    "Unicode: naïve café, €5 ™ — ☃ 😀 日本",
    "<s> and </s> are plain text here; so is <0x41>.",
    "1234567890 + 42 = ?",
    " leading space",
    "x",
};
}  // namespace

TEST(SentencePiece, Llama2ModelEncodesLikeMetasTokenizer) {
  SentencePieceTokenizer tokenizer(kLlama2 / "tokenizer.model");
  EXPECT_EQ(tokenizer.vocab_size(), 32000);
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  json vectors = json::parse(read_all(kLlama2 / "encode_vectors.json"));
  ASSERT_GE(vectors["cases"].size(), 4u);
  for (const json& item : vectors["cases"]) {
    const std::string text = item["text"];
    EXPECT_EQ(tokenizer.encode(text, true), item["ids"].get<std::vector<int64_t>>()) << text;
  }
}

TEST(SentencePiece, Llama2TokenizerBinRewrittenMatchesTheOriginalModel) {
  // llama2.c's tokenizer.bin is an export of the Llama 2 tokenizer.model; writing it back as a
  // model must give the same pieces, scores, types and encodings as the original.
  fs::path out = temp_dir("spm_llama2");
  const fs::path bin = kLlama2 / "tokenizer.bin";
  write_all(out / "tokenizer.model",
            serialize_sentencepiece_bpe_model(llama2c_sentencepiece_pieces(read_llama2c_tokenizer(bin), bin)));
  SentencePieceTokenizer rewritten(out / "tokenizer.model");
  SentencePieceTokenizer original(kLlama2 / "tokenizer.model");
  ASSERT_EQ(rewritten.vocab_size(), original.vocab_size());
  for (int64_t id = 0; id < original.vocab_size(); ++id) {
    ASSERT_EQ(rewritten.piece(id), original.piece(id)) << id;
  }
  EXPECT_EQ(rewritten.bos_id(), original.bos_id());
  EXPECT_EQ(rewritten.eos_id(), original.eos_id());
  json vectors = json::parse(read_all(kLlama2 / "encode_vectors.json"));
  std::vector<std::string> texts = kPrompts;
  for (const json& item : vectors["cases"]) texts.push_back(item["text"]);
  for (const std::string& text : texts) {
    const std::vector<int64_t> ids = original.encode(text, true);
    EXPECT_EQ(rewritten.encode(text, true), ids) << text;
    EXPECT_EQ(rewritten.decode(ids, true), original.decode(ids, true)) << text;
    EXPECT_EQ(rewritten.decode(ids, true), text) << text;
  }
  fs::remove_all(out);
}

TEST_F(SentencePieceStories, EncodesLikeLlama2c) {
  auto tokenizer = load_tokenizer(model_dir());
  Llama2cVocab vocab = read_llama2c_tokenizer(kStories / "tok512.bin");
  EXPECT_EQ(tokenizer->vocab_size(), 512);
  EXPECT_EQ(tokenizer->encode("Once upon a time", true), (std::vector<int64_t>{1, 403, 407, 261, 378}));
  EXPECT_EQ(tokenizer->encode("", true), (std::vector<int64_t>{1}));
  EXPECT_EQ(tokenizer->encode("", false), (std::vector<int64_t>{}));
  for (const std::string& text : kPrompts) {
    EXPECT_EQ(tokenizer->encode(text, true), llama2c_encode(vocab, text, true)) << text;
    EXPECT_EQ(tokenizer->encode(text, false), llama2c_encode(vocab, text, false)) << text;
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, true), true), text) << text;
  }
}

TEST_F(SentencePieceStories, DecodesTheGreedySample) {
  // expected_greedy_t0_n256.txt is run.c's stdout: the 256 generated pieces (run.c drops the
  // leading space of the piece after BOS, as sentencepiece drops the dummy prefix), then the
  // "\n" run.c prints after generating.
  auto tokenizer = load_tokenizer(model_dir());
  json expected = json::parse(read_all(kStories / "expected_greedy_ids_and_first_logits.json"));
  const std::vector<int64_t> ids = expected["ids"];
  ASSERT_EQ(ids.size(), 257u);
  ASSERT_EQ(ids.front(), 1);
  const std::string text = read_all(kStories / "expected_greedy_t0_n256.txt");
  ASSERT_EQ(text.back(), '\n');
  EXPECT_EQ(tokenizer->decode(ids, true) + "\n", text);
  const std::vector<int64_t> generated(ids.begin() + 1, ids.end());
  EXPECT_EQ(tokenizer->decode(generated, true) + "\n", text);
}

TEST_F(SentencePieceStories, PiecesAndSpecialTokens) {
  auto tokenizer = load_tokenizer(model_dir());
  EXPECT_EQ(tokenizer->piece(403), "\xE2\x96\x81Once");
  EXPECT_EQ(tokenizer->piece(13), "<0x0A>");
  EXPECT_EQ(tokenizer->piece(1), "<s>");
  EXPECT_EQ(tokenizer->token_id("\xE2\x96\x81Once"), 403);
  EXPECT_EQ(tokenizer->token_id("<unk>"), 0);
  EXPECT_EQ(tokenizer->token_id("</s>"), 2);
  EXPECT_EQ(tokenizer->token_id("no such piece"), std::nullopt);
  EXPECT_EQ(tokenizer->bos_id(), 1);
  EXPECT_EQ(tokenizer->eos_id(), 2);
  EXPECT_EQ(tokenizer->decode({1, 403, 407, 2}, true), "Once upon");
  EXPECT_EQ(tokenizer->decode({1, 403, 407, 2}, false), "<s> Once upon</s>");
  EXPECT_EQ(tokenizer->decode({403, 13, 403}, true), "Once\n Once");
  std::string error = error_of([&] { tokenizer->decode({403, 512}, true); });
  EXPECT_NE(error.find("token id 512"), std::string::npos) << error;
  EXPECT_THROW(tokenizer->piece(-1), std::out_of_range);
}

TEST_F(SentencePieceStories, TokenizerConfigChangesSpecialTokens) {
  fs::path dir = temp_dir("spm_config");
  fs::copy_file(model_dir() / "tokenizer.model", dir / "tokenizer.model");
  write_all(dir / "tokenizer_config.json", R"({"add_bos_token": false, "add_eos_token": true,
                                              "eos_token": {"content": "<unk>"}})");
  auto tokenizer = load_tokenizer(dir);
  EXPECT_EQ(tokenizer->encode("Once", true), (std::vector<int64_t>{403, 0}));
  EXPECT_EQ(tokenizer->eos_id(), 0);

  write_all(dir / "tokenizer_config.json", R"({"bos_token": "<nope>"})");
  std::string error = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(error.find("bos_token '<nope>'"), std::string::npos) << error;

  write_all(dir / "tokenizer_config.json", R"({"add_bos_token": "yes"})");
  error = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(error.find("tokenizer_config.json: add_bos_token must be true or false"), std::string::npos) << error;
  fs::remove_all(dir);
}

TEST(SentencePiece, LoadTokenizerNamesWhatItLookedFor) {
  fs::path dir = temp_dir("spm_load");
  std::string error = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(error.find(dir.string()), std::string::npos) << error;
  EXPECT_NE(error.find("tokenizer.model"), std::string::npos) << error;
  EXPECT_NE(error.find("tokenizer.json"), std::string::npos) << error;

  write_all(dir / "tokenizer.json", "{}");
  error = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(error.find((dir / "tokenizer.json").string() + ": model must be an object"), std::string::npos) << error;

  fs::remove(dir / "tokenizer.json");
  write_all(dir / "tokenizer.model", "not a protobuf");
  error = error_of([&] { load_tokenizer(dir); });
  EXPECT_NE(error.find((dir / "tokenizer.model").string()), std::string::npos) << error;
  EXPECT_NE(error.find("SentencePiece"), std::string::npos) << error;

  error = error_of([&] { load_tokenizer(dir / "absent"); });
  EXPECT_NE(error.find("not a directory"), std::string::npos) << error;
  fs::remove_all(dir);
}

TEST(SentencePiece, WriterRejectsVocabulariesSentencePieceCannotLoad) {
  using Type = SentencePieceType;
  std::string error = error_of([] { serialize_sentencepiece_bpe_model({{"a", 0, Type::kNormal}}); });
  EXPECT_NE(error.find("no UNKNOWN piece"), std::string::npos) << error;
  error = error_of([] { serialize_sentencepiece_bpe_model({{"<unk>", 0, Type::kUnknown}, {"", 0, Type::kNormal}}); });
  EXPECT_NE(error.find("id 1: empty piece"), std::string::npos) << error;
  error = error_of(
      [] { serialize_sentencepiece_bpe_model({{"<unk>", 0, Type::kUnknown}, {"<0x00>", 0, Type::kByte}}); });
  EXPECT_NE(error.find("1 of the 256"), std::string::npos) << error;
}
