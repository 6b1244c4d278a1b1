// The generator's static KV cache: per layer one key and one value tensor
// [slots, kv_heads, max_length, head_dim], allocated once, one slot per running sequence, written
// in place at each slot's own positions (lm::KvCacheView says how the transformer uses it).
// Also the memory arithmetic that lets the generator refuse a configuration before any work.
// Not a scheduler: rollout/generator.h decides which sequence owns which slot.
#pragma once

#include "lm/model_config.h"
#include "lm/transformer.h"

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <string>
#include <vector>

namespace precept::rollout {

// Bytes one slot holds: layers x 2 (k and v) x kv_heads x max_length x head_dim x element size.
int64_t kv_bytes_per_slot(const lm::ModelConfig& config, int64_t max_length, c10::ScalarType dtype);

class KvCache {
 public:
  KvCache(const lm::ModelConfig& config, int64_t slots, int64_t max_length, c10::ScalarType dtype,
          c10::Device device);

  // The view a forward call takes; the caller fills slots/rows (prefill) or attend_length (decode).
  lm::KvCacheView view();

  int64_t slots() const { return slots_; }
  int64_t max_length() const { return max_length_; }
  int64_t bytes() const;

 private:
  int64_t slots_, max_length_;
  std::vector<at::Tensor> keys_, values_;  // per layer [S, KV, L, D]
};

// Bytes available to the generator on `device` when the user sets no limit: 90% of the free
// GPU memory, or 80% of the memory the OS reports available on CPU (MemAvailable).
int64_t default_memory_budget(c10::Device device);
// What a run may use on `device`: a GPU's total memory (0 when this build has no CUDA), or on
// CPU the memory the OS reports available now (MemAvailable; 0 when unknown).
int64_t memory_capacity(c10::Device device);

std::string format_bytes(int64_t bytes);  // "1.50 GiB", "12.0 MiB", "512 B"

}  // namespace precept::rollout
