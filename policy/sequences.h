// Prompt + response sequences laid out for a training forward, and their per-token log-probs
// (and entropies) from a transformer: the policy, the old policy or the frozen reference. Right
// padding, positions from 0 in every row, log-probs only where the next token is a response
// token, computed by the chunked fp32 log-softmax (policy/logprobs.h). Not the loss.
// Used by the GRPO trainer.
#pragma once

#include "lm/transformer.h"
#include "policy/logprobs.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace precept::policy {

struct SequenceBatch {
  at::Tensor tokens;     // [B, T] int64: prompt then response, right-padded with 0
  at::Tensor positions;  // [B, T] int64: 0 .. T-1 in every row
  at::Tensor valid;      // [B, T] bool: false on padding (undefined when no row is padded)
  at::Tensor predictor;  // [B, R] int64: flat index b * T + t of the hidden state that predicts response token r
  at::Tensor targets;    // [B, R] int64: the response tokens, -1 on padding
  at::Tensor mask;       // [B, R] bool: true on real response tokens
};

// prompts[i] (at least one token) followed by responses[i] (may be empty); tensors on `device`.
SequenceBatch make_sequence_batch(const std::vector<const std::vector<int64_t>*>& prompts,
                                  const std::vector<const std::vector<int64_t>*>& responses, c10::Device device);

// Whole sequences with the tokens to learn marked: targets[i][t] true means token t of
// sequences[i] is predicted (by the hidden state at t - 1; t = 0 is never a target). The
// predicted tokens of a row, in order, form its R columns. For SFT, where the assistant's turns
// of a chat are the targets. Throws std::invalid_argument for mismatched lengths, an empty
// sequence or a target at position 0.
SequenceBatch make_masked_batch(const std::vector<const std::vector<int64_t>*>& sequences,
                                const std::vector<const std::vector<uint8_t>*>& targets, c10::Device device);

// Per-response-token log p (and entropy when asked) under `model`: [B, R]. Gradients flow into
// the model's parameters when grad mode is on.
TokenLogprobs sequence_logprobs(lm::TransformerImpl& model, const SequenceBatch& batch, const LogprobOptions& options);

}  // namespace precept::policy
