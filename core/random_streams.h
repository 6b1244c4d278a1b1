// Named random streams: every random number in precept is a pure function of the run's seed, a
// named stream and counters (step, prompt position, sample, attempt), so that results do not
// depend on the world size, the slot a sequence lands in or the order of calls. This header is
// the one table of stream names and the one seed derivation. Not a sampler (rollout/sampler.h
// turns stream keys into uniforms) and not a shuffler (trainer/prompt_data.h).
#pragma once

#include <cstdint>

namespace precept::core {

// splitmix64's output function of x + golden ratio: a bijective 64-bit mix, the step of the
// splitmix64 generator.
uint64_t splitmix64(uint64_t x);

// A seed derived from a seed and an index (a step, a prompt's position, a request number):
// the one derivation every layer uses, so that streams never collide by accident.
uint64_t mix_seed(uint64_t seed, uint64_t index);

// The streams of a run. A stream's seed is the run's seed XOR its salt; the salts are the ASCII
// of a short name, so a checkpoint's randomness can be traced by reading this table.
enum class Stream : uint64_t {
  rollout = 0,                // policy samples: mix(mix(seed, step), prompt position), then per sample
  reward = 0x72657761ull,     // "rewa": a group's reward seed (judge masking and sampling)
  mini_batch = 0x6d696e69ull, // "mini": the mini-batch permutation of each step and epoch
  judge = 0x6a756467ull,      // "judg": the judge's own sampling streams, apart from the policy's
  critic = 0x63726974ull,     // "crit": the PPO critic's fresh value head and its LoRA adapters
};

// The seed of a named stream of a run seeded with `seed`.
constexpr uint64_t stream_seed(uint64_t seed, Stream stream) { return seed ^ static_cast<uint64_t>(stream); }

}  // namespace precept::core
