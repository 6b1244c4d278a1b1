#include "rollout/generator.h"

#include "lm/tokenizer.h"

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

int64_t round_up(int64_t value, int64_t multiple) { return (value + multiple - 1) / multiple * multiple; }

}  // namespace

Generator::Generator(lm::TransformerImpl& model, GeneratorConfig config, const lm::Tokenizer* tokenizer)
    : model_(model), config_(std::move(config)), tokenizer_(tokenizer) {
  const lm::ModelConfig& mc = model_.config();
  if (mc.head != lm::ModelHead::causal_lm) {
    throw std::invalid_argument("generator: " + mc.architecture + " is a sequence classifier, not a causal LM; it cannot generate");
  }
  if (config_.max_slots < 1) throw std::invalid_argument("generator: max_slots must be at least 1");
  if (config_.max_prefill_tokens < 1) throw std::invalid_argument("generator: max_prefill_tokens must be at least 1");
  plan_.max_length = config_.max_length > 0 ? config_.max_length : mc.max_position_embeddings;
  if (plan_.max_length > mc.max_position_embeddings) {
    throw std::invalid_argument("generator: max_length " + std::to_string(plan_.max_length) +
                                " exceeds the model's max_position_embeddings " +
                                std::to_string(mc.max_position_embeddings));
  }
  const c10::ScalarType dtype = config_.cache_dtype.value_or(model_.output_weight().scalar_type());
  const c10::Device device = model_.output_weight().device();
  const int64_t element = static_cast<int64_t>(c10::elementSize(dtype));
  plan_.cache_bytes_per_slot = kv_bytes_per_slot(mc, plan_.max_length, dtype);
  plan_.cache_bytes = plan_.cache_bytes_per_slot * config_.max_slots;
  // Work buffers, an upper bound: one layer's prefill activations over the largest prefill
  // (hidden, q/k/v, MLP), its attention mask, and the fp32 logits plus sampling buffers
  // (probabilities, a sort with int64 order, a float64 CDF) for every slot.
  const int64_t prefill_tokens = std::max(config_.max_prefill_tokens, plan_.max_length);
  const int64_t per_token = 4 * mc.hidden_size + mc.q_size() + 2 * mc.kv_size() + 3 * mc.intermediate_size;
  plan_.workspace_bytes = prefill_tokens * per_token * element + prefill_tokens * plan_.max_length +
                          config_.max_slots * mc.vocab_size * (4 + 4 + 4 + 8 + 8);
  if (device.is_cpu()) plan_.workspace_bytes += mc.vocab_size * mc.hidden_size * element;  // see single_row_output
  plan_.budget_bytes = config_.memory_budget_bytes > 0 ? config_.memory_budget_bytes : default_memory_budget(device);
  if (plan_.cache_bytes + plan_.workspace_bytes > plan_.budget_bytes) {
    throw std::runtime_error("generator: " + std::to_string(config_.max_slots) + " slots of " +
                             std::to_string(plan_.max_length) + " tokens do not fit: " + plan_.describe() +
                             ". Lower max_slots or max_length, or raise the memory budget.");
  }
}

Generator::~Generator() = default;

void Generator::release_cache() { cache_.reset(); }

std::vector<Completion> Generator::generate(const std::vector<GenerationRequest>& requests,
                                            const SamplingParams& params, const ProgressCallback& progress) {
  validate(params.sampler);
  if (params.max_new_tokens < 1) throw std::invalid_argument("generate: max_new_tokens must be at least 1");
  if (!params.stop_strings.empty() && !tokenizer_) {
    throw std::invalid_argument("generate: stop strings need the generator to have a tokenizer");
  }
  size_t longest_stop = 0;
  for (const auto& stop : params.stop_strings) {
    if (stop.empty()) throw std::invalid_argument("generate: an empty stop string would stop at once");
    longest_stop = std::max(longest_stop, stop.size());
  }
  const lm::ModelConfig& mc = model_.config();
  const int64_t max_length = plan_.max_length;
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
      if (id < 0 || id >= mc.vocab_size) {
        throw std::invalid_argument(name + " holds token id " + std::to_string(id) + " outside the vocabulary [0, " +
                                    std::to_string(mc.vocab_size) + ")");
      }
    }
  }

  at::NoGradGuard no_grad;
  const c10::Device device = model_.output_weight().device();
  const c10::ScalarType dtype = config_.cache_dtype.value_or(model_.output_weight().scalar_type());
  if (!cache_) cache_ = std::make_unique<KvCache>(mc, config_.max_slots, max_length, dtype, device);
  const auto long_options = at::TensorOptions(at::kLong).device(device);
  const int64_t S = config_.max_slots;

  // Every (request, sample) is one sequence, in output order.
  struct Sequence {
    int64_t request, sample;
    std::pair<int64_t, int64_t> keys;
  };
  std::vector<Sequence> sequences;
  for (size_t r = 0; r < requests.size(); ++r) {
    const uint64_t seed = requests[r].seed ? *requests[r].seed : mix_seed(params.seed, r);
    for (int64_t j = 0; j < requests[r].n; ++j) sequences.push_back({int64_t(r), j, stream_keys_for(seed, j)});
  }
  std::vector<Completion> results(sequences.size());
  for (size_t i = 0; i < sequences.size(); ++i) {
    results[i].request = sequences[i].request;
    results[i].sample = sequences[i].sample;
    results[i].tokens.reserve(params.max_new_tokens);
    results[i].logprobs.reserve(params.max_new_tokens);
  }
  std::deque<int64_t> pending;
  for (size_t i = 0; i < sequences.size(); ++i) pending.push_back(int64_t(i));

  // Slot state: on the host (which sequence, its next cache position) and mirrored on the
  // device (last token, position, random stream, tokens drawn, running flag), so that a decode
  // step needs no host-built tensors.
  std::vector<int64_t> slot_sequence(S, -1), slot_position(S, 0);
  at::Tensor device_token = at::zeros({S}, long_options);
  at::Tensor device_position = at::zeros({S}, long_options);
  at::Tensor device_keys = at::zeros({S, 2}, long_options);
  at::Tensor device_counter = at::zeros({S}, long_options);
  at::Tensor device_running = at::zeros({S}, long_options);

  // A single decoding row on CPU is a matrix-vector product with the [V, C] output weight, which
  // MKL runs about 2x faster against a [C, V] copy (bench/generate_bench.py, batch 1). The copy
  // is made at the first such step of a call (a policy's weights change between calls).
  at::Tensor single_row_output;

  const auto start = std::chrono::steady_clock::now();
  int64_t done = 0, tokens_generated = 0, finished_tokens = 0;
  std::vector<int64_t> freed;

  // Appends one token to a sequence, returns true when the sequence is finished.
  auto append = [&](int64_t seq, int64_t token, float logprob) {
    Completion& out = results[seq];
    out.tokens.push_back(token);
    out.logprobs.push_back(logprob);
    ++tokens_generated;
    if (std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), token) != params.stop_token_ids.end()) {
      out.finish = FinishReason::stop_token;
      return true;
    }
    if (!params.stop_strings.empty()) {
      // Every token decodes to at least one byte, so a stop string completed by this token lies
      // within the last (longest stop + 3) tokens.
      const size_t window = std::min(out.tokens.size(), longest_stop + 3);
      const std::vector<int64_t> tail(out.tokens.end() - window, out.tokens.end());
      const std::string text = tokenizer_->decode(tail, /*skip_special=*/false);
      for (const auto& stop : params.stop_strings) {
        if (text.find(stop) != std::string::npos) {
          out.finish = FinishReason::stop_string;
          out.stop_string = stop;
          return true;
        }
      }
    }
    if (static_cast<int64_t>(out.tokens.size()) >= params.max_new_tokens) {
      out.finish = FinishReason::length;
      return true;
    }
    return false;
  };
  auto finish = [&](int64_t slot) {
    finished_tokens += static_cast<int64_t>(results[slot_sequence[slot]].tokens.size());
    slot_sequence[slot] = -1;
    slot_position[slot] = 0;
    freed.push_back(slot);
    ++done;
  };
  auto flush_freed = [&] {
    if (freed.empty()) return;
    at::Tensor index = at::tensor(freed, at::kLong).to(device);
    device_running.index_fill_(0, index, 0);
    device_position.index_fill_(0, index, 0);
    freed.clear();
  };

  // Moves waiting sequences into free slots and prefills them: each distinct prompt once,
  // its k/v written into the slots of all its admitted samples.
  auto admit = [&] {
    std::vector<int64_t> slots, admitted, rows, distinct;  // distinct: request per prefill row
    int64_t longest = 0;
    for (int64_t slot = 0; slot < S && !pending.empty(); ++slot) {
      if (slot_sequence[slot] >= 0) continue;
      const int64_t seq = pending.front();
      const int64_t request = sequences[seq].request;
      if (distinct.empty() || distinct.back() != request) {
        const int64_t length = static_cast<int64_t>(requests[request].prompt.size());
        const int64_t padded = (static_cast<int64_t>(distinct.size()) + 1) * std::max(longest, length);
        if (!distinct.empty() && padded > config_.max_prefill_tokens) break;
        distinct.push_back(request);
        longest = std::max(longest, length);
      }
      pending.pop_front();
      slots.push_back(slot);
      admitted.push_back(seq);
      rows.push_back(static_cast<int64_t>(distinct.size()) - 1);
    }
    if (admitted.empty()) return;
    const int64_t R = static_cast<int64_t>(distinct.size()), N = static_cast<int64_t>(admitted.size());
    std::vector<int64_t> token_data(R * longest, 0), valid_data(R * longest, 0), last_index(R);
    bool ragged = false;
    for (int64_t r = 0; r < R; ++r) {
      const auto& prompt = requests[distinct[r]].prompt;
      const int64_t length = static_cast<int64_t>(prompt.size());
      ragged |= length != longest;
      std::copy(prompt.begin(), prompt.end(), token_data.begin() + r * longest);
      std::fill(valid_data.begin() + r * longest, valid_data.begin() + r * longest + length, 1);
      last_index[r] = r * longest + length - 1;
    }
    at::Tensor tokens = at::tensor(token_data, at::kLong).view({R, longest}).to(device);
    at::Tensor positions = at::arange(longest, long_options).unsqueeze(0).expand({R, longest}).contiguous();
    at::Tensor key_valid = ragged ? at::tensor(valid_data, at::kLong).view({R, longest}).to(device).to(at::kBool)
                                  : at::Tensor();
    lm::KvCacheView view = cache_->view();
    view.slots = at::tensor(slots, at::kLong).to(device);
    at::Tensor row_index = at::tensor(rows, at::kLong).to(device);
    if (N != R) view.rows = row_index;
    at::Tensor hidden = model_.forward_cached(tokens, positions, key_valid, view);  // [R, T, C]
    at::Tensor last = hidden.reshape({R * longest, -1}).index_select(0, at::tensor(last_index, at::kLong).to(device));
    at::Tensor logits = model_.logits(last).index_select(0, row_index);  // [N, V]
    std::vector<int64_t> key_data;
    for (int64_t seq : admitted) {
      key_data.push_back(sequences[seq].keys.first);
      key_data.push_back(sequences[seq].keys.second);
    }
    at::Tensor keys = at::tensor(key_data, at::kLong).view({N, 2}).to(device);
    Sampled first = sample_tokens(logits, params.sampler, keys, at::zeros({N}, long_options));
    std::vector<int64_t> lengths;
    for (int64_t seq : admitted) lengths.push_back(static_cast<int64_t>(requests[sequences[seq].request].prompt.size()));
    device_token.index_copy_(0, view.slots, first.tokens);
    device_position.index_copy_(0, view.slots, at::tensor(lengths, at::kLong).to(device));
    device_keys.index_copy_(0, view.slots, keys);
    device_counter.index_fill_(0, view.slots, 1);
    device_running.index_fill_(0, view.slots, 1);
    at::Tensor first_tokens = first.tokens.cpu(), first_logprobs = first.logprobs.to(at::kFloat).cpu();
    for (int64_t i = 0; i < N; ++i) {
      slot_sequence[slots[i]] = admitted[i];
      slot_position[slots[i]] = lengths[i];
      if (append(admitted[i], first_tokens[i].item<int64_t>(), first_logprobs[i].item<float>())) finish(slots[i]);
    }
    flush_freed();
  };

  auto report = [&] {
    if (!progress) return;
    GenerationProgress p;
    p.sequences_done = done;
    p.sequences_total = static_cast<int64_t>(sequences.size());
    for (int64_t s = 0; s < S; ++s) p.running += slot_sequence[s] >= 0;
    p.tokens_generated = tokens_generated;
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double mean_length = done > 0 ? double(finished_tokens) / done : double(params.max_new_tokens);
    double remaining = double(pending.size()) * mean_length;
    for (int64_t s = 0; s < S; ++s) {
      if (slot_sequence[s] >= 0) remaining += std::max(0.0, mean_length - double(results[slot_sequence[s]].tokens.size()));
    }
    const double rate = p.seconds > 0 ? tokens_generated / p.seconds : 0.0;
    p.eta_seconds = rate > 0 ? remaining / rate : 0.0;
    progress(p);
  };

  while (true) {
    admit();
    int64_t highest = -1, furthest = 0;
    for (int64_t s = 0; s < S; ++s) {
      if (slot_sequence[s] < 0) continue;
      highest = s;
      furthest = std::max(furthest, slot_position[s]);
    }
    if (highest < 0) {
      if (pending.empty()) break;
      continue;  // everything admitted finished at its first token; admit more
    }
    // One decode step over slots [0, highest]: free slots in between compute harmlessly at
    // position 0 and are ignored.
    const int64_t B = highest + 1;
    lm::KvCacheView view = cache_->view();
    view.attend_length = std::min(max_length, round_up(furthest + 1, kAttendBucket));
    at::Tensor hidden = model_.forward_cached(device_token.narrow(0, 0, B).unsqueeze(1),
                                              device_position.narrow(0, 0, B).unsqueeze(1), {}, view);  // [B, 1, C]
    if (B == 1 && device.is_cpu() && !single_row_output.defined()) {
      single_row_output = model_.output_weight().t().contiguous();
    }
    at::Tensor logits = B == 1 && device.is_cpu() ? at::mm(hidden.view({1, -1}), single_row_output)
                                                  : model_.logits(hidden.squeeze(1));  // [B, V]
    Sampled next = sample_tokens(logits, params.sampler, device_keys.narrow(0, 0, B), device_counter.narrow(0, 0, B));
    at::Tensor running = device_running.narrow(0, 0, B);
    device_token.narrow(0, 0, B).copy_(next.tokens);
    device_position.narrow(0, 0, B).add_(running);
    device_counter.narrow(0, 0, B).add_(running);
    at::Tensor host_tokens = next.tokens.cpu(), host_logprobs = next.logprobs.to(at::kFloat).cpu();
    const int64_t* token_data = host_tokens.data_ptr<int64_t>();
    const float* logprob_data = host_logprobs.data_ptr<float>();
    for (int64_t s = 0; s < B; ++s) {
      if (slot_sequence[s] < 0) continue;
      ++slot_position[s];
      if (append(slot_sequence[s], token_data[s], logprob_data[s])) finish(s);
    }
    flush_freed();
    report();
  }
  report();
  return results;
}

std::string completion_text(const lm::Tokenizer& tokenizer, const Completion& completion, bool skip_special) {
  std::string text = tokenizer.decode(completion.tokens, skip_special);
  if (completion.finish == FinishReason::stop_string && !completion.stop_string.empty()) {
    const size_t at = text.find(completion.stop_string);
    if (at != std::string::npos) text.resize(at);
  }
  return text;
}

std::vector<int64_t> default_stop_ids(const std::string& model_dir, const lm::ModelConfig& config,
                                      const lm::Tokenizer* tokenizer) {
  const std::filesystem::path path = std::filesystem::path(model_dir) / "generation_config.json";
  if (std::filesystem::exists(path)) {
    std::ifstream in(path);
    nlohmann::json generation;
    try {
      generation = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& error) {
      throw std::runtime_error(path.string() + ": not valid JSON: " + error.what());
    }
    if (generation.contains("eos_token_id") && !generation["eos_token_id"].is_null()) {
      const auto& eos = generation["eos_token_id"];
      std::vector<int64_t> ids;
      if (eos.is_array()) {
        for (const auto& id : eos) {
          if (!id.is_number_integer()) throw std::runtime_error(path.string() + ": eos_token_id must hold integers");
          ids.push_back(id.get<int64_t>());
        }
      } else if (eos.is_number_integer()) {
        ids.push_back(eos.get<int64_t>());
      } else {
        throw std::runtime_error(path.string() + ": eos_token_id must be an integer or a list of integers");
      }
      return ids;
    }
  }
  if (!config.eos_token_ids.empty()) return config.eos_token_ids;
  if (tokenizer) {
    if (auto eos = tokenizer->eos_id()) return {*eos};
  }
  return {};
}

}  // namespace precept::rollout
