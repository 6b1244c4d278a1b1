// AdamW written out op for op as torch.optim.AdamW's single-tensor path (decoupled weight decay,
// bias correction, eps outside the square root), so that on the CPU in fp32 it is bit-identical
// to torch; plus global gradient-norm clipping as torch.nn.utils.clip_grad_norm_ and Hugging Face
// Trainer's rule for which parameters decay. It updates any tensors it is given: parameters,
// fp32 master copies, or views into a ZeRO-1 shard of a flat buffer. Not a learning-rate schedule
// (trainer/lr_schedule.h), not AMSGrad, not a torch::optim::Optimizer. Used by the GRPO trainer.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace precept::trainer {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;  // torch.optim.AdamW's default; HF Trainer's is 0.0
};

class AdamW {
 public:
  explicit AdamW(AdamWOptions options = {});

  // Registers a tensor to update under a unique name (the name keys its exported state). The
  // tensor is updated in place, so a view into a larger buffer updates that buffer. weight_decay
  // < 0 means options.weight_decay; pass 0 for tensors that must not decay (see
  // uses_weight_decay). A ZeRO-1 shard that spans parameters of both kinds is registered as one
  // view per parameter.
  void add(const std::string& name, const at::Tensor& param, double weight_decay = -1.0);

  // One update at learning rate lr with each registered tensor's own .grad(); tensors whose
  // gradient is undefined are skipped and keep their step count (as torch does).
  void step(double lr);
  // The same with explicit gradients, one per registered tensor in registration order (an
  // undefined entry skips that tensor). Gradients must match their tensor's shape and device.
  void step(double lr, const std::vector<at::Tensor>& grads);

  size_t size() const { return entries_.size(); }
  const std::string& name(size_t index) const { return entries_.at(index).name; }
  const at::Tensor& param(size_t index) const { return entries_.at(index).param; }
  int64_t step_count(size_t index) const { return entries_.at(index).step; }

  // State for checkpoints: "<name>.exp_avg", "<name>.exp_avg_sq" (the tensors themselves,
  // not copies) and "<name>.step" (int64 scalar), for every tensor that has taken a step.
  std::map<std::string, at::Tensor> state() const;
  // Restores state() output. Every registered tensor's three entries must be present or all
  // absent (a tensor that never stepped); shapes must match. Unknown names are errors.
  void load_state(const std::map<std::string, at::Tensor>& state);

  const AdamWOptions& options() const { return options_; }
  // Bytes of the exp_avg and exp_avg_sq tensors that exist (they are made at a tensor's first step).
  int64_t state_bytes() const;

 private:
  struct Entry {
    std::string name;
    at::Tensor param;
    double weight_decay;
    at::Tensor exp_avg, exp_avg_sq;  // undefined until the first step
    int64_t step = 0;
  };
  void update(Entry& entry, const at::Tensor& grad, double lr);
  AdamWOptions options_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t> index_;
};

// Global L2 norm of a list of tensors, as torch.nn.utils.get_total_norm: the norm of the stack
// of per-tensor norms (torch._foreach_norm). Undefined tensors are skipped.
struct GradientNorm {
  at::Tensor total;                      // scalar, fp32 for fp32 gradients
  double value = 0.0;                    // total as a double (syncs the device)
  bool finite = true;                    // false when the norm is inf or NaN
  std::vector<size_t> nonfinite_tensors; // indices of the tensors whose own norm is not finite
};
GradientNorm gradient_norm(const std::vector<at::Tensor>& grads);

// Multiplies every gradient by min(max_norm / (total + 1e-6), 1), as torch's
// clip_grads_with_norm_ (the multiply happens even when the factor is 1). `total` may be a
// norm all-reduced across ranks (sqrt of the summed squares).
void scale_gradients_to_norm(const std::vector<at::Tensor>& grads, double max_norm, const at::Tensor& total);

// gradient_norm then scale_gradients_to_norm, as torch.nn.utils.clip_grad_norm_. A non-finite
// norm is reported in the result and nothing is scaled (the caller skips the step); with
// error_if_nonfinite it throws instead, naming the first offending tensor index.
GradientNorm clip_gradient_norm(const std::vector<at::Tensor>& grads, double max_norm,
                                bool error_if_nonfinite = false);

// Hugging Face Trainer's rule (get_decay_parameter_names): a parameter decays unless its
// lower-cased name contains "bias", "layernorm" or "rmsnorm", or has "norm" as a whole
// dot-separated component or a component ending in "_norm" (model.norm.weight,
// self_attn.q_norm.weight). Embeddings and the output head decay.
bool uses_weight_decay(const std::string& parameter_name);

}  // namespace precept::trainer
