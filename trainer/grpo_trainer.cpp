#include "trainer/grpo_trainer.h"

#include "lm/pretrained.h"
#include "policy/sequences.h"
#include "trainer/advantages.h"
#include "trainer/kl.h"
#include "trainer/policy_loss.h"
#include "trainer/reward_factory.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>

namespace precept::trainer {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

c10::Device run_device(const std::string& name, int local_rank) {
  if (name == "cuda") return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(local_rank));
  return c10::Device(name);
}

// Resident memory high-water mark of this process, from /proc (0 when unknown).
double peak_rss_gib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib / (1024.0 * 1024.0);
    }
    status.ignore(1 << 12, '\n');
  }
  return 0.0;
}

// [B, R] from per-row tensors of different lengths, zero-padded.
at::Tensor pad_rows(const std::vector<const at::Tensor*>& rows, int64_t R, const at::TensorOptions& options) {
  at::Tensor out = at::zeros({static_cast<int64_t>(rows.size()), R}, options);
  for (size_t b = 0; b < rows.size(); ++b) {
    const int64_t n = rows[b]->numel();
    if (n > 0) out[static_cast<int64_t>(b)].narrow(0, 0, n).copy_(*rows[b]);
  }
  return out;
}

struct MeanStd {
  double mean = 0, std = 0, min = 0, max = 0;
};
MeanStd describe(const std::vector<double>& values) {
  MeanStd out;
  if (values.empty()) return out;
  out.min = *std::min_element(values.begin(), values.end());
  out.max = *std::max_element(values.begin(), values.end());
  out.mean = std::accumulate(values.begin(), values.end(), 0.0) / values.size();
  double squares = 0;
  for (double v : values) squares += (v - out.mean) * (v - out.mean);
  out.std = values.size() > 1 ? std::sqrt(squares / (values.size() - 1)) : 0.0;
  return out;
}

}  // namespace

struct GrpoTrainer::Rollout {
  std::vector<int64_t> prompt_index;      // dataset index per group
  std::vector<int64_t> position;          // the group's position in the step's global batch
  std::vector<rollout::Completion> completions;  // group-major: group g, sample j at g * G + j
  std::vector<std::string> texts;
  std::vector<reward::GroupScores> scores;
  int64_t generated_tokens = 0;
  double generate_seconds = 0, reward_seconds = 0;

  void append(Rollout&& other) {
    auto move_into = [](auto& to, auto& from) { to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end())); };
    move_into(prompt_index, other.prompt_index);
    move_into(position, other.position);
    move_into(completions, other.completions);
    move_into(texts, other.texts);
    move_into(scores, other.scores);
    generated_tokens += other.generated_tokens;
    generate_seconds += other.generate_seconds;
    reward_seconds += other.reward_seconds;
  }
};

GrpoTrainer::GrpoTrainer(RunConfig config, std::shared_ptr<Communicator> communicator)
    : config_(std::move(config)),
      communicator_(std::move(communicator)),
      device_(run_device(config_.run.device, communicator_->local_rank())) {
  if (config_.run.threads > 0) at::set_num_threads(static_cast<int>(config_.run.threads));
  const c10::ScalarType dtype =
      config_.policy.dtype.empty() ? c10::kFloat : lm::dtype_from_name(config_.policy.dtype, config_.source + ": policy.dtype");
  lm::LoadOptions load;
  load.dtype = dtype;
  load.device = device_;
  policy_ = lm::load_pretrained(config_.policy.model, load);
  policy_->train();
  policy_->set_recompute(config_.policy.recompute);
  // Every rank starts from rank 0's weights.
  std::vector<at::Tensor> parameters;
  for (auto& p : policy_->parameters()) parameters.push_back(p.data());
  communicator_->broadcast(parameters, 0);
  if (config_.algorithm.kl_mode != "none") {
    reference_ = lm::load_pretrained(config_.policy.model, load);
    for (auto& p : reference_->parameters()) p.set_requires_grad(false);
  }
  tokenizer_ = lm::load_tokenizer(config_.policy.model);
  try {
    chat_ = lm::ChatTemplate::from_model_dir(config_.policy.model);
  } catch (const std::exception& error) {
    if (config_.data.chat) {
      throw std::runtime_error(config_.policy.model + ": data.chat = true needs the policy's chat template: " + error.what());
    }
  }
  data_ = std::make_unique<PromptDataset>(config_.data, *tokenizer_, chat_ ? &*chat_ : nullptr);
  sampler_ = std::make_unique<PromptSampler>(data_->size(), config_.run.seed, config_.data.shuffle);
  if (config_.rollout.prompts_per_step % communicator_->world_size() != 0) {
    throw std::runtime_error(config_.source + ": rollout.prompts_per_step = " + std::to_string(config_.rollout.prompts_per_step) +
                             " must be a multiple of the world size " + std::to_string(communicator_->world_size()));
  }

  rollout::GeneratorConfig generator;
  generator.max_slots = config_.rollout.slots;
  generator.max_length = data_->longest_prompt() + config_.rollout.max_new_tokens;
  generator_ = std::make_unique<rollout::Generator>(*policy_, generator, tokenizer_.get());
  stop_ids_ = rollout::default_stop_ids(config_.policy.model, policy_->config(), tokenizer_.get());

  reward_ = make_reward(config_.reward, RewardContext{device_.str(), config_.run.seed, config_.policy.model});

  AdamWOptions adam;
  adam.beta1 = config_.optim.beta1;
  adam.beta2 = config_.optim.beta2;
  adam.eps = config_.optim.eps;
  adam.weight_decay = config_.optim.weight_decay;
  optimizer_ = std::make_unique<DataParallelOptimizer>(*policy_, communicator_, adam, config_.distributed.zero1,
                                                       config_.distributed.bucket_mb);
  schedule_.kind = parse_lr_schedule(config_.optim.schedule);
  schedule_.base_lr = config_.optim.lr;
  schedule_.warmup_steps = config_.optim.warmup_steps;
  schedule_.total_steps = config_.run.steps * config_.algorithm.epochs * config_.algorithm.mini_batches;
  schedule_.min_lr_ratio = config_.optim.min_lr_ratio;
  validate(schedule_);
  if (communicator_->is_main()) {
    checkpoints_ = std::make_unique<CheckpointManager>(config_.run.output_dir, config_.checkpoint.keep_last);
  }
  if (const char* fault = std::getenv("PRECEPT_FAULT")) {
    const std::string text = fault;
    const size_t at = text.find('@'), colon = text.find(':');
    if (at == std::string::npos || colon == std::string::npos || colon < at) {
      throw std::runtime_error("PRECEPT_FAULT='" + text + "': expected KIND@RANK:STEP");
    }
    fault_.kind = text.substr(0, at);
    fault_.rank = std::stoi(text.substr(at + 1, colon - at - 1));
    fault_.step = std::stoll(text.substr(colon + 1));
  }
}

GrpoTrainer::~GrpoTrainer() = default;

void GrpoTrainer::inject_fault(const char* where) {
  if (fault_.rank != communicator_->rank() || fault_.step != step_ + 1) return;
  const std::string at = std::string(where) + " of step " + std::to_string(step_ + 1);
  if (fault_.kind == "throw" && std::string(where) == "start") throw std::runtime_error("injected fault (PRECEPT_FAULT) at " + at);
  if (fault_.kind == "exit" && std::string(where) == "start") std::_Exit(3);
  if (fault_.kind == "hang" && std::string(where) == "start") std::this_thread::sleep_for(std::chrono::hours(1));
}

std::string GrpoTrainer::checkpoint_dir() const { return (fs::path(config_.run.output_dir) / "checkpoints").string(); }

nlohmann::json GrpoTrainer::trainer_state() const {
  at::Tensor rng = at::detail::getDefaultCPUGenerator().get_state();
  std::vector<int64_t> rng_bytes(rng.data_ptr<uint8_t>(), rng.data_ptr<uint8_t>() + rng.numel());
  return {{"step", step_},
          {"optimizer_steps", optimizer_steps_},
          {"data", sampler_->position().to_json()},
          {"seed", config_.run.seed},
          {"world_size", communicator_->world_size()},
          {"zero1", config_.distributed.zero1},
          {"policy", config_.policy.model},
          {"config", config_.source},
          {"cpu_generator_state", rng_bytes},
          {"note", "rollout, judge and mini-batch randomness are counter-based streams of (seed, step, prompt position)"}};
}

std::string GrpoTrainer::save_checkpoint() {
  std::string folder;
  const auto optimizer_state = optimizer_->state();  // a collective under ZeRO-1: every rank takes part
  if (communicator_->is_main()) {
    folder = checkpoints_->save(step_, *policy_, config_.policy.model, optimizer_state, trainer_state()).string();
    if (metrics_) metrics_->sync();
  }
  communicator_->barrier();
  return folder;
}

void GrpoTrainer::resume(const std::string& path) {
  CheckpointContents checkpoint = load_checkpoint(path);
  const auto& state = checkpoint.state;
  // Checkpoints hold the full per-parameter optimizer state (ZeRO-1 gathers its shards before
  // saving), and the data order and random streams are global, so any world size may resume.
  const int64_t world = state.value("world_size", int64_t(1));
  if (world != communicator_->world_size() && communicator_->is_main()) {
    std::fprintf(stderr, "[precept train] resuming a %lld-rank checkpoint on %d rank(s)\n", static_cast<long long>(world),
                 communicator_->world_size());
  }
  lm::load_weights(*policy_, checkpoint.model_dir());
  optimizer_->load_state(checkpoint.optimizer);
  sampler_->restore(DataPosition::from_json(state.at("data")));
  step_ = state.at("step").get<int64_t>();
  optimizer_steps_ = state.value("optimizer_steps", step_);
  if (state.contains("cpu_generator_state")) {
    auto bytes = state["cpu_generator_state"].get<std::vector<int64_t>>();
    at::Tensor rng = at::tensor(bytes, at::kLong).to(at::kByte);
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rng);
  }
  if (step_ >= config_.run.steps) {
    throw std::runtime_error(checkpoint.dir.string() + " is at step " + std::to_string(step_) + ", and run.steps is " +
                             std::to_string(config_.run.steps) + ": nothing left to train (raise run.steps)");
  }
}

GrpoTrainer::Rollout GrpoTrainer::rollout(const std::vector<int64_t>& prompt_indices, int64_t first_position) {
  Rollout out;
  const int64_t G = config_.rollout.group_size;
  std::vector<rollout::GenerationRequest> requests;
  for (size_t i = 0; i < prompt_indices.size(); ++i) {
    const int64_t position = first_position + static_cast<int64_t>(i);
    out.prompt_index.push_back(prompt_indices[i]);
    out.position.push_back(position);
    const uint64_t seed =
        rollout::mix_seed(rollout::mix_seed(config_.run.seed, static_cast<uint64_t>(step_ + 1)), static_cast<uint64_t>(position));
    requests.push_back({(*data_)[prompt_indices[i]].ids, G, seed});
  }
  rollout::SamplingParams params;
  params.sampler = {config_.rollout.temperature, config_.rollout.top_k, config_.rollout.top_p, config_.rollout.min_p};
  params.max_new_tokens = config_.rollout.max_new_tokens;
  params.stop_token_ids = stop_ids_;
  params.stop_strings = config_.rollout.stop;
  auto start = Clock::now();
  {
    at::NoGradGuard no_grad;
    out.completions = generator_->generate(requests, params);
  }
  if (config_.rollout.release_cache) generator_->release_cache();
  out.generate_seconds = seconds_since(start);
  for (const auto& completion : out.completions) {
    out.texts.push_back(rollout::completion_text(*tokenizer_, completion));
    out.generated_tokens += static_cast<int64_t>(completion.tokens.size());
  }
  start = Clock::now();
  std::vector<reward::Group> groups;
  for (size_t i = 0; i < prompt_indices.size(); ++i) {
    reward::Group group;
    const PromptExample& example = (*data_)[prompt_indices[i]];
    group.prompt = example.judge_text;
    group.record = example.prompt.record.is_null() ? nlohmann::json::object() : example.prompt.record;
    group.responses.assign(out.texts.begin() + i * G, out.texts.begin() + (i + 1) * G);
    group.seed = rollout::mix_seed(rollout::mix_seed(config_.run.seed ^ 0x72657761ull, static_cast<uint64_t>(step_ + 1)),
                                   static_cast<uint64_t>(out.position[i]));
    groups.push_back(std::move(group));
  }
  out.scores = reward_->score_batch(groups);
  out.reward_seconds = seconds_since(start);
  return out;
}

Metrics GrpoTrainer::step() {
  const auto step_start = Clock::now();
  inject_fault("start");
  const int64_t G = config_.rollout.group_size, N = config_.rollout.prompts_per_step;
  const int64_t W = communicator_->world_size(), rank = communicator_->rank();
  const auto& algorithm = config_.algorithm;
  Metrics metrics;

  // 1. This rank's share of the step's prompts, rolled out and scored.
  const std::vector<int64_t> global = sampler_->next(N);
  const int64_t share = N / W, first = rank * share;
  Rollout roll = rollout(std::vector<int64_t>(global.begin() + first, global.begin() + first + share), first);

  // 2. Rewards (+ overlong shaping) and advantages per group; DAPO dynamic sampling refills
  // groups without signal with fresh prompts, drawn in the same order on every rank.
  auto rewards_of = [&](const Rollout& r) {
    std::vector<double> values;
    for (size_t g = 0; g < r.scores.size(); ++g) {
      for (int64_t j = 0; j < G; ++j) {
        double value = r.scores[g].rewards[j];
        if (algorithm.overlong) {
          value += overlong_penalty(static_cast<int64_t>(r.completions[g * G + j].tokens.size()), *algorithm.overlong);
        }
        values.push_back(value);
      }
    }
    return values;
  };
  AdvantageConfig advantage_config = algorithm.advantage;
  int64_t zero_variance_first = 0, resampled = 0;
  for (int64_t round = 0;; ++round) {
    std::vector<double> values = rewards_of(roll);
    GroupAdvantages advantages =
        compute_advantages(at::tensor(values, at::kDouble), G, advantage_config);
    if (round == 0) zero_variance_first = static_cast<int64_t>(advantages.zero_variance_groups.size());
    const bool refill = algorithm.filter_zero_variance && round < algorithm.max_resample_rounds;
    const std::vector<double> needed = all_reduce_scalars(*communicator_, [&] {
      std::vector<double> v(W, 0.0);
      v[rank] = refill ? static_cast<double>(advantages.zero_variance_groups.size()) : 0.0;
      return v;
    }());
    const int64_t total_needed = static_cast<int64_t>(std::accumulate(needed.begin(), needed.end(), 0.0));
    if (total_needed == 0) break;
    const std::vector<int64_t> extra = sampler_->next(total_needed);
    const int64_t offset = static_cast<int64_t>(std::accumulate(needed.begin(), needed.begin() + rank, 0.0));
    const int64_t mine = static_cast<int64_t>(needed[rank]);
    if (mine == 0) continue;
    // Fresh seeds: positions past the step's batch, distinct per round and rank.
    Rollout fresh = rollout(std::vector<int64_t>(extra.begin() + offset, extra.begin() + offset + mine),
                            N * (round + 1) + offset);
    // Each fresh group takes the place (and position) of a dropped one.
    for (int64_t k = 0; k < mine; ++k) {
      const int64_t g = advantages.zero_variance_groups[k];
      roll.prompt_index[g] = fresh.prompt_index[k];
      for (int64_t j = 0; j < G; ++j) {
        roll.completions[g * G + j] = std::move(fresh.completions[k * G + j]);
        roll.texts[g * G + j] = std::move(fresh.texts[k * G + j]);
      }
      roll.scores[g] = std::move(fresh.scores[k]);
    }
    roll.generated_tokens += fresh.generated_tokens;
    roll.generate_seconds += fresh.generate_seconds;
    roll.reward_seconds += fresh.reward_seconds;
    resampled += mine;
  }
  std::vector<double> reward_values = rewards_of(roll);  // shaped: overlong penalty, then KL below
  std::vector<double> raw_rewards;
  for (const auto& scores : roll.scores) raw_rewards.insert(raw_rewards.end(), scores.rewards.begin(), scores.rewards.end());
  const int64_t sequences = static_cast<int64_t>(roll.completions.size());

  // 3. Log-probs that do not need gradients: the policy before the update (when the update
  // takes several optimizer steps, or KL goes into the reward) and the frozen reference.
  const auto reference_start = Clock::now();
  const bool need_old = algorithm.epochs * algorithm.mini_batches > 1 || algorithm.kl_mode == "reward";
  const bool need_reference = algorithm.kl_mode != "none";
  std::vector<at::Tensor> old_logprobs(sequences), reference_logprobs(sequences);
  policy::LogprobOptions logprob_options;
  logprob_options.temperature = config_.rollout.temperature;
  logprob_options.chunk_tokens = config_.policy.logprob_chunk;
  auto sequence_batch = [&](const std::vector<int64_t>& members) {
    std::vector<const std::vector<int64_t>*> prompts, responses;
    for (int64_t s : members) {
      prompts.push_back(&(*data_)[roll.prompt_index[s / G]].ids);
      responses.push_back(&roll.completions[s].tokens);
    }
    return policy::make_sequence_batch(prompts, responses, device_);
  };
  std::vector<std::vector<int64_t>> micro_batches;
  for (int64_t s = 0; s < sequences; s += algorithm.micro_batch_size) {
    std::vector<int64_t> members;
    for (int64_t t = s; t < std::min(sequences, s + algorithm.micro_batch_size); ++t) members.push_back(t);
    micro_batches.push_back(members);
  }
  if (need_old || need_reference) {
    at::NoGradGuard no_grad;
    for (const auto& members : micro_batches) {
      policy::SequenceBatch batch = sequence_batch(members);
      at::Tensor old, ref;
      if (need_old) old = policy::sequence_logprobs(*policy_, batch, logprob_options).logprobs;
      if (need_reference) ref = policy::sequence_logprobs(*reference_, batch, logprob_options).logprobs;
      for (size_t i = 0; i < members.size(); ++i) {
        const int64_t length = static_cast<int64_t>(roll.completions[members[i]].tokens.size());
        if (need_old) old_logprobs[members[i]] = old[static_cast<int64_t>(i)].narrow(0, 0, length).clone();
        if (need_reference) reference_logprobs[members[i]] = ref[static_cast<int64_t>(i)].narrow(0, 0, length).clone();
      }
    }
  }
  double kl_reward_mean = std::nan("");
  if (algorithm.kl_mode == "reward") {
    // veRL's use_kl_in_reward: each response's reward loses coef * sum_t k(old, ref).
    double total = 0;
    for (int64_t s = 0; s < sequences; ++s) {
      at::Tensor kl = kl_estimate(old_logprobs[s], reference_logprobs[s], algorithm.kl);
      const double sum = kl.sum().item<double>();
      reward_values[s] -= algorithm.kl_coef * sum;
      total += kl.numel() > 0 ? sum / kl.numel() : 0.0;
    }
    kl_reward_mean = sequences > 0 ? total / sequences : 0.0;
  }
  GroupAdvantages advantages = compute_advantages(at::tensor(reward_values, at::kDouble), G, advantage_config);
  std::vector<bool> included(sequences, true);
  if (algorithm.filter_zero_variance) {
    for (int64_t g : advantages.zero_variance_groups) {
      for (int64_t j = 0; j < G; ++j) included[g * G + j] = false;
    }
  }
  const double reference_seconds = seconds_since(reference_start);
  const at::Tensor advantage_values = advantages.advantages.to(at::kFloat).cpu().contiguous();

  // 4. The update: epochs x mini-batches optimizer steps. Sequences are identified by their
  // global number (group position * G + sample), so the mini-batches are the same sets
  // whatever the world size.
  const auto update_start = Clock::now();
  double loss_sum = 0, tokens_total = 0, last_grad_norm = 0;
  std::map<std::string, double> stat_sums;
  for (int64_t epoch = 0; epoch < algorithm.epochs; ++epoch) {
    std::vector<int64_t> order(N * G);
    if (algorithm.mini_batches > 1) {
      const uint64_t step_seed = rollout::mix_seed(config_.run.seed ^ 0x6d696e69ull, static_cast<uint64_t>(step_ + 1));
      order = seeded_permutation(N * G, rollout::mix_seed(step_seed, static_cast<uint64_t>(epoch)));
    } else {
      std::iota(order.begin(), order.end(), 0);
    }
    std::vector<int64_t> rank_of(N * G);
    for (int64_t i = 0; i < N * G; ++i) rank_of[order[i]] = i;
    for (int64_t m = 0; m < algorithm.mini_batches; ++m) {
      const int64_t lo = m * N * G / algorithm.mini_batches, hi = (m + 1) * N * G / algorithm.mini_batches;
      std::vector<std::pair<int64_t, int64_t>> mine;  // (place in the permutation, local sequence)
      for (int64_t s = 0; s < sequences; ++s) {
        const int64_t global_id = roll.position[s / G] * G + s % G;
        if (included[s] && rank_of[global_id] >= lo && rank_of[global_id] < hi) mine.push_back({rank_of[global_id], s});
      }
      std::sort(mine.begin(), mine.end());
      // The loss normaliser counts the whole mini-batch on every rank.
      double local_tokens = 0, local_sequences = 0;
      for (auto& [place, s] : mine) {
        const double length = static_cast<double>(roll.completions[s].tokens.size());
        local_tokens += length;
        local_sequences += length > 0;
      }
      const auto totals = all_reduce_scalars(*communicator_, {local_tokens, local_sequences});
      LossNormalizer normalizer;
      normalizer.num_tokens = std::max(1.0, totals[0]);
      normalizer.num_sequences = std::max(1.0, totals[1]);
      normalizer.max_length = static_cast<double>(config_.rollout.max_new_tokens);
      optimizer_->zero_grad();
      double nonfinite_loss = 0;
      for (size_t start = 0; start < mine.size(); start += algorithm.micro_batch_size) {
        std::vector<int64_t> members;
        for (size_t i = start; i < std::min(mine.size(), start + static_cast<size_t>(algorithm.micro_batch_size)); ++i) {
          members.push_back(mine[i].second);
        }
        policy::SequenceBatch batch = sequence_batch(members);
        policy::LogprobOptions options = logprob_options;
        options.with_entropy = true;
        policy::TokenLogprobs current = policy::sequence_logprobs(*policy_, batch, options);
        const int64_t R = batch.targets.size(1);
        PolicyLossInputs inputs;
        inputs.logprobs = current.logprobs;
        if (need_old) {
          std::vector<const at::Tensor*> rows;
          for (int64_t s : members) rows.push_back(&old_logprobs[s]);
          inputs.old_logprobs = pad_rows(rows, R, current.logprobs.options().requires_grad(false));
        } else {
          inputs.old_logprobs = current.logprobs.detach();
        }
        std::vector<float> member_advantages;
        for (int64_t s : members) member_advantages.push_back(advantage_values[s].item<float>());
        inputs.advantages = at::tensor(member_advantages, at::kFloat).to(device_);
        inputs.mask = batch.mask;
        if (algorithm.kl_mode == "loss") {
          std::vector<const at::Tensor*> rows;
          for (int64_t s : members) rows.push_back(&reference_logprobs[s]);
          inputs.reference_logprobs = pad_rows(rows, R, current.logprobs.options().requires_grad(false));
        }
        inputs.entropy = algorithm.loss.entropy_coef != 0.0 ? current.entropy : current.entropy.detach();
        PolicyLossResult result = policy_loss(inputs, algorithm.loss, normalizer);
        if (fault_.kind == "nan" && fault_.rank == rank && fault_.step == step_ + 1) {
          result.loss = result.loss * std::nan("");
        }
        const double loss_value = result.loss.item<double>();
        if (!std::isfinite(loss_value)) nonfinite_loss += 1;
        result.loss.backward();
        loss_sum += loss_value;
        const double tokens = result.stats.tokens.defined() ? result.stats.tokens.item<double>() : 0.0;
        tokens_total += tokens;
        for (const auto& [name, value] : result.stats.to_map()) {
          if (name != "tokens" && std::isfinite(value)) stat_sums[name] += value * tokens;
        }
      }
      // Gradients (and the loss check) summed over ranks; every rank then sees the same norm.
      const DataParallelStep update = optimizer_->step(learning_rate(schedule_, optimizer_steps_),
                                                       config_.optim.max_grad_norm, nonfinite_loss);
      if (!update.finite) {
        throw TrainingDiverged(
            "step " + std::to_string(step_ + 1) + ": " +
            (update.nonfinite_losses > 0
                 ? "the loss is not finite on " + std::to_string(int64_t(update.nonfinite_losses)) +
                       " micro-batch(es) of rank(s) " + update.nonfinite_ranks
                 : "the gradient norm is " + std::to_string(update.grad_norm) +
                       (update.first_nonfinite.empty() ? "" : " (first in " + update.first_nonfinite + ")")) +
            "; stopping before the optimizer step, and no checkpoint of this step is written. Lower optim.lr, check "
            "the rewards, or resume from the last checkpoint.");
      }
      last_grad_norm = update.grad_norm;
      ++optimizer_steps_;
    }
  }
  const double update_seconds = seconds_since(update_start);
  ++step_;

  // 5. Metrics, reduced over ranks: rewards, lengths and advantages are gathered whole.
  auto gather = [&](const std::vector<double>& local) {
    at::Tensor mine = at::tensor(local, at::kDouble);
    at::Tensor all = at::zeros({W * mine.numel()}, at::kDouble);
    communicator_->all_gather(all, mine);
    return std::vector<double>(all.data_ptr<double>(), all.data_ptr<double>() + all.numel());
  };
  std::vector<double> lengths, truncated, valid, adv;
  for (int64_t s = 0; s < sequences; ++s) {
    lengths.push_back(static_cast<double>(roll.completions[s].tokens.size()));
    truncated.push_back(roll.completions[s].finish == rollout::FinishReason::length);
    valid.push_back(roll.scores[s / G].valid[s % G]);
    adv.push_back(advantage_values[s].item<double>());
  }
  const MeanStd reward_stats = describe(gather(raw_rewards));
  const MeanStd shaped_stats = describe(gather(reward_values));
  const MeanStd length_stats = describe(gather(lengths));
  const MeanStd advantage_stats = describe(gather(adv));
  double failures = 0, retries = 0;
  for (const auto& scores : roll.scores) {
    failures += static_cast<double>(scores.failures);
    retries += static_cast<double>(scores.retries);
  }
  std::vector<double> local_sums = {failures,
                                    retries,
                                    static_cast<double>(zero_variance_first),
                                    static_cast<double>(resampled),
                                    static_cast<double>(roll.generated_tokens),
                                    std::accumulate(truncated.begin(), truncated.end(), 0.0),
                                    std::accumulate(valid.begin(), valid.end(), 0.0),
                                    tokens_total,
                                    loss_sum};
  std::vector<std::string> stat_names;
  for (const auto& [name, value] : stat_sums) {
    stat_names.push_back(name);
    local_sums.push_back(value);
  }
  const std::vector<double> sums = all_reduce_scalars(*communicator_, local_sums);
  const double total_sequences = static_cast<double>(N * G);
  const double step_seconds = seconds_since(step_start);
  metrics["reward/mean"] = reward_stats.mean;
  metrics["reward/std"] = reward_stats.std;
  metrics["reward/min"] = reward_stats.min;
  metrics["reward/max"] = reward_stats.max;
  metrics["reward/valid_fraction"] = sums[6] / total_sequences;
  if (algorithm.overlong || algorithm.kl_mode == "reward") metrics["reward/shaped_mean"] = shaped_stats.mean;
  metrics["advantage/mean"] = advantage_stats.mean;
  metrics["advantage/std"] = advantage_stats.std;
  metrics["advantage/min"] = advantage_stats.min;
  metrics["advantage/max"] = advantage_stats.max;
  metrics["judge/failures"] = sums[0];
  metrics["judge/retries"] = sums[1];
  metrics["groups/zero_variance"] = sums[2];
  metrics["groups/zero_variance_fraction"] = sums[2] / static_cast<double>(N);
  metrics["groups/resampled"] = sums[3];
  metrics["response/length_mean"] = length_stats.mean;
  metrics["response/length_min"] = length_stats.min;
  metrics["response/length_max"] = length_stats.max;
  metrics["response/truncated_fraction"] = sums[5] / total_sequences;
  const double update_tokens = std::max(1.0, sums[7]);
  for (size_t i = 0; i < stat_names.size(); ++i) metrics["policy/" + stat_names[i]] = sums[9 + i] / update_tokens;
  metrics["loss/total"] = sums[8] / static_cast<double>(algorithm.epochs * algorithm.mini_batches);
  if (!std::isnan(kl_reward_mean)) metrics["kl/reward_mean"] = kl_reward_mean;
  metrics["optim/grad_norm"] = last_grad_norm;
  metrics["optim/lr"] = learning_rate(schedule_, std::max<int64_t>(0, optimizer_steps_ - 1));
  metrics["time/generate"] = roll.generate_seconds;
  metrics["time/reward"] = roll.reward_seconds;
  metrics["time/reference"] = reference_seconds;
  metrics["time/update"] = update_seconds;
  metrics["time/step"] = step_seconds;
  metrics["throughput/generated_tokens"] = sums[4];
  metrics["throughput/tokens_per_s"] = sums[4] / std::max(1e-9, step_seconds);
  metrics["memory/peak_rss_gib"] = peak_rss_gib();
  metrics["memory/optimizer_state_gib"] = optimizer_->memory().state_bytes_per_rank / double(1 << 30);

  if (metrics_) {
    metrics_->log(step_, wall_clock_seconds(), metrics);
    if (metrics_->samples_due(step_)) {
      std::vector<SampleGroup> samples;
      for (size_t g = 0; g < roll.scores.size(); ++g) {
        SampleGroup sample;
        sample.prompt = (*data_)[roll.prompt_index[g]].judge_text;
        sample.responses.assign(roll.texts.begin() + g * G, roll.texts.begin() + (g + 1) * G);
        sample.rewards.assign(reward_values.begin() + g * G, reward_values.begin() + (g + 1) * G);
        sample.judge = {{"explanations", roll.scores[g].explanations}, {"diagnostics", roll.scores[g].diagnostics}};
        samples.push_back(std::move(sample));
      }
      metrics_->log_samples(step_, wall_clock_seconds(), samples);
    }
  }
  return metrics;
}

void GrpoTrainer::train(const std::function<void(const StepSummary&)>& on_step) {
  if (communicator_->is_main()) {
    fs::create_directories(config_.run.output_dir);
    std::ofstream(fs::path(config_.run.output_dir) / "config.toml")
        << "# Resolved from " << config_.source << " (overrides applied)\n" << config_.resolved << "\n";
    MetricsOptions options;
    options.tensorboard = config_.logging.tensorboard;
    options.samples_every = config_.logging.samples_every;
    options.overwrite = config_.run.overwrite;
    if (step_ > 0) options.resume_step = step_;
    metrics_ = std::make_unique<MetricsLogger>(config_.run.output_dir, options);
  }
  communicator_->barrier();
  const int64_t first = step_;
  const auto start = Clock::now();
  while (step_ < config_.run.steps) {
    StepSummary summary;
    summary.metrics = step();
    summary.step = step_;
    summary.total_steps = config_.run.steps;
    const double per_step = seconds_since(start) / static_cast<double>(step_ - first);
    summary.eta_seconds = per_step * static_cast<double>(config_.run.steps - step_);
    const bool periodic = config_.checkpoint.every > 0 && step_ % config_.checkpoint.every == 0;
    const bool final = step_ == config_.run.steps && config_.checkpoint.save_final;
    if (periodic || final) summary.checkpoint = save_checkpoint();
    if (on_step) on_step(summary);
  }
}

}  // namespace precept::trainer
