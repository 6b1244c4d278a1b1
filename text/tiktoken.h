// Meta's Llama 3 tokenizer.model: tiktoken's format, one "<base64 of the token's bytes> <rank>"
// line per token, the rank being the id. Read into a BpeSpec (lm/bpe_tokenizer.h) the way
// transformers' TikTokenConverter converts it: merges derived from the ranks, ignore_merges,
// Llama 3's regex, Meta's 256 special tokens after the ranks, <|begin_of_text|> added by
// add_special. Not the tiktoken library, and not OpenAI's vocabularies (cl100k, o200k), whose
// regexes and special tokens differ. Used by load_tokenizer.
#pragma once

#include "text/bpe_tokenizer.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace precept::text {

// The pre-tokenizer regex of Meta's Llama 3 tokenizer.py (pat_str).
extern const char* const kLlama3PreTokenizerPattern;

// Meta's special tokens of Llama 3 (tokenizer.py): <|begin_of_text|>, <|end_of_text|>, ...,
// <|reserved_special_token_N|>, 256 in all, given the ids after the last rank.
std::vector<std::string> llama3_special_tokens();

// Whether the file is in tiktoken's text format, judged by its first line (SentencePiece's
// tokenizer.model is a binary protobuf). False when it cannot be read.
bool is_tiktoken_file(const std::filesystem::path& path);

// Throws, naming the file and line, on a line that is not "<base64> <rank>", or on a rank given
// twice. tokenizer_config, when given, is applied on top (lm/bpe_files.h).
BpeSpec read_llama3_tiktoken(const std::filesystem::path& model,
                             const std::optional<std::filesystem::path>& tokenizer_config = std::nullopt);

}  // namespace precept::text
