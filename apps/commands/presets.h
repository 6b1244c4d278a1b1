// Model presets (configs/models/NAME.toml): a model's shape in TOML, turned into the config.json
// object transformers would write. `precept init-model` builds random models from them; `precept
// plan` plans memory for a model that is not on this machine.
#pragma once

#include "lm/model_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace precept::apps {

// The preset's config.json fields (vocab_size only when the preset sets it) plus "init_std".
// Unknown keys are errors naming the file and line.
nlohmann::json preset_config_json(const std::filesystem::path& preset_path);

// A shape for `precept plan`: a preset name or file, a model directory, a config.json or a .gguf.
lm::ModelConfig shape_of(const std::string& name);

}  // namespace precept::apps
