#include "rollout/full_recompute.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <stdexcept>

namespace precept::rollout {

ReferenceOutput generate_full_recompute(lm::TransformerImpl& model, const std::vector<int64_t>& prompt,
                                        const ReferenceSampling& sampling) {
  if (prompt.empty()) throw std::invalid_argument("generate: the prompt must hold at least one token (e.g. BOS)");
  const int64_t limit = model.config().max_position_embeddings;
  if (static_cast<int64_t>(prompt.size()) + sampling.max_new_tokens > limit) {
    throw std::invalid_argument("generate: prompt (" + std::to_string(prompt.size()) + " tokens) + max_new_tokens (" +
                                std::to_string(sampling.max_new_tokens) + ") exceeds the model's max_position_embeddings (" +
                                std::to_string(limit) + ")");
  }
  at::NoGradGuard no_grad;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(sampling.seed);
  const auto device = model.output_weight().device();
  std::vector<int64_t> sequence = prompt;
  ReferenceOutput out;
  for (int64_t step = 0; step < sampling.max_new_tokens; ++step) {
    const int64_t T = static_cast<int64_t>(sequence.size());
    at::Tensor tokens = at::tensor(sequence, at::kLong).to(device).unsqueeze(0);  // [1, T]
    at::Tensor positions = at::arange(T, at::TensorOptions(at::kLong).device(device)).unsqueeze(0);
    at::Tensor hidden = model.forward(tokens, positions).select(1, T - 1);          // [1, C]
    at::Tensor logits = model.logits(hidden).to(at::kFloat).squeeze(0).cpu();       // [V]
    at::Tensor logprobs = at::log_softmax(logits, -1);
    int64_t next = 0;
    if (sampling.temperature <= 0.0) {
      next = logits.argmax().item<int64_t>();
    } else {
      at::Tensor probs = at::softmax(logits / sampling.temperature, -1);
      if (sampling.top_p < 1.0) {
        auto [sorted, order] = probs.sort(-1, /*descending=*/true);
        at::Tensor before = sorted.cumsum(-1) - sorted;  // mass strictly above each token
        sorted.masked_fill_(before >= sampling.top_p, 0.0);
        probs = at::zeros_like(probs).scatter(0, order, sorted);
      }
      next = at::multinomial(probs, 1, false, generator).item<int64_t>();
    }
    out.tokens.push_back(next);
    out.logprobs.push_back(logprobs[next].item<double>());
    sequence.push_back(next);
    if (std::find(sampling.stop_ids.begin(), sampling.stop_ids.end(), next) != sampling.stop_ids.end()) {
      out.stopped = true;
      break;
    }
  }
  return out;
}

}  // namespace precept::rollout
