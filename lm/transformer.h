// lm::Transformer: the one decoder-only transformer for the Llama, Mistral, Qwen2 and Qwen3
// families, chosen by ModelConfig flags (q/k/v bias, per-head q/k RMSNorm, tied embeddings,
// head_dim, RoPE scaling, sliding windows), with a causal-LM head or a sequence-classification
// head (`score`, for reward models). Parameter names equal Hugging Face's, so
// named_parameters() is the safetensors layout. Knows nothing of training or sampling.
#pragma once

#include "lm/model_config.h"

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace precept::lm {

// y = x W^T (+ b). Parameters are created uninitialised with the given options; a model's
// weights come from a checkpoint or from Transformer::init_random.
//
// A Linear may carry a low-rank adapter (policy/lora.h attaches it, nothing here creates one):
// then y = x W^T (+ b) + scale * B(A(dropout(x))), with A [r, in] and B [out, r] registered as
// submodules `lora_A` and `lora_B`, so that their parameters are named
// "<module>.lora_A.weight" as peft names them. As peft does for a bf16 or fp16 base, the adapter
// may be kept in fp32: x is cast to the adapter's dtype and the sum cast back to the base's.
// Dropout acts only in training mode with gradients on (rollouts and reference log-probs see
// none). With `adapter_enabled` false the layer is its base alone.
class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias, const at::TensorOptions& options);
  at::Tensor forward(const at::Tensor& x);  // [..., in] -> [..., out]
  at::Tensor weight;                        // [out, in]
  at::Tensor bias;                          // [out] or undefined

  std::shared_ptr<LinearImpl> lora_A, lora_B;  // null without an adapter
  double adapter_scale = 0.0;                  // alpha / r, or alpha / sqrt(r) (rsLoRA)
  double adapter_dropout = 0.0;
  bool adapter_enabled = true;

 private:
  at::Tensor base_forward(const at::Tensor& x);
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
  at::Tensor inv_freq;  // [head_dim / 2], fp32, scaling applied; on the CPU
  // positions [B, T] -> cos, sin [B, T, head_dim] in `dtype`
  std::pair<at::Tensor, at::Tensor> tables(const at::Tensor& positions, c10::ScalarType dtype) const;

 private:
  // inv_freq on the device of the last positions seen: copied once, not on every forward (a
  // host-to-device copy per step would block a CUDA graph capture of the decode step).
  mutable at::Tensor device_inv_freq_;
};

// The KV cache storage one forward call reads and writes. rollout/kv_cache.h owns and sizes it;
// the transformer only follows these rules:
//  - prefill (tokens [B, T], T > 1 or `prefill` set): attention runs within the batch exactly
//    as without a cache, then each layer's k (after RoPE) and v for columns 0..T-1 are stored at
//    positions 0..T-1 of cache slot `slots[i]`, taken from batch row `rows[i]` (several slots
//    may copy one row: n samples share one prompt's prefill);
//  - decode (T == 1): batch row b is cache slot b; the new k, v go to position positions[b],
//    then the query attends to keys [0, attend_length) of its slot that are at most its
//    position (and inside the sliding window, if any). No causal mask is aligned to a corner.
struct KvCacheView {
  std::vector<at::Tensor>* keys = nullptr;    // per layer [S, KV, L, D]
  std::vector<at::Tensor>* values = nullptr;  // per layer [S, KV, L, D]
  at::Tensor slots;                           // prefill: [N] int64 destination slots
  at::Tensor rows;                            // prefill: [N] int64 source rows; undefined = 0..N-1
  int64_t attend_length = 0;                  // decode: cache positions read, <= L
};

// What a cached forward hands each layer (built by TransformerImpl::forward_cached).
struct CacheStep {
  const KvCacheView* view = nullptr;
  bool decode = false;
  at::Tensor write_index;  // decode: [B * KV] rows of the cache seen as [S * KV * L, D]
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
  // x [B, T, C], cos/sin [B, T, D] -> [B, T, C]. With a cache (see KvCacheView), `layer` picks
  // the cache tensors; in decode `mask` is [B, 1, 1, attend_length] bool over cache positions.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask,
                     bool is_causal, const CacheStep* cache = nullptr, size_t layer = 0);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RmsNorm q_norm{nullptr}, k_norm{nullptr};

 private:
  void store_prefill(const at::Tensor& k, const at::Tensor& v, const KvCacheView& cache, size_t layer);
  at::Tensor decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const CacheStep& step,
                              size_t layer, const at::Tensor& mask);
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
                     bool is_causal, const CacheStep* cache = nullptr, size_t layer = 0);
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
  // The same, reading and writing a KV cache (see KvCacheView): prefill when T > 1, decode when
  // T == 1 (then key_valid is ignored and batch row b is cache slot b).
  at::Tensor forward_cached(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& key_valid,
                            const KvCacheView& cache);

  // Activation recomputation: when on and grad mode is enabled, each decoder layer keeps only
  // its input and recomputes its activations during backward (trades ~1/3 more compute for
  // memory that no longer grows with the number of layers).
  void set_recompute(bool on) { recompute_ = on; }
  bool recompute() const { return recompute_; }
  // hidden [..., C] -> logits [..., V] in the model dtype; for a classifier the head's outputs
  // [..., num_labels] (a token classifier adds its bias; pooling one position per sequence is
  // the sequence classifier's caller's job).
  at::Tensor logits(const at::Tensor& hidden);
  // The output projection [V, C] (the embedding when tied), or `score` [num_labels, C].
  const at::Tensor& output_weight() const;

  // Seeded random initialisation as transformers does it (normal(0, std), norms at 1, biases 0).
  void init_random(uint64_t seed, double std = 0.02);

  const ModelConfig& config() const { return config_; }
  Decoder model{nullptr};
  Linear lm_head{nullptr};  // [V, C], null when tied or for a classifier
  Linear score{nullptr};    // [num_labels, C], classifiers only (with a bias for token classifiers)

 private:
  AttentionMask build_mask(const at::Tensor& positions, const at::Tensor& key_valid) const;
  at::Tensor run_layers(const at::Tensor& x, const at::Tensor& positions, const AttentionMask& mask,
                        const CacheStep* cache);
  ModelConfig config_;
  Rope rope_;
  bool recompute_ = false;
};
TORCH_MODULE(Transformer);

// True for the parameters of a low-rank adapter ("....lora_A.weight", "....lora_B.weight"):
// they are not part of the model's own checkpoint (lm/pretrained.h skips them) but of an
// adapter's (policy/lora.h).
bool is_adapter_parameter(const std::string& name);

}  // namespace precept::lm
