// load_tokenizer: picks the tokenizer of a checkpoint directory (see tokenizer.h) and applies
// the parts of tokenizer_config.json that change encoding (add_bos_token, add_eos_token,
// bos_token, eos_token). In order of preference: tokenizer.json (byte-level BPE); vocab.json +
// merges.txt (byte-level BPE, GPT-2 / Qwen2 recipes); tokenizer.model, which is either Llama 3's
// tiktoken file (recognized by its content) or a SentencePiece model.
#include "text/tokenizer.h"
#include "core/files.h"

#include "text/bpe_files.h"
#include "text/bpe_tokenizer.h"
#include "text/sentencepiece_tokenizer.h"
#include "text/tiktoken.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

namespace precept::text {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {


std::optional<bool> bool_key(const json& config, const char* key, const fs::path& path) {
  auto found = config.find(key);
  if (found == config.end() || found->is_null()) return std::nullopt;
  if (!found->is_boolean()) throw std::runtime_error(path.string() + ": " + key + " must be true or false");
  return found->get<bool>();
}

// A special token is written either as its string or as {"content": "...", ...}.
std::optional<std::string> token_key(const json& config, const char* key, const fs::path& path) {
  auto found = config.find(key);
  if (found == config.end() || found->is_null()) return std::nullopt;
  if (found->is_string()) return found->get<std::string>();
  if (found->is_object() && found->contains("content") && (*found)["content"].is_string()) {
    return (*found)["content"].get<std::string>();
  }
  throw std::runtime_error(path.string() + ": " + key + " must be a string or an object with \"content\"");
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& dir) {
  if (!fs::is_directory(dir)) {
    throw std::runtime_error("cannot load a tokenizer from " + dir.string() + ": not a directory");
  }
  const fs::path tokenizer_model = dir / "tokenizer.model";
  const fs::path tokenizer_json = dir / "tokenizer.json";
  const fs::path vocab_json = dir / "vocab.json";
  const fs::path merges_txt = dir / "merges.txt";
  const fs::path config_path = dir / "tokenizer_config.json";
  const std::optional<fs::path> config =
      fs::exists(config_path) ? std::optional<fs::path>(config_path) : std::nullopt;
  const bool has_model = fs::exists(tokenizer_model);

  if (fs::exists(tokenizer_json)) {
    try {
      return std::make_unique<BpeTokenizer>(read_tokenizer_json(tokenizer_json, config));
    } catch (const UnsupportedTokenizerError&) {
      // A SentencePiece-style tokenizer.json (Llama 2, Mistral) next to its tokenizer.model.
      if (!has_model || is_tiktoken_file(tokenizer_model)) throw;
    }
  }
  if (fs::exists(vocab_json) || fs::exists(merges_txt)) {
    if (fs::exists(vocab_json) && fs::exists(merges_txt)) {
      return std::make_unique<BpeTokenizer>(read_vocab_and_merges(vocab_json, merges_txt, config));
    }
    if (!has_model) {
      const std::string what = fs::exists(vocab_json) ? "vocab.json but no merges.txt" : "merges.txt but no vocab.json";
      throw std::runtime_error("cannot load the tokenizer of " + dir.string() + ": it has " + what);
    }
  }
  if (has_model && is_tiktoken_file(tokenizer_model)) {
    return std::make_unique<BpeTokenizer>(read_llama3_tiktoken(tokenizer_model, config));
  }
  if (has_model) {
    SentencePieceOptions options;
    if (config) {
      json config_json = core::read_json_object(config_path);
      if (auto add_bos = bool_key(config_json, "add_bos_token", config_path)) options.add_bos = *add_bos;
      if (auto add_eos = bool_key(config_json, "add_eos_token", config_path)) options.add_eos = *add_eos;
      options.bos_piece = token_key(config_json, "bos_token", config_path);
      options.eos_piece = token_key(config_json, "eos_token", config_path);
    }
    return std::make_unique<SentencePieceTokenizer>(tokenizer_model, options);
  }
  throw std::runtime_error("no tokenizer in " + dir.string() +
                           ": looked for tokenizer.json, vocab.json + merges.txt, and tokenizer.model "
                           "(SentencePiece or Llama 3 tiktoken)");
}

}  // namespace precept::text
