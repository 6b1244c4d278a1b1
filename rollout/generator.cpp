#include "rollout/generator.h"

#include "lm/cpu_matvec.h"
#include "rollout/slot_table.h"
#include "text/tokenizer.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace precept::rollout {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop_token: return "stop";
    case FinishReason::stop_string: return "stop_string";
    case FinishReason::length: return "length";
  }
  return "?";
}

std::string MemoryPlan::describe() const {
  std::ostringstream out;
  out << "KV cache " << format_bytes(cache_bytes) << " (" << format_bytes(cache_bytes_per_slot) << " per slot of "
      << max_length << " positions) + work buffers up to " << format_bytes(workspace_bytes) << " = "
      << format_bytes(cache_bytes + workspace_bytes) << " of a " << format_bytes(budget_bytes) << " budget";
  return out.str();
}

namespace {

// Decode reads cache positions in multiples of this, so the attended length changes rarely.
constexpr int64_t kAttendBucket = 64;
// The KV cache's length is a multiple of this (a multiple of kAttendBucket).
constexpr int64_t kCacheGrain = 512;

int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace

MemoryPlan plan_generator_memory(const lm::ModelConfig& mc, const GeneratorConfig& config, c10::ScalarType dtype,
                                 c10::Device device) {
  MemoryPlan plan;
  plan.max_length = config.max_length > 0 ? config.max_length : mc.max_position_embeddings;
  if (plan.max_length > mc.max_position_embeddings) {
    throw std::invalid_argument("generator: max_length " + std::to_string(plan.max_length) +
                                " exceeds the model's max_position_embeddings " +
                                std::to_string(mc.max_position_embeddings));
  }
  const int64_t element = static_cast<int64_t>(c10::elementSize(dtype));
  plan.cache_bytes_per_slot = kv_bytes_per_slot(mc, plan.max_length, dtype);
  plan.cache_bytes = plan.cache_bytes_per_slot * config.max_slots;
  // Work buffers, an upper bound: one layer's prefill activations over the largest prefill
  // (hidden, q/k/v, MLP), its attention mask, and the fp32 logits plus sampling buffers
  // (probabilities, a sort with int64 order, a float64 CDF) for every slot.
  const int64_t prefill_tokens = std::max(config.max_prefill_tokens, plan.max_length);
  const int64_t per_token = 4 * mc.hidden_size + mc.q_size() + 2 * mc.kv_size() + 3 * mc.intermediate_size;
  plan.workspace_bytes = prefill_tokens * per_token * element + prefill_tokens * plan.max_length +
                         config.max_slots * mc.vocab_size * (4 + 4 + 4 + 8 + 8);
  if (device.is_cpu()) plan.workspace_bytes += mc.vocab_size * mc.hidden_size * element;  // see single_row_output
  return plan;
}

Generator::Generator(lm::TransformerImpl& model, GeneratorConfig config, const text::Tokenizer* tokenizer)
    : model_(model), config_(std::move(config)), tokenizer_(tokenizer) {
  const lm::ModelConfig& mc = model_.config();
  if (mc.head != lm::ModelHead::causal_lm) {
    throw std::invalid_argument("generator: " + mc.architecture + " is a sequence classifier, not a causal LM; it cannot generate");
  }
  if (config_.max_slots < 1) throw std::invalid_argument("generator: max_slots must be at least 1");
  if (config_.max_prefill_tokens < 1) throw std::invalid_argument("generator: max_prefill_tokens must be at least 1");
  const c10::ScalarType dtype = config_.cache_dtype.value_or(model_.output_weight().scalar_type());
  const c10::Device device = model_.output_weight().device();
  plan_ = plan_generator_memory(mc, config_, dtype, device);
  plan_.budget_bytes = config_.memory_budget_bytes > 0 ? config_.memory_budget_bytes : default_memory_budget(device);
  if (plan_.cache_bytes + plan_.workspace_bytes > plan_.budget_bytes) {
    throw std::runtime_error("generator: " + std::to_string(config_.max_slots) + " slots of " +
                             std::to_string(plan_.max_length) + " tokens do not fit: " + plan_.describe() +
                             ". Lower max_slots or max_length, or raise the memory budget.");
  }
}

Generator::~Generator() = default;

void Generator::release_cache() { cache_.reset(); }

int64_t Generator::cache_length() const { return cache_ ? cache_->max_length() : 0; }

namespace {

// Every request is checked before any work starts; throws naming the first that cannot run.
void check_requests(const std::vector<GenerationRequest>& requests, const SamplingParams& params,
                    const lm::ModelConfig& model, int64_t max_length, bool has_tokenizer) {
  validate(params.sampler);
  if (params.max_new_tokens < 1) throw std::invalid_argument("generate: max_new_tokens must be at least 1");
  if (!params.stop_strings.empty() && !has_tokenizer) {
    throw std::invalid_argument("generate: stop strings need the generator to have a tokenizer");
  }
  for (const auto& stop : params.stop_strings) {
    if (stop.empty()) throw std::invalid_argument("generate: an empty stop string would stop at once");
  }
  for (size_t r = 0; r < requests.size(); ++r) {
    const auto& request = requests[r];
    const std::string name = "generate: request " + std::to_string(r);
    if (request.prompt.empty()) throw std::invalid_argument(name + " has an empty prompt (it needs at least BOS)");
    if (request.n < 1) throw std::invalid_argument(name + ": n must be at least 1");
    const int64_t need = static_cast<int64_t>(request.prompt.size()) + params.max_new_tokens;
    if (need > max_length) {
      throw std::invalid_argument(name + ": its prompt of " + std::to_string(request.prompt.size()) +
                                  " tokens + max_new_tokens " + std::to_string(params.max_new_tokens) + " = " +
                                  std::to_string(need) + " exceeds the generator's max_length " +
                                  std::to_string(max_length));
    }
    for (int64_t id : request.prompt) {
      if (id < 0 || id >= model.vocab_size) {
        throw std::invalid_argument(name + " holds token id " + std::to_string(id) + " outside the vocabulary [0, " +
                                    std::to_string(model.vocab_size) + ")");
      }
    }
  }
}

// One generate() call: the sequences (every (request, sample), in output order), the queue of
// those not yet admitted, the slot table, and the results. admit() prefills waiting sequences
// into free slots; decode_step() advances every running slot by one token.
class GenerationRun {
 public:
  GenerationRun(lm::TransformerImpl& model, KvCache& cache, const GeneratorConfig& config, int64_t max_length,
                const text::Tokenizer* tokenizer, const std::vector<GenerationRequest>& requests,
                const SamplingParams& params, const ProgressCallback& progress)
      : model_(model), cache_(cache), config_(config), max_length_(max_length), tokenizer_(tokenizer),
        requests_(requests), params_(params), progress_(progress), device_(model.output_weight().device()),
        slots_(config.max_slots, device_), start_(std::chrono::steady_clock::now()) {
    for (const auto& stop : params.stop_strings) longest_stop_ = std::max(longest_stop_, stop.size());
    for (size_t r = 0; r < requests.size(); ++r) {
      const uint64_t seed = requests[r].seed ? *requests[r].seed : mix_seed(params.seed, r);
      for (int64_t j = 0; j < requests[r].n; ++j) sequences_.push_back({int64_t(r), j, stream_keys_for(seed, j)});
    }
    results_.resize(sequences_.size());
    for (size_t i = 0; i < sequences_.size(); ++i) {
      results_[i].request = sequences_[i].request;
      results_[i].sample = sequences_[i].sample;
      results_[i].tokens.reserve(params.max_new_tokens);
      results_[i].logprobs.reserve(params.max_new_tokens);
      pending_.push_back(int64_t(i));
    }
  }

  std::vector<Completion> run() {
    while (true) {
      admit();
      const auto [highest, furthest] = slots_.highest_and_furthest();
      if (highest < 0) {
        if (pending_.empty()) break;
        continue;  // everything admitted finished at its first token; admit more
      }
      decode_step(highest + 1, furthest);
      report();
    }
    report();
    return std::move(results_);
  }

 private:
  struct Sequence {
    int64_t request, sample;
    std::pair<int64_t, int64_t> keys;
  };

  // Appends one token to a sequence; true when the sequence is finished.
  bool append(int64_t seq, int64_t token, float logprob) {
    Completion& out = results_[seq];
    out.tokens.push_back(token);
    out.logprobs.push_back(logprob);
    ++tokens_generated_;
    const auto& stops = params_.stop_token_ids;
    if (std::find(stops.begin(), stops.end(), token) != stops.end()) {
      out.finish = FinishReason::stop_token;
      return true;
    }
    if (!params_.stop_strings.empty()) {
      // Every token decodes to at least one byte, so a stop string completed by this token lies
      // within the last (longest stop + 3) tokens.
      const size_t window = std::min(out.tokens.size(), longest_stop_ + 3);
      const std::vector<int64_t> tail(out.tokens.end() - window, out.tokens.end());
      const std::string text = tokenizer_->decode(tail, /*skip_special=*/false);
      for (const auto& stop : params_.stop_strings) {
        if (text.find(stop) != std::string::npos) {
          out.finish = FinishReason::stop_string;
          out.stop_string = stop;
          return true;
        }
      }
    }
    if (static_cast<int64_t>(out.tokens.size()) >= params_.max_new_tokens) {
      out.finish = FinishReason::length;
      return true;
    }
    return false;
  }

  void finish(int64_t slot) {
    finished_tokens_ += static_cast<int64_t>(results_[slots_.sequence(slot)].tokens.size());
    slots_.release(slot);
    ++done_;
  }

  // Moves waiting sequences into free slots and prefills them: each distinct prompt once, its
  // k/v written into the slots of all its admitted samples. A prefill holds at most
  // max_prefill_tokens padded prompt tokens (a longer prompt goes alone).
  void admit() {
    std::vector<int64_t> slots, admitted, rows, distinct;  // distinct: request per prefill row
    int64_t longest = 0;
    for (int64_t slot = 0; slot < slots_.size() && !pending_.empty(); ++slot) {
      if (slots_.occupied(slot)) continue;
      const int64_t seq = pending_.front();
      const int64_t request = sequences_[seq].request;
      if (distinct.empty() || distinct.back() != request) {
        const int64_t length = static_cast<int64_t>(requests_[request].prompt.size());
        const int64_t padded = (static_cast<int64_t>(distinct.size()) + 1) * std::max(longest, length);
        if (!distinct.empty() && padded > config_.max_prefill_tokens) break;
        distinct.push_back(request);
        longest = std::max(longest, length);
      }
      pending_.pop_front();
      slots.push_back(slot);
      admitted.push_back(seq);
      rows.push_back(static_cast<int64_t>(distinct.size()) - 1);
    }
    if (admitted.empty()) return;
    prefill(slots, admitted, rows, distinct, longest);
  }

  // Prefill of R distinct prompts (right-padded to `longest`) for N admitted sequences, then
  // each sequence's first token.
  void prefill(const std::vector<int64_t>& slots, const std::vector<int64_t>& admitted, const std::vector<int64_t>& rows,
               const std::vector<int64_t>& distinct, int64_t longest) {
    const auto long_options = at::TensorOptions(at::kLong).device(device_);
    const int64_t R = static_cast<int64_t>(distinct.size()), N = static_cast<int64_t>(admitted.size());
    std::vector<int64_t> token_data(R * longest, 0), valid_data(R * longest, 0), last_index(R);
    bool ragged = false;
    for (int64_t r = 0; r < R; ++r) {
      const auto& prompt = requests_[distinct[r]].prompt;
      const int64_t length = static_cast<int64_t>(prompt.size());
      ragged |= length != longest;
      std::copy(prompt.begin(), prompt.end(), token_data.begin() + r * longest);
      std::fill(valid_data.begin() + r * longest, valid_data.begin() + r * longest + length, 1);
      last_index[r] = r * longest + length - 1;
    }
    at::Tensor tokens = at::tensor(token_data, at::kLong).view({R, longest}).to(device_);
    at::Tensor positions = at::arange(longest, long_options).unsqueeze(0).expand({R, longest}).contiguous();
    at::Tensor key_valid =
        ragged ? at::tensor(valid_data, at::kLong).view({R, longest}).to(device_).to(at::kBool) : at::Tensor();
    lm::KvCacheView view = cache_.view();
    view.slots = at::tensor(slots, at::kLong).to(device_);
    at::Tensor row_index = at::tensor(rows, at::kLong).to(device_);
    if (N != R) view.rows = row_index;
    at::Tensor hidden = model_.forward_cached(tokens, positions, key_valid, view);  // [R, T, C]
    at::Tensor last = hidden.reshape({R * longest, -1}).index_select(0, at::tensor(last_index, at::kLong).to(device_));
    at::Tensor logits = model_.logits(last).index_select(0, row_index);  // [N, V]
    std::vector<int64_t> key_data;
    for (int64_t seq : admitted) {
      key_data.push_back(sequences_[seq].keys.first);
      key_data.push_back(sequences_[seq].keys.second);
    }
    at::Tensor keys = at::tensor(key_data, at::kLong).view({N, 2}).to(device_);
    Sampled first = sample_tokens(logits, params_.sampler, keys, at::zeros({N}, long_options));
    std::vector<int64_t> lengths;
    for (int64_t seq : admitted) lengths.push_back(static_cast<int64_t>(requests_[sequences_[seq].request].prompt.size()));
    slots_.occupy(slots, view.slots, admitted, lengths, first.tokens, keys);
    at::Tensor first_tokens = first.tokens.cpu(), first_logprobs = first.logprobs.to(at::kFloat).cpu();
    for (int64_t i = 0; i < N; ++i) {
      if (append(admitted[i], first_tokens[i].item<int64_t>(), first_logprobs[i].item<float>())) finish(slots[i]);
    }
    slots_.flush();
  }

  // One token for each of slots [0, B): free slots in between compute harmlessly at position 0
  // and are ignored.
  void decode_step(int64_t B, int64_t furthest) {
    lm::KvCacheView view = cache_.view();
    view.attend_length = std::min(max_length_, round_up(furthest + 1, kAttendBucket));
    at::Tensor hidden = model_.forward_cached(slots_.tokens(B).unsqueeze(1), slots_.positions(B).unsqueeze(1), {}, view);
    // A single decoding row on CPU is a matrix-vector product with the [V, C] output weight:
    // lm::cpu_matvec where the CPU has AVX2 (model_.logits takes it), else MKL against a [C, V]
    // copy, about 2x faster than against [V, C], made at the first such step of a call (a
    // policy's weights change between calls).
    const bool single_row = B == 1 && device_.is_cpu() && !lm::cpu_matvec_applies(hidden.view({1, -1}), model_.output_weight());
    if (single_row && !single_row_output_.defined()) single_row_output_ = model_.output_weight().t().contiguous();
    at::Tensor logits = single_row ? at::mm(hidden.view({1, -1}), single_row_output_)
                                   : model_.logits(hidden.squeeze(1));  // [B, V]
    Sampled next = sample_tokens(logits, params_.sampler, slots_.keys(B), slots_.counters(B));
    slots_.advance(B, next.tokens);
    // The step's one read on the host: ids and log-probabilities in a single [2, B] copy (a
    // token id is exact in a double). Everything else the next step needs stays on the device.
    at::Tensor host = at::stack({next.tokens.to(at::kDouble), next.logprobs.to(at::kDouble)}).cpu();
    const double* token_data = host.data_ptr<double>();
    const double* logprob_data = token_data + B;
    for (int64_t s = 0; s < B; ++s) {
      if (!slots_.occupied(s)) continue;
      if (append(slots_.sequence(s), static_cast<int64_t>(token_data[s]), static_cast<float>(logprob_data[s]))) finish(s);
    }
    slots_.flush();
  }

  void report() {
    if (!progress_) return;
    GenerationProgress p;
    p.sequences_done = done_;
    p.sequences_total = static_cast<int64_t>(sequences_.size());
    p.running = slots_.running();
    p.tokens_generated = tokens_generated_;
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double mean_length = done_ > 0 ? double(finished_tokens_) / done_ : double(params_.max_new_tokens);
    double remaining = double(pending_.size()) * mean_length;
    for (int64_t s = 0; s < slots_.size(); ++s) {
      if (slots_.occupied(s)) remaining += std::max(0.0, mean_length - double(results_[slots_.sequence(s)].tokens.size()));
    }
    const double rate = p.seconds > 0 ? tokens_generated_ / p.seconds : 0.0;
    p.eta_seconds = rate > 0 ? remaining / rate : 0.0;
    progress_(p);
  }

  lm::TransformerImpl& model_;
  KvCache& cache_;
  const GeneratorConfig& config_;
  const int64_t max_length_;
  const text::Tokenizer* tokenizer_;
  const std::vector<GenerationRequest>& requests_;
  const SamplingParams& params_;
  const ProgressCallback& progress_;
  const c10::Device device_;
  SlotTable slots_;
  const std::chrono::steady_clock::time_point start_;
  size_t longest_stop_ = 0;
  std::vector<Sequence> sequences_;
  std::vector<Completion> results_;
  std::deque<int64_t> pending_;
  at::Tensor single_row_output_;
  int64_t done_ = 0, tokens_generated_ = 0, finished_tokens_ = 0;
};

}  // namespace

std::vector<Completion> Generator::generate(const std::vector<GenerationRequest>& requests,
                                            const SamplingParams& params, const ProgressCallback& progress) {
  const lm::ModelConfig& mc = model_.config();
  check_requests(requests, params, mc, plan_.max_length, tokenizer_ != nullptr);
  at::NoGradGuard no_grad;
  const lm::CpuMatvecScope matvec;  // decode's few-row products on lm::cpu_matvec
  const c10::ScalarType dtype = config_.cache_dtype.value_or(model_.output_weight().scalar_type());
  // The cache holds what these requests need (the longest prompt + max_new_tokens, rounded up
  // to kCacheGrain), not max_length: a judge whose context is the model's (16,384 positions)
  // judging prompts of 700 tokens zero-fills a twentieth of it. It grows when a later call needs
  // more, never past max_length, and is never shrunk (release_cache frees it).
  int64_t need = 0;
  for (const auto& request : requests) need = std::max<int64_t>(need, request.prompt.size() + params.max_new_tokens);
  const int64_t length = std::min(plan_.max_length, round_up(need, kCacheGrain));
  if (!cache_ || cache_->max_length() < length) {
    cache_.reset();
    cache_ = std::make_unique<KvCache>(mc, config_.max_slots, length, dtype, model_.output_weight().device());
  }
  return GenerationRun(model_, *cache_, config_, cache_->max_length(), tokenizer_, requests, params, progress).run();
}

std::string completion_text(const text::Tokenizer& tokenizer, const Completion& completion, bool skip_special) {
  std::string text = tokenizer.decode(completion.tokens, skip_special);
  if (completion.finish == FinishReason::stop_string && !completion.stop_string.empty()) {
    const size_t at = text.find(completion.stop_string);
    if (at != std::string::npos) text.resize(at);
  }
  return text;
}

}  // namespace precept::rollout
