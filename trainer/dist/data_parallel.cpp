#include "trainer/dist/data_parallel.h"

#include <algorithm>

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace precept::trainer {

namespace {

struct NamedParameter {
  std::string name;
  at::Tensor tensor;
  int64_t offset = 0;  // in the flat buffer (ZeRO-1)
  at::Tensor master;   // replicated, for a parameter that is not fp32: its fp32 master copy
};

constexpr const char* kMasterSuffix = ".master";

bool has_suffix(const std::string& name, const std::string& suffix) {
  return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The optimizer state without the masters, and the masters by parameter name.
std::pair<std::map<std::string, at::Tensor>, std::map<std::string, at::Tensor>> split_masters(
    const std::map<std::string, at::Tensor>& state) {
  std::map<std::string, at::Tensor> adam, masters;
  for (const auto& [name, tensor] : state) {
    if (has_suffix(name, kMasterSuffix)) {
      masters[name.substr(0, name.size() - std::string(kMasterSuffix).size())] = tensor;
    } else {
      adam[name] = tensor;
    }
  }
  return {adam, masters};
}

}  // namespace

struct DataParallelOptimizer::Impl {
  std::shared_ptr<Communicator> communicator;
  std::vector<NamedParameter> parameters;
  std::unique_ptr<AdamW> adam;
  int64_t bucket_mb = 25;
  double weight_decay = 0.0;

  // ZeRO-1 only.
  at::Tensor flat_parameters;  // [S * W], the model's parameters are views into it
  at::Tensor flat_gradients;   // [S * W], the parameters' .grad are views into it
  at::Tensor gradient_shard;   // [S] fp32
  at::Tensor master_shard;     // [S] fp32: a view of flat_parameters when they are fp32
  int64_t shard = 0;           // S
  struct Piece {               // one parameter's overlap with this rank's shard
    size_t parameter;
    int64_t begin, end;        // within the parameter (flattened)
    std::string key;           // the AdamW entry's name
  };
  std::vector<Piece> pieces;
};

DataParallelOptimizer::DataParallelOptimizer(lm::TransformerImpl& model, std::shared_ptr<Communicator> communicator,
                                             AdamWOptions options, bool zero1, int64_t bucket_mb)
    : impl_(std::make_unique<Impl>()), zero1_(zero1) {
  impl_->communicator = std::move(communicator);
  impl_->adam = std::make_unique<AdamW>(options);
  impl_->bucket_mb = bucket_mb;
  impl_->weight_decay = options.weight_decay;
  for (auto& item : model.named_parameters()) {
    if (item.value().requires_grad()) impl_->parameters.push_back({item.key(), item.value(), 0});
  }
  const int64_t world = impl_->communicator->world_size(), rank = impl_->communicator->rank();
  int64_t total = 0;
  for (auto& p : impl_->parameters) total += p.tensor.numel();
  memory_.parameters = total;
  if (impl_->parameters.empty()) throw std::runtime_error("DataParallelOptimizer: the model has no trainable parameter");
  if (!zero1_) {
    // AdamW updates fp32 tensors only: a bf16 or fp16 parameter is updated through an fp32
    // master copy, which the parameter then takes, rounded (an update of 1e-6 relative would
    // vanish in bf16's 8 bits of mantissa).
    at::NoGradGuard no_grad;
    for (auto& p : impl_->parameters) {
      at::Tensor target = p.tensor;
      if (p.tensor.scalar_type() != at::kFloat && p.tensor.scalar_type() != at::kDouble) {
        p.master = p.tensor.detach().to(at::kFloat).clone();
        target = p.master;
        memory_.buffer_bytes_per_rank += p.tensor.numel() * 4;
      }
      impl_->adam->add(p.name, target, uses_weight_decay(p.name) ? options.weight_decay : 0.0);
    }
    memory_.state_bytes_per_rank = 2 * total * 4;
    return;
  }

  // ZeRO-1: one flat buffer for the parameters and one for the gradients, padded to a multiple
  // of the world size; the model's tensors become views into them.
  const auto dtype = impl_->parameters.front().tensor.scalar_type();
  for (auto& p : impl_->parameters) {
    if (p.tensor.scalar_type() != dtype) {
      throw std::runtime_error("ZeRO-1: every parameter must have one dtype; " + p.name + " differs");
    }
  }
  impl_->shard = (total + world - 1) / world;
  const auto options_like = impl_->parameters.front().tensor.options().requires_grad(false);
  impl_->flat_parameters = at::zeros({impl_->shard * world}, options_like);
  impl_->flat_gradients = at::zeros({impl_->shard * world}, options_like);
  {
    at::NoGradGuard no_grad;
    int64_t offset = 0;
    for (auto& p : impl_->parameters) {
      const int64_t n = p.tensor.numel();
      p.offset = offset;
      at::Tensor view = impl_->flat_parameters.narrow(0, offset, n).view(p.tensor.sizes());
      view.copy_(p.tensor);
      p.tensor.set_data(view);
      p.tensor.mutable_grad() = impl_->flat_gradients.narrow(0, offset, n).view(p.tensor.sizes());
      offset += n;
    }
  }
  const int64_t begin = rank * impl_->shard, end = begin + impl_->shard;
  impl_->gradient_shard = at::zeros({impl_->shard}, options_like.dtype(at::kFloat));
  at::Tensor own = impl_->flat_parameters.narrow(0, begin, impl_->shard);
  impl_->master_shard = dtype == at::kFloat ? own : own.to(at::kFloat).clone();
  for (size_t i = 0; i < impl_->parameters.size(); ++i) {
    const auto& p = impl_->parameters[i];
    const int64_t lo = std::max(begin, p.offset), hi = std::min(end, p.offset + p.tensor.numel());
    if (lo >= hi) continue;
    Impl::Piece piece{i, lo - p.offset, hi - p.offset, p.name + "@" + std::to_string(lo - p.offset)};
    impl_->adam->add(piece.key, impl_->master_shard.narrow(0, lo - begin, hi - lo),
                     uses_weight_decay(p.name) ? options.weight_decay : 0.0);
    impl_->pieces.push_back(piece);
  }
  memory_.state_bytes_per_rank = 2 * impl_->shard * 4;
  memory_.buffer_bytes_per_rank = impl_->shard * 4 + (dtype == at::kFloat ? 0 : impl_->shard * 4);
}

DataParallelOptimizer::~DataParallelOptimizer() = default;

OptimizerMemory DataParallelOptimizer::measured_memory() const {
  OptimizerMemory out;
  out.parameters = memory_.parameters;
  out.state_bytes_per_rank = impl_->adam->state_bytes();
  for (const auto& p : impl_->parameters) {
    if (p.master.defined()) out.buffer_bytes_per_rank += p.master.nbytes();
  }
  if (zero1_) {
    out.buffer_bytes_per_rank += impl_->gradient_shard.nbytes();
    const at::Tensor own = impl_->flat_parameters.narrow(0, impl_->communicator->rank() * impl_->shard, impl_->shard);
    if (impl_->master_shard.data_ptr() != own.data_ptr()) out.buffer_bytes_per_rank += impl_->master_shard.nbytes();
  }
  return out;
}

void DataParallelOptimizer::zero_grad() {
  if (zero1_) {
    impl_->flat_gradients.zero_();
    // Gradients that autograd replaced (it should not) are put back as views.
    for (auto& p : impl_->parameters) {
      at::Tensor view = impl_->flat_gradients.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.sizes());
      if (!p.tensor.grad().defined() || p.tensor.grad().data_ptr() != view.data_ptr()) p.tensor.mutable_grad() = view;
    }
    return;
  }
  for (auto& p : impl_->parameters) {
    if (!p.tensor.grad().defined()) {
      p.tensor.mutable_grad() = at::zeros_like(p.tensor);
    } else {
      p.tensor.mutable_grad().zero_();
    }
  }
}

DataParallelStep DataParallelOptimizer::step(double lr, double max_grad_norm, double nonfinite_losses) {
  DataParallelStep result;
  Communicator& communicator = *impl_->communicator;
  // Which ranks saw a non-finite loss: one slot per rank, summed.
  std::vector<double> flags(communicator.world_size(), 0.0);
  flags[communicator.rank()] = nonfinite_losses;
  flags = all_reduce_scalars(communicator, flags);
  for (size_t r = 0; r < flags.size(); ++r) {
    result.nonfinite_losses += flags[r];
    if (flags[r] > 0) result.nonfinite_ranks += (result.nonfinite_ranks.empty() ? "" : ", ") + std::to_string(r);
  }
  if (!zero1_) {
    std::vector<at::Tensor> grads;
    for (auto& p : impl_->parameters) grads.push_back(p.tensor.grad());
    communicator.all_reduce_sum(grads);
    // Norm, clipping and step on fp32 gradients (a master's gradient is its parameter's, upcast).
    std::vector<at::Tensor> update;
    for (size_t i = 0; i < grads.size(); ++i) {
      update.push_back(impl_->parameters[i].master.defined() ? grads[i].to(at::kFloat) : grads[i]);
    }
    const GradientNorm norm = gradient_norm(update);
    result.grad_norm = norm.value;
    result.finite = norm.finite && result.nonfinite_losses == 0;
    if (!norm.nonfinite_tensors.empty()) result.first_nonfinite = impl_->parameters[norm.nonfinite_tensors.front()].name;
    if (!result.finite) return result;
    if (max_grad_norm > 0) scale_gradients_to_norm(update, max_grad_norm, norm.total);
    impl_->adam->step(lr, update);
    at::NoGradGuard no_grad;
    for (auto& p : impl_->parameters) {
      if (p.master.defined()) p.tensor.copy_(p.master);
    }
    return result;
  }

  // ZeRO-1: reduce-scatter, global norm from the shards, shard update, all-gather.
  for (auto& p : impl_->parameters) {
    at::Tensor view = impl_->flat_gradients.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.sizes());
    if (p.tensor.grad().data_ptr() != view.data_ptr()) view.copy_(p.tensor.grad());
  }
  at::Tensor shard_grads = at::empty({impl_->shard}, impl_->flat_gradients.options());
  communicator.reduce_scatter_sum(shard_grads, impl_->flat_gradients);
  impl_->gradient_shard.copy_(shard_grads);
  const auto sums = all_reduce_scalars(communicator, {impl_->gradient_shard.pow(2).sum().item<double>()});
  result.grad_norm = std::sqrt(sums[0]);
  result.finite = std::isfinite(result.grad_norm) && result.nonfinite_losses == 0;
  if (!result.finite) {
    for (const auto& piece : impl_->pieces) {
      const auto& p = impl_->parameters[piece.parameter];
      const int64_t at = p.offset + piece.begin - communicator.rank() * impl_->shard;
      if (!at::isfinite(impl_->gradient_shard.narrow(0, at, piece.end - piece.begin)).all().item<bool>()) {
        result.first_nonfinite = p.name;
        break;
      }
    }
    return result;
  }
  if (max_grad_norm > 0) {
    const double factor = std::min(max_grad_norm / (result.grad_norm + 1e-6), 1.0);
    impl_->gradient_shard.mul_(factor);
  }
  std::vector<at::Tensor> grads;
  const int64_t begin = communicator.rank() * impl_->shard;
  for (const auto& piece : impl_->pieces) {
    const auto& p = impl_->parameters[piece.parameter];
    grads.push_back(impl_->gradient_shard.narrow(0, p.offset + piece.begin - begin, piece.end - piece.begin));
  }
  impl_->adam->step(lr, grads);
  at::Tensor own = impl_->flat_parameters.narrow(0, begin, impl_->shard);
  if (impl_->master_shard.data_ptr() != own.data_ptr()) own.copy_(impl_->master_shard);
  at::NoGradGuard no_grad;
  at::Tensor source = own.clone();
  communicator.all_gather(impl_->flat_parameters, source);
  return result;
}

std::map<std::string, at::Tensor> DataParallelOptimizer::state() {
  if (!zero1_) {
    std::map<std::string, at::Tensor> out = impl_->adam->state();
    for (const auto& p : impl_->parameters) {
      if (p.master.defined()) out[p.name + kMasterSuffix] = p.master;
    }
    return out;
  }
  Communicator& communicator = *impl_->communicator;
  const int64_t world = communicator.world_size(), begin = communicator.rank() * impl_->shard;
  std::map<std::string, at::Tensor> local = impl_->adam->state();
  std::map<std::string, at::Tensor> out;
  int64_t step = 0;
  for (const auto& [name, tensor] : local) {
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".step") == 0) step = std::max(step, tensor.item<int64_t>());
  }
  // The step count is the same on every rank that holds a piece (a rank may hold none): the
  // largest over ranks. (The sum, which all_reduce_scalars gives, was saved before: world times
  // the step, so a ZeRO-1 resume took a wrong bias correction.)
  std::vector<double> steps(world, 0.0);
  steps[communicator.rank()] = static_cast<double>(step);
  steps = all_reduce_scalars(communicator, steps);
  step = static_cast<int64_t>(std::llround(*std::max_element(steps.begin(), steps.end())));
  for (const char* kind : {"exp_avg", "exp_avg_sq"}) {
    at::Tensor shard = at::zeros({impl_->shard}, at::kFloat);
    for (const auto& piece : impl_->pieces) {
      auto it = local.find(piece.key + "." + kind);
      if (it == local.end()) continue;
      const auto& p = impl_->parameters[piece.parameter];
      shard.narrow(0, p.offset + piece.begin - begin, piece.end - piece.begin).copy_(it->second.reshape({-1}));
    }
    at::Tensor full = at::zeros({impl_->shard * world}, at::kFloat);
    communicator.all_gather(full, shard);
    for (const auto& p : impl_->parameters) {
      out[p.name + "." + kind] = full.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.sizes()).clone();
    }
  }
  if (step > 0) {
    for (const auto& p : impl_->parameters) out[p.name + ".step"] = at::scalar_tensor(step, at::kLong);
  } else {
    out.clear();  // nothing has stepped yet, as AdamW::state() reports
  }
  if (impl_->master_shard.data_ptr() != impl_->flat_parameters.narrow(0, begin, impl_->shard).data_ptr()) {
    // bf16 parameters: the fp32 masters, gathered, so that a resume continues from them exactly.
    at::Tensor full = at::zeros({impl_->shard * world}, at::kFloat);
    communicator.all_gather(full, impl_->master_shard.clone());
    for (const auto& p : impl_->parameters) {
      out[p.name + kMasterSuffix] = full.narrow(0, p.offset, p.tensor.numel()).view(p.tensor.sizes()).clone();
    }
  }
  return out;
}

void DataParallelOptimizer::load_state(const std::map<std::string, at::Tensor>& full_state) {
  const auto split = split_masters(full_state);
  const std::map<std::string, at::Tensor>& state = split.first;
  const std::map<std::string, at::Tensor>& masters = split.second;
  // The masters of a checkpoint must be those of parameters this optimizer keeps masters for
  // (a checkpoint written without them, e.g. of an fp32 run, leaves the masters at the weights).
  auto master_of = [&](const NamedParameter& p) -> at::Tensor {
    auto it = masters.find(p.name);
    if (it == masters.end()) return {};
    if (it->second.numel() != p.tensor.numel()) {
      throw std::runtime_error("optimizer state: " + p.name + kMasterSuffix + " has " + std::to_string(it->second.numel()) +
                               " elements, the parameter " + std::to_string(p.tensor.numel()));
    }
    return it->second.to(at::kFloat);
  };
  for (const auto& [name, tensor] : masters) {
    bool known = false;
    for (const auto& p : impl_->parameters) known = known || p.name == name;
    if (!known) throw std::runtime_error("optimizer state: " + name + kMasterSuffix + " belongs to no trainable parameter");
  }
  at::NoGradGuard no_grad;
  if (!zero1_) {
    impl_->adam->load_state(state);
    for (auto& p : impl_->parameters) {
      if (!p.master.defined()) continue;
      const at::Tensor master = master_of(p);
      if (master.defined()) p.master.copy_(master.view(p.tensor.sizes()));
      else p.master.copy_(p.tensor);
      p.tensor.copy_(p.master);
    }
    return;
  }
  const int64_t begin = impl_->communicator->rank() * impl_->shard;
  const bool separate_masters =
      impl_->master_shard.data_ptr() != impl_->flat_parameters.narrow(0, begin, impl_->shard).data_ptr();
  if (separate_masters) {
    for (const auto& piece : impl_->pieces) {
      const auto& p = impl_->parameters[piece.parameter];
      at::Tensor target = impl_->master_shard.narrow(0, p.offset + piece.begin - begin, piece.end - piece.begin);
      const at::Tensor master = master_of(p);
      if (master.defined()) target.copy_(master.reshape({-1}).narrow(0, piece.begin, piece.end - piece.begin));
      else target.copy_(impl_->flat_parameters.narrow(0, p.offset + piece.begin, piece.end - piece.begin));
    }
  }
  std::map<std::string, at::Tensor> local;
  for (const auto& piece : impl_->pieces) {
    const auto& p = impl_->parameters[piece.parameter];
    auto find = [&](const std::string& kind) {
      auto it = state.find(p.name + "." + kind);
      if (it == state.end()) throw std::runtime_error("optimizer state: no " + p.name + "." + kind + " in the checkpoint");
      return it->second;
    };
    if (!state.count(p.name + ".step")) continue;  // never stepped
    at::Tensor avg = find("exp_avg").to(at::kFloat).reshape({-1});
    at::Tensor avg_sq = find("exp_avg_sq").to(at::kFloat).reshape({-1});
    if (avg.numel() != p.tensor.numel()) {
      throw std::runtime_error("optimizer state: " + p.name + ".exp_avg has " + std::to_string(avg.numel()) +
                               " elements, the parameter " + std::to_string(p.tensor.numel()));
    }
    local[piece.key + ".exp_avg"] = avg.narrow(0, piece.begin, piece.end - piece.begin).clone();
    local[piece.key + ".exp_avg_sq"] = avg_sq.narrow(0, piece.begin, piece.end - piece.begin).clone();
    local[piece.key + ".step"] = find("step").clone();
  }
  impl_->adam->load_state(local);
}

}  // namespace precept::trainer
