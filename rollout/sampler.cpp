#include "rollout/sampler.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace precept::rollout {

void validate(const SamplerSettings& settings) {
  if (!(settings.temperature >= 0.0) || !std::isfinite(settings.temperature)) {
    throw std::invalid_argument("sampling: temperature must be >= 0, got " + std::to_string(settings.temperature));
  }
  if (settings.top_k < 0) throw std::invalid_argument("sampling: top_k must be >= 0 (0 = off)");
  if (!(settings.top_p > 0.0 && settings.top_p <= 1.0)) {
    throw std::invalid_argument("sampling: top_p must be in (0, 1], got " + std::to_string(settings.top_p));
  }
  if (!(settings.min_p >= 0.0 && settings.min_p < 1.0)) {
    throw std::invalid_argument("sampling: min_p must be in [0, 1), got " + std::to_string(settings.min_p));
  }
}

namespace {

constexpr int64_t kLow16 = 0xFFFF;
constexpr int64_t kLow32 = 0xFFFFFFFFLL;

// (x * c) mod 2^32 for x < 2^32 held in int64, without ever leaving int64's range: the
// constant is split into 16-bit halves so that each product stays below 2^48.
at::Tensor multiply32(const at::Tensor& x, uint32_t c) {
  const int64_t low = c & kLow16, high = c >> 16;
  at::Tensor upper = (x * high).bitwise_and_(kLow16).bitwise_left_shift_(16);
  return (x * low).add_(upper).bitwise_and_(kLow32);
}

// A 32-bit integer hash with good avalanche (the "lowbias32" shape: xor-shift, multiply,
// xor-shift, multiply, xor-shift). x holds values in [0, 2^32).
at::Tensor hash32(at::Tensor x) {
  x = x.bitwise_xor(x.bitwise_right_shift(16));
  x = multiply32(x, 0x21f0aaadu);
  x = x.bitwise_xor(x.bitwise_right_shift(15));
  x = multiply32(x, 0xd35a2d97u);
  return x.bitwise_xor(x.bitwise_right_shift(15));
}

// Index into each row of `probs` [B, K] (non-negative, not necessarily normalised) at which the
// cumulative mass first exceeds u * total: an exact draw from the row's distribution.
at::Tensor inverse_cdf(const at::Tensor& probs, const at::Tensor& uniform) {
  at::Tensor cdf = probs.to(at::kDouble).cumsum(-1);                    // [B, K]
  at::Tensor target = (uniform.to(at::kDouble) * cdf.select(1, -1)).unsqueeze(1);  // [B, 1]
  at::Tensor index = at::searchsorted(cdf, target, /*out_int32=*/false, /*right=*/true);
  return index.squeeze(1).clamp_max_(probs.size(1) - 1);  // [B]
}

}  // namespace

at::Tensor stream_uniform(const at::Tensor& stream_keys, const at::Tensor& counters) {
  at::Tensor key_a = stream_keys.select(1, 0), key_b = stream_keys.select(1, 1);
  at::Tensor mixed = hash32(counters.bitwise_and(kLow32).bitwise_xor(key_a));
  mixed = hash32(mixed.bitwise_xor(key_b));
  return (mixed.to(at::kDouble) + 0.5) / 4294967296.0;
}

std::pair<int64_t, int64_t> stream_keys_for(uint64_t seed, uint64_t sample) {
  const uint64_t key = splitmix64(splitmix64(seed) ^ (sample * 0xd1b54a32d192ed03ull + 1));
  return {static_cast<int64_t>(key & 0xFFFFFFFFull), static_cast<int64_t>(key >> 32)};
}

Sampled sample_tokens(const at::Tensor& logits, const SamplerSettings& settings, const at::Tensor& stream_keys,
                      const at::Tensor& counters) {
  TORCH_CHECK(logits.dim() == 2, "sample_tokens: logits must be [B, V]");
  at::Tensor scores = logits.to(at::kFloat);
  Sampled out;
  if (settings.temperature <= 0.0) {
    out.tokens = scores.argmax(-1);
    out.logprobs = at::log_softmax(scores, -1).gather(1, out.tokens.unsqueeze(1)).squeeze(1);
    return out;
  }
  if (settings.temperature != 1.0) scores = scores / settings.temperature;
  at::Tensor logprobs = at::log_softmax(scores, -1);  // [B, V]
  at::Tensor uniform = stream_uniform(stream_keys, counters);
  const int64_t vocab = scores.size(1);
  const bool truncate = settings.top_k > 0 || settings.top_p < 1.0 || settings.min_p > 0.0;
  if (!truncate) {
    out.tokens = inverse_cdf(logprobs.exp(), uniform);
  } else {
    // The candidates in descending probability: the top-k (a partial sort, renormalised over
    // the k as transformers does), else every token. Without top-k, a top-p draw first tries
    // the 1024 most likely tokens: when they already hold top_p of the mass in every row the
    // kept set lies among them and the full sort of the vocabulary is skipped (exactly the same
    // set and probabilities). That test reads a value on the host, so it is made on the CPU only:
    // on a GPU it would synchronise the stream in the middle of the step (and break a CUDA graph
    // capture), and the full sort is cheap there.
    at::Tensor values, order, probs;
    if (settings.top_k > 0 && settings.top_k < vocab) {
      std::tie(values, order) = scores.topk(settings.top_k, -1, /*largest=*/true, /*sorted=*/true);
      probs = at::softmax(values, -1);
    } else {
      constexpr int64_t kCandidates = 1024;
      if (settings.top_p < 1.0 && vocab > 2 * kCandidates && scores.device().is_cpu()) {
        std::tie(values, order) = scores.topk(kCandidates, -1, /*largest=*/true, /*sorted=*/true);
        probs = logprobs.gather(1, order).exp();
        if (!(probs.sum(-1) >= settings.top_p).all().item<bool>()) probs = at::Tensor();
      }
      if (!probs.defined()) {
        std::tie(values, order) = scores.sort(-1, /*descending=*/true);
        probs = logprobs.gather(1, order).exp();
      }
    }
    at::Tensor keep = at::ones_like(probs, probs.options().dtype(at::kBool));
    if (settings.top_p < 1.0) keep = (probs.cumsum(-1) - probs) < settings.top_p;  // the first is always kept
    if (settings.min_p > 0.0) keep.logical_and_(probs >= probs.narrow(1, 0, 1) * settings.min_p);
    at::Tensor choice = inverse_cdf(probs * keep, uniform);
    out.tokens = order.gather(1, choice.unsqueeze(1)).squeeze(1);
  }
  out.logprobs = logprobs.gather(1, out.tokens.unsqueeze(1)).squeeze(1);
  return out;
}

}  // namespace precept::rollout
