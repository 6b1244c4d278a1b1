// `precept init-model`: a Hugging Face model directory with seeded random weights from a named
// preset (configs/models/NAME.toml) and a real tokenizer, so that the CPU demo and the tests
// need nothing downloaded. The result loads in transformers like any checkpoint.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "apps/commands/paths.h"
#include "apps/commands/presets.h"
#include "lm/model_config.h"
#include "lm/pretrained.h"
#include "text/tokenizer.h"
#include "core/toml_reader.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace precept::apps {
namespace fs = std::filesystem;

namespace {

const char* kTokenizerFiles[] = {"tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                                 "vocab.json",     "merges.txt",            "added_tokens.json", "chat_template.jinja"};

// The ids generation stops at: the tokenizer's EOS and the usual end-of-turn tokens it has.
std::vector<int64_t> stop_ids_of(const text::Tokenizer& tokenizer) {
  std::vector<int64_t> ids;
  auto add = [&](std::optional<int64_t> id) {
    if (id && std::find(ids.begin(), ids.end(), *id) == ids.end()) ids.push_back(*id);
  };
  add(tokenizer.eos_id());
  for (const char* piece : {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>"}) {
    add(tokenizer.token_id(piece));
  }
  return ids;
}

}  // namespace

int cmd_init_model(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string preset, tokenizer_dir, tokenizer_config, out_dir, dtype_name;
  uint64_t seed = 0;
  options.add_options()
      ("preset", po::value(&preset)->required(), "a preset name (configs/models/NAME.toml) or a preset file")
      ("tokenizer", po::value(&tokenizer_dir)->required(), "a directory holding the tokenizer files to use")
      ("tokenizer-config", po::value(&tokenizer_config), "use this file as tokenizer_config.json (chat template)")
      ("out", po::value(&out_dir)->required(), "the model directory to write")
      ("seed", po::value(&seed)->default_value(0), "weight initialisation seed")
      ("dtype", po::value(&dtype_name)->default_value("float32"), "float32 | bfloat16");
  po::variables_map values;
  if (!parse_options("init-model", "--preset NAME --tokenizer DIR --out DIR [--seed N]", options, args, values)) return 0;

  const fs::path preset_path = find_config_file("models", preset);
  nlohmann::json config = preset_config_json(preset_path);
  const int64_t preset_vocab = config.value("vocab_size", int64_t{0});
  const double init_std = config.value("init_std", 0.02);
  config.erase("init_std");

  fs::create_directories(out_dir);
  for (const char* name : kTokenizerFiles) {
    const fs::path from = fs::path(tokenizer_dir) / name;
    if (fs::exists(from)) fs::copy_file(from, fs::path(out_dir) / name, fs::copy_options::overwrite_existing);
  }
  if (!tokenizer_config.empty()) {
    if (!fs::exists(tokenizer_config)) throw std::runtime_error(tokenizer_config + ": no such file (--tokenizer-config)");
    fs::copy_file(tokenizer_config, fs::path(out_dir) / "tokenizer_config.json", fs::copy_options::overwrite_existing);
  }
  auto tokenizer = text::load_tokenizer(out_dir);
  // The embedding covers the tokenizer, rounded up to a multiple of 128 as Qwen and Llama do.
  const int64_t vocab = preset_vocab > 0 ? preset_vocab : (tokenizer->vocab_size() + 127) / 128 * 128;
  if (vocab < tokenizer->vocab_size()) {
    throw std::runtime_error(preset_path.string() + ": vocab_size " + std::to_string(vocab) + " is smaller than the tokenizer's " +
                             std::to_string(tokenizer->vocab_size()) + " ids");
  }
  config["vocab_size"] = vocab;
  const std::vector<int64_t> stop_ids = stop_ids_of(*tokenizer);
  if (auto bos = tokenizer->bos_id()) config["bos_token_id"] = *bos;
  if (!stop_ids.empty()) config["eos_token_id"] = stop_ids.front();
  config["torch_dtype"] = dtype_name;

  lm::ModelConfig model_config = lm::config_from_json(config, preset_path.string());
  const c10::ScalarType dtype = lm::dtype_from_name(dtype_name, "--dtype");
  lm::Transformer model(model_config, at::TensorOptions().dtype(dtype));
  model->init_random(seed, init_std);
  lm::save_pretrained(*model, out_dir);
  nlohmann::json generation = {{"eos_token_id", stop_ids}};
  if (auto bos = tokenizer->bos_id()) generation["bos_token_id"] = *bos;
  std::ofstream(fs::path(out_dir) / "generation_config.json") << generation.dump(2) << "\n";

  int64_t parameters = 0;
  for (const auto& p : model->parameters()) parameters += p.numel();
  std::cerr << "[precept init-model] " << model_config.architecture << " from " << preset_path.string() << ": "
            << parameters / 1e6 << "M parameters, vocab " << vocab << ", seed " << seed << ", random weights -> " << out_dir
            << "\n";
  return 0;
}

}  // namespace precept::apps
