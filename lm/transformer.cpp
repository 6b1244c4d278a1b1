#include "lm/transformer.h"

#include "lm/cpu_matvec.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/init.h>

#include <cmath>
#include <limits>

namespace precept::lm {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({out_features, in_features}, options));
  if (with_bias) bias = register_parameter("bias", at::empty({out_features}, options));
}

at::Tensor LinearImpl::forward(const at::Tensor& x) {
  at::Tensor out = base_forward(x);
  if (!lora_A || !adapter_enabled) return out;
  // peft's LoRA Linear.forward: the input cast to the adapter's dtype, B(A(dropout(x))) * scale
  // added to the base result (promoting it to the adapter's dtype), the sum cast back.
  at::Tensor h = x.scalar_type() == lora_A->weight.scalar_type() ? x : x.to(lora_A->weight.scalar_type());
  if (adapter_dropout > 0.0 && is_training() && at::GradMode::is_enabled()) h = at::dropout(h, adapter_dropout, true);
  at::Tensor sum = out + lora_B->base_forward(lora_A->base_forward(h)) * adapter_scale;
  return sum.scalar_type() == out.scalar_type() ? sum : sum.to(out.scalar_type());
}

namespace {

// x [..., in] W^T (+ bias) for the projections and the head. Decode on CPU multiplies a few rows
// by a large weight: inside the generator's CpuMatvecScope, up to 64 rows, precept's own kernel
// streams the weight at the memory's rate (lm/cpu_matvec.h). Elsewhere MKL's sgemm packs
// (copies) the whole weight on every call; computing (W x^T)^T streams the weight once instead
// and is 1.3-2x faster for 2-64 rows (bench/generate_bench.py). Other shapes and devices:
// at::linear.
at::Tensor linear_rows(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  const int64_t rows = x.numel() / x.size(-1);
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = weight.size(0);
  if (rows <= kMatvecMaxRows) {
    const at::Tensor flat = x.reshape({rows, x.size(-1)});
    if (cpu_matvec_applies(flat, weight)) return cpu_matvec(flat, weight, bias).view(shape);
  }
  if (rows > 1 && rows <= 64 && x.device().is_cpu() && x.scalar_type() == at::kFloat) {
    at::Tensor out = at::mm(weight, x.reshape({rows, x.size(-1)}).t()).t();  // [rows, out]
    if (bias.defined()) out = out + bias;
    return out.view(shape);
  }
  return at::linear(x, weight, bias);
}

}  // namespace

at::Tensor LinearImpl::base_forward(const at::Tensor& x) { return linear_rows(x, weight, bias); }

bool is_adapter_parameter(const std::string& name) {
  return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos;
}

EmbeddingImpl::EmbeddingImpl(int64_t vocab_size, int64_t dim, const at::TensorOptions& options) {
  weight = register_parameter("weight", at::empty({vocab_size, dim}, options));
}

at::Tensor EmbeddingImpl::forward(const at::Tensor& tokens) { return at::embedding(weight, tokens); }

RmsNormImpl::RmsNormImpl(int64_t dim, double eps_, const at::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", at::ones({dim}, options));
}

at::Tensor RmsNormImpl::forward(const at::Tensor& x) {
  at::Tensor x32 = x.to(at::kFloat);
  at::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (x32 * at::rsqrt(variance + eps)).to(x.scalar_type());
}

Rope::Rope(const ModelConfig& config) {
  const int64_t dim = config.head_dim;
  // Same arithmetic as transformers: fp32 exponents, base ** (2i / dim).
  at::Tensor exponents = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
  inv_freq = 1.0 / at::pow(config.rope.theta, exponents);
  const RopeConfig& rope = config.rope;
  if (rope.scaling == RopeScaling::linear) {
    inv_freq = inv_freq / rope.factor;
  } else if (rope.scaling == RopeScaling::llama3) {
    // Llama 3.1: long wavelengths are divided by `factor`, short ones kept, the band between
    // them interpolated smoothly.
    const double old_context = static_cast<double>(rope.original_max_position);
    const double low_freq_wavelen = old_context / rope.low_freq_factor;
    const double high_freq_wavelen = old_context / rope.high_freq_factor;
    at::Tensor wavelen = 2 * M_PI / inv_freq;
    at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / rope.factor, inv_freq);
    at::Tensor smooth = (old_context / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled;
    at::Tensor medium = at::logical_not(wavelen < high_freq_wavelen).logical_and(at::logical_not(wavelen > low_freq_wavelen));
    inv_freq = at::where(medium, smoothed, scaled);
  }
}

std::pair<at::Tensor, at::Tensor> Rope::tables(const at::Tensor& positions, c10::ScalarType dtype) const {
  if (!device_inv_freq_.defined() || device_inv_freq_.device() != positions.device()) {
    device_inv_freq_ = inv_freq.to(positions.device());
  }
  at::Tensor freqs = positions.unsqueeze(-1).to(at::kFloat) * device_inv_freq_;  // [B, T, D/2]
  at::Tensor angles = at::cat({freqs, freqs}, -1);                                               // [B, T, D]
  return {angles.cos().to(dtype), angles.sin().to(dtype)};
}

namespace {
// x [B, H, T, D]: x * cos + rotate_half(x) * sin, with cos/sin [B, T, D].
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
}
}  // namespace

AttentionImpl::AttentionImpl(const ModelConfig& config, const at::TensorOptions& options)
    : num_heads_(config.num_heads), num_kv_heads_(config.num_kv_heads), head_dim_(config.head_dim) {
  q_proj = register_module("q_proj", Linear(config.hidden_size, config.q_size(), config.qkv_bias, options));
  k_proj = register_module("k_proj", Linear(config.hidden_size, config.kv_size(), config.qkv_bias, options));
  v_proj = register_module("v_proj", Linear(config.hidden_size, config.kv_size(), config.qkv_bias, options));
  o_proj = register_module("o_proj", Linear(config.q_size(), config.hidden_size, config.o_bias, options));
  if (config.qk_norm) {
    q_norm = register_module("q_norm", RmsNorm(config.head_dim, config.rms_norm_eps, options));
    k_norm = register_module("k_norm", RmsNorm(config.head_dim, config.rms_norm_eps, options));
  }
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                  const at::Tensor& mask, bool is_causal, const CacheStep* cache, size_t layer) {
  const int64_t B = x.size(0), T = x.size(1);
  at::Tensor q = q_proj(x).view({B, T, num_heads_, head_dim_});     // [B, T, H, D]
  at::Tensor k = k_proj(x).view({B, T, num_kv_heads_, head_dim_});  // [B, T, KV, D]
  at::Tensor v = v_proj(x).view({B, T, num_kv_heads_, head_dim_});
  if (q_norm) {
    q = q_norm(q);
    k = k_norm(k);
  }
  q = apply_rope(q.transpose(1, 2), cos, sin);  // [B, H, T, D]
  k = apply_rope(k.transpose(1, 2), cos, sin);  // [B, KV, T, D]
  v = v.transpose(1, 2);
  if (cache && cache->decode) return o_proj(decode_attention(q, k, v, *cache, layer, mask));
  if (cache) store_prefill(k, v, *cache->view, layer);
  at::Tensor out = at::scaled_dot_product_attention(q, k, v, mask.defined() ? std::optional<at::Tensor>(mask) : std::nullopt,
                                                    /*dropout_p=*/0.0, /*is_causal=*/is_causal && !mask.defined(),
                                                    /*scale=*/std::nullopt, /*enable_gqa=*/num_kv_heads_ != num_heads_);
  return o_proj(out.transpose(1, 2).reshape({B, T, num_heads_ * head_dim_}));
}

void AttentionImpl::store_prefill(const at::Tensor& k, const at::Tensor& v, const KvCacheView& cache, size_t layer) {
  const int64_t T = k.size(2);
  at::Tensor& key_cache = (*cache.keys)[layer];  // [S, KV, L, D]
  at::Tensor& value_cache = (*cache.values)[layer];
  TORCH_CHECK(T <= key_cache.size(2), "KV cache: a prefill of ", T, " tokens does not fit ", key_cache.size(2),
              " positions");
  at::Tensor k_rows = cache.rows.defined() ? k.index_select(0, cache.rows) : k;
  at::Tensor v_rows = cache.rows.defined() ? v.index_select(0, cache.rows) : v;
  key_cache.narrow(2, 0, T).index_copy_(0, cache.slots, k_rows.to(key_cache.scalar_type()));
  value_cache.narrow(2, 0, T).index_copy_(0, cache.slots, v_rows.to(value_cache.scalar_type()));
}

// One new token per slot: q [B, H, 1, D], k/v [B, KV, 1, D] -> [B, 1, H * D]. The new k, v are
// written at each slot's position; the query then reads keys [0, attend_length) of its own
// slot, masked by the additive fp32 `mask` [B, 1, 1, attend_length] (0 or -inf). Grouped-query heads share their KV head by
// viewing q as [B, KV, H / KV, D], so the cache is never repeated or copied.
at::Tensor AttentionImpl::decode_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                           const CacheStep& step, size_t layer, const at::Tensor& mask) {
  const int64_t B = q.size(0), L = step.view->attend_length;
  at::Tensor& key_cache = (*step.view->keys)[layer];  // [S, KV, Lmax, D]
  at::Tensor& value_cache = (*step.view->values)[layer];
  key_cache.view({-1, head_dim_})
      .index_copy_(0, step.write_index, k.reshape({B * num_kv_heads_, head_dim_}).to(key_cache.scalar_type()));
  value_cache.view({-1, head_dim_})
      .index_copy_(0, step.write_index, v.reshape({B * num_kv_heads_, head_dim_}).to(value_cache.scalar_type()));
  at::Tensor keys = key_cache.narrow(0, 0, B).narrow(2, 0, L);  // [B, KV, L, D], a view
  at::Tensor values = value_cache.narrow(0, 0, B).narrow(2, 0, L);
  const int64_t group = num_heads_ / num_kv_heads_;
  at::Tensor grouped = q.to(keys.scalar_type()).reshape({B, num_kv_heads_, group, head_dim_});  // [B, KV, G, D]
  at::Tensor scores = at::matmul(grouped, keys.transpose(-1, -2));                                // [B, KV, G, L]
  scores = scores.to(at::kFloat).mul_(1.0 / std::sqrt(static_cast<double>(head_dim_))).add_(mask);
  at::Tensor weights = at::softmax(scores, -1).to(values.scalar_type());
  at::Tensor out = at::matmul(weights, values);  // [B, KV, G, D]
  return out.reshape({B, 1, num_heads_ * head_dim_}).to(q.scalar_type());
}

MlpImpl::MlpImpl(const ModelConfig& config, const at::TensorOptions& options) {
  gate_proj = register_module("gate_proj", Linear(config.hidden_size, config.intermediate_size, config.mlp_bias, options));
  up_proj = register_module("up_proj", Linear(config.hidden_size, config.intermediate_size, config.mlp_bias, options));
  down_proj = register_module("down_proj", Linear(config.intermediate_size, config.hidden_size, config.mlp_bias, options));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) { return down_proj(at::silu(gate_proj(x)) * up_proj(x)); }

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& config, const at::TensorOptions& options) {
  self_attn = register_module("self_attn", Attention(config, options));
  mlp = register_module("mlp", Mlp(config, options));
  input_layernorm = register_module("input_layernorm", RmsNorm(config.hidden_size, config.rms_norm_eps, options));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RmsNorm(config.hidden_size, config.rms_norm_eps, options));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                                     const at::Tensor& mask, bool is_causal, const CacheStep* cache, size_t layer) {
  at::Tensor h = x + self_attn->forward(input_layernorm(x), cos, sin, mask, is_causal, cache, layer);
  return h + mlp(post_attention_layernorm(h));
}

DecoderImpl::DecoderImpl(const ModelConfig& config, const at::TensorOptions& options) {
  embed_tokens = register_module("embed_tokens", Embedding(config.vocab_size, config.hidden_size, options));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < config.num_layers; ++i) layers->push_back(DecoderLayer(config, options));
  norm = register_module("norm", RmsNorm(config.hidden_size, config.rms_norm_eps, options));
}

TransformerImpl::TransformerImpl(ModelConfig config, const at::TensorOptions& options)
    : config_(std::move(config)), rope_(config_) {
  model = register_module("model", Decoder(config_, options));
  if (config_.head != ModelHead::causal_lm) {
    TORCH_CHECK(config_.num_labels >= 1, "Transformer: ", config_.architecture, " needs num_labels >= 1, not ",
                config_.num_labels);
    const bool bias = config_.head == ModelHead::token_classification && config_.classifier_bias;
    score = register_module("score", Linear(config_.hidden_size, config_.num_labels, bias, options));
  } else if (!config_.tie_word_embeddings) {
    lm_head = register_module("lm_head", Linear(config_.hidden_size, config_.vocab_size, /*bias=*/false, options));
  }
}

const at::Tensor& TransformerImpl::output_weight() const {
  if (score) return score->weight;
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

AttentionMask TransformerImpl::build_mask(const at::Tensor& positions, const at::Tensor& key_valid) const {
  AttentionMask mask;
  bool any_window = false;
  for (int64_t window : config_.sliding_window) any_window |= window > 0;
  if (!key_valid.defined() && !any_window) return mask;  // plain causal
  // Causality by position, so that left padding and packed positions behave.
  at::Tensor query_pos = positions.unsqueeze(2);  // [B, T, 1]
  at::Tensor key_pos = positions.unsqueeze(1);    // [B, 1, T]
  at::Tensor allowed = key_pos <= query_pos;      // [B, T, T]
  const int64_t T = positions.size(1);
  at::Tensor index = at::arange(T, positions.options());
  allowed = allowed.logical_and(index.view({1, T, 1}) >= index.view({1, 1, T}));  // never look ahead in the row
  if (key_valid.defined()) allowed = allowed.logical_and(key_valid.unsqueeze(1));
  // A padding query that sees nothing would produce NaN; let every query see itself.
  at::Tensor self = at::eye(T, positions.options().dtype(at::kBool)).unsqueeze(0);
  mask.full = allowed.logical_or(self).unsqueeze(1);
  if (any_window) {
    int64_t window = 0;
    for (int64_t w : config_.sliding_window) window = std::max(window, w);
    at::Tensor near = (query_pos - key_pos) < window;
    mask.windowed = allowed.logical_and(near).logical_or(self).unsqueeze(1);
  }
  mask.causal = false;
  return mask;
}

namespace {

// Activation recomputation of one decoder layer: the forward keeps only the layer's input; the
// backward runs the layer again with grad on and back-propagates through that copy, which
// accumulates the parameters' gradients and yields the input's. LibTorch has no
// torch.utils.checkpoint, hence this small custom Function.
struct RecomputedLayer : public torch::autograd::Function<RecomputedLayer> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& x, int64_t layer_address,
                            const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& mask, bool is_causal) {
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(layer_address);
    context->save_for_backward({x, cos, sin, mask});
    const at::Tensor& mask_or_none = mask.numel() == 0 ? at::Tensor() : mask;
    context->saved_data["layer"] = layer_address;
    context->saved_data["is_causal"] = is_causal;
    return layer->forward(x, cos, sin, mask_or_none, is_causal);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grad_outputs) {
    auto saved = context->get_saved_variables();
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(context->saved_data["layer"].toInt());
    at::Tensor x = saved[0].detach().requires_grad_(true);
    {
      at::AutoGradMode grad_on(true);
      const at::Tensor mask = saved[3].numel() == 0 ? at::Tensor() : saved[3];
      at::Tensor out = layer->forward(x, saved[1], saved[2], mask, context->saved_data["is_causal"].toBool());
      torch::autograd::backward({out}, {grad_outputs[0]});
    }
    return {x.grad(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor TransformerImpl::run_layers(const at::Tensor& input, const at::Tensor& positions, const AttentionMask& mask,
                                       const CacheStep* cache) {
  at::Tensor x = input;
  auto [cos, sin] = rope_.tables(positions, x.scalar_type());
  const bool recompute = recompute_ && !cache && at::GradMode::is_enabled();
  // A recomputed layer passes gradients on only when its input requires them; with a frozen
  // embedding (LoRA) it does not, so the first layer's input is made a leaf that does.
  if (recompute && !x.requires_grad()) x = x.detach().requires_grad_(true);
  for (size_t i = 0; i < model->layers->size(); ++i) {
    const at::Tensor& layer_mask = config_.sliding_window[i] > 0 ? mask.windowed : mask.full;
    auto* layer = model->layers[i]->as<DecoderLayer>();
    if (recompute) {
      // An autograd Function takes no undefined tensor: plain causal attention (no mask) goes in
      // as an empty one.
      x = RecomputedLayer::apply(x, reinterpret_cast<int64_t>(layer), cos, sin,
                                 layer_mask.defined() ? layer_mask : at::empty({0}, x.options().dtype(at::kBool)),
                                 mask.causal);
    } else {
      x = layer->forward(x, cos, sin, layer_mask, mask.causal, cache, i);
    }
  }
  return model->norm(x);
}

at::Tensor TransformerImpl::forward(const at::Tensor& tokens, const at::Tensor& positions, const at::Tensor& key_valid) {
  TORCH_CHECK(tokens.dim() == 2 && positions.sizes() == tokens.sizes(),
              "Transformer::forward: tokens and positions must both be [B, T]");
  return run_layers(model->embed_tokens(tokens), positions, build_mask(positions, key_valid), nullptr);
}

at::Tensor TransformerImpl::forward_cached(const at::Tensor& tokens, const at::Tensor& positions,
                                           const at::Tensor& key_valid, const KvCacheView& cache) {
  TORCH_CHECK(tokens.dim() == 2 && positions.sizes() == tokens.sizes(),
              "Transformer::forward_cached: tokens and positions must both be [B, T]");
  TORCH_CHECK(cache.keys && cache.values && cache.keys->size() == model->layers->size(),
              "Transformer::forward_cached: the cache must hold one key and one value tensor per layer");
  const int64_t B = tokens.size(0), T = tokens.size(1);
  CacheStep step;
  step.view = &cache;
  if (T > 1 || cache.slots.defined()) {
    TORCH_CHECK(cache.slots.defined(), "Transformer::forward_cached: a prefill needs the destination slots");
    return run_layers(model->embed_tokens(tokens), positions, build_mask(positions, key_valid), &step);
  }
  // Decode: row b is slot b, at position positions[b]. Keys at cache positions <= that
  // position (and within the sliding window) are visible.
  step.decode = true;
  const at::Tensor& first_keys = cache.keys->front();  // [S, KV, Lmax, D]
  const int64_t kv_heads = first_keys.size(1), max_length = first_keys.size(2), L = cache.attend_length;
  TORCH_CHECK(B <= first_keys.size(0) && L > 0 && L <= max_length,
              "Transformer::forward_cached: decode batch ", B, " / attend length ", L, " outside the cache [",
              first_keys.size(0), " slots, ", max_length, " positions]");
  at::Tensor position = positions.view({B});
  at::Tensor head_rows = at::arange(B * kv_heads, positions.options()).view({B, kv_heads});
  step.write_index = (head_rows * max_length + position.unsqueeze(1)).view({B * kv_heads});
  at::Tensor key_pos = at::arange(L, positions.options()).unsqueeze(0);  // [1, L]
  at::Tensor visible = key_pos <= position.unsqueeze(1);                // [B, L]
  const auto additive = [&](const at::Tensor& allowed) {
    at::Tensor mask = at::zeros({B, 1, 1, L}, tokens.options().dtype(at::kFloat));
    return mask.masked_fill_(allowed.logical_not().view({B, 1, 1, L}), -std::numeric_limits<float>::infinity());
  };
  AttentionMask mask;
  mask.full = additive(visible);
  int64_t window = 0;
  for (int64_t w : config_.sliding_window) window = std::max(window, w);
  if (window > 0) mask.windowed = additive(visible.logical_and((position.unsqueeze(1) - key_pos) < window));
  return run_layers(model->embed_tokens(tokens), positions, mask, &step);
}

at::Tensor TransformerImpl::logits(const at::Tensor& hidden) {
  if (score && score->bias.defined()) return score->forward(hidden);  // a token classifier: weight and bias
  return linear_rows(hidden, output_weight(), at::Tensor());
}

void TransformerImpl::init_random(uint64_t seed, double std) {
  at::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  for (auto& item : named_parameters()) {
    at::Tensor& parameter = item.value();
    const std::string& name = item.key();
    const bool is_norm = name.size() > 12 && name.compare(name.size() - 11, 11, "norm.weight") == 0;
    if (is_norm) {
      parameter.fill_(1.0);
    } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      parameter.zero_();
    } else {
      at::Tensor values = at::empty(parameter.sizes(), at::kFloat).normal_(0.0, std, generator);
      parameter.copy_(values);
    }
  }
}

}  // namespace precept::lm
