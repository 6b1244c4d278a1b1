// The names under which the judge sees the responses: masked (shuffled and renamed model-1 ..
// model-k, as RewardAnything does by default) or the caller's own, and the map back to the
// caller's names. Not the prompt itself (reward/judge_prompt.h). Used by the prompt builder
// and the judgment parser (reward/judge_parser.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace precept::reward {

// One candidate response under the caller's name for it.
struct NamedResponse {
  std::string name;
  std::string text;
};

// The seed upstream RewardAnything re-seeds Python's `random` with before every shuffle; with
// it mask_responses() shows the responses in the very order upstream does.
inline constexpr uint64_t kUpstreamMaskSeed = 42;

// Responses as the judge is shown them.
struct ShownResponses {
  std::vector<NamedResponse> shown;       // the order and the names the judge sees
  std::vector<std::string> real_names;    // real_names[i]: the caller's name of shown[i]

  // The caller's name of a shown name; nullptr when the judge was shown no such name.
  const std::string* real_name(const std::string& shown_name) const;
};

// Python's random.seed(seed); random.shuffle(order) applied to [0, 1, ..., count-1]: the same
// Mersenne Twister, seeding and rejection sampling as CPython 3, so that seed 42 reproduces
// upstream's order exactly. Written by hand because std::mt19937 cannot be seeded the way
// CPython seeds it (init_by_array over the seed's 32-bit words).
std::vector<size_t> python_shuffled_order(size_t count, uint64_t seed);

// Upstream's masking: the responses in python_shuffled_order(k, seed) order, renamed
// "model-1" .. "model-k" in that shown order. Any seed gives a reproducible order; seed 42 is
// upstream's, which then shows every group of k responses in the same permutation, so vary it
// per group to spread position bias. Throws std::invalid_argument when two responses share a
// name (a Python dict would silently keep one).
ShownResponses mask_responses(const std::vector<NamedResponse>& responses, uint64_t seed = kUpstreamMaskSeed);

// Upstream's mask_responses=False: the caller's names, in the caller's order. Same duplicate
// check.
ShownResponses unmasked_responses(const std::vector<NamedResponse>& responses);

}  // namespace precept::reward
