// SentencePieceTokenizer: see sentencepiece_tokenizer.h. Encoding and decoding are the
// sentencepiece library's; this file adds the special-token policy and id checks.
#include "text/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <cstring>
#include <set>
#include <stdexcept>

namespace precept::text {
namespace fs = std::filesystem;

namespace {
const std::string kSpaceSymbol = "\xE2\x96\x81";  // U+2581, sentencepiece's escaped space "▁"

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}
}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer(const fs::path& model_path, SentencePieceOptions options)
    : model_path_(model_path),
      options_(std::move(options)),
      processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {
  if (!fs::is_regular_file(model_path_)) {
    throw std::runtime_error("SentencePiece model " + model_path_.string() + " does not exist");
  }
  auto status = processor_->Load(model_path_.string());
  if (!status.ok()) {
    throw std::runtime_error("cannot load " + model_path_.string() +
                             " as a SentencePiece model: " + status.ToString());
  }
  auto special_id = [&](const std::optional<std::string>& piece, int model_id,
                        const char* key) -> std::optional<int64_t> {
    if (piece) {
      auto id = token_id(*piece);
      if (!id) {
        throw std::runtime_error(std::string(key) + " '" + *piece + "' is not a piece of " + model_path_.string());
      }
      return id;
    }
    if (model_id < 0) return std::nullopt;
    return model_id;
  };
  bos_id_ = special_id(options_.bos_piece, processor_->bos_id(), "bos_token");
  eos_id_ = special_id(options_.eos_piece, processor_->eos_id(), "eos_token");
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

void SentencePieceTokenizer::check_id(int64_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary of " +
                            model_path_.string() + " (" + std::to_string(vocab_size()) + " pieces)");
  }
}

std::vector<int64_t> SentencePieceTokenizer::encode(const std::string& text, bool add_special) const {
  std::vector<int> pieces;
  auto status = processor_->Encode(text, &pieces);
  if (!status.ok()) {
    throw std::runtime_error("SentencePiece encode with " + model_path_.string() + " failed: " + status.ToString());
  }
  std::vector<int64_t> ids;
  ids.reserve(pieces.size() + 2);
  if (add_special && options_.add_bos && bos_id_) ids.push_back(*bos_id_);
  ids.insert(ids.end(), pieces.begin(), pieces.end());
  if (add_special && options_.add_eos && eos_id_) ids.push_back(*eos_id_);
  return ids;
}

std::string SentencePieceTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  // Runs of ordinary pieces go through sentencepiece; control pieces are dropped or written
  // as their piece text between the runs.
  std::string text;
  std::vector<int> run;
  auto flush = [&] {
    if (run.empty()) return;
    std::string part;
    auto status = processor_->Decode(run, &part);
    if (!status.ok()) {
      throw std::runtime_error("SentencePiece decode with " + model_path_.string() + " failed: " + status.ToString());
    }
    // sentencepiece removes the dummy-prefix space of a run's first piece; only at the
    // start of the whole text is it a dummy prefix, after a "<s>" it is a real space.
    if (!text.empty() && starts_with(processor_->IdToPiece(run.front()), kSpaceSymbol)) text += ' ';
    text += part;
    run.clear();
  };
  for (int64_t id : ids) {
    check_id(id);
    if (processor_->IsControl(static_cast<int>(id))) {
      if (skip_special) continue;
      flush();
      text += processor_->IdToPiece(static_cast<int>(id));
    } else {
      run.push_back(static_cast<int>(id));
    }
  }
  flush();
  return text;
}

std::string SentencePieceTokenizer::piece(int64_t id) const {
  check_id(id);
  return processor_->IdToPiece(static_cast<int>(id));
}

std::optional<int64_t> SentencePieceTokenizer::token_id(const std::string& piece) const {
  // PieceToId answers unk_id for a piece it does not know.
  int id = processor_->PieceToId(piece);
  if (id < 0 || processor_->IdToPiece(id) != piece) return std::nullopt;
  return id;
}

int64_t SentencePieceTokenizer::vocab_size() const { return processor_->GetPieceSize(); }

// ----------------------------------------------------------------------------------------------
// The protobuf wire format of sentencepiece_model.proto, written by hand: Debian's
// libsentencepiece-dev ships no generated sentencepiece_model.pb.h, and the model file needs
// only a few fields (field numbers checked against sentencepiece_model.proto).
namespace {

enum WireType : uint32_t { kVarint = 0, kLengthDelimited = 2, kFixed32 = 5 };

void append_varint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7F) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void append_tag(std::string& out, uint32_t field, WireType wire) { append_varint(out, (field << 3) | wire); }

// int32 and enum fields: a negative value is sign-extended to 64 bits, as protobuf does.
void append_int_field(std::string& out, uint32_t field, int64_t value) {
  append_tag(out, field, kVarint);
  append_varint(out, static_cast<uint64_t>(value));
}

void append_bool_field(std::string& out, uint32_t field, bool value) { append_int_field(out, field, value ? 1 : 0); }

void append_bytes_field(std::string& out, uint32_t field, const std::string& bytes) {
  append_tag(out, field, kLengthDelimited);
  append_varint(out, bytes.size());
  out += bytes;
}

void append_float_field(std::string& out, uint32_t field, float value) {
  static_assert(sizeof(float) == 4, "float must be IEEE binary32");
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  append_tag(out, field, kFixed32);
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>((bits >> shift) & 0xFF));
}

// ModelProto.SentencePiece
namespace piece_field {
constexpr uint32_t kPiece = 1, kScore = 2, kType = 3;
}
// TrainerSpec
namespace trainer_field {
constexpr uint32_t kModelType = 3, kVocabSize = 4, kByteFallback = 35, kUnkId = 40, kBosId = 41, kEosId = 42,
                   kPadId = 43, kUnkPiece = 45, kBosPiece = 46, kEosPiece = 47;
constexpr int64_t kModelTypeBpe = 2;
}  // namespace trainer_field
// NormalizerSpec
namespace normalizer_field {
constexpr uint32_t kName = 1, kAddDummyPrefix = 3, kRemoveExtraWhitespaces = 4, kEscapeWhitespaces = 5;
}
// ModelProto
namespace model_field {
constexpr uint32_t kPieces = 1, kTrainerSpec = 2, kNormalizerSpec = 3;
}

bool is_upper_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

bool is_byte_piece(const std::string& piece) {
  return piece.size() == 6 && starts_with(piece, "<0x") && is_upper_hex(piece[3]) && is_upper_hex(piece[4]) &&
         piece[5] == '>';
}

}  // namespace

std::string serialize_sentencepiece_bpe_model(const std::vector<SentencePieceEntry>& pieces) {
  std::set<std::string> seen;
  int64_t unk_id = -1, bos_id = -1, eos_id = -1;
  int byte_pieces = 0;
  for (size_t id = 0; id < pieces.size(); ++id) {
    const SentencePieceEntry& entry = pieces[id];
    const std::string where = "SentencePiece vocabulary, id " + std::to_string(id);
    if (entry.piece.empty()) throw std::runtime_error(where + ": empty piece");
    if (!seen.insert(entry.piece).second) {
      throw std::runtime_error(where + ": piece '" + entry.piece + "' appears twice (pieces must be unique)");
    }
    switch (entry.type) {
      case SentencePieceType::kUnknown:
        if (unk_id >= 0) {
          throw std::runtime_error(where + ": a second UNKNOWN piece '" + entry.piece + "' (the first is id " +
                                   std::to_string(unk_id) + ")");
        }
        unk_id = static_cast<int64_t>(id);
        break;
      case SentencePieceType::kControl:
        if (entry.piece == "<s>") bos_id = static_cast<int64_t>(id);
        if (entry.piece == "</s>") eos_id = static_cast<int64_t>(id);
        break;
      case SentencePieceType::kByte:
        if (!is_byte_piece(entry.piece)) {
          throw std::runtime_error(where + ": BYTE piece '" + entry.piece + "' is not of the form <0xNN>");
        }
        ++byte_pieces;
        break;
      default: break;
    }
  }
  if (unk_id < 0) throw std::runtime_error("SentencePiece vocabulary has no UNKNOWN piece (e.g. <unk>)");
  if (byte_pieces != 0 && byte_pieces != 256) {
    throw std::runtime_error("SentencePiece vocabulary has " + std::to_string(byte_pieces) +
                             " of the 256 <0xNN> byte pieces; byte fallback needs all or none");
  }

  std::string model;
  for (const SentencePieceEntry& entry : pieces) {
    std::string message;
    append_bytes_field(message, piece_field::kPiece, entry.piece);
    append_float_field(message, piece_field::kScore, entry.score);
    append_int_field(message, piece_field::kType, static_cast<int64_t>(entry.type));
    append_bytes_field(model, model_field::kPieces, message);
  }

  std::string trainer;
  append_int_field(trainer, trainer_field::kModelType, trainer_field::kModelTypeBpe);
  append_int_field(trainer, trainer_field::kVocabSize, static_cast<int64_t>(pieces.size()));
  append_bool_field(trainer, trainer_field::kByteFallback, byte_pieces == 256);
  append_int_field(trainer, trainer_field::kUnkId, unk_id);
  append_int_field(trainer, trainer_field::kBosId, bos_id);
  append_int_field(trainer, trainer_field::kEosId, eos_id);
  append_int_field(trainer, trainer_field::kPadId, -1);
  append_bytes_field(trainer, trainer_field::kUnkPiece, pieces[unk_id].piece);
  if (bos_id >= 0) append_bytes_field(trainer, trainer_field::kBosPiece, "<s>");
  if (eos_id >= 0) append_bytes_field(trainer, trainer_field::kEosPiece, "</s>");
  append_bytes_field(model, model_field::kTrainerSpec, trainer);

  std::string normalizer;
  append_bytes_field(normalizer, normalizer_field::kName, "identity");
  append_bool_field(normalizer, normalizer_field::kAddDummyPrefix, true);
  append_bool_field(normalizer, normalizer_field::kRemoveExtraWhitespaces, false);
  append_bool_field(normalizer, normalizer_field::kEscapeWhitespaces, true);
  append_bytes_field(model, model_field::kNormalizerSpec, normalizer);
  return model;
}

}  // namespace precept::text
