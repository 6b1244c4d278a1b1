// What a LoRA adapter is: its rank, scale, dropout and the linear modules it adapts. Plain data,
// without LibTorch, so that the run configuration (trainer/config.h) can hold it; the adapters
// themselves are policy/lora.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace precept::policy {

struct LoraConfig {
  int64_t r = 16;                  // rank
  double alpha = 32.0;             // scale numerator (peft's lora_alpha)
  double dropout = 0.0;            // on the adapter's input, in training only
  bool rslora = false;             // scale alpha / sqrt(r) instead of alpha / r (rank-stabilised LoRA)
  // Module names as peft matches them: a name matches a module whose path is it or ends in
  // "." + it ("q_proj" adapts every layer's self_attn.q_proj). "all-linear" adapts every linear
  // module of the decoder (not the output head), as peft's "all-linear" does.
  std::vector<std::string> target_modules = {"all-linear"};
  // peft's other form: one regular expression a module's whole path must match (used when set;
  // read from adapter_config.json files that have it).
  std::string target_pattern;

  double scale() const { return rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r); }
};

}  // namespace precept::policy
