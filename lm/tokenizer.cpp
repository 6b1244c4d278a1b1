// load_tokenizer: picks the tokenizer of a checkpoint directory (see tokenizer.h) and applies
// the parts of tokenizer_config.json that change encoding (add_bos_token, add_eos_token,
// bos_token, eos_token).
#include "lm/tokenizer.h"

#include "lm/sentencepiece_tokenizer.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

namespace precept::lm {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json read_tokenizer_config(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  json config;
  try {
    in >> config;
  } catch (const json::exception& error) {
    throw std::runtime_error(path.string() + " is not valid JSON: " + error.what());
  }
  if (!config.is_object()) throw std::runtime_error(path.string() + " must hold a JSON object");
  return config;
}

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
  const fs::path sentencepiece_model = dir / "tokenizer.model";
  const fs::path tokenizer_json = dir / "tokenizer.json";
  const fs::path config_path = dir / "tokenizer_config.json";

  if (fs::exists(sentencepiece_model)) {
    SentencePieceOptions options;
    if (fs::exists(config_path)) {
      json config = read_tokenizer_config(config_path);
      if (auto add_bos = bool_key(config, "add_bos_token", config_path)) options.add_bos = *add_bos;
      if (auto add_eos = bool_key(config, "add_eos_token", config_path)) options.add_eos = *add_eos;
      options.bos_piece = token_key(config, "bos_token", config_path);
      options.eos_piece = token_key(config, "eos_token", config_path);
    }
    return std::make_unique<SentencePieceTokenizer>(sentencepiece_model, options);
  }
  if (fs::exists(tokenizer_json)) {
    throw std::runtime_error("cannot load the tokenizer of " + dir.string() +
                             ": it has tokenizer.json but no tokenizer.model, and tokenizer.json "
                             "(byte-level BPE) is not supported yet");
  }
  throw std::runtime_error("no tokenizer in " + dir.string() +
                           ": looked for tokenizer.model (SentencePiece) and tokenizer.json");
}

}  // namespace precept::lm
