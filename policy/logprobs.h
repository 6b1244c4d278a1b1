// Per-token log p(target) and entropy of softmax(hidden W^T / temperature) in fp32, computed in
// chunks of tokens so that the [B, T, V] logits never exist: at most one chunk's [chunk, V]
// logits (and two same-sized temporaries in backward) are alive at a time. A custom autograd
// function recomputes each chunk's logits in backward. Not the transformer (lm/transformer.h
// gives the hidden states and output_weight()) and not the loss. Used by the GRPO trainer for
// the policy, the old policy and the reference model.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace precept::policy {

struct LogprobOptions {
  double temperature = 1.0;     // > 0; the rollout's sampling temperature (1 for greedy rollouts)
  int64_t chunk_tokens = 1024;  // tokens per chunk; the logits of a chunk are [chunk_tokens, V]
  bool with_entropy = false;    // also return the per-token entropy (differentiable)
};

struct TokenLogprobs {
  at::Tensor logprobs;  // [B, T] fp32 (fp64 for fp64 inputs)
  at::Tensor entropy;   // [B, T] like logprobs, undefined unless with_entropy
};

// hidden [B, T, C] (requires grad or not), weight [V, C] (the output projection,
// lm::TransformerImpl::output_weight()), targets [B, T] int64 in [0, V), or negative to ignore
// a position (its log-prob is 0 and it gets no gradient; its entropy is still computed).
// Each chunk's logits are computed as `at::linear` in the inputs' dtype (as the rollout computes
// them), then upcast to fp32, divided by the temperature and normalised. Gradients flow to hidden
// and weight when they require grad; the weight's gradient is accumulated over chunks in fp32.
TokenLogprobs chunked_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                               const LogprobOptions& options = {});

// The naive reference: full [B, T, V] logits, log_softmax and gather with plain autograd.
// For tests and tiny models only.
TokenLogprobs full_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                            const LogprobOptions& options = {});

}  // namespace precept::policy
