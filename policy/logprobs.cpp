#include "policy/logprobs.h"

#include <torch/csrc/autograd/custom_function.h>

#include <stdexcept>
#include <string>

namespace precept::policy {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::string shape_of(const at::Tensor& tensor) {
  if (!tensor.defined()) return "undefined";
  std::string out = "[";
  for (int64_t i = 0; i < tensor.dim(); ++i) out += (i ? ", " : "") + std::to_string(tensor.size(i));
  return out + "]";
}

void check_inputs(const char* what, const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                  const LogprobOptions& options) {
  const std::string where(what);
  if (!hidden.defined() || hidden.dim() != 3) {
    throw std::invalid_argument(where + ": hidden is " + shape_of(hidden) + ", expected [B, T, C]");
  }
  if (!weight.defined() || weight.dim() != 2 || weight.size(1) != hidden.size(2)) {
    throw std::invalid_argument(where + ": weight is " + shape_of(weight) + ", expected [V, C] with C = " +
                                std::to_string(hidden.size(2)));
  }
  if (!targets.defined() || targets.dim() != 2 || targets.size(0) != hidden.size(0) ||
      targets.size(1) != hidden.size(1)) {
    throw std::invalid_argument(where + ": targets is " + shape_of(targets) + ", expected [B, T] = [" +
                                std::to_string(hidden.size(0)) + ", " + std::to_string(hidden.size(1)) + "]");
  }
  if (targets.scalar_type() != at::kLong) {
    throw std::invalid_argument(where + ": targets must be int64, got " + std::string(c10::toString(targets.scalar_type())));
  }
  if (!at::isFloatingType(hidden.scalar_type()) || hidden.scalar_type() != weight.scalar_type()) {
    throw std::invalid_argument(where + ": hidden (" + std::string(c10::toString(hidden.scalar_type())) + ") and weight (" +
                                std::string(c10::toString(weight.scalar_type())) +
                                ") must share one floating-point dtype");
  }
  if (hidden.device() != weight.device() || hidden.device() != targets.device()) {
    throw std::invalid_argument(where + ": hidden (" + hidden.device().str() + "), weight (" + weight.device().str() +
                                ") and targets (" + targets.device().str() + ") must be on one device");
  }
  if (!(options.temperature > 0.0)) {
    throw std::invalid_argument(where + ": temperature must be > 0, got " + std::to_string(options.temperature));
  }
  if (options.chunk_tokens < 1) {
    throw std::invalid_argument(where + ": chunk_tokens must be >= 1, got " + std::to_string(options.chunk_tokens));
  }
  if (targets.numel() > 0) {
    const int64_t largest = targets.max().item<int64_t>();
    if (largest >= weight.size(0)) {
      throw std::invalid_argument(where + ": target id " + std::to_string(largest) + " is outside the vocabulary of " +
                                  std::to_string(weight.size(0)));
    }
  }
}

at::ScalarType compute_dtype(const at::Tensor& hidden) {
  return hidden.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

// [n, C] hidden rows -> [n, V] logits / temperature in the compute dtype (a fresh tensor).
at::Tensor chunk_logits(const at::Tensor& hidden_rows, const at::Tensor& weight, double temperature,
                        at::ScalarType dtype) {
  at::Tensor logits = at::linear(hidden_rows, weight);
  if (logits.scalar_type() != dtype) logits = logits.to(dtype);
  if (temperature != 1.0) logits.div_(temperature);
  return logits;
}

// hidden [B, T, C], weight [V, C], targets [B, T] -> log-probs [B, T] (and entropy [B, T]).
// Saves only the inputs and per-token log-normaliser and entropy ([N] each) for backward.
class ChunkedLogprobsFunction : public torch::autograd::Function<ChunkedLogprobsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
                               const at::Tensor& targets, double temperature, int64_t chunk_tokens,
                               bool with_entropy) {
    const int64_t batch = hidden.size(0), time = hidden.size(1), channels = hidden.size(2);
    const int64_t tokens = batch * time;
    const auto dtype = compute_dtype(hidden);
    const at::Tensor rows = hidden.reshape({tokens, channels});
    const at::Tensor flat_targets = targets.reshape({tokens});
    const at::Tensor ignored = flat_targets < 0;
    const at::Tensor safe_targets = flat_targets.clamp_min(0);
    const auto options = hidden.options().dtype(dtype);
    at::Tensor logprobs = at::empty({tokens}, options);
    at::Tensor normaliser = at::empty({tokens}, options);  // logsumexp of each row
    at::Tensor entropy = with_entropy ? at::empty({tokens}, options) : at::Tensor();
    for (int64_t start = 0; start < tokens; start += chunk_tokens) {
      const int64_t n = std::min(chunk_tokens, tokens - start);
      at::Tensor logits = chunk_logits(rows.narrow(0, start, n), weight, temperature, dtype);  // [n, V]
      const at::Tensor lse = at::logsumexp(logits, 1);                                          // [n]
      at::Tensor& log_p = logits.sub_(lse.unsqueeze(1));  // in place: [n, V] log-softmax
      normaliser.narrow(0, start, n).copy_(lse);
      logprobs.narrow(0, start, n).copy_(log_p.gather(1, safe_targets.narrow(0, start, n).unsqueeze(1)).squeeze(1));
      if (with_entropy) entropy.narrow(0, start, n).copy_(-(log_p.exp() * log_p).sum(1));
    }
    logprobs.masked_fill_(ignored, 0.0);
    ctx->set_materialize_grads(false);
    ctx->save_for_backward({hidden, weight, targets, normaliser, with_entropy ? entropy : at::Tensor()});
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["chunk_tokens"] = chunk_tokens;
    if (!with_entropy) return {logprobs.view({batch, time})};
    return {logprobs.view({batch, time}), entropy.view({batch, time})};
  }

  // With z = logits / temperature, log p = z - lse and H = -sum p log p:
  //   d log p[y] / dz = onehot(y) - p,   dH / dz = -p (log p + H),
  // so dz = onehot(y) g_logp - p (g_logp + g_H (log p + H)), and d logits = dz / temperature.
  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& hidden = saved[0];
    const at::Tensor& weight = saved[1];
    const at::Tensor& targets = saved[2];
    const at::Tensor& normaliser = saved[3];
    const at::Tensor& entropy = saved[4];
    const double temperature = ctx->saved_data["temperature"].toDouble();
    const int64_t chunk_tokens = ctx->saved_data["chunk_tokens"].toInt();
    const bool want_hidden = ctx->needs_input_grad(0), want_weight = ctx->needs_input_grad(1);
    const at::Tensor grad_logprobs_in = grad_outputs[0];
    const at::Tensor grad_entropy_in = grad_outputs.size() > 1 ? grad_outputs[1] : at::Tensor();
    if ((!want_hidden && !want_weight) || (!grad_logprobs_in.defined() && !grad_entropy_in.defined())) {
      return {at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }

    const int64_t tokens = hidden.size(0) * hidden.size(1), channels = hidden.size(2);
    const auto dtype = compute_dtype(hidden);
    const at::Tensor rows = hidden.reshape({tokens, channels});
    const at::Tensor flat_targets = targets.reshape({tokens});
    const at::Tensor safe_targets = flat_targets.clamp_min(0);
    const auto options = hidden.options().dtype(dtype);
    const at::Tensor grad_logprobs = grad_logprobs_in.defined()
                                         ? grad_logprobs_in.reshape({tokens}).to(dtype).masked_fill(flat_targets < 0, 0.0)
                                         : at::zeros({tokens}, options);
    const at::Tensor grad_entropy = grad_entropy_in.defined() ? grad_entropy_in.reshape({tokens}).to(dtype) : at::Tensor();

    at::Tensor grad_hidden = want_hidden ? at::empty_like(rows) : at::Tensor();
    // fp32 (or fp64) accumulator for the weight gradient across chunks.
    at::Tensor grad_weight = want_weight ? at::zeros(weight.sizes(), weight.options().dtype(dtype)) : at::Tensor();
    for (int64_t start = 0; start < tokens; start += chunk_tokens) {
      const int64_t n = std::min(chunk_tokens, tokens - start);
      const at::Tensor hidden_rows = rows.narrow(0, start, n);
      at::Tensor log_p = chunk_logits(hidden_rows, weight, temperature, dtype);  // [n, V]
      log_p.sub_(normaliser.narrow(0, start, n).unsqueeze(1));
      at::Tensor p = log_p.exp();
      const at::Tensor g_logp = grad_logprobs.narrow(0, start, n).unsqueeze(1);  // [n, 1]
      at::Tensor grad_z;
      if (grad_entropy.defined()) {
        // (log p + H) g_H + g_logp, then times -p: reuses log_p's buffer.
        log_p.add_(entropy.narrow(0, start, n).unsqueeze(1)).mul_(grad_entropy.narrow(0, start, n).unsqueeze(1));
        log_p.add_(g_logp);
        grad_z = log_p.mul_(p).neg_();
        p = at::Tensor();
      } else {
        log_p = at::Tensor();
        grad_z = p.mul_(g_logp).neg_();
      }
      grad_z.scatter_add_(1, safe_targets.narrow(0, start, n).unsqueeze(1), g_logp);
      if (temperature != 1.0) grad_z.div_(temperature);
      const at::Tensor grad_logits = grad_z.scalar_type() == weight.scalar_type() ? grad_z : grad_z.to(weight.scalar_type());
      if (want_hidden) grad_hidden.narrow(0, start, n).copy_(at::mm(grad_logits, weight));
      if (want_weight) {
        if (grad_weight.scalar_type() == hidden_rows.scalar_type()) {
          grad_weight.addmm_(grad_logits.t(), hidden_rows);
        } else {
          grad_weight.add_(at::mm(grad_logits.t(), hidden_rows));
        }
      }
    }
    return {want_hidden ? grad_hidden.view(hidden.sizes()) : at::Tensor(),
            want_weight ? grad_weight.to(weight.scalar_type()) : at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

TokenLogprobs chunked_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                               const LogprobOptions& options) {
  check_inputs("chunked_logprobs", hidden, weight, targets, options);
  const variable_list outputs = ChunkedLogprobsFunction::apply(hidden, weight, targets, options.temperature,
                                                               options.chunk_tokens, options.with_entropy);
  TokenLogprobs out;
  out.logprobs = outputs[0];
  if (options.with_entropy) out.entropy = outputs[1];
  return out;
}

TokenLogprobs full_logprobs(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                            const LogprobOptions& options) {
  check_inputs("full_logprobs", hidden, weight, targets, options);
  at::Tensor logits = at::linear(hidden, weight).to(compute_dtype(hidden));  // [B, T, V]
  if (options.temperature != 1.0) logits = logits / options.temperature;
  const at::Tensor log_p = at::log_softmax(logits, -1);
  TokenLogprobs out;
  out.logprobs = log_p.gather(2, targets.clamp_min(0).unsqueeze(2)).squeeze(2).masked_fill(targets < 0, 0.0);
  if (options.with_entropy) out.entropy = -(log_p.exp() * log_p).sum(-1);
  return out;
}

}  // namespace precept::policy
