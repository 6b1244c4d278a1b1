// Scalar (Bradley-Terry) reward model: see scalar_reward_model.h and docs/rewards.md.
#include "reward/scalar_reward_model.h"

#include "lm/pretrained.h"
#include "text/unicode.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace precept::reward {
using json = nlohmann::json;

namespace {

// A reward model is a sequence classifier with exactly one label.
void check_reward_head(const lm::ModelConfig& config, const std::string& source) {
  if (config.head != lm::ModelHead::sequence_classification) {
    throw std::invalid_argument(source + ": " + config.architecture +
                                " is a causal LM; a reward model is a XxxForSequenceClassification checkpoint");
  }
  if (config.num_labels != 1) {
    throw std::invalid_argument(source + ": a reward model needs num_labels = 1 (one score per sequence), but " +
                                config.architecture + " has " + std::to_string(config.num_labels) +
                                " labels (id2label in config.json)");
  }
}

// The head is checked before any weight is read.
lm::Pretrained open_reward_model(const ScalarRewardModelConfig& config) {
  check_reward_head(lm::load_config(config.model_dir), (config.model_dir / "config.json").string());
  lm::OpenOptions options;
  options.load.dtype = config.dtype;
  options.load.device = config.device;
  options.chat_template = config.chat_template;
  return lm::open_pretrained(config.model_dir, options);
}

}  // namespace

int64_t pooled_position(const std::vector<int64_t>& ids, int64_t pad_token_id) {
  if (pad_token_id < 0) return static_cast<int64_t>(ids.size()) - 1;
  for (int64_t i = static_cast<int64_t>(ids.size()) - 1; i >= 0; --i) {
    if (ids[i] != pad_token_id) return i;
  }
  return 0;  // all pad: transformers' argmax over zeros
}

at::Tensor classify_sequences(lm::TransformerImpl& model, const std::vector<std::vector<int64_t>>& sequences,
                              int64_t batch_size) {
  const lm::ModelConfig& config = model.config();
  if (!model.score) {
    throw std::invalid_argument("classify_sequences: " + config.architecture + " has no sequence-classification head");
  }
  if (batch_size < 1) throw std::invalid_argument("classify_sequences: batch_size must be >= 1");
  const int64_t N = static_cast<int64_t>(sequences.size());
  at::Tensor out = at::empty({N, config.num_labels}, at::kFloat);  // [N, L]
  for (int64_t i = 0; i < N; ++i) {
    if (sequences[i].empty()) throw std::invalid_argument("classify_sequences: sequence " + std::to_string(i) + " is empty");
  }
  // Longest first, so that each batch pads little.
  std::vector<int64_t> order(N);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return sequences[a].size() > sequences[b].size(); });

  at::NoGradGuard no_grad;
  const c10::Device device = model.output_weight().device();
  const int64_t filler = config.pad_token_id >= 0 ? config.pad_token_id : 0;
  for (int64_t start = 0; start < N; start += batch_size) {
    const int64_t B = std::min(batch_size, N - start);
    const int64_t T = static_cast<int64_t>(sequences[order[start]].size());
    at::Tensor tokens = at::full({B, T}, filler, at::kLong);  // [B, T], right-padded
    at::Tensor pooled = at::empty({B}, at::kLong);            // [B]
    for (int64_t row = 0; row < B; ++row) {
      const auto& ids = sequences[order[start + row]];
      tokens[row].narrow(0, 0, static_cast<int64_t>(ids.size())).copy_(at::tensor(ids, at::kLong));
      pooled[row] = pooled_position(ids, config.pad_token_id);
    }
    // No key_valid mask: with right padding every real token sits before the padding, so causal
    // attention alone keeps the padding out of every position that is read, and the plain causal
    // path (is_causal, flash kernels on GPU) stays available.
    at::Tensor positions = at::arange(T, at::kLong).unsqueeze(0).expand({B, T}).contiguous();  // [B, T]
    at::Tensor hidden = model.forward(tokens.to(device), positions.to(device));                 // [B, T, C]
    at::Tensor rows = at::arange(B, at::TensorOptions().dtype(at::kLong).device(device));
    at::Tensor last = hidden.index({rows, pooled.to(device)});    // [B, C]
    at::Tensor logits = model.logits(last).to(at::kFloat).cpu();  // [B, L]
    for (int64_t row = 0; row < B; ++row) out[order[start + row]].copy_(logits[row]);
  }
  return out;
}

ScalarRewardModel::ScalarRewardModel(ScalarRewardModelConfig config) : ScalarRewardModel(open_reward_model(config), config) {}

ScalarRewardModel::ScalarRewardModel(lm::Pretrained pretrained, ScalarRewardModelConfig config)
    : model_(std::move(pretrained.model)),
      tokenizer_(std::move(pretrained.tokenizer)),
      chat_(pretrained.require_chat_template("the reward model")),
      config_(std::move(config)) {
  check_model();
}

ScalarRewardModel::ScalarRewardModel(lm::Transformer model, std::shared_ptr<const text::Tokenizer> tokenizer,
                                     text::ChatTemplate chat, ScalarRewardModelConfig config)
    : model_(std::move(model)), tokenizer_(std::move(tokenizer)), chat_(std::move(chat)), config_(std::move(config)) {
  check_model();
}

void ScalarRewardModel::check_model() {
  const std::string source = config_.model_dir.empty() ? "reward model '" + config_.name + "'"
                                                       : (config_.model_dir / "config.json").string();
  check_reward_head(model_->config(), source);
  if (!model_->score) throw std::invalid_argument(source + ": the model has no score head");
  if (!tokenizer_) throw std::invalid_argument(source + ": no tokenizer");
  if (config_.batch_size < 1) throw std::invalid_argument("reward model '" + config_.name + "': batch_size must be >= 1");
  if (config_.max_tokens < 0) throw std::invalid_argument("reward model '" + config_.name + "': max_tokens must be >= 0");
  max_tokens_ = config_.max_tokens > 0 ? config_.max_tokens : model_->config().max_position_embeddings;
  model_->eval();
  // A template that cannot render a plain pair is broken configuration: fail now, not per response.
  try {
    render("Hello", "Hi.");
  } catch (const std::exception& error) {
    throw std::invalid_argument(source + ": the chat template cannot render a [user, assistant] pair: " + error.what());
  }
}

std::string ScalarRewardModel::render(const std::string& prompt, const std::string& response) const {
  std::vector<text::ChatMessage> messages;
  if (!config_.system_prompt.empty()) messages.push_back({"system", config_.system_prompt, std::nullopt});
  messages.push_back({"user", text::unicode::to_valid_utf8(prompt), std::nullopt});
  messages.push_back({"assistant", text::unicode::to_valid_utf8(response), std::nullopt});
  return chat_.render(messages, /*add_generation_prompt=*/false, config_.enable_thinking);
}

std::vector<int64_t> ScalarRewardModel::encode(const std::string& prompt, const std::string& response) const {
  return tokenizer_->encode(render(prompt, response), /*add_special=*/false);
}

std::vector<double> ScalarRewardModel::score_sequences(const std::vector<std::vector<int64_t>>& sequences) {
  at::Tensor logits = classify_sequences(*model_, sequences, config_.batch_size);  // [N, 1]
  std::vector<double> out(sequences.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = logits[static_cast<int64_t>(i)][0].item<double>();
  return out;
}

GroupScores ScalarRewardModel::score(const Group& group) { return score_batch({group}).front(); }

std::vector<GroupScores> ScalarRewardModel::score_batch(const std::vector<Group>& groups) {
  std::vector<GroupScores> out(groups.size());
  std::vector<std::vector<int64_t>> sequences;  // every pair that can be scored
  std::vector<std::pair<size_t, size_t>> owner;  // (group, response) of each sequence
  for (size_t g = 0; g < groups.size(); ++g) {
    const Group& group = groups[g];
    if (group.responses.empty()) {
      throw std::invalid_argument("reward model '" + config_.name + "': a group needs at least one response");
    }
    GroupScores& scores = out[g];
    scores.rewards.assign(group.responses.size(), config_.fallback_value);
    scores.valid.assign(group.responses.size(), false);
    json tokens = json::array();
    for (size_t i = 0; i < group.responses.size(); ++i) {
      std::string error;
      std::vector<int64_t> ids;
      try {
        ids = encode(group.prompt, group.responses[i]);
      } catch (const std::exception& failure) {
        error = std::string("chat template: ") + failure.what();
      }
      tokens.push_back(ids.size());
      if (error.empty() && ids.empty()) error = "the rendered pair has no tokens";
      if (error.empty() && static_cast<int64_t>(ids.size()) > max_tokens_) {
        error = std::to_string(ids.size()) + " tokens, more than max_tokens = " + std::to_string(max_tokens_);
      }
      if (!error.empty()) {
        ++scores.failures;
        scores.diagnostics["errors"][std::to_string(i)] = error;
        continue;
      }
      sequences.push_back(std::move(ids));
      owner.emplace_back(g, i);
    }
    scores.diagnostics["tokens"] = tokens;
  }
  if (!sequences.empty()) {
    const std::vector<double> values = score_sequences(sequences);
    for (size_t k = 0; k < values.size(); ++k) {
      auto [g, i] = owner[k];
      if (std::isfinite(values[k])) {
        out[g].rewards[i] = values[k];
        out[g].valid[i] = true;
      } else {
        ++out[g].failures;
        out[g].diagnostics["errors"][std::to_string(i)] = "the model's score is not finite";
      }
    }
  }
  return out;
}

}  // namespace precept::reward
