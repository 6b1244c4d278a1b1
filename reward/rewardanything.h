// The RewardAnything judge in-process: a Qwen3 checkpoint scoring a group of responses against a
// principle in one listwise call, run through precept's own generator (rollout/generator.h) so
// that many groups' calls share the generator's slots. Prompts are upstream's byte for byte
// (reward/judge_prompt.h), outputs are parsed leniently (reward/judge_parser.h) and turned into
// rewards (reward/listwise.h). Unparseable judgments are retried with new seeds, then fall back;
// they are counted, never fatal. Not a server, and not the judge's trainer.
#pragma once

#include "text/chat_template.h"
#include "lm/pretrained.h"
#include "text/tokenizer.h"
#include "lm/transformer.h"
#include "reward/judge_parser.h"
#include "reward/judge_prompt.h"
#include "reward/listwise.h"
#include "reward/reward.h"
#include "rollout/generator.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace precept::reward {

enum class JudgeFallback {
  group_mean,  // the mean of the group's valid rewards (so the failed response's advantage is ~0)
  constant,    // JudgeSettings::fallback_value
};
JudgeFallback parse_judge_fallback(const std::string& name);  // "group_mean" | "constant"
std::string judge_fallback_name(JudgeFallback fallback);

enum class JudgeOverflow {
  split,  // a call whose prompt does not fit the judge's context is split into smaller lists
  error,  // ... or refused with an error naming the group
};
JudgeOverflow parse_judge_overflow(const std::string& name);  // "split" | "error"
std::string judge_overflow_name(JudgeOverflow overflow);

struct JudgeSettings {
  std::string principle;      // the principle text (required)
  std::string system_prompt;  // the exact system prompt; empty = precept's default_judge_system_prompt()
  bool mask = true;           // upstream's mask_responses
  // Masking order: a fixed seed (42 reproduces upstream's order for every group) or, unset, a
  // seed per group and call, so that position bias is spread rather than fixed.
  std::optional<uint64_t> mask_seed;
  bool enable_thinking = true;
  // Upstream's local-inference defaults: temperature 0.1, top-p 0.9, up to 4096 new tokens.
  rollout::SamplerSettings sampler{.temperature = 0.1, .top_k = 0, .top_p = 0.9, .min_p = 0.0};
  int64_t max_new_tokens = 4096;
  int64_t max_responses_per_call = 8;  // larger groups are split into balanced sub-lists
  ListwiseMode conversion = ListwiseMode::kScoreRankTiebreak;
  double tiebreak_epsilon = kDefaultTiebreakEpsilon;
  int64_t max_retries = 2;  // new sampling seeds for a judgment that does not parse completely
  JudgeFallback fallback = JudgeFallback::group_mean;
  double fallback_value = 0.0;
  JudgeOverflow overflow = JudgeOverflow::split;
  uint64_t seed = 0;
};

// One judge call: the responses it covered, what was asked, what came back.
struct JudgeCall {
  size_t group = 0;
  std::vector<size_t> members;    // indices into the group's responses
  JudgePrompt prompt;             // text, user JSON, shown names
  int64_t prompt_tokens = 0;
  std::vector<std::string> outputs;  // raw text of every attempt (special tokens skipped, <think> kept)
  Judgment judgment;              // of the last attempt
  bool ok = false;                // the last attempt parsed with a score for every member
  int64_t generated_tokens = 0;   // over all attempts
};

class RewardAnythingJudge : public Reward {
 public:
  RewardAnythingJudge(lm::Transformer model, std::unique_ptr<text::Tokenizer> tokenizer, text::ChatTemplate chat,
                      std::vector<int64_t> stop_ids, JudgeSettings settings, rollout::GeneratorConfig generator);
  ~RewardAnythingJudge() override;

  // Loads a judge checkpoint directory (config, safetensors, tokenizer, chat template,
  // generation_config.json for the stop ids).
  static std::unique_ptr<RewardAnythingJudge> load(const std::string& model_dir, JudgeSettings settings,
                                                   rollout::GeneratorConfig generator, lm::LoadOptions load = {});

  std::string name() const override { return "rewardanything"; }
  GroupScores score(const Group& group) override;
  std::vector<GroupScores> score_batch(const std::vector<Group>& groups) override;

  // The calls one group turns into (prompts built and sized, nothing generated): what
  // `precept judge --print-prompt` shows.
  std::vector<JudgeCall> plan_calls(const Group& group, size_t group_index = 0) const;
  // The calls of the last score_batch(), with raw outputs (for the CLI and logs).
  const std::vector<JudgeCall>& last_calls() const { return last_calls_; }

  void set_progress(rollout::ProgressCallback progress) { progress_ = std::move(progress); }
  const JudgeSettings& settings() const { return settings_; }
  const rollout::Generator& generator() const { return *generator_; }

 private:
  std::vector<int64_t> encode(const std::string& text) const;

  lm::Transformer model_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  JudgePromptBuilder builder_;
  std::vector<int64_t> stop_ids_;
  JudgeSettings settings_;
  std::unique_ptr<rollout::Generator> generator_;
  rollout::ProgressCallback progress_;
  std::vector<JudgeCall> last_calls_;
};

// The seed that masks one call's responses (the judge's plan_calls): the fixed mask_seed when
// set, else one per group and call, from the run's seed, the group's seed and the call's first
// member. With judge_call_shown(), a caller that holds only raw judge outputs (a judgments file
// of `precept eval judge`) maps the masked names back exactly as the judge did.
uint64_t judge_call_mask_seed(const JudgeSettings& settings, uint64_t group_seed, size_t first_member);
// The names under which a call showed `responses` (caller's names and order): masked with
// judge_call_mask_seed(), or unmasked when settings.mask is off.
ShownResponses judge_call_shown(const JudgeSettings& settings, const std::vector<NamedResponse>& responses,
                                uint64_t group_seed, size_t first_member);

// Turns parsed calls into the group's rewards (conversion, fallback, diagnostics). Exposed for
// tests and for `precept judge --parse`.
GroupScores group_scores_from_calls(const Group& group, const std::vector<const JudgeCall*>& calls,
                                    const JudgeSettings& settings);

}  // namespace precept::reward
