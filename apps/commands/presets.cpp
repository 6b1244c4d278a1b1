#include "apps/commands/presets.h"

#include "apps/commands/paths.h"
#include "core/toml_reader.h"
#include "trainer/memory_plan.h"

namespace precept::apps {
namespace fs = std::filesystem;

nlohmann::json preset_config_json(const fs::path& preset_path) {
  core::TomlDocument document = core::TomlDocument::from_file(preset_path.string());
  core::TomlSection root = document.root();
  nlohmann::json config;
  config["architectures"] = {root.required_string("architecture")};
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                          "num_key_value_heads", "max_position_embeddings"}) {
    config[key] = root.required_int(key);
  }
  if (root.has("head_dim")) config["head_dim"] = root.get_int("head_dim", 0);
  config["rope_theta"] = root.get_double("rope_theta", 10000.0);
  config["rms_norm_eps"] = root.get_double("rms_norm_eps", 1e-6);
  config["tie_word_embeddings"] = root.get_bool("tie_word_embeddings", false);
  if (root.has("attention_bias")) config["attention_bias"] = root.get_bool("attention_bias", false);
  if (root.has("vocab_size")) config["vocab_size"] = root.get_int("vocab_size", 0);
  config["init_std"] = root.get_double("init_std", 0.02);
  root.get_string("description", "");
  root.finish();
  return config;
}

lm::ModelConfig shape_of(const std::string& name) {
  if (fs::exists(name) && (fs::is_directory(name) || name.size() < 5 || name.compare(name.size() - 5, 5, ".toml") != 0)) {
    return trainer::model_shape(name);
  }
  const fs::path preset = find_config_file("models", name);
  nlohmann::json config = preset_config_json(preset);
  if (!config.contains("vocab_size")) {
    throw std::runtime_error(preset.string() + ": the preset sets no vocab_size (it takes the tokenizer's); give a model "
                             "directory or config.json for its shape instead");
  }
  config.erase("init_std");
  return lm::config_from_json(config, preset.string());
}

}  // namespace precept::apps
