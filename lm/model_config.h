// The model hyper-parameters precept reads from a Hugging Face config.json, for the Llama,
// Mistral, Qwen2 and Qwen3 families, as causal LMs (XxxForCausalLM) or sequence classifiers
// (XxxForSequenceClassification, the reward models). Every field that changes the math is read
// here; anything precept does not implement (another architecture, rope type or activation) is
// an error. Used by lm/transformer.h to build the model and by lm/pretrained.h to save it back.
#pragma once

#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace precept::lm {

enum class RopeScaling { none, linear, llama3 };

// What sits on top of the decoder: `lm_head` [V, C] (XxxForCausalLM), `score` [num_labels, C]
// without bias (XxxForSequenceClassification, pooled at the last token), or `score` with a bias
// on every token (XxxForTokenClassification: the PPO critic, as veRL loads one with num_labels 1).
enum class ModelHead { causal_lm, sequence_classification, token_classification };

struct RopeConfig {
  double theta = 10000.0;
  RopeScaling scaling = RopeScaling::none;
  double factor = 1.0;                     // linear and llama3
  double low_freq_factor = 1.0;            // llama3
  double high_freq_factor = 4.0;           // llama3
  int64_t original_max_position = 8192;    // llama3
};

struct ModelConfig {
  std::string architecture;  // e.g. "Qwen3ForCausalLM"
  std::string model_type;    // e.g. "qwen3"
  ModelHead head = ModelHead::causal_lm;  // from the architecture's suffix
  // Sequence and token classification only: outputs of `score` (the size of id2label, else
  // "num_labels", else transformers' default 2).
  int64_t num_labels = 0;
  // Token classification only: `score` has a bias (transformers' token_classification_bias, default true).
  bool classifier_bias = true;
  // -1 = none. A sequence classifier pools the rightmost token that is not this id.
  int64_t pad_token_id = -1;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;  // may differ from hidden_size / num_heads (Qwen3)
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  RopeConfig rope;
  bool qkv_bias = false;    // bias on q/k/v projections (Qwen2: always; Llama/Qwen3: attention_bias)
  bool o_bias = false;      // bias on the output projection (Llama/Qwen3 attention_bias)
  bool mlp_bias = false;    // Llama mlp_bias
  bool qk_norm = false;     // per-head RMSNorm on q and k (Qwen3)
  bool tie_word_embeddings = false;
  std::vector<int64_t> sliding_window;  // per layer; 0 = full attention
  c10::ScalarType dtype = c10::kFloat;  // torch_dtype / dtype of the checkpoint
  std::vector<int64_t> eos_token_ids;
  int64_t bos_token_id = -1;
  nlohmann::json raw;  // the file as read, so that saving keeps fields precept does not use

  int64_t q_size() const { return num_heads * head_dim; }
  int64_t kv_size() const { return num_kv_heads * head_dim; }
};

// Parses a config.json object. `source` names the file in error messages.
ModelConfig config_from_json(const nlohmann::json& config, const std::string& source);
// Reads `dir/config.json` (or the file itself when given a file).
ModelConfig load_config(const std::filesystem::path& dir_or_file);
// The config.json to save: the original fields with precept's values written over them.
nlohmann::json config_to_json(const ModelConfig& config);

c10::ScalarType dtype_from_name(const std::string& name, const std::string& where);
std::string dtype_name(c10::ScalarType dtype);  // "float32", "bfloat16", "float16"

}  // namespace precept::lm
