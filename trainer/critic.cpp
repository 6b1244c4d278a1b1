// The PPO critic; see critic.h.
#include "trainer/critic.h"

#include "core/random_streams.h"
#include "lm/pretrained.h"
#include "lm/safetensors.h"
#include "policy/lora.h"
#include "trainer/checkpoint.h"
#include "trainer/run_parts.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <stdexcept>

namespace precept::trainer {
namespace fs = std::filesystem;

namespace {

constexpr const char* kValueHeadFile = "value_head.safetensors";

// "LlamaForCausalLM" -> "LlamaForTokenClassification".
std::string token_classifier_name(const std::string& architecture) {
  const size_t at = architecture.find("For");
  return (at == std::string::npos ? architecture : architecture.substr(0, at)) + "ForTokenClassification";
}

bool is_saved_critic(const fs::path& dir) {
  if (!fs::is_directory(dir) || !fs::exists(dir / "config.json")) return false;
  return lm::load_config(dir).head == lm::ModelHead::token_classification;
}

}  // namespace

lm::Transformer make_critic_model(const RunConfig& config, c10::Device device, uint64_t seed) {
  const CriticSection& critic = config.critic;
  const std::string path = critic.model.empty() ? config.policy.model : critic.model;
  lm::LoadOptions load;
  load.dtype = critic.dtype.empty() ? policy_dtype(config.policy, config.source)
                                    : lm::dtype_from_name(critic.dtype, config.source + ": critic.dtype");
  load.device = device;
  const std::string where = critic.model.empty() ? "policy.model" : "critic.model";
  if (is_saved_critic(path)) {
    lm::Transformer model = lm::load_pretrained(path, load);
    if (model->config().num_labels != 1) {
      throw std::runtime_error(path + " (" + where + "): a critic has one label; this token classifier has " +
                               std::to_string(model->config().num_labels));
    }
    return model;
  }
  lm::Transformer source = lm::load_pretrained(path, load);
  lm::ModelConfig shape = source->config();
  if (shape.head == lm::ModelHead::sequence_classification && shape.num_labels != 1) {
    throw std::runtime_error(path + " (" + where + "): a reward model whose score head becomes the critic's must have one label, not " +
                             std::to_string(shape.num_labels));
  }
  const bool from_reward_model = shape.head == lm::ModelHead::sequence_classification;
  shape.head = lm::ModelHead::token_classification;
  shape.num_labels = 1;
  shape.classifier_bias = true;
  shape.architecture = token_classifier_name(shape.architecture);
  lm::Transformer model(shape, at::TensorOptions().dtype(*load.dtype).device(device));
  at::NoGradGuard no_grad;
  const auto source_parameters = source->named_parameters();
  for (auto& item : model->named_parameters()) {
    if (item.key().rfind("score.", 0) == 0) continue;
    const at::Tensor* from = source_parameters.find(item.key());
    if (!from) throw std::runtime_error(path + " (" + where + "): has no tensor " + item.key() + " for the critic");
    item.value().copy_(*from);
  }
  model->score->bias.zero_();
  if (from_reward_model) {
    model->score->weight.copy_(source->score->weight);
  } else {
    auto generator = at::make_generator<at::CPUGeneratorImpl>(core::stream_seed(seed, core::Stream::critic));
    model->score->weight.copy_(at::empty(model->score->weight.sizes(), at::kFloat).normal_(0.0, critic.head_init_std, generator));
  }
  return model;
}

Critic::Critic(const RunConfig& config, std::shared_ptr<Communicator> communicator, c10::Device device,
               int64_t total_optimizer_steps)
    : config_(config), communicator_(std::move(communicator)) {
  model_ = make_critic_model(config, device, config.run.seed);
  model_->train();
  model_->set_recompute(config.critic.recompute);
  if (config.critic.lora) {
    policy::attach_lora(*model_, *config.critic.lora, core::stream_seed(config.run.seed, core::Stream::critic) + 1);
    // The value head is new to the body: it trains in full beside the adapters.
    for (auto& p : model_->score->parameters()) p.set_requires_grad(true);
  }
  broadcast_parameters(*model_, *communicator_);
  OptimSection optim = config.optim;
  optim.lr = config.critic.lr;
  optim.weight_decay = config.critic.weight_decay;
  optim.max_grad_norm = config.critic.max_grad_norm;
  optim.warmup_steps = config.critic.warmup_steps;
  optimizer_ = make_optimizer(*model_, communicator_, optim, config.distributed);
  schedule_ = lr_schedule_of(optim, total_optimizer_steps);
}

Critic::~Critic() = default;

at::Tensor Critic::values(const policy::SequenceBatch& batch) {
  const at::Tensor hidden = model_->forward(batch.tokens, batch.positions, batch.valid);  // [B, T, C]
  const int64_t B = batch.predictor.size(0), R = batch.predictor.size(1);
  const at::Tensor rows = hidden.reshape({-1, hidden.size(-1)}).index_select(0, batch.predictor.reshape({-1}));
  const at::Tensor values = model_->logits(rows).to(at::kFloat).view({B, R});
  return values.masked_fill(batch.mask.logical_not(), 0.0);
}

Optimization Critic::optimization() {
  return Optimization{*optimizer_, schedule_, optimizer_steps_, config_.critic.max_grad_norm};
}

double Critic::learning_rate() const {
  return trainer::learning_rate(schedule_, std::max<int64_t>(0, optimizer_steps_ - 1));
}

std::map<std::string, at::Tensor> Critic::optimizer_state() { return optimizer_->state(); }

void Critic::save(const fs::path& folder, const std::map<std::string, at::Tensor>& optimizer_state) {
  const fs::path dir = folder / "critic";
  if (config_.critic.lora) {
    const std::string base = config_.critic.model.empty() ? config_.policy.model : config_.critic.model;
    policy::save_adapter(*model_, *config_.critic.lora, dir, fs::absolute(base).string());
    std::map<std::string, at::Tensor> head;
    for (const auto& item : model_->score->named_parameters()) head["score." + item.key()] = item.value();
    write_tensor_file(dir / kValueHeadFile, head);
  } else {
    lm::SaveOptions save;
    save.source_dir = fs::path(config_.policy.model);
    lm::save_pretrained(*model_, dir, save);
  }
  write_tensor_file(folder / "critic_optimizer.safetensors", optimizer_state);
}

void Critic::load(const fs::path& folder, int64_t optimizer_steps) {
  const fs::path dir = folder / "critic";
  if (!fs::exists(dir)) {
    throw std::runtime_error(folder.string() + " holds no critic/ (was it written by a run without advantage = \"gae\"?)");
  }
  if (config_.critic.lora) {
    if (!fs::exists(dir / policy::kAdapterConfigFile)) {
      throw std::runtime_error(dir.string() + " holds a full critic, and the recipe trains critic adapters ([critic.lora])");
    }
    policy::load_adapter_weights(*model_, dir);
    const auto head = read_tensor_file(dir / kValueHeadFile);
    at::NoGradGuard no_grad;
    for (auto& item : model_->score->named_parameters()) {
      const std::string name = "score." + item.key();
      auto it = head.find(name);
      if (it == head.end() || it->second.sizes() != item.value().sizes()) {
        throw std::runtime_error((dir / kValueHeadFile).string() + ": tensor " + name + " is missing or misshapen");
      }
      item.value().copy_(it->second);
    }
  } else {
    if (fs::exists(dir / policy::kAdapterConfigFile)) {
      throw std::runtime_error(dir.string() + " holds a critic adapter, and the recipe has no [critic.lora]");
    }
    lm::load_weights(*model_, dir);
  }
  optimizer_->load_state(read_tensor_file(folder / "critic_optimizer.safetensors"));
  optimizer_steps_ = optimizer_steps;
}

}  // namespace precept::trainer
