// Readers of Hugging Face tokenizer files into a BpeSpec (lm/bpe_tokenizer.h): tokenizer.json as
// the tokenizers library reads it, or vocab.json + merges.txt assembled the way transformers'
// GPT2Tokenizer and Qwen2Tokenizer assemble theirs; then tokenizer_config.json's added and
// special tokens and its BOS/EOS settings, as transformers 5 applies them. Not Llama 3's tiktoken
// tokenizer.model (lm/tiktoken.h). Used by load_tokenizer and the tests.
#pragma once

#include "text/bpe_tokenizer.h"

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace precept::text {

// transformers' Qwen2Tokenizer PRETOKENIZE_REGEX (Qwen2, Qwen2.5, Qwen3).
extern const char* const kQwen2PreTokenizerPattern;

// Every error names the file and what is wrong in it. Components precept does not implement
// (another model type, normalizer, pre-tokenizer, post-processor or decoder) throw
// UnsupportedTokenizerError. tokenizer_config, when given, is applied on top.
BpeSpec read_tokenizer_json(const std::filesystem::path& tokenizer_json,
                            const std::optional<std::filesystem::path>& tokenizer_config = std::nullopt);

// The tokenizer_class of tokenizer_config.json picks the recipe: Qwen2Tokenizer (NFC, the Qwen2
// regex, byte-level) or GPT2Tokenizer (GPT-2's ByteLevel regex; also when there is no config or
// no tokenizer_class). Added tokens come from the config's added_tokens_decoder.
BpeSpec read_vocab_and_merges(const std::filesystem::path& vocab_json, const std::filesystem::path& merges_txt,
                              const std::optional<std::filesystem::path>& tokenizer_config = std::nullopt);

// Applies tokenizer_config.json to a spec: added_tokens_decoder entries the spec lacks; the named
// special tokens (bos/eos/unk/pad/..._token, additional_special_tokens), which must be tokens;
// bos_id / eos_id from bos_token / eos_token; and, when add_bos_token or add_eos_token is given
// or rebuild_post_processor is set (a file without post-processor), a post-processor of
// [BOS if add_bos_token] text [EOS if add_eos_token], as transformers 5's update_post_processor.
// class_defaults are the named tokens the tokenizer class sets when the config does not.
void apply_tokenizer_config(BpeSpec& spec, const std::filesystem::path& tokenizer_config,
                            bool rebuild_post_processor,
                            const std::map<std::string, std::string>& class_defaults = {});

}  // namespace precept::text
