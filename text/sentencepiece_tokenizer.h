// SentencePiece tokenizers (`tokenizer.model`, e.g. Llama 2 and llama2.c's tiny vocabularies)
// behind the Tokenizer interface, over the sentencepiece library; plus a writer for the small
// BPE subset of the model file that lm/llama2c.cpp needs. Not byte-level BPE (tokenizer.json).
#pragma once

#include "text/tokenizer.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace precept::text {

// What tokenizer_config.json may change about a SentencePiece tokenizer.
struct SentencePieceOptions {
  bool add_bos = true;   // add_bos_token
  bool add_eos = false;  // add_eos_token
  // bos_token / eos_token: pieces that override the model's own BOS / EOS ids.
  std::optional<std::string> bos_piece;
  std::optional<std::string> eos_piece;
};

class SentencePieceTokenizer : public Tokenizer {
 public:
  // Throws, naming the file, when it is missing or not a SentencePiece model.
  explicit SentencePieceTokenizer(const std::filesystem::path& model_path, SentencePieceOptions options = {});
  ~SentencePieceTokenizer() override;

  // The model's normalizer and segmentation; add_special adds BOS (add_bos) and EOS (add_eos).
  // Text that spells a control piece ("<s>") is segmented as ordinary text, as sentencepiece does.
  std::vector<int64_t> encode(const std::string& text, bool add_special) const override;
  // skip_special drops control pieces; otherwise they are written as their piece ("<s>").
  // The dummy-prefix space of the first piece is removed, as sentencepiece does.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override;
  std::string piece(int64_t id) const override;
  std::optional<int64_t> token_id(const std::string& piece) const override;
  int64_t vocab_size() const override;
  std::optional<int64_t> bos_id() const override { return bos_id_; }
  std::optional<int64_t> eos_id() const override { return eos_id_; }

  const std::filesystem::path& model_path() const { return model_path_; }

 private:
  void check_id(int64_t id) const;
  std::filesystem::path model_path_;
  SentencePieceOptions options_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  std::optional<int64_t> bos_id_;
  std::optional<int64_t> eos_id_;
};

// ----------------------------------------------------------------------------------------------
// Writing a SentencePiece BPE model (a serialized sentencepiece.ModelProto).

// The piece types of sentencepiece_model.proto (ModelProto.SentencePiece.Type).
enum class SentencePieceType : int {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct SentencePieceEntry {
  std::string piece;  // as stored in the model: "▁Once", "<0x0A>", "<s>"
  float score = 0.0f;
  SentencePieceType type = SentencePieceType::kNormal;
};

// A BPE model with the identity normalizer, a dummy-prefix "▁", whitespace kept as is and
// escaped to "▁" (the settings of Llama 2 and of llama2.c's trained vocabularies). The
// unk / bos / eos ids are taken from the UNKNOWN piece and the pieces "<s>" / "</s>";
// byte_fallback is on when all 256 "<0xNN>" BYTE pieces are present. Throws on an empty or
// duplicate piece, or a vocabulary without exactly one UNKNOWN piece.
std::string serialize_sentencepiece_bpe_model(const std::vector<SentencePieceEntry>& pieces);

}  // namespace precept::text
