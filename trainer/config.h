// The configuration of one training run: a TOML file with the sections below, `--set
// section.key=value` overrides, defaults that follow veRL/TRL practice (docs/training.md lists
// every key; a test checks that its defaults are these). Each default is written once, here, as
// the member's initialiser; the reader falls back to it. Unknown keys and wrong types are errors
// naming the key, the file and the line. The resolved config is written into the run directory.
// Not the reading machinery (core/toml_reader.h) and not the trainer (trainer/grpo_trainer.h).
#pragma once

#include "policy/lora_config.h"
#include "trainer/advantages.h"
#include "trainer/dist/process_group.h"
#include "trainer/kl.h"
#include "trainer/policy_loss.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string_view>
#include <optional>
#include <string>
#include <vector>

namespace precept::trainer {

struct RunSection {
  std::string name = "run";
  std::string output_dir = "runs/run";  // checkpoints, metrics, samples, the resolved config
  uint64_t seed = 0;
  int64_t steps = 100;                  // optimizer steps
  std::string device = "cpu";           // cpu | cuda | cuda:N (a rank picks cuda:LOCAL_RANK when "cuda")
  int64_t threads = 0;                  // intra-op CPU threads; 0 = torch's default
  bool overwrite = false;               // a fresh run may replace an earlier run's logs in output_dir
  // The memory a rank's plan may use (trainer/memory_plan.h), in GB (1e9 bytes): 0 = what the
  // device has (MemAvailable on CPU, shared by the machine's ranks; the GPU's total), < 0 = no check.
  double memory_limit_gb = 0.0;
};

struct PolicySection {
  std::string model;               // a Hugging Face model directory (required)
  std::string dtype = "";          // "" = float32 (set bfloat16 on GPUs)
  bool recompute = false;          // activation recomputation per decoder block
  int64_t logprob_chunk = 1024;    // tokens per chunk of the fp32 log-softmax
  // [policy.lora]: train LoRA adapters instead of the weights (docs/lora.md); absent = full
  // fine-tuning. With it the reference is the base model with the adapters off.
  std::optional<policy::LoraConfig> lora;
};

struct DataSection {
  std::string prompts;             // JSONL file (required)
  std::string field = "prompt";    // the field holding each prompt: text or chat messages
  bool chat = true;                // apply the chat template to plain-text prompts too
  std::string system_prompt;       // chat: a system message put first
  bool enable_thinking = false;    // Qwen3's switch for the policy's prompts
  bool shuffle = true;             // a new seeded order every epoch
  int64_t max_prompt_tokens = 1024;  // longer prompts are an error at load time (never cut)
};

// What the trained model learns to do. "policy": answer the prompts of data.prompts (a reward
// scores the answers). "judge": judge the listwise cases of data.prompts (data/listwise.h); the
// model is shown each case as a RewardAnything prompt, masked per case, and each sampled
// judgment is rewarded against the gold scores by the judge-training reward ([reward] type
// "judge_grade", the default for this task). docs/judge-training.md.
struct TaskSection {
  std::string kind = "policy";     // policy | judge
  std::string system_prompt_file;  // judge: the judge's system prompt; "" = precept's own
  bool mask = true;                // judge: shuffle and rename the responses per case (upstream's default)
};

struct RolloutSection {
  int64_t prompts_per_step = 8;    // global batch of prompts (split across ranks)
  int64_t group_size = 4;          // G responses per prompt
  int64_t max_new_tokens = 256;
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;
  double min_p = 0.0;
  std::vector<std::string> stop;   // stop strings
  int64_t slots = 64;              // sequences decoded at once
  bool release_cache = false;      // free the KV cache during the update (GPU memory)
};

// One reward, or a weighted composite of several ([[reward.components]]). The keys each type
// reads are documented in docs/rewards.md; `options` holds them, checked by the reward factory.
struct RewardSpec {
  std::string type;     // "rewardanything", "length", "regex", "match", "scalar_rm", "composite"
  double weight = 1.0;  // within a composite
  nlohmann::json options = nlohmann::json::object();
  std::string where;    // "file:line" of the section, for the factory's errors
  std::vector<RewardSpec> components;
};

// Where the KL to the reference goes (veRL use_kl_loss / use_kl_in_reward).
enum class KlMode { none, loss, reward };
KlMode parse_kl_mode(std::string_view name);  // "none" | "loss" | "reward"
std::string kl_mode_name(KlMode mode);

struct AlgorithmSection {
  AdvantageConfig advantage;
  bool filter_zero_variance = false;  // drop groups whose rewards are all equal from the update
  int64_t max_resample_rounds = 0;    // DAPO dynamic sampling: extra rounds to refill dropped groups
  int64_t epochs = 1;                 // update passes over each step's rollouts (PPO epochs)
  int64_t mini_batches = 1;           // optimizer steps per epoch... per step: epochs * mini_batches
  int64_t micro_batch_size = 8;       // sequences per forward/backward (gradient accumulation)
  int64_t micro_batch_tokens = 0;     // and at most this many padded tokens each; 0 = no cap
  PolicyLossConfig loss;             // clip, dual clip, aggregation, entropy; its KL fields are unused:
  KlMode kl_mode = KlMode::none;     // the KL term's place,
  KlOptions kl;                      // its estimator (loss or reward),
  double kl_coef = 0.001;            // and its coefficient
  // The loss configuration of a micro-batch: `loss` with the KL term when kl_mode is loss.
  PolicyLossConfig policy_loss_config() const;
  std::optional<OverlongPenalty> overlong;  // DAPO soft overlong punishment, when buffer > 0

  // PPO with a critic (advantage = "gae"; docs/ppo.md gives each formula and the peers' names).
  double gamma = 1.0;              // discount (veRL algorithm.gamma 1.0, OpenRLHF 1, TRL 1.0)
  double lam = 1.0;                // GAE lambda (veRL algorithm.lam 1.0, OpenRLHF 1, TRL 0.95)
  bool whiten_advantages = true;   // masked whitening over the step's whole batch (all ranks)
  double value_clip = 0.5;         // c in clip(v, V_old - c, V_old + c) (veRL cliprange_value 0.5, TRL 0.2)
  int64_t critic_warmup = 0;       // the first N steps update only the critic (veRL trainer.critic_warmup)
  double reward_clip = 0.0;        // the sequence score clipped to [-c, c] before GAE; 0 = off (OpenRLHF 10)
  double kl_target = 0.0;          // adaptive KL controller's target KL; 0 = kl_coef stays fixed
  int64_t kl_horizon = 10000;      // the adaptive controller's horizon (veRL kl_ctrl.horizon)
  bool gae() const { return advantage.estimator == AdvantageEstimator::kGae; }
};

// [critic]: the PPO value model (algorithm.advantage = "gae"), kept apart from the policy with
// its own weights, AdamW state (replicated or ZeRO-1 as [distributed] says) and learning rate;
// betas, eps and the schedule's kind are [optim]'s. docs/ppo.md.
struct CriticSection {
  // "" = the policy's model with a fresh value head (veRL's default); else a critic precept saved
  // (XxxForTokenClassification, one label) or a reward model (XxxForSequenceClassification, one
  // label), whose `score` becomes the value head.
  std::string model;
  std::string dtype = "";          // "" = policy.dtype
  bool recompute = false;
  double lr = 1e-5;                // veRL critic.optim.lr 1e-5 (OpenRLHF 9e-6)
  double weight_decay = 0.0;
  double max_grad_norm = 1.0;      // 0 = no clipping
  int64_t warmup_steps = 0;        // linear lr warmup of the critic's schedule
  double head_init_std = 0.02;     // a fresh head: weight ~ normal(0, std), bias 0 (transformers' initializer_range)
  std::optional<policy::LoraConfig> lora;  // [critic.lora]: adapters on the critic's body, the head trained in full
};

struct OptimSection {
  double lr = 1e-6;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double max_grad_norm = 1.0;        // 0 = no clipping
  std::string schedule = "constant"; // constant | linear | cosine (with warmup)
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0.0;         // cosine floor as a fraction of lr
};

struct CheckpointSection {
  int64_t every = 0;     // steps between checkpoints; 0 = only at the end
  int64_t keep_last = 2;
  bool save_final = true;
};

struct LoggingSection {
  int64_t samples_every = 10;  // steps between sample logs (prompt, responses, rewards, judge)
  bool tensorboard = true;
};


struct RunConfig {
  RunSection run;
  TaskSection task;
  PolicySection policy;
  DataSection data;
  RolloutSection rollout;
  RewardSpec reward;
  AlgorithmSection algorithm;
  CriticSection critic;   // read only with algorithm.advantage = "gae"
  OptimSection optim;
  CheckpointSection checkpoint;
  LoggingSection logging;
  DistributedSection distributed;
  std::string source;     // the file it came from
  std::string resolved;   // the TOML text after overrides, written to the run directory
};

// Reads a recipe, applies `--set` overrides in order, checks every key. Relative paths in the
// file (models, prompts, principles) are taken relative to the current directory.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

// ---- `precept sft RECIPE.toml`: supervised fine-tuning on chats (docs/sft.md) ----------------

struct SftDataSection {
  std::string train;                 // chat JSONL: one {"messages": [...]} per line (required)
  std::string field = "messages";    // the field holding each chat
  bool shuffle = true;               // a new seeded order every epoch (else file order)
  int64_t max_length = 2048;         // a longer rendered chat is an error at load time (never cut)
  bool enable_thinking = false;      // Qwen3's switch, passed to the chat template
};

struct SftSection {
  int64_t batch_size = 8;            // chats per optimizer step, over all ranks (a multiple of the world size)
  int64_t micro_batch_size = 4;      // chats per forward/backward (gradient accumulation)
};

// The sections of a run that SFT shares with `precept train` ([run], [policy], [optim],
// [checkpoint], [logging], [distributed]) read by the same readers, plus [data] and [sft].
// optim.lr defaults to 2e-5 here (TRL SFTConfig's learning_rate), not RL's 1e-6.
struct SftConfig {
  RunSection run;
  PolicySection policy;
  SftDataSection data;
  SftSection sft;
  OptimSection optim;
  CheckpointSection checkpoint;
  LoggingSection logging;
  DistributedSection distributed;
  std::string source;
  std::string resolved;
};
inline constexpr double kSftDefaultLr = 2e-5;

SftConfig load_sft_config(const std::string& path, const std::vector<std::string>& overrides = {});

}  // namespace precept::trainer
