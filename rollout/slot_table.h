// The slot table of continuous batching: which sequence each KV-cache slot holds and that slot's
// next cache position, on the host, mirrored on the device (last token, position, random stream
// keys, tokens drawn, running flag) so that a decode step needs no host-built tensors. Freed
// slots are written to the device side in one batch (flush). Not the cache (rollout/kv_cache.h)
// and not the scheduler (rollout/generator.cpp decides who is admitted).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace precept::rollout {

class SlotTable {
 public:
  SlotTable(int64_t slots, c10::Device device);

  int64_t size() const { return static_cast<int64_t>(sequence_.size()); }
  bool occupied(int64_t slot) const { return sequence_[slot] >= 0; }
  int64_t sequence(int64_t slot) const { return sequence_[slot]; }
  int64_t running() const;
  // The highest occupied slot (-1 when none) and the furthest next position among occupied slots.
  std::pair<int64_t, int64_t> highest_and_furthest() const;

  // Puts sequences into slots after their prefill: their prompt lengths are the next positions,
  // first_tokens [N] the tokens sampled from the prefill, keys [N, 2] their streams.
  void occupy(const std::vector<int64_t>& slots, const at::Tensor& slot_index, const std::vector<int64_t>& sequences,
              const std::vector<int64_t>& lengths, const at::Tensor& first_tokens, const at::Tensor& keys);
  // A decode step over slots [0, B): their tokens become `next`, running slots move one position.
  void advance(int64_t B, const at::Tensor& next);
  // Frees a slot on the host now, on the device at the next flush().
  void release(int64_t slot);
  void flush();

  // Device views of slots [0, B): [B] int64 tokens and positions, [B, 2] keys, [B] counters.
  at::Tensor tokens(int64_t B) const { return token_.narrow(0, 0, B); }
  at::Tensor positions(int64_t B) const { return position_.narrow(0, 0, B); }
  at::Tensor keys(int64_t B) const { return keys_.narrow(0, 0, B); }
  at::Tensor counters(int64_t B) const { return counter_.narrow(0, 0, B); }

 private:
  c10::Device device_;
  std::vector<int64_t> sequence_, host_position_;
  std::vector<int64_t> freed_;
  at::Tensor token_, position_, keys_, counter_, running_;
};

}  // namespace precept::rollout
