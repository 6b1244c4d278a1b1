// Llama 3's tiktoken file -> BpeSpec: see tiktoken.h.
#include "text/tiktoken.h"

#include "text/bpe_files.h"
#include "text/unicode.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unordered_map>

namespace precept::text {
namespace fs = std::filesystem;

const char* const kLlama3PreTokenizerPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::vector<std::string> llama3_special_tokens() {
  std::vector<std::string> tokens = {
      "<|begin_of_text|>", "<|end_of_text|>",    "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
      "<|finetune_right_pad_id|>", "<|step_id|>", "<|start_header_id|>",        "<|end_header_id|>",
      "<|eom_id|>",        "<|eot_id|>",         "<|python_tag|>",               "<|image|>",
  };
  for (int i = 2; tokens.size() < 256; ++i) tokens.push_back("<|reserved_special_token_" + std::to_string(i) + "|>");
  return tokens;
}

namespace {

// Standard base64 (RFC 4648) with '=' padding. Written here because it is twenty lines and none
// of precept's libraries exposes a decoder.
std::optional<std::string> decode_base64(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  size_t padding = 0;
  while (padding < 2 && text[text.size() - 1 - padding] == '=') ++padding;
  std::string bytes;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size() - padding; ++i) {
    const int digit = value(text[i]);
    if (digit < 0) return std::nullopt;
    buffer = (buffer << 6) | static_cast<uint32_t>(digit);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return bytes;
}

bool looks_like_tiktoken_line(std::string_view line) {
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || space == 0 || space + 1 == line.size()) return false;
  for (size_t i = space + 1; i < line.size(); ++i) {
    if (line[i] < '0' || line[i] > '9') return false;
  }
  return decode_base64(line.substr(0, space)).has_value();
}

}  // namespace

bool is_tiktoken_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string line;
  if (!std::getline(in, line)) return false;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return looks_like_tiktoken_line(line);
}

BpeSpec read_llama3_tiktoken(const fs::path& model, const std::optional<fs::path>& tokenizer_config) {
  std::ifstream in(model, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + model.string());
  auto fail = [&](size_t line_number, const std::string& what) {
    throw std::runtime_error(model.string() + ": line " + std::to_string(line_number) + ": " + what);
  };

  std::error_code size_error;
  const auto size_value = std::filesystem::file_size(model, size_error);
  const unsigned long long file_bytes = size_error ? ~0ULL : static_cast<unsigned long long>(size_value);
  std::vector<std::string> token_bytes;  // by rank
  std::unordered_map<std::string, int32_t> rank_of;
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t space = line.find(' ');
    if (space == std::string::npos || !looks_like_tiktoken_line(line)) {
      fail(number, "expected '<base64 token> <rank>', got '" + line.substr(0, 80) + "'");
    }
    const std::string bytes = *decode_base64(std::string_view(line).substr(0, space));
    const unsigned long long rank = std::stoull(line.substr(space + 1));
    // A rank cannot exceed the file's size: each token takes a line of at least three bytes, so
    // a huge rank is hostile (it would make precept allocate that many strings).
    if (rank > INT32_MAX || rank > file_bytes) {
      fail(number, "rank " + line.substr(space + 1) + " is too large for a " + std::to_string(file_bytes) + "-byte file");
    }
    if (rank >= token_bytes.size()) token_bytes.resize(rank + 1);
    if (!token_bytes[rank].empty()) fail(number, "rank " + std::to_string(rank) + " is given twice");
    if (!rank_of.emplace(bytes, static_cast<int32_t>(rank)).second) fail(number, "the token is given twice");
    token_bytes[rank] = bytes;
  }
  if (rank_of.empty()) throw std::runtime_error(model.string() + " holds no tokens");
  if (rank_of.size() != token_bytes.size()) {
    throw std::runtime_error(model.string() + ": ranks are not 0.." + std::to_string(rank_of.size() - 1));
  }

  BpeSpec spec;
  spec.source = model.string();
  spec.vocab.reserve(token_bytes.size());
  for (size_t rank = 0; rank < token_bytes.size(); ++rank) {
    spec.vocab.emplace_back(unicode::bytes_to_byte_level(token_bytes[rank]), static_cast<int64_t>(rank));
  }
  // transformers' TikTokenConverter: for each token in rank order, every split of it into two
  // tokens is a merge, ordered by the ranks of (left, right); the token's rank orders the groups.
  for (const std::string& bytes : token_bytes) {
    if (bytes.size() < 2) continue;
    std::vector<std::pair<int32_t, int32_t>> splits;
    for (size_t cut = 1; cut < bytes.size(); ++cut) {
      auto left = rank_of.find(bytes.substr(0, cut));
      if (left == rank_of.end()) continue;
      auto right = rank_of.find(bytes.substr(cut));
      if (right == rank_of.end()) continue;
      splits.emplace_back(left->second, right->second);
    }
    std::sort(splits.begin(), splits.end());
    for (const auto& [left, right] : splits) {
      spec.merges.emplace_back(spec.vocab[left].first, spec.vocab[right].first);
    }
  }
  spec.ignore_merges = true;

  spec.pre_tokenizer = regex_then_byte_level(kLlama3PreTokenizerPattern, /*add_prefix_space=*/false);

  const int64_t first_special = static_cast<int64_t>(token_bytes.size());
  const std::vector<std::string> specials = llama3_special_tokens();
  for (size_t i = 0; i < specials.size(); ++i) {
    const int64_t id = first_special + static_cast<int64_t>(i);
    spec.added_tokens.push_back({id, specials[i], true, false, false, false, false});
  }
  spec.bos_id = first_special;      // <|begin_of_text|>
  spec.eos_id = first_special + 1;  // <|end_of_text|>
  spec.prefix_ids = {first_special};
  if (tokenizer_config) apply_tokenizer_config(spec, *tokenizer_config, false);
  return spec;
}

}  // namespace precept::text
