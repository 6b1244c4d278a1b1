// Masking of response names; see masking.h. The Mersenne Twister below follows CPython's
// Modules/_randommodule.c (the reference MT19937 with init_by_array seeding) so that a seed
// gives Python's random.shuffle order.
#include "reward/masking.h"

#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>
#include <utility>

namespace precept::reward {

namespace {

// MT19937 seeded as CPython's random.seed(int) seeds it.
class PythonRandom {
 public:
  explicit PythonRandom(uint64_t seed) {
    // random.seed(n): the key is |n| in little-endian 32-bit words, at least one word.
    std::vector<uint32_t> key = {static_cast<uint32_t>(seed & 0xFFFFFFFFu)};
    if (seed >> 32) key.push_back(static_cast<uint32_t>(seed >> 32));
    init_by_array(key);
  }

  uint32_t next_uint32() {
    if (index_ >= kN) twist();
    uint32_t y = state_[index_++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    y ^= y >> 18;
    return y;
  }

  // random.getrandbits(bits) for 0 < bits <= 32.
  uint32_t random_bits(int bits) { return next_uint32() >> (32 - bits); }

  // random._randbelow(n): rejection sampling on bit_length(n) random bits.
  uint32_t below(uint32_t n) {
    int bits = 0;
    for (uint32_t v = n; v != 0; v >>= 1) ++bits;
    uint32_t r = random_bits(bits);
    while (r >= n) r = random_bits(bits);
    return r;
  }

 private:
  static constexpr int kN = 624;
  static constexpr int kM = 397;

  void init_genrand(uint32_t seed) {
    state_[0] = seed;
    for (int i = 1; i < kN; ++i)
      state_[i] = 1812433253u * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<uint32_t>(i);
    index_ = kN;
  }

  void init_by_array(const std::vector<uint32_t>& key) {
    init_genrand(19650218u);
    int i = 1;
    size_t j = 0;
    for (size_t k = std::max<size_t>(kN, key.size()); k > 0; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1664525u)) + key[j] +
                  static_cast<uint32_t>(j);
      ++i;
      ++j;
      if (i >= kN) {
        state_[0] = state_[kN - 1];
        i = 1;
      }
      if (j >= key.size()) j = 0;
    }
    for (int k = kN - 1; k > 0; --k) {
      state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1566083941u)) - static_cast<uint32_t>(i);
      ++i;
      if (i >= kN) {
        state_[0] = state_[kN - 1];
        i = 1;
      }
    }
    state_[0] = 0x80000000u;
  }

  void twist() {
    auto mix = [this](int a, int b, int source) {
      const uint32_t y = (state_[a] & 0x80000000u) | (state_[b] & 0x7FFFFFFFu);
      state_[a] = state_[source] ^ (y >> 1) ^ ((y & 1u) ? 0x9908B0DFu : 0u);
    };
    int k = 0;
    for (; k < kN - kM; ++k) mix(k, k + 1, k + kM);
    for (; k < kN - 1; ++k) mix(k, k + 1, k + kM - kN);
    mix(kN - 1, 0, kM - 1);
    index_ = 0;
  }

  std::array<uint32_t, kN> state_{};
  int index_ = kN;
};

void check_unique_names(const std::vector<NamedResponse>& responses) {
  std::set<std::string> seen;
  for (const NamedResponse& response : responses)
    if (!seen.insert(response.name).second)
      throw std::invalid_argument("judge responses: the name '" + response.name +
                                  "' is used by more than one response; every response needs its own name");
}

}  // namespace

const std::string* ShownResponses::real_name(const std::string& shown_name) const {
  for (size_t i = 0; i < shown.size(); ++i)
    if (shown[i].name == shown_name) return &real_names[i];
  return nullptr;
}

std::vector<size_t> python_shuffled_order(size_t count, uint64_t seed) {
  if (count > 0xFFFFFFFFu) throw std::invalid_argument("python_shuffled_order: more than 2^32 items");
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = i;
  PythonRandom random(seed);
  for (size_t i = count; i-- > 1;) {  // for i in reversed(range(1, len(x)))
    const size_t j = random.below(static_cast<uint32_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

ShownResponses mask_responses(const std::vector<NamedResponse>& responses, uint64_t seed) {
  check_unique_names(responses);
  ShownResponses result;
  const std::vector<size_t> order = python_shuffled_order(responses.size(), seed);
  for (size_t i = 0; i < order.size(); ++i) {
    const NamedResponse& response = responses[order[i]];
    result.shown.push_back({"model-" + std::to_string(i + 1), response.text});
    result.real_names.push_back(response.name);
  }
  return result;
}

ShownResponses unmasked_responses(const std::vector<NamedResponse>& responses) {
  check_unique_names(responses);
  ShownResponses result;
  result.shown = responses;
  for (const NamedResponse& response : responses) result.real_names.push_back(response.name);
  return result;
}

}  // namespace precept::reward
