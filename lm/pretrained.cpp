#include "lm/pretrained.h"
#include "core/files.h"

#include "lm/gguf_model.h"
#include "lm/safetensors.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

namespace precept::lm {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string join_names(const std::vector<std::string>& names, size_t limit = 20) {
  std::ostringstream out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) out << (i ? ", " : "") << names[i];
  if (names.size() > limit) out << ", ... (" << names.size() << " in all)";
  return out.str();
}

// Files a tokenizer or generation setup can consist of; copied through on save.
const char* kPassThroughFiles[] = {"tokenizer.json",        "tokenizer_config.json", "tokenizer.model",
                                   "special_tokens_map.json", "vocab.json",           "merges.txt",
                                   "added_tokens.json",     "generation_config.json", "chat_template.jinja"};

void write_text(const fs::path& path, const std::string& text) { core::replace_file_atomically(path, text); }

}  // namespace

void load_weights(TransformerImpl& model, const fs::path& dir) {
  CheckpointTensors checkpoint(dir);
  const ModelConfig& config = model.config();
  std::set<std::string> available;
  for (auto& name : checkpoint.names()) available.insert(name);
  // A tied checkpoint may still carry lm_head.weight (transformers ignores it); so do we.
  if (config.tie_word_embeddings) available.erase("lm_head.weight");

  // A model with adapters attached loads its base here; the adapters have their own files.
  torch::OrderedDict<std::string, at::Tensor> parameters;
  for (const auto& item : model.named_parameters()) {
    if (!is_adapter_parameter(item.key())) parameters.insert(item.key(), item.value());
  }
  std::vector<std::string> missing, mismatched;
  for (const auto& item : parameters) {
    if (!available.count(item.key())) missing.push_back(item.key());
  }
  std::vector<std::string> unexpected;
  for (const auto& name : available) {
    if (!parameters.contains(name)) unexpected.push_back(name + " (in " + fs::path(checkpoint.file_of(name)).filename().string() + ")");
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string message = dir.string() + ": checkpoint does not match " + config.architecture + " (config.json)";
    if (!missing.empty()) message += "; missing weights: " + join_names(missing);
    if (!unexpected.empty()) message += "; unexpected weights: " + join_names(unexpected);
    if (config.head != ModelHead::causal_lm && !available.count("score.weight")) {
      message += " (a classifier needs score.weight [num_labels, hidden]; is this a causal LM's checkpoint?)";
    }
    throw std::runtime_error(message);
  }
  at::NoGradGuard no_grad;
  for (auto& item : parameters) {
    at::Tensor source = checkpoint.tensor(item.key());
    if (source.sizes() != item.value().sizes()) {
      std::ostringstream message;
      message << checkpoint.file_of(item.key()) << ": tensor '" << item.key() << "' has shape " << source.sizes()
              << " but config.json implies " << item.value().sizes();
      throw std::runtime_error(message.str());
    }
    item.value().copy_(source);
  }
}

c10::ScalarType loaded_dtype(const fs::path& dir, const LoadOptions& options, const ModelConfig& config) {
  if (options.dtype) return *options.dtype;
  if (options.device.is_cpu()) return c10::kFloat;
  return is_gguf_file(dir) ? c10::kBFloat16 : config.dtype;
}

Transformer load_pretrained(const fs::path& dir, const LoadOptions& options) {
  if (is_gguf_file(dir)) return load_gguf(dir, options);
  ModelConfig config = load_config(dir);
  const c10::ScalarType dtype = loaded_dtype(dir, options, config);
  Transformer model(config, at::TensorOptions().dtype(dtype).device(options.device));
  load_weights(*model, dir);
  model->eval();
  return model;
}

std::vector<int64_t> stop_ids_of(const fs::path& dir, const ModelConfig& config, const text::Tokenizer* tokenizer) {
  const fs::path path = dir / "generation_config.json";
  if (fs::exists(path)) {
    const json generation = core::read_json_file(path);
    if (generation.contains("eos_token_id") && !generation["eos_token_id"].is_null()) {
      const auto& eos = generation["eos_token_id"];
      std::vector<int64_t> ids;
      if (eos.is_array()) {
        for (const auto& id : eos) {
          if (!id.is_number_integer()) throw std::runtime_error(path.string() + ": eos_token_id must hold integers");
          ids.push_back(id.get<int64_t>());
        }
      } else if (eos.is_number_integer()) {
        ids.push_back(eos.get<int64_t>());
      } else {
        throw std::runtime_error(path.string() + ": eos_token_id must be an integer or a list of integers");
      }
      return ids;
    }
  }
  if (!config.eos_token_ids.empty()) return config.eos_token_ids;
  if (tokenizer) {
    if (auto eos = tokenizer->eos_id()) return {*eos};
  }
  return {};
}

const text::ChatTemplate& Pretrained::require_chat_template(const std::string& needed_by) const {
  if (!chat_template) throw std::runtime_error(dir.string() + ": " + needed_by + " needs the chat template: " + chat_template_problem);
  return *chat_template;
}

namespace {

// A .gguf file opened in memory: weights dequantized, the tokenizer and the template from its
// metadata (lm/gguf_model.h), the stop ids from its EOS.
Pretrained open_gguf(const fs::path& path, const OpenOptions& options) {
  Pretrained out;
  out.dir = path;
  const GgufFile file(path);
  const GgufTokenizerFiles files = gguf_tokenizer_files(file);
  if (options.weights) {
    out.model = load_gguf(path, options.load);
    out.config = out.model->config();
  } else {
    out.config = config_from_json(gguf_hf_config(file), path.string());
  }
  out.tokenizer = gguf_tokenizer(files);
  try {
    out.chat_template = gguf_chat_template(files);
  } catch (const std::exception& error) {
    out.chat_template_problem = error.what();
  }
  out.stop_ids = gguf_eos_ids(files);
  out.context_length = std::min<int64_t>(out.config.max_position_embeddings, options.max_context);
  return out;
}

}  // namespace

Pretrained open_pretrained(const fs::path& dir, const OpenOptions& options) {
  if (is_gguf_file(dir)) return open_gguf(dir, options);
  Pretrained out;
  out.dir = dir;
  if (options.weights) {
    out.model = load_pretrained(dir, options.load);
    out.config = out.model->config();
  } else if (fs::exists(dir / "config.json")) {
    out.config = load_config(dir);
  }
  out.tokenizer = text::load_tokenizer(dir);
  try {
    out.chat_template = text::ChatTemplate::from_model_dir(dir, options.chat_template);
  } catch (const std::exception& error) {
    out.chat_template_problem = error.what();
  }
  out.stop_ids = stop_ids_of(dir, out.config, out.tokenizer.get());
  out.context_length = std::min<int64_t>(out.config.max_position_embeddings, options.max_context);
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> state_dict_for_save(TransformerImpl& model) {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model.named_parameters()) {
    if (!is_adapter_parameter(item.key())) tensors.push_back({item.key(), item.value().detach()});
  }
  return tensors;
}

void save_pretrained(TransformerImpl& model, const fs::path& dir, const SaveOptions& options) {
  fs::create_directories(dir);
  auto tensors = state_dict_for_save(model);
  c10::ScalarType dtype = options.dtype.value_or(model.output_weight().scalar_type());
  for (auto& named : tensors) named.second = named.second.to(at::kCPU, dtype);
  write_checkpoint_tensors(dir, tensors, options.max_shard_bytes);

  ModelConfig config = model.config();
  config.dtype = dtype;
  write_text(dir / "config.json", config_to_json(config).dump(2) + "\n");

  if (options.source_dir && is_gguf_file(*options.source_dir)) {
    write_gguf_tokenizer_files(gguf_tokenizer_files(GgufFile(*options.source_dir)), dir);
  } else if (options.source_dir && fs::absolute(*options.source_dir) != fs::absolute(dir)) {
    for (const char* file : kPassThroughFiles) {
      const fs::path from = *options.source_dir / file;
      if (fs::exists(from)) fs::copy_file(from, dir / file, fs::copy_options::overwrite_existing);
    }
  }
  if (!fs::exists(dir / "generation_config.json")) {
    json generation = json::object();
    if (config.bos_token_id >= 0) generation["bos_token_id"] = config.bos_token_id;
    if (config.eos_token_ids.size() == 1) generation["eos_token_id"] = config.eos_token_ids[0];
    else if (!config.eos_token_ids.empty()) generation["eos_token_id"] = config.eos_token_ids;
    write_text(dir / "generation_config.json", generation.dump(2) + "\n");
  }
}

}  // namespace precept::lm
