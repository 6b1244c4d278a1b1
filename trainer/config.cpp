#include "trainer/config.h"

#include "trainer/lr_schedule.h"
#include "trainer/toml_reader.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace precept::trainer {

namespace {

void positive(const TomlSection& section, const std::string& key, double value) {
  if (!(value > 0)) section.fail(key, "must be positive, got " + std::to_string(value));
}

void non_negative(const TomlSection& section, const std::string& key, double value) {
  if (!(value >= 0)) section.fail(key, "must be >= 0, got " + std::to_string(value));
}

// Reward sections keep their keys as JSON for the reward factory, which knows each type's
// keys; types and nesting are checked here, unknown keys there (with this section's place).
nlohmann::json section_to_json(const TomlSection& section, const std::vector<std::string>& skip) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& key : section.keys()) {
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    // Try the scalar types in turn; the getters mark the key as read.
    try {
      out[key] = section.get_bool(key, false);
      continue;
    } catch (const std::runtime_error&) {}
    try {
      out[key] = section.get_int(key, 0);
      continue;
    } catch (const std::runtime_error&) {}
    try {
      out[key] = section.get_double(key, 0);
      continue;
    } catch (const std::runtime_error&) {}
    try {
      out[key] = section.get_string(key, "");
      continue;
    } catch (const std::runtime_error&) {}
    try {
      out[key] = section.get_strings(key);
      continue;
    } catch (const std::runtime_error&) {}
    try {
      out[key] = section.get_doubles(key, {});
      continue;
    } catch (const std::runtime_error&) {}
    section.fail(key, "must be a string, number, boolean or a list of strings or numbers");
  }
  return out;
}

RewardSpec read_reward(const TomlSection& section) {
  RewardSpec spec;
  spec.where = section.where();
  spec.type = section.get_string("type", "");
  if (spec.type.empty()) section.fail("type", "is required (rewardanything, length, regex, match, scalar_rm or composite)");
  spec.weight = section.get_double("weight", 1.0);
  if (!std::isfinite(spec.weight)) section.fail("weight", "must be finite");
  if (spec.type == "composite") {
    for (const auto& component : section.sections("components")) spec.components.push_back(read_reward(component));
    if (spec.components.empty()) section.fail("components", "must list at least one [[reward.components]]");
    section.finish();
    return spec;
  }
  spec.options = section_to_json(section, {"type", "weight", "components"});
  if (section.has("components")) section.fail("components", "only goes with type = \"composite\"");
  section.finish();
  return spec;
}

}  // namespace

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  TomlDocument document = TomlDocument::from_file(path);
  for (const auto& assignment : overrides) document.set(assignment);
  RunConfig config;
  config.source = path;
  config.resolved = document.to_toml();
  const TomlSection root = document.root();

  const TomlSection run = root.section("run");
  config.run.name = run.get_string("name", config.run.name);
  config.run.output_dir = run.get_string("output_dir", "runs/" + config.run.name);
  config.run.seed = static_cast<uint64_t>(run.get_int("seed", 0));
  config.run.steps = run.get_int("steps", config.run.steps);
  positive(run, "steps", static_cast<double>(config.run.steps));
  config.run.device = run.get_string("device", config.run.device);
  config.run.threads = run.get_int("threads", 0);
  non_negative(run, "threads", static_cast<double>(config.run.threads));
  config.run.overwrite = run.get_bool("overwrite", false);
  run.finish();

  const TomlSection policy = root.section("policy");
  config.policy.model = policy.required_string("model");
  config.policy.dtype = policy.get_string("dtype", "");
  config.policy.recompute = policy.get_bool("recompute", false);
  config.policy.logprob_chunk = policy.get_int("logprob_chunk", config.policy.logprob_chunk);
  positive(policy, "logprob_chunk", static_cast<double>(config.policy.logprob_chunk));
  policy.finish();

  const TomlSection data = root.section("data");
  config.data.prompts = data.required_string("prompts");
  config.data.field = data.get_string("field", config.data.field);
  config.data.chat = data.get_bool("chat", config.data.chat);
  config.data.system_prompt = data.get_string("system_prompt", "");
  config.data.enable_thinking = data.get_bool("enable_thinking", false);
  config.data.shuffle = data.get_bool("shuffle", true);
  config.data.max_prompt_tokens = data.get_int("max_prompt_tokens", config.data.max_prompt_tokens);
  positive(data, "max_prompt_tokens", static_cast<double>(config.data.max_prompt_tokens));
  data.finish();

  const TomlSection rollout = root.section("rollout");
  auto& r = config.rollout;
  r.prompts_per_step = rollout.get_int("prompts_per_step", r.prompts_per_step);
  positive(rollout, "prompts_per_step", static_cast<double>(r.prompts_per_step));
  r.group_size = rollout.get_int("group_size", r.group_size);
  positive(rollout, "group_size", static_cast<double>(r.group_size));
  r.max_new_tokens = rollout.get_int("max_new_tokens", r.max_new_tokens);
  positive(rollout, "max_new_tokens", static_cast<double>(r.max_new_tokens));
  r.temperature = rollout.get_double("temperature", r.temperature);
  positive(rollout, "temperature", r.temperature);
  r.top_p = rollout.get_double("top_p", r.top_p);
  r.top_k = rollout.get_int("top_k", r.top_k);
  r.min_p = rollout.get_double("min_p", r.min_p);
  r.stop = rollout.get_strings("stop");
  r.slots = rollout.get_int("slots", r.slots);
  positive(rollout, "slots", static_cast<double>(r.slots));
  r.release_cache = rollout.get_bool("release_cache", false);
  rollout.finish();

  config.reward = read_reward(root.section("reward"));

  const TomlSection algorithm = root.section("algorithm");
  auto& a = config.algorithm;
  try {
    a.advantage.estimator = parse_advantage_estimator(algorithm.get_string("advantage", "grpo"));
    a.advantage.scaling = parse_reward_scaling(algorithm.get_string("scale_rewards", "group"));
    a.loss.aggregation = parse_loss_aggregation(algorithm.get_string("loss_agg", "token-mean"));
    a.kl = parse_kl_estimator(algorithm.get_string("kl_estimator", "k3"));
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(algorithm.where() + ": [algorithm] " + error.what());
  }
  a.advantage.epsilon = algorithm.get_double("std_eps", a.advantage.epsilon);
  a.filter_zero_variance = algorithm.get_bool("filter_zero_variance", false);
  a.max_resample_rounds = algorithm.get_int("max_resample_rounds", 0);
  non_negative(algorithm, "max_resample_rounds", static_cast<double>(a.max_resample_rounds));
  a.epochs = algorithm.get_int("epochs", 1);
  positive(algorithm, "epochs", static_cast<double>(a.epochs));
  a.mini_batches = algorithm.get_int("mini_batches", 1);
  positive(algorithm, "mini_batches", static_cast<double>(a.mini_batches));
  a.micro_batch_size = algorithm.get_int("micro_batch_size", a.micro_batch_size);
  positive(algorithm, "micro_batch_size", static_cast<double>(a.micro_batch_size));
  a.loss.clip_low = algorithm.get_double("clip_low", 0.2);
  a.loss.clip_high = algorithm.get_double("clip_high", 0.2);
  a.loss.dual_clip = algorithm.get_double("dual_clip", 0.0);
  non_negative(algorithm, "clip_low", a.loss.clip_low);
  non_negative(algorithm, "clip_high", a.loss.clip_high);
  if (a.loss.dual_clip != 0.0 && a.loss.dual_clip <= 1.0) algorithm.fail("dual_clip", "must be 0 (off) or > 1");
  a.loss.entropy_coef = algorithm.get_double("entropy_coef", 0.0);
  a.kl_mode = algorithm.get_string("kl", "none");
  if (a.kl_mode != "none" && a.kl_mode != "loss" && a.kl_mode != "reward") {
    algorithm.fail("kl", "must be \"none\", \"loss\" or \"reward\", not \"" + a.kl_mode + "\"");
  }
  a.kl_coef = algorithm.get_double("kl_coef", a.kl_coef);
  non_negative(algorithm, "kl_coef", a.kl_coef);
  a.loss.kl_coef = a.kl_mode == "loss" ? a.kl_coef : 0.0;
  a.loss.kl = a.kl;
  const int64_t overlong_buffer = algorithm.get_int("overlong_buffer", 0);
  const double overlong_factor = algorithm.get_double("overlong_penalty", 1.0);
  if (overlong_buffer > 0) {
    if (overlong_buffer > r.max_new_tokens) algorithm.fail("overlong_buffer", "must not exceed rollout.max_new_tokens");
    a.overlong = OverlongPenalty{r.max_new_tokens, overlong_buffer, overlong_factor};
  }
  algorithm.finish();

  const TomlSection optim = root.section("optim");
  auto& o = config.optim;
  o.lr = optim.get_double("lr", o.lr);
  non_negative(optim, "lr", o.lr);
  o.weight_decay = optim.get_double("weight_decay", o.weight_decay);
  const auto betas = optim.get_doubles("betas", {o.beta1, o.beta2});
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1) {
    optim.fail("betas", "must be two numbers in [0, 1)");
  }
  o.beta1 = betas[0];
  o.beta2 = betas[1];
  o.eps = optim.get_double("eps", o.eps);
  positive(optim, "eps", o.eps);
  o.max_grad_norm = optim.get_double("max_grad_norm", o.max_grad_norm);
  non_negative(optim, "max_grad_norm", o.max_grad_norm);
  o.schedule = optim.get_string("schedule", o.schedule);
  try {
    parse_lr_schedule(o.schedule);
  } catch (const std::invalid_argument& error) {
    optim.fail("schedule", error.what());
  }
  o.warmup_steps = optim.get_int("warmup_steps", 0);
  non_negative(optim, "warmup_steps", static_cast<double>(o.warmup_steps));
  o.min_lr_ratio = optim.get_double("min_lr_ratio", 0.0);
  optim.finish();

  const TomlSection checkpoint = root.section("checkpoint");
  config.checkpoint.every = checkpoint.get_int("every", 0);
  non_negative(checkpoint, "every", static_cast<double>(config.checkpoint.every));
  config.checkpoint.keep_last = checkpoint.get_int("keep_last", config.checkpoint.keep_last);
  positive(checkpoint, "keep_last", static_cast<double>(config.checkpoint.keep_last));
  config.checkpoint.save_final = checkpoint.get_bool("save_final", true);
  config.checkpoint.dtype = checkpoint.get_string("dtype", "");
  checkpoint.finish();

  const TomlSection logging = root.section("logging");
  config.logging.samples_every = logging.get_int("samples_every", config.logging.samples_every);
  non_negative(logging, "samples_every", static_cast<double>(config.logging.samples_every));
  config.logging.tensorboard = logging.get_bool("tensorboard", true);
  logging.finish();

  const TomlSection distributed = root.section("distributed");
  config.distributed.backend = distributed.get_string("backend", "auto");
  if (config.distributed.backend != "auto" && config.distributed.backend != "gloo" && config.distributed.backend != "nccl") {
    distributed.fail("backend", "must be auto, gloo or nccl");
  }
  config.distributed.timeout_seconds = distributed.get_int("timeout_seconds", config.distributed.timeout_seconds);
  positive(distributed, "timeout_seconds", static_cast<double>(config.distributed.timeout_seconds));
  config.distributed.bucket_mb = distributed.get_int("bucket_mb", config.distributed.bucket_mb);
  positive(distributed, "bucket_mb", static_cast<double>(config.distributed.bucket_mb));
  config.distributed.zero1 = distributed.get_bool("zero1", false);
  distributed.finish();

  root.finish();
  return config;
}

}  // namespace precept::trainer
