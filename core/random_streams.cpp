// The seed mixers of core/random_streams.h.
#include "core/random_streams.h"

namespace precept::core {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t mix_seed(uint64_t seed, uint64_t index) {
  uint64_t x = seed ^ (index * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull + (seed << 6) + (seed >> 2));
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace precept::core
