// rollout::Generator: fast batched generation with the very module being trained (no weight
// sync). A static KV cache with one slot per running sequence; prompts of different lengths are
// prefilled together, then all running slots decode one token per step; when a sequence stops
// (stop token, stop string or max_new_tokens) its slot takes the next waiting sequence at once
// (continuous batching). n samples of a prompt share one prefill.
// Not a server and not a sampler (rollout/sampler.h): it schedules slots and checks stops.
#pragma once

#include "lm/transformer.h"
#include "rollout/kv_cache.h"
#include "rollout/sampler.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace precept::text {
class Tokenizer;
}

namespace precept::rollout {

struct GeneratorConfig {
  int64_t max_slots = 16;            // sequences decoded at once
  int64_t max_length = 0;            // prompt + new tokens per slot; 0 = the model's max_position_embeddings
  int64_t max_prefill_tokens = 4096;  // padded prompt tokens prefilled in one call (a longer prompt goes alone)
  int64_t memory_budget_bytes = 0;   // 0 = default_memory_budget(device)
  std::optional<c10::ScalarType> cache_dtype;  // default: the model's dtype
};

struct SamplingParams {
  SamplerSettings sampler;
  int64_t max_new_tokens = 256;
  uint64_t seed = 0;                     // requests without their own seed derive one from this
  std::vector<int64_t> stop_token_ids;   // e.g. the checkpoint's EOS ids; the token is kept in the output
  std::vector<std::string> stop_strings;  // the text is cut before the match; needs a tokenizer
};

struct GenerationRequest {
  std::vector<int64_t> prompt;    // at least one token
  int64_t n = 1;                  // samples of this prompt, each with its own random stream
  std::optional<uint64_t> seed;   // stream seed; default: SamplingParams::seed mixed with the request index
};

enum class FinishReason { stop_token, stop_string, length };
const char* finish_reason_name(FinishReason reason);  // "stop", "stop_string", "length"

struct Completion {
  int64_t request = 0;           // index into the requests
  int64_t sample = 0;            // 0 .. n-1
  std::vector<int64_t> tokens;   // generated ids (a stop token is included)
  std::vector<float> logprobs;   // one per token; see rollout/sampler.h for which distribution
  FinishReason finish = FinishReason::length;
  std::string stop_string;       // the stop string that matched, if finish == stop_string
};

struct GenerationProgress {
  int64_t sequences_done = 0, sequences_total = 0, running = 0;
  int64_t tokens_generated = 0;
  double seconds = 0.0;       // since generate() began
  double eta_seconds = 0.0;   // estimate from the mean length so far
};
using ProgressCallback = std::function<void(const GenerationProgress&)>;

// Memory the generator needs for a configuration: the cache plus a bound on the work buffers.
struct MemoryPlan {
  int64_t max_length = 0;
  int64_t cache_bytes_per_slot = 0;
  int64_t cache_bytes = 0;
  int64_t workspace_bytes = 0;
  int64_t budget_bytes = 0;
  std::string describe() const;
};

// The plan for `config` on a model of shape `model` whose cache holds `dtype` on `device`,
// without the budget (the generator checks that). Throws when max_length exceeds the model's
// positions. The training memory plan (trainer/memory_plan.h) uses it before any model exists.
MemoryPlan plan_generator_memory(const lm::ModelConfig& model, const GeneratorConfig& config, c10::ScalarType dtype,
                                 c10::Device device);

class Generator {
 public:
  // Throws before allocating anything when the cache and work buffers would not fit the budget.
  // `tokenizer` is needed only for stop strings and may be null otherwise.
  Generator(lm::TransformerImpl& model, GeneratorConfig config, const text::Tokenizer* tokenizer = nullptr);
  ~Generator();

  // Completions ordered by (request, sample). Every request is checked (length, stop strings)
  // before any work starts; a request that cannot fit is an error naming it.
  std::vector<Completion> generate(const std::vector<GenerationRequest>& requests, const SamplingParams& params,
                                   const ProgressCallback& progress = {});

  // Frees the KV cache (e.g. while the policy trains); the next generate() allocates it again.
  void release_cache();

  const MemoryPlan& memory() const { return plan_; }
  const GeneratorConfig& config() const { return config_; }
  // Positions per slot of the KV cache allocated now (0 when none is): what the calls so far
  // needed, rounded up to 512, at most memory().max_length.
  int64_t cache_length() const;

 private:
  lm::TransformerImpl& model_;
  GeneratorConfig config_;
  const text::Tokenizer* tokenizer_;
  MemoryPlan plan_;
  std::unique_ptr<KvCache> cache_;
};

// The text of a completion: its tokens decoded (special tokens skipped when asked), cut before
// the stop string when one matched.
std::string completion_text(const text::Tokenizer& tokenizer, const Completion& completion, bool skip_special = true);

}  // namespace precept::rollout
