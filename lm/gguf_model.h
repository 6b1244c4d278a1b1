// A GGUF model (llama.cpp) as a Hugging Face checkpoint: the `llama` (Llama 2/3, SmolLM2,
// Mistral), `qwen2` and `qwen3` architectures mapped onto a ModelConfig and HF tensor names, with
// llama.cpp's Q/K RoPE row permutation undone for `llama` so that lm::Transformer runs it
// unchanged; and the tokenizer rebuilt from the tokenizer.ggml.* metadata. Not the container
// reader (lm/gguf.h) and not the tokenizers (text/). Used by `precept convert --gguf`,
// `precept inspect` and model loading.
//
// The tokenizer is made the way a converter would write it to disk, and the existing readers
// load that: a `gpt2` vocabulary becomes a Hugging Face tokenizer.json (byte-level BPE, the
// vocabulary and merges, control tokens as special added tokens, and the pre-tokenizer of
// tokenizer.ggml.pre: `smollm` = Digits(individual) then ByteLevel, `gpt-2`/`gpt2` = ByteLevel,
// `llama-bpe`/`llama3` = Llama 3's Split regex then ByteLevel with ignore_merges, `qwen2` = NFC
// and Qwen2's regex then ByteLevel, `default` = llama.cpp's default chain of four regexes, see
// docs/gguf.md); a `llama` vocabulary becomes a SentencePiece BPE tokenizer.model (pieces,
// scores and types as stored; byte fallback when the 256 <0xNN> pieces are there). So the
// converted directory and the in-process tokenizer are the same files, read by the same code.
#pragma once

#include "lm/gguf.h"
#include "lm/model_config.h"
#include "lm/pretrained.h"
#include "lm/safetensors.h"
#include "lm/transformer.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace precept::lm {

// The tokenizer files of a GGUF, as a Hugging Face directory would hold them.
struct GgufTokenizerFiles {
  std::string source;                 // the GGUF file, named in error messages
  std::string tokenizer_model;        // SentencePiece (`llama` vocabularies) model bytes, else empty
  nlohmann::json tokenizer_json;      // tokenizer.json (`gpt2` vocabularies), else null
  nlohmann::json tokenizer_config;    // tokenizer_config.json: class, special tokens, add_bos, chat_template
  nlohmann::json generation_config;   // generation_config.json: bos / eos / pad ids
};

struct GgufModel {
  ModelConfig config;  // config.raw is the config.json a conversion writes
  NamedTensors tensors;  // HF names and layout ([out, in] Linear weights), in the dtype asked for
  GgufTokenizerFiles tokenizer;
  std::string architecture;  // general.architecture of the file ("llama", "qwen2", "qwen3")
};

// The config.json of a GGUF's model (LlamaForCausalLM, MistralForCausalLM when a `llama` file's
// general.name says Mistral, Qwen2ForCausalLM, Qwen3ForCausalLM) from its metadata and tensor
// list. Throws naming the file and key for a missing key, and for an architecture, RoPE
// variant or tensor set precept does not implement.
nlohmann::json gguf_hf_config(const GgufFile& file);

// The tokenizer files from tokenizer.ggml.* and tokenizer.chat_template. Throws naming the file
// and key for missing or inconsistent metadata and for a tokenizer model or pre-tokenizer
// (tokenizer.ggml.pre) that precept does not implement.
GgufTokenizerFiles gguf_tokenizer_files(const GgufFile& file);

// Every tensor dequantized (dtype float32 or bfloat16), renamed to Hugging Face names and, for
// `llama`, with the Q/K rows permuted back to HF's half-split RoPE layout. A tensor the
// architecture does not use, or one that is missing, is an error naming it.
NamedTensors gguf_hf_tensors(const GgufFile& file, const ModelConfig& config, c10::ScalarType dtype = c10::kFloat);

// All of the above for one file.
GgufModel read_gguf_model(const std::filesystem::path& path, c10::ScalarType dtype = c10::kFloat);

// The model, ready to run: built from the GGUF's config with LoadOptions' dtype (default
// float32 on CPU; bfloat16 elsewhere unless told) and device.
Transformer load_gguf(const std::filesystem::path& path, const LoadOptions& options = {});

// The tokenizer and the chat template (tokenizer.chat_template; throws when the file has none).
std::unique_ptr<text::Tokenizer> gguf_tokenizer(const std::filesystem::path& path);
std::unique_ptr<text::Tokenizer> gguf_tokenizer(const GgufTokenizerFiles& files);
text::ChatTemplate gguf_chat_template(const GgufTokenizerFiles& files);
// The ids generation stops at: generation_config's eos_token_id (EOS, plus llama.cpp's
// end-of-turn / end-of-message ids when the file names them).
std::vector<int64_t> gguf_eos_ids(const GgufTokenizerFiles& files);

// Writes the files above into a directory (created): tokenizer.json or tokenizer.model,
// tokenizer_config.json, generation_config.json. Used by convert and by gguf_tokenizer.
void write_gguf_tokenizer_files(const GgufTokenizerFiles& files, const std::filesystem::path& dir);

// `precept convert --gguf`: a Hugging Face checkpoint (config.json, model.safetensors, the
// tokenizer files) that transformers loads unchanged. Everything is read and checked before
// anything is written.
void convert_gguf(const std::filesystem::path& gguf_path, const std::filesystem::path& out_dir,
                  c10::ScalarType dtype = c10::kFloat);

}  // namespace precept::lm
