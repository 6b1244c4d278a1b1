#include "trainer/config.h"

#include "core/toml_reader.h"
#include "trainer/optim/lr_schedule.h"
#include "core/toml_reader.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace precept::trainer {

namespace {

void positive(const core::TomlSection& section, const std::string& key, double value) {
  if (!(value > 0)) section.fail(key, "must be positive, got " + std::to_string(value));
}

void non_negative(const core::TomlSection& section, const std::string& key, double value) {
  if (!(value >= 0)) section.fail(key, "must be >= 0, got " + std::to_string(value));
}

// Reward sections keep their keys as JSON for the reward factory, which knows each type's
// keys; types and nesting are checked here, unknown keys there (with this section's place).
nlohmann::json section_to_json(const core::TomlSection& section, const std::vector<std::string>& skip) {
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

RewardSpec read_reward(const core::TomlSection& section) {
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

KlMode parse_kl_mode(std::string_view name) {
  if (name == "none") return KlMode::none;
  if (name == "loss") return KlMode::loss;
  if (name == "reward") return KlMode::reward;
  throw std::invalid_argument("must be \"none\", \"loss\" or \"reward\", not \"" + std::string(name) + "\"");
}

std::string kl_mode_name(KlMode mode) {
  switch (mode) {
    case KlMode::none: return "none";
    case KlMode::loss: return "loss";
    case KlMode::reward: return "reward";
  }
  return "?";
}

PolicyLossConfig AlgorithmSection::policy_loss_config() const {
  PolicyLossConfig out = loss;
  out.kl_coef = kl_mode == KlMode::loss ? kl_coef : 0.0;
  out.kl = kl;
  return out;
}

namespace {

// Each reader starts from the section struct's defaults and overrides what the file sets.
RunSection read_run(const core::TomlSection& section) {
  RunSection run;
  run.name = section.get_string("name", run.name);
  run.output_dir = section.get_string("output_dir", "runs/" + run.name);
  run.seed = static_cast<uint64_t>(section.get_int("seed", static_cast<int64_t>(run.seed)));
  run.steps = section.get_int("steps", run.steps);
  positive(section, "steps", static_cast<double>(run.steps));
  run.device = section.get_string("device", run.device);
  run.threads = section.get_int("threads", run.threads);
  non_negative(section, "threads", static_cast<double>(run.threads));
  run.overwrite = section.get_bool("overwrite", run.overwrite);
  run.memory_limit_gb = section.get_double("memory_limit_gb", run.memory_limit_gb);
  section.finish();
  return run;
}

policy::LoraConfig read_lora(const core::TomlSection& lora, bool recompute, const std::string& prefix) {
  policy::LoraConfig config;
  config.r = lora.get_int("r", config.r);
  positive(lora, "r", static_cast<double>(config.r));
  config.alpha = lora.get_double("alpha", config.alpha);
  positive(lora, "alpha", config.alpha);
  config.dropout = lora.get_double("dropout", config.dropout);
  if (!(config.dropout >= 0.0 && config.dropout < 1.0)) lora.fail("dropout", "must be in [0, 1)");
  config.rslora = lora.get_bool("rslora", config.rslora);
  if (lora.has("target_modules")) {
    config.target_modules = lora.get_strings("target_modules");
    if (config.target_modules.empty()) lora.fail("target_modules", "must name at least one module (or be \"all-linear\")");
    // "q_proj,v_proj" as one string, as a command line would write it.
    std::vector<std::string> names;
    for (const auto& item : config.target_modules) {
      size_t start = 0;
      while (start <= item.size()) {
        const size_t comma = std::min(item.find(',', start), item.size());
        std::string name = item.substr(start, comma - start);
        name.erase(0, name.find_first_not_of(" \t"));
        name.erase(name.find_last_not_of(" \t") + 1);
        if (name.empty()) lora.fail("target_modules", "holds an empty module name");
        names.push_back(name);
        start = comma + 1;
      }
    }
    config.target_modules = names;
  }
  if (config.dropout > 0.0 && recompute) {
    lora.fail("dropout", "must be 0 with " + prefix + ".recompute = true (a recomputed layer would draw other dropout masks)");
  }
  lora.finish();
  return config;
}

PolicySection read_policy(const core::TomlSection& section) {
  PolicySection policy;
  policy.model = section.required_string("model");
  policy.dtype = section.get_string("dtype", policy.dtype);
  policy.recompute = section.get_bool("recompute", policy.recompute);
  policy.logprob_chunk = section.get_int("logprob_chunk", policy.logprob_chunk);
  positive(section, "logprob_chunk", static_cast<double>(policy.logprob_chunk));
  if (section.has("lora")) policy.lora = read_lora(section.section("lora"), policy.recompute, "policy");
  section.finish();
  return policy;
}

DataSection read_data(const core::TomlSection& section) {
  DataSection data;
  data.prompts = section.required_string("prompts");
  data.field = section.get_string("field", data.field);
  data.chat = section.get_bool("chat", data.chat);
  data.system_prompt = section.get_string("system_prompt", data.system_prompt);
  data.enable_thinking = section.get_bool("enable_thinking", data.enable_thinking);
  data.shuffle = section.get_bool("shuffle", data.shuffle);
  data.max_prompt_tokens = section.get_int("max_prompt_tokens", data.max_prompt_tokens);
  positive(section, "max_prompt_tokens", static_cast<double>(data.max_prompt_tokens));
  section.finish();
  return data;
}

TaskSection read_task(const core::TomlSection& section) {
  TaskSection task;
  task.kind = section.get_string("kind", task.kind);
  if (task.kind != "policy" && task.kind != "judge") section.fail("kind", "must be \"policy\" or \"judge\", not \"" + task.kind + "\"");
  task.system_prompt_file = section.get_string("system_prompt_file", task.system_prompt_file);
  task.mask = section.get_bool("mask", task.mask);
  if (task.kind == "policy" && (section.has("system_prompt_file") || section.has("mask"))) {
    section.fail(section.has("mask") ? "mask" : "system_prompt_file", "only goes with kind = \"judge\"");
  }
  section.finish();
  return task;
}

RolloutSection read_rollout(const core::TomlSection& section) {
  RolloutSection r;
  r.prompts_per_step = section.get_int("prompts_per_step", r.prompts_per_step);
  positive(section, "prompts_per_step", static_cast<double>(r.prompts_per_step));
  r.group_size = section.get_int("group_size", r.group_size);
  positive(section, "group_size", static_cast<double>(r.group_size));
  r.max_new_tokens = section.get_int("max_new_tokens", r.max_new_tokens);
  positive(section, "max_new_tokens", static_cast<double>(r.max_new_tokens));
  r.temperature = section.get_double("temperature", r.temperature);
  positive(section, "temperature", r.temperature);
  r.top_p = section.get_double("top_p", r.top_p);
  r.top_k = section.get_int("top_k", r.top_k);
  r.min_p = section.get_double("min_p", r.min_p);
  r.stop = section.get_strings("stop");
  r.slots = section.get_int("slots", r.slots);
  positive(section, "slots", static_cast<double>(r.slots));
  r.release_cache = section.get_bool("release_cache", r.release_cache);
  section.finish();
  return r;
}

AlgorithmSection read_algorithm(const core::TomlSection& section, const RolloutSection& rollout) {
  AlgorithmSection a;
  try {
    a.advantage.estimator = parse_advantage_estimator(
        section.get_string("advantage", advantage_estimator_name(a.advantage.estimator)));
    a.advantage.scaling = parse_reward_scaling(section.get_string("scale_rewards", reward_scaling_name(a.advantage.scaling)));
    a.loss.aggregation = parse_loss_aggregation(section.get_string("loss_agg", loss_aggregation_name(a.loss.aggregation)));
    a.kl = parse_kl_estimator(section.get_string("kl_estimator", kl_estimator_name(a.kl)));
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(section.where() + ": [algorithm] " + error.what());
  }
  try {
    a.kl_mode = parse_kl_mode(section.get_string("kl", kl_mode_name(a.kl_mode)));
  } catch (const std::invalid_argument& error) {
    section.fail("kl", error.what());
  }
  a.advantage.epsilon = section.get_double("std_eps", a.advantage.epsilon);
  a.filter_zero_variance = section.get_bool("filter_zero_variance", a.filter_zero_variance);
  a.max_resample_rounds = section.get_int("max_resample_rounds", a.max_resample_rounds);
  non_negative(section, "max_resample_rounds", static_cast<double>(a.max_resample_rounds));
  a.epochs = section.get_int("epochs", a.epochs);
  positive(section, "epochs", static_cast<double>(a.epochs));
  a.mini_batches = section.get_int("mini_batches", a.mini_batches);
  positive(section, "mini_batches", static_cast<double>(a.mini_batches));
  a.micro_batch_size = section.get_int("micro_batch_size", a.micro_batch_size);
  positive(section, "micro_batch_size", static_cast<double>(a.micro_batch_size));
  a.micro_batch_tokens = section.get_int("micro_batch_tokens", a.micro_batch_tokens);
  non_negative(section, "micro_batch_tokens", static_cast<double>(a.micro_batch_tokens));
  a.loss.clip_low = section.get_double("clip_low", a.loss.clip_low);
  a.loss.clip_high = section.get_double("clip_high", a.loss.clip_high);
  a.loss.dual_clip = section.get_double("dual_clip", a.loss.dual_clip);
  non_negative(section, "clip_low", a.loss.clip_low);
  non_negative(section, "clip_high", a.loss.clip_high);
  if (a.loss.dual_clip != 0.0 && a.loss.dual_clip <= 1.0) section.fail("dual_clip", "must be 0 (off) or > 1");
  a.loss.entropy_coef = section.get_double("entropy_coef", a.loss.entropy_coef);
  a.kl_coef = section.get_double("kl_coef", a.kl_coef);
  non_negative(section, "kl_coef", a.kl_coef);
  // PPO with a critic. Its KL in the reward is k1 unless kl_estimator says otherwise (veRL's
  // kl_penalty "kl", OpenRLHF's recommendation).
  if (a.gae() && !section.has("kl_estimator")) a.kl = KlOptions{KlEstimator::kK1, true, false};
  a.gamma = section.get_double("gamma", a.gamma);
  a.lam = section.get_double("lam", a.lam);
  if (!(a.gamma >= 0 && a.gamma <= 1)) section.fail("gamma", "must be in [0, 1]");
  if (!(a.lam >= 0 && a.lam <= 1)) section.fail("lam", "must be in [0, 1]");
  a.whiten_advantages = section.get_bool("whiten_advantages", a.whiten_advantages);
  a.value_clip = section.get_double("value_clip", a.value_clip);
  non_negative(section, "value_clip", a.value_clip);
  a.critic_warmup = section.get_int("critic_warmup", a.critic_warmup);
  non_negative(section, "critic_warmup", static_cast<double>(a.critic_warmup));
  a.reward_clip = section.get_double("reward_clip", a.reward_clip);
  non_negative(section, "reward_clip", a.reward_clip);
  a.kl_target = section.get_double("kl_target", a.kl_target);
  non_negative(section, "kl_target", a.kl_target);
  a.kl_horizon = section.get_int("kl_horizon", a.kl_horizon);
  positive(section, "kl_horizon", static_cast<double>(a.kl_horizon));
  if (!a.gae()) {
    for (const char* key : {"gamma", "lam", "whiten_advantages", "value_clip", "critic_warmup", "reward_clip"}) {
      if (section.has(key)) section.fail(key, "is a PPO setting; it needs advantage = \"gae\"");
    }
  }
  if (a.gae() && a.filter_zero_variance) {
    section.fail("filter_zero_variance", "drops groups without reward variance, which GRPO needs and PPO does not; it cannot be used with advantage = \"gae\"");
  }
  if (a.kl_target > 0 && a.kl_mode != KlMode::reward) section.fail("kl_target", "adapts the KL in the reward; it needs kl = \"reward\"");
  const int64_t overlong_buffer = section.get_int("overlong_buffer", 0);
  const double overlong_factor = section.get_double("overlong_penalty", OverlongPenalty{}.penalty_factor);
  if (overlong_buffer > 0) {
    if (overlong_buffer > rollout.max_new_tokens) section.fail("overlong_buffer", "must not exceed rollout.max_new_tokens");
    a.overlong = OverlongPenalty{rollout.max_new_tokens, overlong_buffer, overlong_factor};
  }
  section.finish();
  return a;
}

CriticSection read_critic(const core::TomlSection& section) {
  CriticSection c;
  c.model = section.get_string("model", c.model);
  c.dtype = section.get_string("dtype", c.dtype);
  c.recompute = section.get_bool("recompute", c.recompute);
  c.lr = section.get_double("lr", c.lr);
  non_negative(section, "lr", c.lr);
  c.weight_decay = section.get_double("weight_decay", c.weight_decay);
  c.max_grad_norm = section.get_double("max_grad_norm", c.max_grad_norm);
  non_negative(section, "max_grad_norm", c.max_grad_norm);
  c.warmup_steps = section.get_int("warmup_steps", c.warmup_steps);
  non_negative(section, "warmup_steps", static_cast<double>(c.warmup_steps));
  c.head_init_std = section.get_double("head_init_std", c.head_init_std);
  non_negative(section, "head_init_std", c.head_init_std);
  if (section.has("lora")) c.lora = read_lora(section.section("lora"), c.recompute, "critic");
  section.finish();
  return c;
}

OptimSection read_optim(const core::TomlSection& section, OptimSection o = {}) {
  o.lr = section.get_double("lr", o.lr);
  non_negative(section, "lr", o.lr);
  o.weight_decay = section.get_double("weight_decay", o.weight_decay);
  const auto betas = section.get_doubles("betas", {o.beta1, o.beta2});
  if (betas.size() != 2 || betas[0] < 0 || betas[0] >= 1 || betas[1] < 0 || betas[1] >= 1) {
    section.fail("betas", "must be two numbers in [0, 1)");
  }
  o.beta1 = betas[0];
  o.beta2 = betas[1];
  o.eps = section.get_double("eps", o.eps);
  positive(section, "eps", o.eps);
  o.max_grad_norm = section.get_double("max_grad_norm", o.max_grad_norm);
  non_negative(section, "max_grad_norm", o.max_grad_norm);
  o.schedule = section.get_string("schedule", o.schedule);
  try {
    parse_lr_schedule(o.schedule);
  } catch (const std::invalid_argument& error) {
    section.fail("schedule", error.what());
  }
  o.warmup_steps = section.get_int("warmup_steps", o.warmup_steps);
  non_negative(section, "warmup_steps", static_cast<double>(o.warmup_steps));
  o.min_lr_ratio = section.get_double("min_lr_ratio", o.min_lr_ratio);
  section.finish();
  return o;
}

CheckpointSection read_checkpoint(const core::TomlSection& section) {
  CheckpointSection c;
  c.every = section.get_int("every", c.every);
  non_negative(section, "every", static_cast<double>(c.every));
  c.keep_last = section.get_int("keep_last", c.keep_last);
  positive(section, "keep_last", static_cast<double>(c.keep_last));
  c.save_final = section.get_bool("save_final", c.save_final);
  section.finish();
  return c;
}

LoggingSection read_logging(const core::TomlSection& section, bool samples = true) {
  LoggingSection l;
  if (!samples && section.has("samples_every")) section.fail("samples_every", "is not used here (SFT logs no samples)");
  l.samples_every = section.get_int("samples_every", l.samples_every);
  non_negative(section, "samples_every", static_cast<double>(l.samples_every));
  l.tensorboard = section.get_bool("tensorboard", l.tensorboard);
  section.finish();
  return l;
}

DistributedSection read_distributed(const core::TomlSection& section) {
  DistributedSection d;
  d.backend = section.get_string("backend", d.backend);
  if (d.backend != "auto" && d.backend != "gloo" && d.backend != "nccl") section.fail("backend", "must be auto, gloo or nccl");
  d.timeout_seconds = section.get_int("timeout_seconds", d.timeout_seconds);
  positive(section, "timeout_seconds", static_cast<double>(d.timeout_seconds));
  d.bucket_mb = section.get_int("bucket_mb", d.bucket_mb);
  positive(section, "bucket_mb", static_cast<double>(d.bucket_mb));
  d.zero1 = section.get_bool("zero1", d.zero1);
  section.finish();
  return d;
}

}  // namespace

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  core::TomlDocument document = core::TomlDocument::from_file(path);
  for (const auto& assignment : overrides) document.set(assignment);
  RunConfig config;
  config.source = path;
  config.resolved = document.to_toml();
  const core::TomlSection root = document.root();
  config.run = read_run(root.section("run"));
  config.task = read_task(root.section("task"));
  config.policy = read_policy(root.section("policy"));
  config.data = read_data(root.section("data"));
  config.rollout = read_rollout(root.section("rollout"));
  const bool judge_task = config.task.kind == "judge";
  if (judge_task && !root.has("reward")) {
    config.reward.type = "judge_grade";  // the judge-training reward with its defaults
    config.reward.where = path + ": [task]";
  } else {
    config.reward = read_reward(root.section("reward"));
  }
  if (judge_task != (config.reward.type == "judge_grade")) {
    throw std::runtime_error(config.reward.where + ": [reward] type = \"" + config.reward.type + "\" " +
                             (judge_task ? "cannot train a judge: [task] kind = \"judge\" is rewarded by type = \"judge_grade\""
                                         : "grades judgments against gold scores; it needs [task] kind = \"judge\""));
  }
  config.algorithm = read_algorithm(root.section("algorithm"), config.rollout);
  if (config.algorithm.gae()) {
    config.critic = read_critic(root.section("critic"));
  } else if (root.has("critic")) {
    root.fail("critic", "is PPO's value model; it needs [algorithm] advantage = \"gae\"");
  }
  config.optim = read_optim(root.section("optim"));
  config.checkpoint = read_checkpoint(root.section("checkpoint"));
  config.logging = read_logging(root.section("logging"));
  config.distributed = read_distributed(root.section("distributed"));
  root.finish();
  return config;
}

namespace {

SftDataSection read_sft_data(const core::TomlSection& section) {
  SftDataSection data;
  data.train = section.required_string("train");
  data.field = section.get_string("field", data.field);
  data.shuffle = section.get_bool("shuffle", data.shuffle);
  data.max_length = section.get_int("max_length", data.max_length);
  positive(section, "max_length", static_cast<double>(data.max_length));
  data.enable_thinking = section.get_bool("enable_thinking", data.enable_thinking);
  section.finish();
  return data;
}

SftSection read_sft(const core::TomlSection& section) {
  SftSection sft;
  sft.batch_size = section.get_int("batch_size", sft.batch_size);
  positive(section, "batch_size", static_cast<double>(sft.batch_size));
  sft.micro_batch_size = section.get_int("micro_batch_size", sft.micro_batch_size);
  positive(section, "micro_batch_size", static_cast<double>(sft.micro_batch_size));
  section.finish();
  return sft;
}

}  // namespace

SftConfig load_sft_config(const std::string& path, const std::vector<std::string>& overrides) {
  core::TomlDocument document = core::TomlDocument::from_file(path);
  for (const auto& assignment : overrides) document.set(assignment);
  SftConfig config;
  config.source = path;
  config.resolved = document.to_toml();
  const core::TomlSection root = document.root();
  config.run = read_run(root.section("run"));
  config.policy = read_policy(root.section("policy"));
  config.data = read_sft_data(root.section("data"));
  config.sft = read_sft(root.section("sft"));
  OptimSection optim;
  optim.lr = kSftDefaultLr;
  config.optim = read_optim(root.section("optim"), optim);
  config.checkpoint = read_checkpoint(root.section("checkpoint"));
  config.logging = read_logging(root.section("logging"), /*samples=*/false);
  config.distributed = read_distributed(root.section("distributed"));
  root.finish();
  return config;
}

}  // namespace precept::trainer
