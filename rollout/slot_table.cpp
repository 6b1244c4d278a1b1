// The slot table of continuous batching; see slot_table.h.
#include "rollout/slot_table.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace precept::rollout {

SlotTable::SlotTable(int64_t slots, c10::Device device)
    : device_(device), sequence_(slots, -1), host_position_(slots, 0) {
  const auto options = at::TensorOptions(at::kLong).device(device);
  token_ = at::zeros({slots}, options);
  position_ = at::zeros({slots}, options);
  keys_ = at::zeros({slots, 2}, options);
  counter_ = at::zeros({slots}, options);
  running_ = at::zeros({slots}, options);
}

int64_t SlotTable::running() const {
  return static_cast<int64_t>(std::count_if(sequence_.begin(), sequence_.end(), [](int64_t s) { return s >= 0; }));
}

std::pair<int64_t, int64_t> SlotTable::highest_and_furthest() const {
  int64_t highest = -1, furthest = 0;
  for (int64_t s = 0; s < size(); ++s) {
    if (sequence_[s] < 0) continue;
    highest = s;
    furthest = std::max(furthest, host_position_[s]);
  }
  return {highest, furthest};
}

void SlotTable::occupy(const std::vector<int64_t>& slots, const at::Tensor& slot_index,
                       const std::vector<int64_t>& sequences, const std::vector<int64_t>& lengths,
                       const at::Tensor& first_tokens, const at::Tensor& keys) {
  token_.index_copy_(0, slot_index, first_tokens);
  position_.index_copy_(0, slot_index, at::tensor(lengths, at::kLong).to(device_));
  keys_.index_copy_(0, slot_index, keys);
  counter_.index_fill_(0, slot_index, 1);
  running_.index_fill_(0, slot_index, 1);
  for (size_t i = 0; i < slots.size(); ++i) {
    sequence_[slots[i]] = sequences[i];
    host_position_[slots[i]] = lengths[i];
  }
}

void SlotTable::advance(int64_t B, const at::Tensor& next) {
  at::Tensor running = running_.narrow(0, 0, B);
  token_.narrow(0, 0, B).copy_(next);
  position_.narrow(0, 0, B).add_(running);
  counter_.narrow(0, 0, B).add_(running);
  for (int64_t s = 0; s < B; ++s) {
    if (sequence_[s] >= 0) ++host_position_[s];
  }
}

void SlotTable::release(int64_t slot) {
  sequence_[slot] = -1;
  host_position_[slot] = 0;
  freed_.push_back(slot);
}

void SlotTable::flush() {
  if (freed_.empty()) return;
  at::Tensor index = at::tensor(freed_, at::kLong).to(device_);
  running_.index_fill_(0, index, 0);
  position_.index_fill_(0, index, 0);
  freed_.clear();
}

}  // namespace precept::rollout
