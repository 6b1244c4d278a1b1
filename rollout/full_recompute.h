// Reference generation by full recomputation: every step runs the whole sequence through the
// model again. O(T^2) and single-sequence, so it is only the correctness baseline that the
// KV-cache generator is tested against, and the fallback of `precept generate --reference`.
#pragma once

#include "lm/transformer.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace precept::rollout {

struct ReferenceSampling {
  double temperature = 0.0;  // 0: greedy (argmax)
  double top_p = 1.0;        // nucleus mass kept, after temperature
  uint64_t seed = 0;
  int64_t max_new_tokens = 256;
  std::vector<int64_t> stop_ids;  // generation ends after emitting one of these
};

struct ReferenceOutput {
  std::vector<int64_t> tokens;     // generated ids only
  std::vector<double> logprobs;    // log p(token) under the model's untempered distribution
  bool stopped = false;            // true when a stop id ended generation
};

// prompt: at least one id (e.g. BOS). Positions run 0 .. len-1.
ReferenceOutput generate_full_recompute(lm::TransformerImpl& model, const std::vector<int64_t>& prompt,
                                        const ReferenceSampling& sampling);

}  // namespace precept::rollout
