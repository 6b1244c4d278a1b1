#include "policy/lora.h"

#include "core/files.h"
#include "lm/safetensors.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <regex>
#include <set>
#include <stdexcept>

namespace precept::policy {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// peft's key prefix for a causal LM (PeftModelForCausalLM wraps LoraModel wraps the HF model).
constexpr const char* kKeyPrefix = "base_model.model.";

// The decoder's linear modules by path, in module order; the output head and a classifier's
// score are not among them (peft's "all-linear" leaves the output layer out too).
std::vector<std::pair<std::string, lm::LinearImpl*>> decoder_linears(lm::TransformerImpl& model) {
  std::vector<std::pair<std::string, lm::LinearImpl*>> out;
  for (const auto& item : model.named_modules("", /*include_self=*/false)) {
    const std::string& path = item.key();
    if (path == "lm_head" || path == "score" || lm::is_adapter_parameter(path + ".")) continue;
    if (auto* linear = item.value()->as<lm::LinearImpl>()) out.push_back({path, linear});
  }
  return out;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// peft's check_target_module_exists for a list: the path is the name or ends in "." + name.
bool matches(const std::string& path, const std::string& target) { return path == target || ends_with(path, "." + target); }

std::string last_component(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

void check_config(const LoraConfig& config, const std::string& where) {
  if (config.r <= 0) throw std::invalid_argument(where + ": LoRA rank r must be positive, got " + std::to_string(config.r));
  if (!(config.alpha > 0.0) || !std::isfinite(config.alpha)) {
    throw std::invalid_argument(where + ": LoRA alpha must be a positive number, got " + std::to_string(config.alpha));
  }
  if (!(config.dropout >= 0.0 && config.dropout < 1.0)) {
    throw std::invalid_argument(where + ": LoRA dropout must be in [0, 1), got " + std::to_string(config.dropout));
  }
  if (config.target_modules.empty() && config.target_pattern.empty()) {
    throw std::invalid_argument(where + ": LoRA target_modules is empty");
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

std::vector<std::string> attach_lora(lm::TransformerImpl& model, const LoraConfig& config, uint64_t seed) {
  check_config(config, "attach_lora");
  if (has_lora(model)) throw std::invalid_argument("attach_lora: the model already has LoRA adapters");
  const auto linears = decoder_linears(model);
  const bool all_linear =
      config.target_pattern.empty() && std::find(config.target_modules.begin(), config.target_modules.end(), "all-linear") !=
                                           config.target_modules.end();
  std::regex pattern;
  if (!config.target_pattern.empty()) pattern = std::regex(config.target_pattern);
  std::vector<std::pair<std::string, lm::LinearImpl*>> chosen;
  std::set<std::string> used;
  for (const auto& [path, linear] : linears) {
    bool hit = all_linear;
    if (!config.target_pattern.empty()) {
      hit = std::regex_match(path, pattern);
    } else {
      for (const auto& target : config.target_modules) {
        if (target != "all-linear" && matches(path, target)) {
          hit = true;
          used.insert(target);
        }
      }
    }
    if (hit) chosen.push_back({path, linear});
  }
  std::set<std::string> kinds;
  for (const auto& item : linears) kinds.insert(last_component(item.first));
  const std::vector<std::string> kind_list(kinds.begin(), kinds.end());
  if (config.target_pattern.empty()) {
    for (const auto& target : config.target_modules) {
      if (target != "all-linear" && !used.count(target)) {
        throw std::invalid_argument("LoRA target_modules: '" + target + "' names no linear module of this " +
                                    model.config().architecture + " (there are: " + join(kind_list) + ")");
      }
    }
  }
  if (chosen.empty()) {
    throw std::invalid_argument("LoRA target_modules: nothing matches '" + config.target_pattern + "' (linear modules: " +
                                join(kind_list) + ")");
  }

  at::NoGradGuard no_grad;
  for (auto& p : model.parameters()) p.set_requires_grad(false);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::string> paths;
  for (const auto& [path, linear] : chosen) {
    const at::Tensor& w = linear->weight;
    const auto base = w.scalar_type();
    const auto dtype = base == at::kBFloat16 || base == at::kHalf ? at::kFloat : base;
    const auto options = w.options().dtype(dtype).requires_grad(false);
    const int64_t in = w.size(1), out = w.size(0);
    auto a = std::make_shared<lm::LinearImpl>(in, config.r, false, options);
    auto b = std::make_shared<lm::LinearImpl>(config.r, out, false, options);
    // torch.nn.init.kaiming_uniform_(a=sqrt(5)): bound = sqrt(6 / ((1 + 5) fan_in)) = 1 / sqrt(fan_in).
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    a->weight.copy_(at::empty({config.r, in}, at::kFloat).uniform_(-bound, bound, generator));
    b->weight.zero_();
    a->weight.set_requires_grad(true);
    b->weight.set_requires_grad(true);
    linear->lora_A = linear->register_module("lora_A", a);
    linear->lora_B = linear->register_module("lora_B", b);
    linear->adapter_scale = config.scale();
    linear->adapter_dropout = config.dropout;
    linear->adapter_enabled = true;
    paths.push_back(path);
  }
  return paths;
}

bool has_lora(lm::TransformerImpl& model) {
  for (const auto& item : decoder_linears(model)) {
    if (item.second->lora_A) return true;
  }
  return false;
}

std::vector<std::pair<std::string, at::Tensor>> lora_parameters(lm::TransformerImpl& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& item : model.named_parameters()) {
    if (lm::is_adapter_parameter(item.key())) out.push_back({item.key(), item.value()});
  }
  return out;
}

void set_lora_enabled(lm::TransformerImpl& model, bool enabled) {
  for (const auto& item : decoder_linears(model)) item.second->adapter_enabled = enabled;
}

LoraDisabled::LoraDisabled(lm::TransformerImpl& model, bool active) : model_(active ? &model : nullptr) {
  if (model_) set_lora_enabled(*model_, false);
}

LoraDisabled::~LoraDisabled() {
  if (model_) set_lora_enabled(*model_, true);
}

void merge_and_unload(lm::TransformerImpl& model) {
  at::NoGradGuard no_grad;
  for (const auto& [path, linear] : decoder_linears(model)) {
    if (!linear->lora_A) continue;
    const at::Tensor delta =
        at::mm(linear->lora_B->weight.to(at::kFloat), linear->lora_A->weight.to(at::kFloat)) * linear->adapter_scale;
    linear->weight.copy_(linear->weight.to(at::kFloat) + delta);
    linear->unregister_module("lora_A");
    linear->unregister_module("lora_B");
    linear->lora_A.reset();
    linear->lora_B.reset();
  }
}

void save_adapter(lm::TransformerImpl& model, const LoraConfig& config, const fs::path& dir, const std::string& base_model,
                  std::optional<c10::ScalarType> dtype) {
  lm::NamedTensors tensors;
  std::set<std::string> kinds;
  for (const auto& [name, tensor] : lora_parameters(model)) {
    at::Tensor value = tensor.detach().cpu();
    if (dtype) value = value.to(*dtype);
    tensors.push_back({kKeyPrefix + name, value.contiguous()});
    const std::string module = name.substr(0, name.find(".lora_"));
    kinds.insert(last_component(module));
  }
  if (tensors.empty()) throw std::invalid_argument("save_adapter: the model has no LoRA adapters");
  fs::create_directories(dir);
  lm::write_safetensors(dir / kAdapterWeightsFile, tensors);
  json adapter = {{"peft_type", "LORA"},
                  {"task_type", "CAUSAL_LM"},
                  {"base_model_name_or_path", base_model},
                  {"r", config.r},
                  {"lora_alpha", config.alpha},
                  {"lora_dropout", config.dropout},
                  {"use_rslora", config.rslora},
                  {"target_modules", std::vector<std::string>(kinds.begin(), kinds.end())},
                  {"bias", "none"},
                  {"fan_in_fan_out", false},
                  {"inference_mode", true},
                  {"init_lora_weights", true},
                  {"use_dora", false},
                  {"modules_to_save", nullptr},
                  {"layers_to_transform", nullptr},
                  {"layers_pattern", nullptr},
                  {"rank_pattern", json::object()},
                  {"alpha_pattern", json::object()},
                  {"revision", nullptr}};
  core::replace_file_atomically(dir / kAdapterConfigFile, adapter.dump(2) + "\n");
}

LoraConfig read_adapter_config(const fs::path& dir) {
  const fs::path path = dir / kAdapterConfigFile;
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": missing (not a peft adapter folder)");
  const json adapter = core::read_json_file(path);
  if (!adapter.is_object()) throw std::runtime_error(path.string() + ": must hold a JSON object");
  auto fail = [&](const std::string& key, const std::string& message) -> void {
    throw std::runtime_error(path.string() + ": \"" + key + "\" " + message);
  };
  auto number = [&](const char* key, double fallback) {
    if (!adapter.contains(key) || adapter[key].is_null()) return fallback;
    if (!adapter[key].is_number()) fail(key, "must be a number");
    return adapter[key].get<double>();
  };
  auto flag = [&](const char* key) {
    if (!adapter.contains(key) || adapter[key].is_null()) return false;
    if (!adapter[key].is_boolean()) fail(key, "must be true or false");
    return adapter[key].get<bool>();
  };
  auto empty_or_null = [&](const char* key) {
    if (!adapter.contains(key) || adapter[key].is_null()) return true;
    return (adapter[key].is_object() || adapter[key].is_array()) && adapter[key].empty();
  };
  const std::string type = adapter.value("peft_type", std::string("LORA"));
  if (type != "LORA") fail("peft_type", "is \"" + type + "\"; precept reads LoRA adapters only");
  if (flag("use_dora")) fail("use_dora", "is true; precept does not implement DoRA");
  if (flag("fan_in_fan_out")) fail("fan_in_fan_out", "is true; precept's linear modules are not Conv1D");
  if (adapter.contains("bias") && !adapter["bias"].is_null() && adapter["bias"] != "none") {
    fail("bias", "must be \"none\" (precept trains no biases)");
  }
  for (const char* key : {"modules_to_save", "layers_to_transform", "rank_pattern", "alpha_pattern"}) {
    if (!empty_or_null(key)) fail(key, "is set; precept supports uniform adapters on every matched module only");
  }
  LoraConfig config;
  const double r = number("r", 8);
  if (r != std::floor(r) || r < 1 || r > 1e6) fail("r", "must be a positive integer");
  config.r = static_cast<int64_t>(r);
  config.alpha = number("lora_alpha", 8);
  config.dropout = number("lora_dropout", 0.0);
  config.rslora = flag("use_rslora");
  if (!adapter.contains("target_modules") || adapter["target_modules"].is_null()) fail("target_modules", "is missing");
  const json& targets = adapter["target_modules"];
  config.target_modules.clear();
  if (targets.is_string()) {
    const std::string text = targets.get<std::string>();
    if (text == "all-linear") {
      config.target_modules = {"all-linear"};
    } else {
      try {
        std::regex check(text);
      } catch (const std::regex_error& error) {
        fail("target_modules", "is not a valid regular expression: " + std::string(error.what()));
      }
      config.target_pattern = text;
    }
  } else if (targets.is_array()) {
    for (const auto& item : targets) {
      if (!item.is_string()) fail("target_modules", "must list module names (strings)");
      config.target_modules.push_back(item.get<std::string>());
    }
  } else {
    fail("target_modules", "must be a string or a list of strings");
  }
  try {
    check_config(config, path.string());
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(error.what());
  }
  return config;
}

void load_adapter_weights(lm::TransformerImpl& model, const fs::path& dir) {
  const fs::path path = dir / kAdapterWeightsFile;
  if (!fs::exists(path)) {
    if (fs::exists(dir / "adapter_model.bin")) {
      throw std::runtime_error((dir / "adapter_model.bin").string() +
                               ": a pickled adapter; precept reads adapter_model.safetensors only (save with safe_serialization)");
    }
    throw std::runtime_error(path.string() + ": missing");
  }
  lm::SafetensorsFile file(path);
  const auto parameters = lora_parameters(model);
  std::set<std::string> expected;
  for (const auto& item : parameters) expected.insert(kKeyPrefix + item.first);
  std::vector<std::string> unexpected, missing;
  for (const auto& entry : file.entries()) {
    if (!expected.count(entry.name)) unexpected.push_back(entry.name);
  }
  for (const auto& name : expected) {
    if (!file.contains(name)) missing.push_back(name);
  }
  if (!unexpected.empty() || !missing.empty()) {
    std::string message = path.string() + ": the adapter does not match the model's adapted modules";
    if (!missing.empty()) message += "; missing: " + join(std::vector<std::string>(missing.begin(), missing.begin() + std::min<size_t>(missing.size(), 8)));
    if (!unexpected.empty()) message += "; unexpected: " + join(std::vector<std::string>(unexpected.begin(), unexpected.begin() + std::min<size_t>(unexpected.size(), 8)));
    throw std::runtime_error(message);
  }
  at::NoGradGuard no_grad;
  for (const auto& [name, parameter] : parameters) {
    const at::Tensor source = file.tensor(kKeyPrefix + name);
    if (source.sizes() != parameter.sizes()) {
      throw std::runtime_error(path.string() + ": tensor '" + kKeyPrefix + name + "' has shape " +
                               c10::str(source.sizes()) + ", the model's adapter is " + c10::str(parameter.sizes()));
    }
    if (!at::isfinite(source.to(at::kFloat)).all().item<bool>()) {
      throw std::runtime_error(path.string() + ": tensor '" + kKeyPrefix + name + "' holds non-finite values");
    }
    parameter.copy_(source);
  }
}

LoraConfig load_adapter(lm::TransformerImpl& model, const fs::path& dir) {
  const LoraConfig config = read_adapter_config(dir);
  if (!has_lora(model)) attach_lora(model, config, 0);
  load_adapter_weights(model, dir);
  return config;
}

}  // namespace precept::policy
