#include "trainer/optim/adamw.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>
#include <c10/util/StringUtil.h>

#include <stdexcept>

namespace precept::trainer {

namespace {

// "[2, 3]", as c10 prints sizes.
std::string shape_of(const at::Tensor& tensor) { return c10::str(tensor.sizes()); }

}  // namespace

AdamW::AdamW(AdamWOptions options) : options_(options) {
  if (!(options.beta1 >= 0.0 && options.beta1 < 1.0) || !(options.beta2 >= 0.0 && options.beta2 < 1.0)) {
    throw std::invalid_argument("AdamW: betas must be in [0, 1), got (" + std::to_string(options.beta1) + ", " +
                                std::to_string(options.beta2) + ")");
  }
  if (!(options.eps >= 0.0) || !(options.weight_decay >= 0.0)) {
    throw std::invalid_argument("AdamW: eps and weight_decay must be >= 0, got eps " + std::to_string(options.eps) +
                                ", weight_decay " + std::to_string(options.weight_decay));
  }
}

int64_t AdamW::state_bytes() const {
  int64_t bytes = 0;
  for (const auto& entry : entries_) {
    if (entry.exp_avg.defined()) bytes += entry.exp_avg.nbytes() + entry.exp_avg_sq.nbytes();
  }
  return bytes;
}

void AdamW::add(const std::string& name, const at::Tensor& param, double weight_decay) {
  if (name.empty()) throw std::invalid_argument("AdamW::add: the tensor name is empty");
  if (index_.count(name)) throw std::invalid_argument("AdamW::add: '" + name + "' is registered twice");
  if (!param.defined() || !at::isFloatingType(param.scalar_type())) {
    throw std::invalid_argument("AdamW::add: '" + name + "' must be a defined floating-point tensor");
  }
  index_[name] = entries_.size();
  entries_.push_back({name, param, weight_decay < 0.0 ? options_.weight_decay : weight_decay, {}, {}, 0});
}

void AdamW::step(double lr) {
  std::vector<at::Tensor> grads;
  grads.reserve(entries_.size());
  for (const auto& entry : entries_) grads.push_back(entry.param.grad());
  step(lr, grads);
}

void AdamW::step(double lr, const std::vector<at::Tensor>& grads) {
  if (grads.size() != entries_.size()) {
    throw std::invalid_argument("AdamW::step: " + std::to_string(grads.size()) + " gradients for " +
                                std::to_string(entries_.size()) + " registered tensors");
  }
  if (!(lr >= 0.0)) throw std::invalid_argument("AdamW::step: learning rate must be >= 0, got " + std::to_string(lr));
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    if (grads[i].sizes() != entries_[i].param.sizes() || grads[i].device() != entries_[i].param.device()) {
      throw std::invalid_argument("AdamW::step: the gradient of '" + entries_[i].name + "' is " + shape_of(grads[i]) +
                                  " on " + grads[i].device().str() + ", expected " + shape_of(entries_[i].param) +
                                  " on " + entries_[i].param.device().str());
    }
  }
  at::NoGradGuard no_grad;
  for (size_t i = 0; i < grads.size(); ++i) {
    if (grads[i].defined()) update(entries_[i], grads[i], lr);
  }
}

// torch/optim/adam.py `_single_tensor_adam` with decoupled_weight_decay, amsgrad, maximize,
// capturable and differentiable off: the same ATen calls with the same scalars in the same order,
// the scalars computed in double as Python computes them.
void AdamW::update(Entry& entry, const at::Tensor& grad_in, double lr) {
  at::Tensor& param = entry.param;
  const at::Tensor grad = grad_in.scalar_type() == param.scalar_type() ? grad_in : grad_in.to(param.scalar_type());
  if (!entry.exp_avg.defined()) {
    entry.exp_avg = at::zeros_like(param, at::MemoryFormat::Preserve);
    entry.exp_avg_sq = at::zeros_like(param, at::MemoryFormat::Preserve);
  }
  entry.step += 1;
  if (entry.weight_decay != 0.0) param.mul_(1.0 - lr * entry.weight_decay);
  entry.exp_avg.lerp_(grad, 1.0 - options_.beta1);
  entry.exp_avg_sq.mul_(options_.beta2).addcmul_(grad, grad, 1.0 - options_.beta2);

  const double step = static_cast<double>(entry.step);
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, step);
  const double bias_correction2 = 1.0 - std::pow(options_.beta2, step);
  const double step_size = lr / bias_correction1;
  const double bias_correction2_sqrt = std::pow(bias_correction2, 0.5);  // Python's `** 0.5`
  const at::Tensor denom = at::div(entry.exp_avg_sq.sqrt(), bias_correction2_sqrt).add_(options_.eps);
  param.addcdiv_(entry.exp_avg, denom, -step_size);
}

std::map<std::string, at::Tensor> AdamW::state() const {
  std::map<std::string, at::Tensor> out;
  for (const auto& entry : entries_) {
    if (!entry.exp_avg.defined()) continue;
    out[entry.name + ".exp_avg"] = entry.exp_avg;
    out[entry.name + ".exp_avg_sq"] = entry.exp_avg_sq;
    out[entry.name + ".step"] = at::scalar_tensor(entry.step, at::kLong);
  }
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& state) {
  static const char* const kSuffixes[] = {".exp_avg_sq", ".exp_avg", ".step"};
  for (const auto& [key, value] : state) {
    bool known = false;
    for (const char* suffix : kSuffixes) {
      const std::string s(suffix);
      if (key.size() > s.size() && key.compare(key.size() - s.size(), s.size(), s) == 0 &&
          index_.count(key.substr(0, key.size() - s.size()))) {
        known = true;
        break;
      }
    }
    if (!known) throw std::invalid_argument("AdamW::load_state: '" + key + "' belongs to no registered tensor");
  }
  at::NoGradGuard no_grad;
  for (auto& entry : entries_) {
    const auto avg = state.find(entry.name + ".exp_avg");
    const auto avg_sq = state.find(entry.name + ".exp_avg_sq");
    const auto step = state.find(entry.name + ".step");
    const int present = (avg != state.end()) + (avg_sq != state.end()) + (step != state.end());
    if (present == 0) {
      entry.exp_avg = at::Tensor();
      entry.exp_avg_sq = at::Tensor();
      entry.step = 0;
      continue;
    }
    if (present != 3) {
      throw std::invalid_argument("AdamW::load_state: '" + entry.name +
                                  "' needs all of .exp_avg, .exp_avg_sq and .step, some are missing");
    }
    for (const auto* it : {&avg, &avg_sq}) {
      if ((*it)->second.sizes() != entry.param.sizes()) {
        throw std::invalid_argument("AdamW::load_state: '" + (*it)->first + "' is " + shape_of((*it)->second) +
                                    ", the tensor is " + shape_of(entry.param));
      }
    }
    if (step->second.numel() != 1 || step->second.item<double>() < 0) {
      throw std::invalid_argument("AdamW::load_state: '" + step->first + "' must be one non-negative number");
    }
    entry.exp_avg = avg->second.to(entry.param.device(), entry.param.scalar_type()).clone();
    entry.exp_avg_sq = avg_sq->second.to(entry.param.device(), entry.param.scalar_type()).clone();
    entry.step = static_cast<int64_t>(step->second.item<double>());
  }
}

namespace {

// torch's _group_tensors_by_device_and_dtype: groups in order of first appearance, each
// keeping its members' order. Returns indices into `tensors` (undefined ones left out).
std::vector<std::vector<size_t>> group_by_device_and_dtype(const std::vector<at::Tensor>& tensors) {
  std::vector<std::vector<size_t>> groups;
  std::vector<std::pair<at::Device, at::ScalarType>> keys;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) continue;
    const std::pair<at::Device, at::ScalarType> key{tensors[i].device(), tensors[i].scalar_type()};
    size_t g = 0;
    while (g < keys.size() && keys[g] != key) ++g;
    if (g == keys.size()) {
      keys.push_back(key);
      groups.emplace_back();
    }
    groups[g].push_back(i);
  }
  return groups;
}

}  // namespace

GradientNorm gradient_norm(const std::vector<at::Tensor>& grads) {
  GradientNorm out;
  const auto groups = group_by_device_and_dtype(grads);
  if (groups.empty()) {
    out.total = at::zeros({}, at::kFloat);
    return out;
  }
  at::NoGradGuard no_grad;
  // As torch.nn.utils.get_total_norm: per-tensor norms by _foreach_norm, group after group,
  // moved to the first tensor's device, stacked, and their norm taken.
  const at::Device first = grads[groups.front().front()].device();
  std::vector<at::Tensor> norms;
  std::vector<size_t> owner;  // norms[k] is the norm of grads[owner[k]]
  for (const auto& members : groups) {
    std::vector<at::Tensor> tensors;
    for (size_t i : members) tensors.push_back(grads[i]);
    const std::vector<at::Tensor> group_norms = at::_foreach_norm(tensors, 2);
    for (size_t k = 0; k < members.size(); ++k) {
      norms.push_back(group_norms[k].to(first));
      owner.push_back(members[k]);
    }
  }
  const at::Tensor stacked = at::stack(norms);
  out.total = at::linalg_vector_norm(stacked, 2);
  out.value = out.total.item<double>();
  out.finite = std::isfinite(out.value);
  if (!out.finite) {
    const at::Tensor per_tensor = stacked.to(at::kCPU, at::kDouble).contiguous();
    for (size_t k = 0; k < owner.size(); ++k) {
      if (!std::isfinite(per_tensor.data_ptr<double>()[k])) out.nonfinite_tensors.push_back(owner[k]);
    }
    std::sort(out.nonfinite_tensors.begin(), out.nonfinite_tensors.end());
  }
  return out;
}

void scale_gradients_to_norm(const std::vector<at::Tensor>& grads, double max_norm, const at::Tensor& total) {
  if (!(max_norm > 0.0)) throw std::invalid_argument("scale_gradients_to_norm: max_norm must be > 0");
  at::NoGradGuard no_grad;
  // Python's `max_norm / (total + 1e-6)` is Tensor.__rtruediv__, i.e. reciprocal() * max_norm.
  const at::Tensor clip_coef = (total + 1e-6).reciprocal() * max_norm;
  const at::Tensor clamped = at::clamp(clip_coef, std::nullopt, 1.0);
  for (const auto& members : group_by_device_and_dtype(grads)) {
    std::vector<at::Tensor> tensors;
    for (size_t i : members) tensors.push_back(grads[i]);
    at::_foreach_mul_(tensors, clamped.to(tensors.front().device()));
  }
}

GradientNorm clip_gradient_norm(const std::vector<at::Tensor>& grads, double max_norm, bool error_if_nonfinite) {
  GradientNorm norm = gradient_norm(grads);
  if (!norm.finite) {
    if (error_if_nonfinite) {
      throw std::runtime_error("clip_gradient_norm: the total gradient norm is " + std::to_string(norm.value) +
                               (norm.nonfinite_tensors.empty()
                                    ? std::string()
                                    : "; first non-finite gradient: tensor " + std::to_string(norm.nonfinite_tensors[0])));
    }
    return norm;
  }
  scale_gradients_to_norm(grads, max_norm, norm.total);
  return norm;
}

bool uses_weight_decay(const std::string& parameter_name) {
  std::string lower = parameter_name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::regex kNoDecay(R"(bias|layernorm|rmsnorm|(?:^|\.)norm(?:$|\.)|_norm(?:$|\.))");
  return !std::regex_search(lower, kNoDecay);
}

}  // namespace precept::trainer
