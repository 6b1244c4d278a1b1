#include "lm/model_config.h"
#include "core/files.h"

#include <fstream>
#include <set>
#include <stdexcept>

namespace precept::lm {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Family {
  const char* prefix;  // the architecture without its head suffix
  const char* model_type;
};
constexpr Family kFamilies[] = {{"Llama", "llama"}, {"Mistral", "mistral"}, {"Qwen2", "qwen2"}, {"Qwen3", "qwen3"}};

struct HeadSuffix {
  const char* suffix;
  ModelHead head;
};
constexpr HeadSuffix kHeads[] = {{"ForCausalLM", ModelHead::causal_lm},
                                 {"ForSequenceClassification", ModelHead::sequence_classification},
                                 {"ForTokenClassification", ModelHead::token_classification}};

std::string supported_architectures() {
  std::string out;
  for (const auto& head : kHeads) {
    for (const auto& family : kFamilies) {
      out += std::string(out.empty() ? "" : ", ") + family.prefix + head.suffix;
    }
  }
  return out;
}

class Reader {
 public:
  Reader(const json& config, std::string source) : config_(config), source_(std::move(source)) {}

  template <class T>
  T required(const std::string& key) const {
    if (!config_.contains(key) || config_[key].is_null()) throw error(key, "is missing");
    return get<T>(key);
  }
  template <class T>
  T optional(const std::string& key, T fallback) const {
    if (!config_.contains(key) || config_[key].is_null()) return fallback;
    return get<T>(key);
  }
  bool has(const std::string& key) const { return config_.contains(key) && !config_[key].is_null(); }
  std::runtime_error error(const std::string& key, const std::string& what) const {
    return std::runtime_error(source_ + ": \"" + key + "\" " + what);
  }

 private:
  template <class T>
  T get(const std::string& key) const {
    try {
      return config_[key].get<T>();
    } catch (const json::exception&) {
      throw error(key, "has the wrong type (" + std::string(config_[key].type_name()) + ")");
    }
  }
  const json& config_;
  std::string source_;
};

RopeConfig read_rope(const json& config, const Reader& reader, const std::string& source) {
  RopeConfig rope;
  // transformers 5 writes "rope_parameters" {rope_type, rope_theta, ...}; older files write
  // "rope_theta" plus an optional "rope_scaling" {type|rope_type, factor, ...}.
  json parameters = json::object();
  std::string key = "rope_parameters";
  if (config.contains("rope_parameters") && config["rope_parameters"].is_object()) {
    parameters = config["rope_parameters"];
  } else if (config.contains("rope_scaling") && config["rope_scaling"].is_object()) {
    parameters = config["rope_scaling"];
    key = "rope_scaling";
  }
  rope.theta = reader.optional<double>("rope_theta", 10000.0);
  if (parameters.contains("rope_theta")) rope.theta = parameters["rope_theta"].get<double>();
  std::string type = "default";
  if (parameters.contains("rope_type")) type = parameters["rope_type"].get<std::string>();
  else if (parameters.contains("type")) type = parameters["type"].get<std::string>();
  auto number = [&](const char* name) {
    if (!parameters.contains(name) || !parameters[name].is_number()) {
      throw std::runtime_error(source + ": \"" + key + "\" of type " + type + " needs a numeric \"" + name + "\"");
    }
    return parameters[name].get<double>();
  };
  if (type == "default") {
    rope.scaling = RopeScaling::none;
  } else if (type == "linear") {
    rope.scaling = RopeScaling::linear;
    rope.factor = number("factor");
  } else if (type == "llama3") {
    rope.scaling = RopeScaling::llama3;
    rope.factor = number("factor");
    rope.low_freq_factor = number("low_freq_factor");
    rope.high_freq_factor = number("high_freq_factor");
    rope.original_max_position = static_cast<int64_t>(number("original_max_position_embeddings"));
  } else {
    throw std::runtime_error(source + ": rope type '" + type + "' in \"" + key +
                             "\" is not supported (precept implements default, linear and llama3)");
  }
  return rope;
}

// The sequence-classification fields, read as transformers reads them: num_labels is the size of
// id2label when there is one (transformers omits id2label when it is the default of 2 labels),
// else an explicit "num_labels", else 2.
void read_classifier(const json& config, const Reader& reader, ModelConfig& out) {
  if (reader.has("id2label")) {
    if (!config["id2label"].is_object()) throw reader.error("id2label", "must be an object {\"0\": \"LABEL_0\", ...}");
    out.num_labels = static_cast<int64_t>(config["id2label"].size());
  } else {
    out.num_labels = reader.optional<int64_t>("num_labels", 2);
  }
  if (out.num_labels < 1) throw reader.error("id2label", "gives no labels; a sequence classifier needs at least one");
  out.pad_token_id = reader.optional<int64_t>("pad_token_id", -1);
  if (out.head == ModelHead::token_classification) out.classifier_bias = reader.optional<bool>("token_classification_bias", true);
}

}  // namespace

c10::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  if (name == "float32" || name == "float") return c10::kFloat;
  if (name == "bfloat16") return c10::kBFloat16;
  if (name == "float16" || name == "half") return c10::kHalf;
  throw std::runtime_error(where + ": unsupported dtype '" + name + "' (use float32, bfloat16 or float16)");
}

std::string dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "float32";
    case c10::kBFloat16: return "bfloat16";
    case c10::kHalf: return "float16";
    default: throw std::runtime_error(std::string("no config name for dtype ") + c10::toString(dtype));
  }
}

ModelConfig config_from_json(const json& config, const std::string& source) {
  if (!config.is_object()) throw std::runtime_error(source + ": not a JSON object");
  Reader reader(config, source);
  ModelConfig out;
  out.raw = config;

  auto architectures = reader.optional<std::vector<std::string>>("architectures", {});
  if (architectures.size() != 1) {
    throw reader.error("architectures", "must name exactly one architecture (supported: " + supported_architectures() + ")");
  }
  out.architecture = architectures[0];
  bool known = false;
  for (const auto& head : kHeads) {
    for (const auto& family : kFamilies) {
      if (out.architecture == std::string(family.prefix) + head.suffix) {
        out.model_type = family.model_type;
        out.head = head.head;
        known = true;
      }
    }
  }
  if (!known) {
    throw std::runtime_error(source + ": architecture '" + out.architecture + "' is not supported (supported: " +
                             supported_architectures() + ")");
  }

  // Every size must be positive (a 0 would reach an integer division) and below 2^31, which no
  // real model exceeds, so that a hostile file cannot ask for an absurd allocation.
  auto size = [&](const std::string& key, int64_t value) {
    if (value < 1 || value > (int64_t{1} << 31)) throw reader.error(key, "must be between 1 and 2^31, got " + std::to_string(value));
    return value;
  };
  out.vocab_size = size("vocab_size", reader.required<int64_t>("vocab_size"));
  out.hidden_size = size("hidden_size", reader.required<int64_t>("hidden_size"));
  out.intermediate_size = size("intermediate_size", reader.required<int64_t>("intermediate_size"));
  out.num_layers = size("num_hidden_layers", reader.required<int64_t>("num_hidden_layers"));
  out.num_heads = size("num_attention_heads", reader.required<int64_t>("num_attention_heads"));
  out.num_kv_heads = size("num_key_value_heads", reader.optional<int64_t>("num_key_value_heads", out.num_heads));
  out.head_dim = reader.optional<int64_t>("head_dim", 0);
  if (out.head_dim != 0) size("head_dim", out.head_dim);
  if (out.head_dim == 0) {
    if (out.hidden_size % out.num_heads != 0) throw reader.error("hidden_size", "is not divisible by num_attention_heads");
    out.head_dim = out.hidden_size / out.num_heads;
  }
  if (out.num_heads % out.num_kv_heads != 0) {
    throw reader.error("num_attention_heads", "must be a multiple of num_key_value_heads (" + std::to_string(out.num_kv_heads) + ")");
  }
  if (out.head_dim % 2 != 0) throw reader.error("head_dim", "must be even for rotary embeddings");
  out.max_position_embeddings = size("max_position_embeddings", reader.optional<int64_t>("max_position_embeddings", 4096));
  out.rms_norm_eps = reader.optional<double>("rms_norm_eps", 1e-6);
  const std::string activation = reader.optional<std::string>("hidden_act", "silu");
  if (activation != "silu") throw reader.error("hidden_act", "is '" + activation + "'; precept implements silu (SwiGLU) only");
  out.rope = read_rope(config, reader, source);
  out.tie_word_embeddings = reader.optional<bool>("tie_word_embeddings", false);

  const std::string& type = out.model_type;
  if (type == "qwen2") {
    out.qkv_bias = true;  // Qwen2 always has q/k/v biases and no output bias
    out.o_bias = false;
  } else if (type == "llama" || type == "qwen3") {
    out.qkv_bias = out.o_bias = reader.optional<bool>("attention_bias", false);
  }
  if (type == "llama") out.mlp_bias = reader.optional<bool>("mlp_bias", false);
  out.qk_norm = type == "qwen3";

  // Sliding-window attention, per layer, as transformers decides it.
  out.sliding_window.assign(out.num_layers, 0);
  if (type == "mistral") {
    const int64_t window = reader.optional<int64_t>("sliding_window", 0);
    out.sliding_window.assign(out.num_layers, window);
  } else if (type == "qwen2" || type == "qwen3") {
    const bool use_window = reader.optional<bool>("use_sliding_window", false);
    const int64_t window = use_window ? reader.optional<int64_t>("sliding_window", 0) : 0;
    if (reader.has("layer_types")) {
      auto layer_types = reader.required<std::vector<std::string>>("layer_types");
      if (static_cast<int64_t>(layer_types.size()) != out.num_layers) {
        throw reader.error("layer_types", "has " + std::to_string(layer_types.size()) + " entries for " +
                                              std::to_string(out.num_layers) + " layers");
      }
      for (int64_t i = 0; i < out.num_layers; ++i) {
        if (layer_types[i] == "sliding_attention") out.sliding_window[i] = window;
        else if (layer_types[i] != "full_attention") throw reader.error("layer_types", "has unknown entry '" + layer_types[i] + "'");
      }
    } else if (window > 0) {
      const int64_t first = reader.optional<int64_t>("max_window_layers", out.num_layers);
      for (int64_t i = first; i < out.num_layers; ++i) out.sliding_window[i] = window;
    }
  }

  std::string dtype = "float32";
  if (reader.has("dtype")) dtype = reader.required<std::string>("dtype");
  else if (reader.has("torch_dtype")) dtype = reader.required<std::string>("torch_dtype");
  out.dtype = dtype_from_name(dtype, source + ": \"torch_dtype\"");

  if (out.head != ModelHead::causal_lm) read_classifier(config, reader, out);

  out.bos_token_id = reader.optional<int64_t>("bos_token_id", -1);
  if (reader.has("eos_token_id")) {
    if (config["eos_token_id"].is_array()) out.eos_token_ids = reader.required<std::vector<int64_t>>("eos_token_id");
    else out.eos_token_ids = {reader.required<int64_t>("eos_token_id")};
  }
  return out;
}

ModelConfig load_config(const fs::path& dir_or_file) {
  const fs::path path = dir_or_file.extension() == ".json" ? dir_or_file : dir_or_file / "config.json";
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": cannot open (is this a Hugging Face model directory?)");
  return config_from_json(core::read_json_file(path), path.string());
}

namespace {

// id2label / label2id as transformers writes them ("LABEL_i" unless the file named them), and
// the pad token the classifier pools by.
void write_classifier(const ModelConfig& config, json& out) {
  const bool named = out.contains("id2label") && out["id2label"].is_object() &&
                     static_cast<int64_t>(out["id2label"].size()) == config.num_labels;
  if (!named) {
    json id2label = json::object(), label2id = json::object();
    for (int64_t i = 0; i < config.num_labels; ++i) {
      id2label[std::to_string(i)] = "LABEL_" + std::to_string(i);
      label2id["LABEL_" + std::to_string(i)] = i;
    }
    out["id2label"] = id2label;
    out["label2id"] = label2id;
  }
  out.erase("num_labels");
  if (config.pad_token_id >= 0) out["pad_token_id"] = config.pad_token_id;
  else out["pad_token_id"] = nullptr;
}

}  // namespace

json config_to_json(const ModelConfig& config) {
  json out = config.raw.is_object() ? config.raw : json::object();
  out["architectures"] = {config.architecture};
  out["model_type"] = config.model_type;
  out["vocab_size"] = config.vocab_size;
  out["hidden_size"] = config.hidden_size;
  out["intermediate_size"] = config.intermediate_size;
  out["num_hidden_layers"] = config.num_layers;
  out["num_attention_heads"] = config.num_heads;
  out["num_key_value_heads"] = config.num_kv_heads;
  out["head_dim"] = config.head_dim;
  out["max_position_embeddings"] = config.max_position_embeddings;
  out["rms_norm_eps"] = config.rms_norm_eps;
  out["hidden_act"] = "silu";
  out["tie_word_embeddings"] = config.tie_word_embeddings;
  out["dtype"] = dtype_name(config.dtype);        // transformers 5
  out["torch_dtype"] = dtype_name(config.dtype);  // transformers 4, vLLM
  if (config.model_type != "qwen2" && config.model_type != "mistral") out["attention_bias"] = config.qkv_bias;
  if (config.model_type == "llama") out["mlp_bias"] = config.mlp_bias;
  if (config.head != ModelHead::causal_lm) write_classifier(config, out);
  // transformers' token classifiers apply dropout before `score` (0.1 unless the config sets
  // classifier_dropout); precept's critic has none, and says so, as veRL sets it to 0.
  if (config.head == ModelHead::token_classification) {
    if (!out.contains("classifier_dropout")) out["classifier_dropout"] = 0.0;
    out["token_classification_bias"] = config.classifier_bias;
  }
  json rope = {{"rope_theta", config.rope.theta}};
  switch (config.rope.scaling) {
    case RopeScaling::none: rope["rope_type"] = "default"; break;
    case RopeScaling::linear: rope["rope_type"] = "linear"; rope["factor"] = config.rope.factor; break;
    case RopeScaling::llama3:
      rope["rope_type"] = "llama3";
      rope["factor"] = config.rope.factor;
      rope["low_freq_factor"] = config.rope.low_freq_factor;
      rope["high_freq_factor"] = config.rope.high_freq_factor;
      rope["original_max_position_embeddings"] = config.rope.original_max_position;
      break;
  }
  // Both spellings, so that transformers 5 (rope_parameters) and older readers such as
  // transformers 4 and vLLM (rope_theta + rope_scaling) see the same rotary embedding.
  out["rope_theta"] = config.rope.theta;
  out["rope_parameters"] = rope;
  if (config.rope.scaling == RopeScaling::none) {
    out.erase("rope_scaling");
  } else {
    json legacy = rope;
    legacy.erase("rope_theta");
    out["rope_scaling"] = legacy;
  }
  return out;
}

}  // namespace precept::lm
