#include "rollout/kv_cache.h"

#include <ATen/ATen.h>
#include <c10/core/ScalarTypeToTypeMeta.h>

#ifdef PRECEPT_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace precept::rollout {

int64_t kv_bytes_per_slot(const lm::ModelConfig& config, int64_t max_length, c10::ScalarType dtype) {
  return config.num_layers * 2 * config.num_kv_heads * max_length * config.head_dim *
         static_cast<int64_t>(c10::elementSize(dtype));
}

KvCache::KvCache(const lm::ModelConfig& config, int64_t slots, int64_t max_length, c10::ScalarType dtype,
                 c10::Device device)
    : slots_(slots), max_length_(max_length) {
  if (slots < 1 || max_length < 1) throw std::invalid_argument("KV cache: slots and max_length must be positive");
  const auto options = at::TensorOptions().dtype(dtype).device(device);
  for (int64_t layer = 0; layer < config.num_layers; ++layer) {
    // Zero-filled so that a slot's unused positions never hold NaN bit patterns.
    keys_.push_back(at::zeros({slots, config.num_kv_heads, max_length, config.head_dim}, options));
    values_.push_back(at::zeros({slots, config.num_kv_heads, max_length, config.head_dim}, options));
  }
}

lm::KvCacheView KvCache::view() {
  lm::KvCacheView view;
  view.keys = &keys_;
  view.values = &values_;
  return view;
}

int64_t KvCache::bytes() const {
  int64_t total = 0;
  for (const auto& t : keys_) total += t.numel() * static_cast<int64_t>(t.element_size());
  for (const auto& t : values_) total += t.numel() * static_cast<int64_t>(t.element_size());
  return total;
}

namespace {

// MemAvailable from /proc/meminfo in bytes; 0 when it cannot be read.
int64_t mem_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t value = 0;
  std::string unit;
  while (meminfo >> key >> value >> unit) {
    if (key == "MemAvailable:") return value * 1024;
  }
  return 0;
}

}  // namespace

int64_t default_memory_budget(c10::Device device) {
#ifdef PRECEPT_WITH_CUDA
  if (device.is_cuda()) {
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) return static_cast<int64_t>(free_bytes * 0.9);
  }
#endif
  const int64_t available = mem_available_bytes();
  if (available > 0) return static_cast<int64_t>(available * 0.8);
  return int64_t(8) << 30;  // no /proc/meminfo: assume 8 GiB
}

int64_t memory_capacity(c10::Device device) {
  if (device.is_cuda()) {
#ifdef PRECEPT_WITH_CUDA
    size_t free_bytes = 0, total_bytes = 0;
    if (cudaMemGetInfo(&free_bytes, &total_bytes) == cudaSuccess) return static_cast<int64_t>(total_bytes);
#endif
    return 0;
  }
  return mem_available_bytes();
}

std::string format_bytes(int64_t bytes) {
  char buffer[64];
  const double b = static_cast<double>(bytes);
  if (b >= (1LL << 30)) {
    std::snprintf(buffer, sizeof buffer, "%.2f GiB", b / (1LL << 30));
  } else if (b >= (1LL << 20)) {
    std::snprintf(buffer, sizeof buffer, "%.1f MiB", b / (1LL << 20));
  } else if (b >= 1024) {
    std::snprintf(buffer, sizeof buffer, "%.1f KiB", b / 1024);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld B", static_cast<long long>(bytes));
  }
  return buffer;
}

}  // namespace precept::rollout
