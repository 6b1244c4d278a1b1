// The tokenizer interface the rest of precept sees: text <-> ids, special tokens.
// Implementations: BpeTokenizer (byte-level BPE from tokenizer.json, vocab.json + merges.txt,
// or Llama 3's tiktoken tokenizer.model) and SentencePieceTokenizer (tokenizer.model).
// load_tokenizer picks one from a model directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace precept::text {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // add_special: prepend BOS (and whatever the tokenizer's post-processor asks for).
  virtual std::vector<int64_t> encode(const std::string& text, bool add_special) const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special) const = 0;
  // The piece of one id as stored in the vocabulary (e.g. "▁Once", "<0x0A>").
  virtual std::string piece(int64_t id) const = 0;
  virtual std::optional<int64_t> token_id(const std::string& piece) const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual std::optional<int64_t> bos_id() const = 0;
  virtual std::optional<int64_t> eos_id() const = 0;
};

// Loads the tokenizer of a checkpoint directory. Throws, naming the directory, when it holds
// no tokenizer precept can read.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& dir);

}  // namespace precept::text
