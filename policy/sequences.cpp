#include "policy/sequences.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <stdexcept>

namespace precept::policy {

namespace {

struct Layout {
  int64_t B, T, R;
  bool ragged;  // rows of different lengths: the padding mask is needed
};

// The host-side layout as tensors on `device`.
SequenceBatch to_batch(const Layout& layout, const std::vector<int64_t>& tokens, const std::vector<int64_t>& valid,
                       const std::vector<int64_t>& predictor, const std::vector<int64_t>& targets,
                       const std::vector<int64_t>& mask, c10::Device device) {
  const auto [B, T, R, ragged] = layout;
  SequenceBatch batch;
  batch.tokens = at::tensor(tokens, at::kLong).view({B, T}).to(device);
  batch.positions = at::arange(T, at::TensorOptions(at::kLong).device(device)).unsqueeze(0).expand({B, T}).contiguous();
  if (ragged) batch.valid = at::tensor(valid, at::kLong).view({B, T}).to(device).to(at::kBool);
  batch.predictor = at::tensor(predictor, at::kLong).view({B, R}).to(device);
  batch.targets = at::tensor(targets, at::kLong).view({B, R}).to(device);
  batch.mask = at::tensor(mask, at::kLong).view({B, R}).to(device).to(at::kBool);
  return batch;
}

}  // namespace

SequenceBatch make_sequence_batch(const std::vector<const std::vector<int64_t>*>& prompts,
                                  const std::vector<const std::vector<int64_t>*>& responses, c10::Device device) {
  if (prompts.size() != responses.size() || prompts.empty()) {
    throw std::invalid_argument("make_sequence_batch: needs as many prompts as responses, at least one");
  }
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t T = 0, R = 1;
  bool ragged = false;
  for (int64_t b = 0; b < B; ++b) {
    if (prompts[b]->empty()) throw std::invalid_argument("make_sequence_batch: an empty prompt");
    const int64_t length = static_cast<int64_t>(prompts[b]->size() + responses[b]->size());
    if (b > 0 && length != T) ragged = true;
    T = std::max(T, length);
    R = std::max<int64_t>(R, static_cast<int64_t>(responses[b]->size()));
  }
  std::vector<int64_t> tokens(B * T, 0), valid(B * T, 0), predictor(B * R, 0), targets(B * R, -1), mask(B * R, 0);
  for (int64_t b = 0; b < B; ++b) {
    const auto& prompt = *prompts[b];
    const auto& response = *responses[b];
    const int64_t P = static_cast<int64_t>(prompt.size());
    std::copy(prompt.begin(), prompt.end(), tokens.begin() + b * T);
    std::copy(response.begin(), response.end(), tokens.begin() + b * T + P);
    std::fill(valid.begin() + b * T, valid.begin() + b * T + P + static_cast<int64_t>(response.size()), 1);
    for (int64_t r = 0; r < R; ++r) {
      // Response token r sits at P + r and is predicted by the hidden state at P + r - 1.
      const bool real = r < static_cast<int64_t>(response.size());
      predictor[b * R + r] = b * T + std::min(P + r - 1, T - 1);
      if (real) {
        targets[b * R + r] = response[r];
        mask[b * R + r] = 1;
      }
    }
  }
  return to_batch(Layout{B, T, R, ragged}, tokens, valid, predictor, targets, mask, device);
}

SequenceBatch make_masked_batch(const std::vector<const std::vector<int64_t>*>& sequences,
                                const std::vector<const std::vector<uint8_t>*>& targets, c10::Device device) {
  if (sequences.size() != targets.size() || sequences.empty()) {
    throw std::invalid_argument("make_masked_batch: needs as many target masks as sequences, at least one");
  }
  const int64_t B = static_cast<int64_t>(sequences.size());
  int64_t T = 0, R = 1;
  bool ragged = false;
  std::vector<std::vector<int64_t>> positions(B);  // the target positions of each row
  for (int64_t b = 0; b < B; ++b) {
    const auto& sequence = *sequences[b];
    const auto& mask = *targets[b];
    if (sequence.empty()) throw std::invalid_argument("make_masked_batch: an empty sequence");
    if (mask.size() != sequence.size()) throw std::invalid_argument("make_masked_batch: a mask of another length");
    if (mask[0]) throw std::invalid_argument("make_masked_batch: the first token cannot be a target");
    for (size_t t = 1; t < mask.size(); ++t) {
      if (mask[t]) positions[b].push_back(static_cast<int64_t>(t));
    }
    const int64_t length = static_cast<int64_t>(sequence.size());
    if (b > 0 && length != T) ragged = true;
    T = std::max(T, length);
    R = std::max<int64_t>(R, static_cast<int64_t>(positions[b].size()));
  }
  std::vector<int64_t> tokens(B * T, 0), valid(B * T, 0), predictor(B * R, 0), target_ids(B * R, -1), mask(B * R, 0);
  for (int64_t b = 0; b < B; ++b) {
    const auto& sequence = *sequences[b];
    std::copy(sequence.begin(), sequence.end(), tokens.begin() + b * T);
    std::fill(valid.begin() + b * T, valid.begin() + b * T + static_cast<int64_t>(sequence.size()), 1);
    for (size_t r = 0; r < positions[b].size(); ++r) {
      const int64_t t = positions[b][r];
      predictor[b * R + r] = b * T + t - 1;
      target_ids[b * R + r] = sequence[t];
      mask[b * R + r] = 1;
    }
  }
  return to_batch(Layout{B, T, R, ragged}, tokens, valid, predictor, target_ids, mask, device);
}

TokenLogprobs sequence_logprobs(lm::TransformerImpl& model, const SequenceBatch& batch, const LogprobOptions& options) {
  at::Tensor hidden = model.forward(batch.tokens, batch.positions, batch.valid);  // [B, T, C]
  const int64_t B = hidden.size(0), C = hidden.size(2), R = batch.predictor.size(1);
  at::Tensor response_hidden = hidden.reshape({-1, C}).index_select(0, batch.predictor.reshape({-1})).view({B, R, C});
  return chunked_logprobs(response_hidden, model.output_weight(), batch.targets, options);
}

}  // namespace precept::policy
