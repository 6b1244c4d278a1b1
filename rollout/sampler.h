// Token sampling for the generator: temperature, top-k, top-p, min-p or greedy over a batch of
// logits, with one random stream per sequence so that a sequence's samples never depend on which
// slot it ran in or what else was in the batch. Not a generation loop (rollout/generator.h).
//
// Log-probabilities: `logprobs` are log softmax(logits / temperature) at the chosen token,
// i.e. AFTER temperature and BEFORE top-k / top-p / min-p truncation (temperature 0: the plain
// log softmax). That is the distribution TRL and veRL recompute in the trainer (they divide the
// logits by the rollout temperature), so the generator's numbers can be compared with, or used
// as, the trainer's "old" log-probs.
#pragma once

#include "core/random_streams.h"

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace precept::rollout {

struct SamplerSettings {
  double temperature = 1.0;  // 0 = greedy (argmax; ties go to the lowest id)
  int64_t top_k = 0;         // keep the k most likely tokens; 0 = off
  double top_p = 1.0;        // keep the smallest set whose mass reaches top_p; 1 = off
  double min_p = 0.0;        // keep tokens with p >= min_p * p_max; 0 = off
};

// Checks ranges; throws std::invalid_argument naming the setting.
void validate(const SamplerSettings& settings);

struct Sampled {
  at::Tensor tokens;    // [B] int64
  at::Tensor logprobs;  // [B] fp32, see the header comment
};

// logits [B, V] (any float dtype; computed in fp32), stream_keys [B, 2] int64 (two 32-bit keys
// per sequence), counters [B] int64 (tokens drawn so far by that sequence) -> Sampled.
// The filters apply in transformers' order: temperature, top-k, top-p, min-p. One uniform
// number per sequence and step, u = hash(keys, counter), picks the token by inverse CDF over the
// kept tokens in probability order, so the draw is exact and reproducible on any device.
Sampled sample_tokens(const at::Tensor& logits, const SamplerSettings& settings, const at::Tensor& stream_keys,
                      const at::Tensor& counters);

// The per-sequence uniform numbers in (0, 1): [B, 2] keys, [B] counters -> [B] float64.
// Computed with 32-bit integer hashing in int64 tensor arithmetic (no overflow), so CPU and GPU
// give the same numbers.
at::Tensor stream_uniform(const at::Tensor& stream_keys, const at::Tensor& counters);

// The seed mixers (splitmix64, mix_seed) are core/random_streams.h, used here under these names.
using core::mix_seed;
using core::splitmix64;

// Two 32-bit keys for the stream of sample `sample` of a request seeded with `seed`
// (splitmix64 mixing on the host).
std::pair<int64_t, int64_t> stream_keys_for(uint64_t seed, uint64_t sample);

}  // namespace precept::rollout
