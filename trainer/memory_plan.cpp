// The memory plan of a GRPO run; see memory_plan.h and docs/memory.md.
#include "trainer/memory_plan.h"

#include "core/json_options.h"
#include "lm/gguf.h"
#include "lm/pretrained.h"
#include "lm/transformer.h"
#include "policy/lora.h"
#include "reward/judge_options.h"
#include "rollout/generator.h"
#include "rollout/kv_cache.h"
#include "trainer/run_parts.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <set>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace precept::trainer {
namespace fs = std::filesystem;

namespace {

std::string count_text(int64_t n) {
  char buffer[32];
  if (n >= 1000000000) std::snprintf(buffer, sizeof buffer, "%.2fB", n / 1e9);
  else if (n >= 1000000) std::snprintf(buffer, sizeof buffer, "%.1fM", n / 1e6);
  else if (n >= 1000) std::snprintf(buffer, sizeof buffer, "%.1fK", n / 1e3);
  else std::snprintf(buffer, sizeof buffer, "%lld", static_cast<long long>(n));
  return buffer;
}

std::string element_text(int64_t n, c10::ScalarType dtype) {
  return count_text(n) + " x " + std::to_string(c10::elementSize(dtype)) + " B (" + lm::dtype_name(dtype) + ")";
}

// The parameters of a model of `shape`, built on the meta device (no memory): the same modules
// as training builds, so the counts are the real ones.
struct ParameterCounts {
  int64_t base = 0, base_bytes = 0;          // the model's own weights
  int64_t adapters = 0, adapter_bytes = 0;   // LoRA A and B
  int64_t trainable = 0, trainable_bytes = 0;
  int64_t trainable_not_fp32 = 0;            // the ones that get fp32 masters
  int64_t output_trainable = 0;              // elements of the output projection, when it trains
  c10::ScalarType trainable_dtype = c10::kFloat;
  std::set<std::string> adapted;             // the module kinds of layer 0 with adapters ("q_proj", ...)
};

ParameterCounts count_parameters(const lm::ModelConfig& shape, c10::ScalarType dtype,
                                 const std::optional<policy::LoraConfig>& lora) {
  lm::Transformer model(shape, at::TensorOptions().dtype(dtype).device(at::kMeta));
  if (lora) policy::attach_lora(*model, *lora, 0);
  if (lora && model->score && shape.head == lm::ModelHead::token_classification) {
    // The PPO critic trains its value head in full beside the adapters (trainer/critic.h).
    for (auto& p : model->score->parameters()) p.set_requires_grad(true);
  }
  ParameterCounts counts;
  for (const auto& item : model->named_parameters()) {
    const at::Tensor& p = item.value();
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    if (lm::is_adapter_parameter(item.key())) {
      const std::string& name = item.key();
      const std::string layer0 = "model.layers.0.";
      if (name.rfind(layer0, 0) == 0) {
        const std::string module = name.substr(0, name.find(".lora_"));
        counts.adapted.insert(module.substr(module.rfind('.') + 1));
      }
      counts.adapters += p.numel();
      counts.adapter_bytes += bytes;
    } else {
      counts.base += p.numel();
      counts.base_bytes += bytes;
    }
    if (!p.requires_grad()) continue;
    counts.trainable += p.numel();
    counts.trainable_bytes += bytes;
    counts.trainable_dtype = p.scalar_type();
    if (p.scalar_type() != at::kFloat && p.scalar_type() != at::kDouble) counts.trainable_not_fp32 += p.numel();
  }
  if (model->output_weight().requires_grad()) counts.output_trainable = model->output_weight().numel();
  return counts;
}

int64_t environment_int(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) return 0;
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  return end && *end == '\0' && parsed > 0 ? parsed : 0;
}

// The in-process reward models of a reward spec, composites included.
void reward_models(const RewardSpec& spec, std::vector<const RewardSpec*>& out) {
  if (spec.type == "rewardanything" || spec.type == "scalar_rm") out.push_back(&spec);
  for (const auto& component : spec.components) reward_models(component, out);
}

class Planner {
 public:
  Planner(const RunConfig& config, const MemoryPlanOptions& options)
      : config_(config), options_(options), device_(run_device(config.run.device, 0)) {
    if (!options_.shape) options_.shape = [](const std::string& path, const std::string&) { return model_shape(path); };
  }

  MemoryPlan plan() {
    plan_.memory = device_.is_cpu() ? "CPU RAM" : "GPU memory (" + device_.str() + ")";
    plan_.ranks_sharing = device_.is_cpu() ? std::max<int64_t>(1, options_.ranks_sharing) : 1;
    if (!device_.is_cpu()) {
      plan_.host_note =
          "CPU RAM per rank: no tensors stay on the host; each model's safetensors are memory-mapped while it loads "
          "(page cache, reclaimable) and copied to the GPU tensor by tensor";
    }
    const lm::ModelConfig shape = shape_at(config_.policy.model, "policy", config_.source + ": policy.model");
    const c10::ScalarType dtype = policy_dtype(config_.policy, config_.source);
    const ParameterCounts counts = count_parameters(shape, dtype, config_.policy.lora);
    policy_parts(counts, dtype);
    optimizer_parts(counts);
    reference_part(counts, dtype);
    if (config_.algorithm.gae()) critic_parts(shape);
    for (const RewardSpec* spec : reward_models_of()) reward_model_parts(*spec);
    rollout_parts(shape, dtype);
    update_parts(shape, dtype, counts);
    limit();
    std::ostringstream summary;
    summary << options_.world_size << " rank(s)" << (config_.distributed.zero1 ? ", ZeRO-1" : "") << "; policy "
            << shape.architecture << " " << count_text(counts.base) << " in " << lm::dtype_name(dtype);
    if (config_.policy.lora) {
      summary << ", LoRA r " << config_.policy.lora->r << " (" << count_text(counts.adapters) << " trainable)";
    }
    summary << (config_.policy.recompute ? ", recompute on" : ", recompute off");
    plan_.summary = summary.str();
    return plan_;
  }

 private:
  void add(std::string part, std::string detail, int64_t bytes, std::string phase = "") {
    plan_.items.push_back({std::move(part), std::move(detail), bytes, std::move(phase)});
  }

  std::vector<const RewardSpec*> reward_models_of() const {
    std::vector<const RewardSpec*> out;
    reward_models(config_.reward, out);
    return out;
  }

  void policy_parts(const ParameterCounts& counts, c10::ScalarType dtype) {
    add("policy weights", element_text(counts.base, dtype) + (config_.policy.lora ? ", frozen" : ""), counts.base_bytes);
    if (config_.policy.lora) {
      add("LoRA adapters", "r " + std::to_string(config_.policy.lora->r) + ": " + element_text(counts.adapters, counts.trainable_dtype),
          counts.adapter_bytes);
    }
  }

  // trainer/dist/data_parallel.cpp's layout: replicated, every rank holds gradients, masters and
  // moments for every trainable element; ZeRO-1 holds flat padded gradients plus an fp32
  // gradient shard, and masters and moments for its 1/world shard.
  // `prefix` names another trained model's parts ("critic "); its optimizer step is its own phase.
  void optimizer_parts(const ParameterCounts& counts, const std::string& prefix = "") {
    const int64_t world = options_.world_size, element = static_cast<int64_t>(c10::elementSize(counts.trainable_dtype));
    const std::string trained = count_text(counts.trainable) + " trained";
    const std::string step = prefix + "optimizer step";
    if (!config_.distributed.zero1) {
      add(prefix + "gradients", element_text(counts.trainable, counts.trainable_dtype), counts.trainable_bytes);
      add(prefix + "fp32 master weights",
          counts.trainable_not_fp32 ? count_text(counts.trainable_not_fp32) + " x 4 B" : "none: the trained weights are fp32",
          counts.trainable_not_fp32 * 4);
      add(prefix + "AdamW moments (fp32)", trained + " x 2 x 4 B", counts.trainable * 8);
      add(prefix + "fp32 gradient copies", counts.trainable_not_fp32 ? count_text(counts.trainable_not_fp32) + " x 4 B" : "none",
          counts.trainable_not_fp32 * 4, step);
      return;
    }
    const int64_t shard = (counts.trainable + world - 1) / world;
    const bool fp32 = counts.trainable_dtype == c10::kFloat;
    add(prefix + "gradients",
        "flat " + element_text(shard * world, counts.trainable_dtype) + " + fp32 shard " + count_text(shard) + " x 4 B",
        shard * world * element + shard * 4);
    add(prefix + "fp32 master weights", fp32 ? "none: the trained weights are fp32" : "shard " + count_text(shard) + " x 4 B",
        fp32 ? 0 : shard * 4);
    add(prefix + "AdamW moments (fp32)",
        "shard " + count_text(shard) + " (" + trained + " / " + std::to_string(world) + ") x 2 x 4 B", shard * 8);
    add(prefix + "shard copies", "2 x " + element_text(shard, counts.trainable_dtype), 2 * shard * element, step);
  }

  // PPO's critic (trainer/critic.h): the policy's body (or [critic] model's) with a one-label
  // head, its optimizer laid out as the policy's, and its update: the same decoder activations
  // per token as the policy's, and no log-prob head.
  void critic_parts(const lm::ModelConfig& policy_shape) {
    const CriticSection& critic = config_.critic;
    lm::ModelConfig shape = critic.model.empty() ? policy_shape : shape_at(critic.model, "critic", config_.source + ": critic.model");
    shape.head = lm::ModelHead::token_classification;
    shape.num_labels = 1;
    const c10::ScalarType dtype = critic.dtype.empty() ? policy_dtype(config_.policy, config_.source)
                                                       : lm::dtype_from_name(critic.dtype, config_.source + ": critic.dtype");
    const ParameterCounts counts = count_parameters(shape, dtype, critic.lora);
    add("critic weights", element_text(counts.base, dtype) + (critic.lora ? ", frozen but the head" : ""), counts.base_bytes);
    if (critic.lora) add("critic LoRA adapters", element_text(counts.adapters, counts.trainable_dtype), counts.adapter_bytes);
    optimizer_parts(counts, "critic ");
    const int64_t b = static_cast<int64_t>(c10::elementSize(dtype)), h = shape.hidden_size;
    const int64_t micro = micro_batch_rows(), T = sequence_tokens(), tokens = micro * T;
    LayerActivations kind;
    kind.element_bytes = b;
    if (critic.lora) {
      kind.frozen_base = true;
      kind.adapted = counts.adapted;
      kind.adapter_bytes = static_cast<int64_t>(c10::elementSize(counts.trainable_dtype));
      kind.rank = critic.lora->r;
    }
    const int64_t layer = layer_activation_bytes(shape, kind);
    const int64_t outside = (4 * h + 2 * b * h) * tokens + 2 * micro * T * T;
    const int64_t saved = critic.recompute ? shape.num_layers * b * h * tokens : shape.num_layers * layer * tokens;
    const int64_t work = (critic.recompute ? 2 : 1) * layer * tokens;
    add("critic update activations",
        std::to_string(micro) + " x " + std::to_string(T) + " tokens, recompute " + (critic.recompute ? "on" : "off") +
            ", plus one layer's backward",
        saved + outside + work, "critic update");
  }

  void reference_part(const ParameterCounts& counts, c10::ScalarType dtype) {
    if (config_.algorithm.kl_mode == KlMode::none) return add("reference model", "none: no KL term", 0);
    if (config_.policy.lora) return add("reference model", "none: the policy with its adapters off", 0);
    add("reference model", "frozen copy, " + element_text(counts.base, dtype), counts.base_bytes);
  }

  void reward_model_parts(const RewardSpec& spec) {
    core::JsonOptions options(spec.options, spec.where, "reward (type \"" + spec.type + "\")");
    if (spec.type == "scalar_rm") {
      const std::string model = options.string("model", "");
      if (model.empty()) options.fail("model", "is required (a *ForSequenceClassification checkpoint)");
      const std::string dtype_name = options.string("dtype", "");
      lm::LoadOptions load;
      load.device = c10::Device(options.string("device", config_.run.device));
      if (!dtype_name.empty()) load.dtype = lm::dtype_from_name(dtype_name, spec.where + ": dtype");
      const lm::ModelConfig shape = shape_at(model, "reward model", spec.where + ": reward.model");
      const c10::ScalarType dtype = lm::loaded_dtype(model, load, shape);
      const ParameterCounts counts = count_parameters(shape, dtype, std::nullopt);
      add("reward model weights", element_text(counts.base, dtype), elsewhere(load.device) ? 0 : counts.base_bytes);
      return;
    }
    const reward::JudgeOptions judge = reward::read_judge_options(options, config_.run.device, /*principle_required=*/false);
    if (judge.model.empty()) options.fail("model", "is required (the judge's model directory)");
    const lm::ModelConfig shape = shape_at(judge.model, "judge", spec.where + ": reward.model");
    const c10::ScalarType dtype = lm::loaded_dtype(judge.model, judge.load, shape);
    const ParameterCounts counts = count_parameters(shape, dtype, std::nullopt);
    const bool away = elsewhere(judge.load.device);
    const std::string where = away ? " (on " + judge.load.device.str() + ", not here)" : "";
    add("judge weights", shape.architecture + " " + element_text(counts.base, dtype) + where, away ? 0 : counts.base_bytes);
    rollout::GeneratorConfig generator = judge.generator;
    if (generator.max_length == 0) generator.max_length = std::min(shape.max_position_embeddings, lm::kDefaultMaxContext);
    const rollout::MemoryPlan cache = rollout::plan_generator_memory(shape, generator, dtype, judge.load.device);
    add("judge KV cache", std::to_string(generator.max_slots) + " slots x " + std::to_string(cache.max_length) + " positions x " +
                              rollout::format_bytes(cache.cache_bytes_per_slot / cache.max_length) + where,
        away ? 0 : cache.cache_bytes);
    add("judge work buffers", "one prefill layer, logits and sampling buffers" + where, away ? 0 : cache.workspace_bytes, "judging");
  }

  // A model's shape; an error names the recipe key that gave the path.
  lm::ModelConfig shape_at(const std::string& path, const std::string& role, const std::string& key) const {
    try {
      return options_.shape(path, role);
    } catch (const std::exception& error) {
      throw std::runtime_error(key + " (for the memory plan): " + error.what());
    }
  }

  bool elsewhere(const c10::Device& device) const {
    const c10::Device here = device_;
    if (here.is_cpu() != device.is_cpu()) return true;
    return !here.is_cpu() && device.has_index() && here.has_index() && device.index() != here.index();
  }

  int64_t sequence_tokens() const {
    const int64_t prompt = options_.longest_prompt > 0 ? options_.longest_prompt : config_.data.max_prompt_tokens;
    return prompt + config_.rollout.max_new_tokens;
  }

  // Rows of the largest micro-batch: micro_batch_size, fewer when micro_batch_tokens caps the
  // padded tokens of rows of the longest length (one row always goes).
  int64_t micro_batch_rows() const {
    const int64_t micro = config_.algorithm.micro_batch_size, cap = config_.algorithm.micro_batch_tokens;
    return cap > 0 ? std::clamp<int64_t>(cap / sequence_tokens(), 1, micro) : micro;
  }

  std::string length_text() const {
    return std::to_string(sequence_tokens()) + " positions (" +
           (options_.longest_prompt > 0 ? "the longest prompt " + std::to_string(options_.longest_prompt)
                                        : "data.max_prompt_tokens " + std::to_string(config_.data.max_prompt_tokens)) +
           " + " + std::to_string(config_.rollout.max_new_tokens) + " new)";
  }

  void rollout_parts(const lm::ModelConfig& shape, c10::ScalarType dtype) {
    rollout::GeneratorConfig generator;
    generator.max_slots = rollout_slots(config_, options_.world_size);
    generator.max_length = std::min(sequence_tokens(), shape.max_position_embeddings);
    const rollout::MemoryPlan cache = rollout::plan_generator_memory(shape, generator, dtype, device_);
    const std::string capped = generator.max_slots < config_.rollout.slots
                                   ? " (rollout.slots " + std::to_string(config_.rollout.slots) + ", capped at a rank's sequences)"
                                   : "";
    add("policy KV cache",
        std::to_string(generator.max_slots) + " slots" + capped + " x " + length_text() +
            (config_.rollout.release_cache ? ", freed for the update" : ""),
        cache.cache_bytes, config_.rollout.release_cache ? "rollout" : "");
    add("rollout work buffers", "one prefill layer, logits and sampling buffers", cache.workspace_bytes, "rollout");
  }

  // The update's forward and backward over one micro-batch (docs/memory.md): the tensors every
  // layer saves (with recompute, each layer's input), the final norm and the hidden states, the
  // mask; and the larger of the backward's work (one layer's gradients, or with recompute one
  // layer rebuilt and its gradients) and the chunked log-prob head's backward.
  void update_parts(const lm::ModelConfig& shape, c10::ScalarType dtype, const ParameterCounts& counts) {
    const int64_t b = static_cast<int64_t>(c10::elementSize(dtype)), h = shape.hidden_size, L = shape.num_layers;
    const int64_t micro = micro_batch_rows(), T = sequence_tokens(), tokens = micro * T;
    const bool lora = config_.policy.lora.has_value();
    LayerActivations kind;
    kind.element_bytes = b;
    if (lora) {
      kind.frozen_base = true;
      kind.adapted = counts.adapted;
      kind.adapter_bytes = static_cast<int64_t>(c10::elementSize(counts.trainable_dtype));
      kind.rank = config_.policy.lora->r;
    }
    const int64_t layer = layer_activation_bytes(shape, kind);
    const int64_t outside = (4 * h + (lora ? 1 : 2) * b * h) * tokens;  // the final norm and the hidden states
    const int64_t mask = 2 * micro * T * T;
    const int64_t chunk = std::min(config_.policy.logprob_chunk, tokens);
    const int64_t output_gradient = counts.output_trainable * (4 + (b == 4 ? 0 : 2 * b));
    const int64_t head = chunk * shape.vocab_size * (8 + b) + output_gradient + tokens * h * b;
    const std::string shape_text = std::to_string(micro) + " x " + std::to_string(T) + " tokens x " + std::to_string(L) +
                                   " layers x " + rollout::format_bytes(layer) + "/token";
    const int64_t full = L * layer * tokens + outside + mask;
    const int64_t recomputed = L * b * h * tokens + outside + mask;
    if (config_.policy.recompute) {
      add("activations, recompute on",
          "layer inputs of " + std::to_string(micro) + " x " + std::to_string(T) + " tokens (" + shape_text +
              " without recompute: " + rollout::format_bytes(full) + ")",
          recomputed, "update");
    } else {
      add("activations, recompute off", shape_text + " (" + rollout::format_bytes(recomputed) + " with policy.recompute)", full,
          "update");
    }
    // The backward's work on top: the log-prob head's first, then each layer's in turn (with
    // recompute the layer is rebuilt, its saved tensors and gradients); they do not overlap.
    const int64_t layer_work = (config_.policy.recompute ? 2 : 1) * layer * tokens;
    const std::string head_text = std::to_string(chunk) + "-token chunks of " + std::to_string(shape.vocab_size) + " logits" +
                                  (counts.output_trainable ? " + the output weight's fp32 gradient" : "");
    const std::string layer_text = config_.policy.recompute ? "one layer rebuilt with its gradients" : "one layer's gradients";
    if (head >= layer_work) {
      add("backward: log-prob head", head_text + "; more than " + layer_text + " (" + rollout::format_bytes(layer_work) + ")",
          head, "update");
    } else {
      add("backward: " + layer_text, "more than the log-prob head (" + rollout::format_bytes(head) + ", " + head_text + ")",
          layer_work, "update");
    }
  }

  void limit() {
    if (options_.limit_bytes >= 0) {
      plan_.limit_bytes = options_.limit_bytes;
      plan_.limit_source = options_.limit_source;
      return;
    }
    if (config_.run.memory_limit_gb > 0) {
      plan_.limit_bytes = static_cast<int64_t>(config_.run.memory_limit_gb * 1e9);
      plan_.limit_source = "run.memory_limit_gb";
      return;
    }
    if (config_.run.memory_limit_gb < 0) return;  // the check is off
    plan_.limit_bytes = rollout::memory_capacity(device_);
    plan_.limit_source = device_.is_cpu() ? "MemAvailable now" : "the GPU's total memory";
  }

  const RunConfig& config_;
  MemoryPlanOptions options_;
  c10::Device device_;
  MemoryPlan plan_;
};

}  // namespace

int64_t layer_activation_bytes(const lm::ModelConfig& c, const LayerActivations& kind) {
  const int64_t b = kind.element_bytes, h = c.hidden_size, q = c.q_size(), kv = c.kv_size(), i = c.intermediate_size;
  // Two RMSNorms: the fp32 input, and the normalised value when the norm's weight trains.
  int64_t bytes = 2 * (4 * h + (kind.frozen_base ? 0 : b * h));
  // The linear layers' inputs: attention (q, k, v), o_proj, MLP (gate, up), down_proj. A trained
  // weight keeps its input; a frozen one keeps nothing, and its adapter keeps the input, or an
  // fp32 copy of it per module when the adapters are fp32 on a bf16 base.
  const std::vector<std::pair<int64_t, std::vector<std::string>>> inputs = {
      {h, {"q_proj", "k_proj", "v_proj"}}, {q, {"o_proj"}}, {h, {"gate_proj", "up_proj"}}, {i, {"down_proj"}}};
  for (const auto& [size, modules] : inputs) {
    if (!kind.frozen_base) {
      bytes += b * size;
      continue;
    }
    int64_t adapted = 0;
    for (const auto& module : modules) adapted += kind.adapted.count(module);
    if (kind.adapter_bytes == b) bytes += adapted > 0 ? b * size : 0;
    else bytes += adapted * kind.adapter_bytes * size;
    bytes += adapted * kind.rank * kind.adapter_bytes;  // A's output, kept by B
  }
  // Attention: the rotated q and k, v, the output, and the fp32 log-sum-exp per head.
  bytes += 2 * b * q + 2 * b * kv + 4 * c.num_heads;
  // The MLP: gate (kept by silu), silu(gate) and up (kept by their product).
  bytes += 3 * b * i;
  // Qwen3's per-head q/k RMSNorms: the fp32 input, and the normalised value when they train.
  if (c.qk_norm) bytes += (4 + (kind.frozen_base ? 0 : b)) * (q + kv);
  return bytes;
}

int64_t rollout_slots(const RunConfig& config, int64_t world_size) {
  const int64_t sequences = std::max<int64_t>(1, config.rollout.prompts_per_step / std::max<int64_t>(1, world_size)) *
                            config.rollout.group_size;
  return std::min(config.rollout.slots, sequences);
}

int64_t MemoryPlan::held_bytes() const {
  int64_t total = 0;
  for (const auto& item : items) {
    if (item.phase.empty()) total += item.bytes;
  }
  return total;
}

std::pair<std::string, int64_t> MemoryPlan::peak_phase() const {
  std::vector<std::pair<std::string, int64_t>> phases;
  for (const auto& item : items) {
    if (item.phase.empty()) continue;
    auto it = std::find_if(phases.begin(), phases.end(), [&](const auto& p) { return p.first == item.phase; });
    if (it == phases.end()) phases.push_back({item.phase, item.bytes});
    else it->second += item.bytes;
  }
  std::pair<std::string, int64_t> peak{"", 0};
  for (const auto& phase : phases) {
    if (phase.second > peak.second) peak = phase;
  }
  return peak;
}

int64_t MemoryPlan::total_bytes() const { return held_bytes() + peak_phase().second; }

bool MemoryPlan::fits() const { return limit_bytes <= 0 || total_bytes() * ranks_sharing <= limit_bytes; }

std::string MemoryPlan::table() const {
  std::ostringstream out;
  char line[512];
  out << "memory plan, " << memory << " per rank: " << summary << "\n";
  std::snprintf(line, sizeof line, "  %-48s %12s  %s\n", "part", "bytes", "how");
  out << line;
  auto row = [&](const MemoryItem& item) {
    std::snprintf(line, sizeof line, "  %-48s %12s  %s\n", item.part.c_str(), rollout::format_bytes(item.bytes).c_str(),
                  item.detail.c_str());
    out << line;
  };
  for (const auto& item : items) {
    if (item.phase.empty()) row(item);
  }
  std::snprintf(line, sizeof line, "  %-48s %12s\n", "held for the whole run", rollout::format_bytes(held_bytes()).c_str());
  out << line;
  std::vector<std::string> seen;
  for (const auto& item : items) {
    if (item.phase.empty() || std::find(seen.begin(), seen.end(), item.phase) != seen.end()) continue;
    seen.push_back(item.phase);
    for (const auto& other : items) {
      if (other.phase == item.phase) row({"[" + other.phase + "] " + other.part, other.detail, other.bytes, other.phase});
    }
  }
  const auto peak = peak_phase();
  std::snprintf(line, sizeof line, "  %-48s %12s  held + the largest phase (%s)\n", "total per rank",
                rollout::format_bytes(total_bytes()).c_str(), peak.first.empty() ? "none" : peak.first.c_str());
  out << line;
  if (limit_bytes > 0) {
    const std::string ranks = ranks_sharing > 1 ? " x " + std::to_string(ranks_sharing) + " ranks on this machine" : "";
    std::snprintf(line, sizeof line, "  %-48s %12s  %s%s: %s\n", "available", rollout::format_bytes(limit_bytes).c_str(),
                  limit_source.c_str(), ranks.c_str(), fits() ? "fits" : "DOES NOT FIT");
    out << line;
  } else {
    out << "  available: unknown (" << (limit_source.empty() ? "no limit known for this device" : limit_source)
        << "), not checked\n";
  }
  if (!host_note.empty()) out << "  " << host_note << "\n";
  return out.str();
}

nlohmann::json MemoryPlan::to_json() const {
  nlohmann::json parts = nlohmann::json::array();
  for (const auto& item : items) {
    parts.push_back({{"part", item.part}, {"detail", item.detail}, {"bytes", item.bytes}, {"phase", item.phase}});
  }
  const auto peak = peak_phase();
  return {{"memory", memory},           {"summary", summary},         {"items", parts},
          {"held_bytes", held_bytes()}, {"peak_phase", peak.first},   {"peak_phase_bytes", peak.second},
          {"total_bytes", total_bytes()}, {"ranks_sharing", ranks_sharing}, {"limit_bytes", limit_bytes},
          {"limit_source", limit_source}, {"fits", fits()}, {"host_note", host_note}};
}

lm::ModelConfig model_shape(const std::string& path) {
  if (path.empty()) throw std::runtime_error("memory plan: a model path is empty");
  if (!fs::exists(path)) throw std::runtime_error(path + ": no such model directory or file (for its shape)");
  if (lm::is_gguf_file(path)) {
    lm::OpenOptions options;
    options.weights = false;
    return lm::open_pretrained(path, options).config;
  }
  return lm::load_config(path);
}

MemoryPlan plan_run_memory(const RunConfig& config, const MemoryPlanOptions& options) {
  return Planner(config, options).plan();
}

int64_t local_ranks_from_environment() {
  if (int64_t n = environment_int("LOCAL_WORLD_SIZE")) return n;
  if (int64_t n = environment_int("SLURM_NTASKS_PER_NODE")) return n;
  return 1;
}

int64_t world_size_from_environment() {
  if (int64_t n = environment_int("WORLD_SIZE")) return n;
  if (int64_t n = environment_int("SLURM_NTASKS")) return n;
  return 1;
}

}  // namespace precept::trainer
