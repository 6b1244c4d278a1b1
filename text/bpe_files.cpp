// Hugging Face tokenizer files -> BpeSpec: see bpe_files.h. The JSON layout is tokenizers'
// serialization (tokenizers/src/tokenizer/serialization.rs and each component's serde).
#include "text/bpe_files.h"
#include "core/files.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace precept::text {
namespace fs = std::filesystem;
using json = nlohmann::json;

const char* const kQwen2PreTokenizerPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw std::runtime_error(path.string() + ": " + what);
}
[[noreturn]] void unsupported(const fs::path& path, const std::string& what) {
  throw UnsupportedTokenizerError(path.string() + ": " + what);
}

using core::read_json_object;

std::string key_path(const std::string& where, const char* key) {
  return where.empty() ? std::string(key) : where + "." + key;
}

// Typed access to an optional key: the default when absent or null, an error naming the key
// when it has another type.
bool bool_at(const json& node, const char* key, bool fallback, const fs::path& path, const std::string& where) {
  auto found = node.find(key);
  if (found == node.end() || found->is_null()) return fallback;
  if (!found->is_boolean()) fail(path, key_path(where, key) + " must be true or false");
  return found->get<bool>();
}
std::string string_at(const json& node, const char* key, const fs::path& path, const std::string& where) {
  auto found = node.find(key);
  if (found == node.end() || !found->is_string()) fail(path, key_path(where, key) + " must be a string");
  return found->get<std::string>();
}
const json& object_at(const json& node, const char* key, const fs::path& path, const std::string& where) {
  auto found = node.find(key);
  if (found == node.end() || !found->is_object()) fail(path, key_path(where, key) + " must be an object");
  return *found;
}
const json& array_at(const json& node, const char* key, const fs::path& path, const std::string& where) {
  auto found = node.find(key);
  if (found == node.end() || !found->is_array()) fail(path, key_path(where, key) + " must be a list");
  return *found;
}
int64_t id_of(const json& value, const fs::path& path, const std::string& where) {
  if (!value.is_number_integer()) fail(path, where + " must be an integer id");
  return value.get<int64_t>();
}

void read_vocab_object(const json& vocab, const fs::path& path, const std::string& where, BpeSpec& spec) {
  if (!vocab.is_object()) fail(path, where + " must be an object of token -> id");
  spec.vocab.reserve(vocab.size());
  for (auto entry = vocab.begin(); entry != vocab.end(); ++entry) {
    spec.vocab.emplace_back(entry.key(), id_of(entry.value(), path, where + "[\"" + entry.key() + "\"]"));
  }
}

// Sequences nest by recursion; a hostile tokenizer.json could nest them until the stack
// overflows. Real files nest one or two levels.
constexpr int kMaxSequenceDepth = 32;

void check_depth(int depth, const fs::path& path, const std::string& what) {
  if (depth > kMaxSequenceDepth) {
    fail(path, what + " Sequences nest more than " + std::to_string(kMaxSequenceDepth) + " levels deep");
  }
}

void read_normalizer(const json& node, const fs::path& path, std::vector<unicode::NormalForm>& out, int depth = 0) {
  check_depth(depth, path, "normalizer");
  if (node.is_null()) return;
  if (!node.is_object()) fail(path, "normalizer must be an object or null");
  const std::string type = string_at(node, "type", path, "normalizer");
  if (type == "NFC") {
    out.push_back(unicode::NormalForm::kNfc);
  } else if (type == "NFD") {
    out.push_back(unicode::NormalForm::kNfd);
  } else if (type == "NFKC") {
    out.push_back(unicode::NormalForm::kNfkc);
  } else if (type == "NFKD") {
    out.push_back(unicode::NormalForm::kNfkd);
  } else if (type == "Sequence") {
    for (const json& inner : array_at(node, "normalizers", path, "normalizer")) read_normalizer(inner, path, out, depth + 1);
  } else {
    unsupported(path, "the normalizer '" + type + "' is not supported (NFC, NFD, NFKC, NFKD and Sequence are)");
  }
}

SplitBehavior split_behavior(const std::string& name, const fs::path& path) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  fail(path, "pre_tokenizer Split behavior '" + name +
                 "' is not one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous");
}

void read_pre_tokenizer(const json& node, const fs::path& path, std::vector<PreTokenizerStep>& out, int depth = 0) {
  check_depth(depth, path, "pre_tokenizer");
  if (node.is_null()) return;
  if (!node.is_object()) fail(path, "pre_tokenizer must be an object or null");
  const std::string type = string_at(node, "type", path, "pre_tokenizer");
  PreTokenizerStep step;
  if (type == "Sequence") {
    for (const json& inner : array_at(node, "pretokenizers", path, "pre_tokenizer")) {
      read_pre_tokenizer(inner, path, out, depth + 1);
    }
    return;
  } else if (type == "Split") {
    const json& pattern = object_at(node, "pattern", path, "pre_tokenizer Split");
    if (pattern.contains("Regex") && pattern["Regex"].is_string()) {
      step.pattern = pattern["Regex"].get<std::string>();
    } else if (pattern.contains("String") && pattern["String"].is_string()) {
      step.pattern = pattern["String"].get<std::string>();
      step.literal = true;
    } else {
      fail(path, "pre_tokenizer Split pattern must be {\"Regex\": ...} or {\"String\": ...}");
    }
    step.behavior = split_behavior(string_at(node, "behavior", path, "pre_tokenizer Split"), path);
    step.invert = bool_at(node, "invert", false, path, "pre_tokenizer Split");
  } else if (type == "ByteLevel") {
    step.kind = PreTokenizerStep::Kind::kByteLevel;
    step.add_prefix_space = bool_at(node, "add_prefix_space", true, path, "pre_tokenizer ByteLevel");
    step.use_regex = bool_at(node, "use_regex", true, path, "pre_tokenizer ByteLevel");
  } else if (type == "Digits") {  // tokenizers splits on char::is_numeric, i.e. \p{N}
    step.pattern = R"(\p{N})";
    const bool individual = bool_at(node, "individual_digits", false, path, "pre_tokenizer Digits");
    step.behavior = individual ? SplitBehavior::kIsolated : SplitBehavior::kContiguous;
  } else {
    unsupported(path, "the pre-tokenizer '" + type + "' is not supported (Split, ByteLevel, Digits and Sequence are)");
  }
  out.push_back(std::move(step));
}

// The ids a post-processor puts around a single sequence.
void read_post_processor(const json& node, const fs::path& path, BpeSpec& spec) {
  if (node.is_null()) return;
  if (!node.is_object()) fail(path, "post_processor must be an object or null");
  const std::string type = string_at(node, "type", path, "post_processor");
  if (type == "ByteLevel") return;  // only trims offsets
  if (type == "Sequence") {
    for (const json& inner : array_at(node, "processors", path, "post_processor")) {
      read_post_processor(inner, path, spec);
    }
    return;
  }
  std::vector<int64_t> before, after;
  if (type == "TemplateProcessing") {
    const json& special_tokens = object_at(node, "special_tokens", path, "post_processor");
    bool seen_sequence = false;
    for (const json& item : array_at(node, "single", path, "post_processor")) {
      if (item.contains("Sequence")) {
        if (item["Sequence"].value("id", "") != "A") fail(path, "post_processor single template must use sequence A");
        seen_sequence = true;
      } else if (item.contains("SpecialToken")) {
        const std::string name = string_at(item["SpecialToken"], "id", path, "post_processor SpecialToken");
        auto token = special_tokens.find(name);
        if (token == special_tokens.end()) {
          fail(path, "post_processor template names the special token '" + name + "', absent from its special_tokens");
        }
        for (const json& id : array_at(*token, "ids", path, "post_processor special_tokens[\"" + name + "\"]")) {
          (seen_sequence ? after : before).push_back(id_of(id, path, "post_processor special token id"));
        }
      } else {
        fail(path, "post_processor single template items must be Sequence or SpecialToken");
      }
    }
    if (!seen_sequence) fail(path, "post_processor single template has no $A");
  } else if (type == "RobertaProcessing" || type == "BertProcessing") {
    const json& cls = array_at(node, "cls", path, "post_processor");
    const json& sep = array_at(node, "sep", path, "post_processor");
    if (cls.size() != 2 || sep.size() != 2) fail(path, "post_processor cls and sep must be [token, id]");
    before.push_back(id_of(cls[1], path, "post_processor cls id"));
    after.push_back(id_of(sep[1], path, "post_processor sep id"));
  } else {
    unsupported(path, "the post-processor '" + type +
                          "' is not supported (TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing and "
                          "Sequence are)");
  }
  spec.prefix_ids.insert(spec.prefix_ids.begin(), before.begin(), before.end());
  spec.suffix_ids.insert(spec.suffix_ids.end(), after.begin(), after.end());
}

void check_decoder(const json& node, const fs::path& path, int depth = 0) {
  check_depth(depth, path, "decoder");
  if (node.is_null()) unsupported(path, "there is no decoder; precept's BPE tokenizer needs the ByteLevel decoder");
  if (!node.is_object()) fail(path, "decoder must be an object or null");
  const std::string type = string_at(node, "type", path, "decoder");
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    const json& decoders = array_at(node, "decoders", path, "decoder");
    if (decoders.size() == 1) return check_decoder(decoders[0], path, depth + 1);
  }
  unsupported(path, "the decoder '" + type + "' is not supported (ByteLevel is)");
}

BpeAddedToken read_added_token(const json& node, int64_t id, const fs::path& path, const std::string& where) {
  if (!node.is_object()) fail(path, where + " must be an object");
  BpeAddedToken token;
  token.id = id;
  token.content = string_at(node, "content", path, where);
  if (token.content.empty()) fail(path, where + ".content is empty");
  token.special = bool_at(node, "special", false, path, where);
  token.lstrip = bool_at(node, "lstrip", false, path, where);
  token.rstrip = bool_at(node, "rstrip", false, path, where);
  token.single_word = bool_at(node, "single_word", false, path, where);
  token.normalized = bool_at(node, "normalized", !token.special, path, where);
  return token;
}

// A special token of tokenizer_config.json: its string, or {"content": ...}; nullopt for null.
std::optional<std::string> token_content(const json& value, const fs::path& path, const std::string& key) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content") && value["content"].is_string()) {
    return value["content"].get<std::string>();
  }
  fail(path, key + " must be a string, {\"content\": ...} or null");
}

std::optional<int64_t> find_token(const BpeSpec& spec, const std::string& content) {
  for (const BpeAddedToken& token : spec.added_tokens) {
    if (token.content == content) return token.id;
  }
  for (const auto& [piece, id] : spec.vocab) {
    if (piece == content) return id;
  }
  return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

BpeSpec read_tokenizer_json(const fs::path& path, const std::optional<fs::path>& tokenizer_config) {
  const json root = read_json_object(path);
  BpeSpec spec;
  spec.source = path.string();

  const json& model = object_at(root, "model", path, "");
  const std::string type = model.contains("type") ? string_at(model, "type", path, "model") : "BPE";
  if (type != "BPE") unsupported(path, "the model is " + type + "; precept reads BPE models only");
  if (model.contains("dropout") && !model["dropout"].is_null() &&
      !(model["dropout"].is_number() && model["dropout"].get<double>() == 0.0)) {
    unsupported(path, "BPE dropout is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() &&
        !(model[key].is_string() && model[key].get<std::string>().empty())) {
      unsupported(path, std::string("BPE ") + key + " is not supported");
    }
  }
  if (!model.contains("vocab")) fail(path, "model.vocab is missing");
  read_vocab_object(model["vocab"], path, "model.vocab", spec);
  const json& merges = array_at(model, "merges", path, "model");
  spec.merges.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const json& merge = merges[rank];
    if (merge.is_string()) {
      const std::string text = merge.get<std::string>();
      const size_t space = text.find(' ');
      if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos) {
        fail(path, "model.merges[" + std::to_string(rank) + "] '" + text + "' is not two tokens separated by a space");
      }
      spec.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
      spec.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      fail(path, "model.merges[" + std::to_string(rank) + "] must be \"left right\" or [\"left\", \"right\"]");
    }
  }
  if (model.contains("unk_token") && !model["unk_token"].is_null()) {
    spec.unk_token = string_at(model, "unk_token", path, "model");
  }
  spec.fuse_unk = bool_at(model, "fuse_unk", false, path, "model");
  spec.byte_fallback = bool_at(model, "byte_fallback", false, path, "model");
  spec.ignore_merges = bool_at(model, "ignore_merges", false, path, "model");

  if (root.contains("added_tokens") && !root["added_tokens"].is_null()) {
    const json& added = array_at(root, "added_tokens", path, "");
    for (size_t i = 0; i < added.size(); ++i) {
      const std::string where = "added_tokens[" + std::to_string(i) + "]";
      if (!added[i].is_object() || !added[i].contains("id")) fail(path, where + " must be an object with an id");
      spec.added_tokens.push_back(read_added_token(added[i], id_of(added[i]["id"], path, where + ".id"), path, where));
    }
  }
  // Members by reference: copying a hostile, deeply nested member would itself recurse.
  static const json kNull;
  auto member = [&](const char* key) -> const json& { return root.contains(key) ? root[key] : kNull; };
  read_normalizer(member("normalizer"), path, spec.normalizers);
  read_pre_tokenizer(member("pre_tokenizer"), path, spec.pre_tokenizer);
  if (spec.pre_tokenizer.empty() || spec.pre_tokenizer.back().kind != PreTokenizerStep::Kind::kByteLevel) {
    unsupported(path, "the pre-tokenizer does not end with ByteLevel; precept's BPE tokenizer is byte-level only");
  }
  read_post_processor(member("post_processor"), path, spec);
  check_decoder(member("decoder"), path);

  // Without a tokenizer_config.json, BOS / EOS are the lone tokens the post-processor adds.
  if (spec.prefix_ids.size() == 1) spec.bos_id = spec.prefix_ids[0];
  if (spec.suffix_ids.size() == 1) spec.eos_id = spec.suffix_ids[0];
  if (tokenizer_config) apply_tokenizer_config(spec, *tokenizer_config, member("post_processor").is_null());
  return spec;
}

BpeSpec read_vocab_and_merges(const fs::path& vocab_json, const fs::path& merges_txt,
                              const std::optional<fs::path>& tokenizer_config) {
  BpeSpec spec;
  spec.source = vocab_json.string() + " + " + merges_txt.string();
  read_vocab_object(read_json_object(vocab_json), vocab_json, "vocab.json", spec);

  std::ifstream merges(merges_txt, std::ios::binary);
  if (!merges) throw std::runtime_error("cannot open " + merges_txt.string());
  std::string line;
  for (size_t number = 1; std::getline(merges, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (number == 1 && line.rfind("#version", 0) == 0)) continue;
    const size_t space = line.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos) {
      fail(merges_txt, "line " + std::to_string(number) + " '" + line + "' is not two tokens separated by a space");
    }
    spec.merges.emplace_back(line.substr(0, space), line.substr(space + 1));
  }

  json config = tokenizer_config ? read_json_object(*tokenizer_config) : json::object();
  const fs::path config_path = tokenizer_config.value_or(fs::path("tokenizer_config.json"));
  const std::string tokenizer_class = config.contains("tokenizer_class") && config["tokenizer_class"].is_string()
                                          ? config["tokenizer_class"].get<std::string>()
                                          : "";
  const bool add_prefix_space = bool_at(config, "add_prefix_space", false, config_path, "");
  std::map<std::string, std::string> class_defaults;
  if (tokenizer_class == "Qwen2Tokenizer" || tokenizer_class == "Qwen2TokenizerFast") {
    // transformers' Qwen2Tokenizer: NFC, the Qwen2 regex (Isolated), ByteLevel without its regex.
    spec.normalizers = {unicode::NormalForm::kNfc};
    spec.pre_tokenizer = regex_then_byte_level(kQwen2PreTokenizerPattern, add_prefix_space);
    class_defaults = {{"unk_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}, {"pad_token", "<|endoftext|>"}};
  } else if (tokenizer_class.empty() || tokenizer_class == "GPT2Tokenizer" || tokenizer_class == "GPT2TokenizerFast") {
    // transformers' GPT2Tokenizer: ByteLevel with GPT-2's regex.
    PreTokenizerStep byte_level;
    byte_level.kind = PreTokenizerStep::Kind::kByteLevel;
    byte_level.add_prefix_space = add_prefix_space;
    spec.pre_tokenizer = {byte_level};
    class_defaults = {{"unk_token", "<|endoftext|>"}, {"bos_token", "<|endoftext|>"}, {"eos_token", "<|endoftext|>"}};
  } else {
    throw UnsupportedTokenizerError(config_path.string() + ": tokenizer_class '" + tokenizer_class +
                                    "' with vocab.json + merges.txt is not supported (Qwen2Tokenizer and "
                                    "GPT2Tokenizer are)");
  }
  if (tokenizer_config) {
    apply_tokenizer_config(spec, *tokenizer_config, true, class_defaults);
  } else {
    // No config: the class's own named tokens, where the vocabulary has them.
    for (const auto& [key, content] : class_defaults) {
      std::optional<int64_t> id = find_token(spec, content);
      if (!id) continue;
      // Captured by an init-capture: clang before 16 (Debian's 14 builds fuzz/) cannot capture a structured binding.
      const bool added = std::any_of(spec.added_tokens.begin(), spec.added_tokens.end(),
                                     [&content = content](const BpeAddedToken& token) { return token.content == content; });
      if (!added) spec.added_tokens.push_back({*id, content, true, false, false, false, false});
      if (key == "bos_token") spec.bos_id = id;
      if (key == "eos_token") spec.eos_id = id;
    }
  }
  return spec;
}

void apply_tokenizer_config(BpeSpec& spec, const fs::path& path, bool rebuild_post_processor,
                            const std::map<std::string, std::string>& class_defaults) {
  const json config = read_json_object(path);

  if (config.contains("added_tokens_decoder") && !config["added_tokens_decoder"].is_null()) {
    const json& decoder = object_at(config, "added_tokens_decoder", path, "");
    std::set<int64_t> present;
    for (const BpeAddedToken& token : spec.added_tokens) present.insert(token.id);
    for (auto entry = decoder.begin(); entry != decoder.end(); ++entry) {
      const std::string where = "added_tokens_decoder[\"" + entry.key() + "\"]";
      int64_t id = 0;
      try {
        size_t used = 0;
        id = std::stoll(entry.key(), &used);
        if (used != entry.key().size()) throw std::invalid_argument("trailing characters");
      } catch (const std::exception&) {
        fail(path, where + ": the key must be an integer id");
      }
      if (present.count(id)) continue;
      spec.added_tokens.push_back(read_added_token(entry.value(), id, path, where));
      present.insert(id);
    }
  }

  // The named special tokens: the class's defaults, overridden (or removed, by null) by the config.
  std::map<std::string, std::optional<std::string>> named;
  for (const auto& [key, content] : class_defaults) named[key] = content;
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token", "cls_token", "mask_token"}) {
    if (config.contains(key)) named[key] = token_content(config[key], path, key);
  }
  std::vector<std::pair<std::string, std::string>> required;  // (key, content)
  for (const auto& [key, content] : named) {
    if (content) required.emplace_back(key, *content);
  }
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"}) {
    if (!config.contains(key) || config[key].is_null()) continue;
    if (!config[key].is_array()) continue;  // a dict of named extras (transformers 5) names no new token
    for (const json& value : config[key]) {
      if (auto content = token_content(value, path, key)) required.emplace_back(key, *content);
    }
  }
  for (const auto& [key, content] : required) {
    bool added = false;
    for (const BpeAddedToken& token : spec.added_tokens) added = added || token.content == content;
    if (added) continue;
    std::optional<int64_t> id = find_token(spec, content);
    if (!id) {
      const bool from_config = config.contains(key);
      if (!from_config) continue;  // a class default the vocabulary lacks
      fail(path, key + " '" + content + "' is neither in the vocabulary nor an added token");
    }
    spec.added_tokens.push_back({*id, content, true, false, false, false, false});
  }

  auto named_id = [&](const std::string& key) -> std::optional<int64_t> {
    auto found = named.find(key);
    if (found == named.end() || !found->second) return std::nullopt;
    return find_token(spec, *found->second);
  };
  if (named.count("bos_token")) spec.bos_id = named_id("bos_token");
  if (named.count("eos_token")) spec.eos_id = named_id("eos_token");

  const bool explicit_flags = config.contains("add_bos_token") || config.contains("add_eos_token");
  if (explicit_flags || rebuild_post_processor) {
    const bool add_bos = bool_at(config, "add_bos_token", false, path, "");
    const bool add_eos = bool_at(config, "add_eos_token", false, path, "");
    spec.prefix_ids.clear();
    spec.suffix_ids.clear();
    if (add_bos && spec.bos_id) spec.prefix_ids.push_back(*spec.bos_id);
    if (add_eos && spec.eos_id) spec.suffix_ids.push_back(*spec.eos_id);
  }
}

}  // namespace precept::text
