// Byte-level BPE tokenizers (GPT-2, Llama 3, Qwen2/2.5/3) behind the Tokenizer interface, doing
// what Hugging Face tokenizers does so that ids match it exactly: added tokens matched first, the
// normalizer, the regex pre-tokenizer, rank-ordered merges over bytes, the post-processor and the
// ByteLevel decoder. Not SentencePiece (lm/sentencepiece_tokenizer.h), WordPiece or Unigram.
// The file readers that fill a BpeSpec are in lm/bpe_files.h (tokenizer.json, vocab.json +
// merges.txt) and lm/tiktoken.h (Llama 3's tokenizer.model); load_tokenizer picks among them.
#pragma once

#include "text/bpe_pretokenizer.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace precept::text {

// A tokenizer file asks for a component precept does not implement (a WordPiece model, a
// Metaspace pre-tokenizer, a Lowercase normalizer...). load_tokenizer may then fall back to
// another file of the directory.
class UnsupportedTokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One token of the added vocabulary (tokenizer.json "added_tokens", tokenizer_config.json
// "added_tokens_decoder", Llama 3's special tokens): found in the text before anything else runs.
struct BpeAddedToken {
  int64_t id = 0;
  std::string content;
  bool special = false;      // decode(skip_special = true) drops it
  bool lstrip = false;       // a match also takes the white space on its left
  bool rstrip = false;       // ... and on its right
  bool single_word = false;  // only matched when no word character touches it
  bool normalized = false;   // matched in the normalized text rather than the raw text
};

// Everything a byte-level BPE tokenizer is made of, as the files spell it.
struct BpeSpec {
  std::string source;  // the file(s) it was read from, named in error messages

  // The BPE model. Tokens are spelled in the byte-level alphabet ("Ġthe"); merges in rank order.
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;
  bool ignore_merges = false;  // a word that is itself a token becomes that token (Llama 3)
  bool byte_fallback = false;  // a character missing from the vocabulary becomes "<0xNN>" tokens
  std::optional<std::string> unk_token;
  bool fuse_unk = false;

  std::vector<BpeAddedToken> added_tokens;
  std::vector<unicode::NormalForm> normalizers;  // applied in order; empty for none
  std::vector<PreTokenizerStep> pre_tokenizer;   // must end with the ByteLevel step

  // The post-processor for one sequence: ids put before and after the text's when add_special.
  std::vector<int64_t> prefix_ids;
  std::vector<int64_t> suffix_ids;
  std::optional<int64_t> bos_id;
  std::optional<int64_t> eos_id;
};

class BpeTokenizer : public Tokenizer {
 public:
  // Checks and compiles the spec. Throws std::runtime_error naming spec.source on a merge or
  // special token that is not in the vocabulary, duplicate ids, a bad regex; and
  // UnsupportedTokenizerError when the pre-tokenizer does not end with ByteLevel.
  explicit BpeTokenizer(BpeSpec spec);
  ~BpeTokenizer() override;

  // Text that is not valid UTF-8 is first repaired as Python's bytes.decode("utf-8", "replace")
  // would (each maximal invalid subsequence becomes U+FFFD), since a Hugging Face tokenizer only
  // ever sees Python strings; it never throws for any input bytes. add_special puts the
  // post-processor's tokens around the ids (Llama 3: <|begin_of_text|> first; Qwen: none).
  std::vector<int64_t> encode(const std::string& text, bool add_special) const override;
  // The ByteLevel decoder: the bytes of the tokens, concatenated, with invalid UTF-8 (a partial
  // character) replaced by U+FFFD. skip_special drops added tokens marked special (not Qwen3's
  // <think>, which is an added token that is not special). Throws std::out_of_range for an id
  // outside [0, vocab_size()); ids inside it that name no token are skipped, as tokenizers does.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override;
  std::string piece(int64_t id) const override;
  std::optional<int64_t> token_id(const std::string& piece) const override;
  // One past the largest id of the vocabulary and the added tokens (151669 for Qwen3).
  int64_t vocab_size() const override;
  std::optional<int64_t> bos_id() const override;
  std::optional<int64_t> eos_id() const override;

  bool is_special(int64_t id) const;
  const std::string& source() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace precept::text
