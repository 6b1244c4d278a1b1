// lm::Transformer: the one decoder-only transformer for the Llama, Mistral, Qwen2 and Qwen3
// families, chosen by ModelConfig flags (q/k/v bias, per-head q/k RMSNorm, tied embeddings,
// head_dim, RoPE scaling, sliding windows). Parameter names equal Hugging Face's, so
// named_parameters() is the safetensors layout. Knows nothing of training or sampling.
#pragma once

#include "lm/model_config.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <optional>

namespace precept::lm {

// y = x W^T (+ b). Parameters are created uninitialised with the given options; a model's
// weights come from a checkpoint or from Transformer::init_random.
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [..., in] -> [..., out]
  at::Tensor weight;                        // [out, in]
  at::Tensor bias;                          // [out] or undefined
};
TORCH_MODULE(Linear);

// Token embedding table; forward looks rows up.
class EmbeddingImpl : public torch::nn::Module {
 public:
  EmbeddingImpl(int64_t vocab_size, int64_t dim, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& tokens);  // [B, T] -> [B, T, dim]
  at::Tensor weight;                             // [V, dim]
};
TORCH_MODULE(Embedding);

// RMSNorm as Hugging Face computes it: statistics in fp32, the scale applied in the input dtype.
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t dim, double eps, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [..., dim]
  at::Tensor weight;                        // [dim]
  double eps;
};
TORCH_MODULE(RmsNorm);

// Rotary embedding tables computed from positions on the fly (half-split rotation).
struct Rope {
  explicit Rope(const ModelConfig& config);
  at::Tensor inv_freq;  // [head_dim / 2], fp32, scaling applied
  // positions [B, T] -> cos, sin [B, T, head_dim] in `dtype`
  std::pair<at::Tensor, at::Tensor> tables(const at::Tensor& positions, c10::ScalarType dtype) const;
};

// Which keys each query may see. Built once per forward and shared by all layers.
struct AttentionMask {
  // [B, 1, T, S] bool (true = attend), or undefined when plain causal attention suffices.
  at::Tensor full;
  at::Tensor windowed;  // same for sliding-window layers, undefined if there are none
  bool causal = true;   // use is_causal when `full` is undefined
};

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const ModelConfig& config, const at::TensorOptions& options);
  // x [B, T, C], cos/sin [B, T, D] -> [B, T, C]
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     bool is_causal);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RmsNorm q_norm{nullptr}, k_norm{nullptr};

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [B, T, C] -> [B, T, C], down(silu(gate x) * up x)
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const ModelConfig& config, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     bool is_causal);
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The "model." part of a Hugging Face causal LM: embeddings, layers, final norm.
class DecoderImpl : public torch::nn::Module {
 public:
  DecoderImpl(const ModelConfig& config, const at::TensorOptions& options);
  Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers;
  RmsNorm norm{nullptr};
};
TORCH_MODULE(Decoder);

class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(ModelConfig config, const at::TensorOptions& options);

  // tokens [B, T] int64, positions [B, T] int64 (the position of each token in its sequence),
  // key_valid [B, T] bool (false for padding; undefined = all valid) -> hidden [B, T, C].
  at::Tensor forward(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& key_valid = {});
  // hidden [..., C] -> logits [..., V] in the model dtype.
  at::Tensor logits(const at::Tensor& hidden);
  // The output projection [V, C] (the embedding when tied).
  const at::Tensor& output_weight() const;

  // Seeded random initialisation as transformers does it (normal(0, std), norms at 1, biases 0).
  void init_random(uint64_t seed, double std = 0.02);

  const ModelConfig& config() const { return config_; }
  Decoder model{nullptr};
  Linear lm_head{nullptr};  // [V, C], null when tied

 private:
  AttentionMask build_mask(const at::Tensor& positions, const at::Tensor& key_valid) const;
  ModelConfig config_;
  Rope rope_;
};
TORCH_MODULE(Transformer);

}  // namespace precept::lm
