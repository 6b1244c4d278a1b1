// The defaults docs/training.md states are the defaults the code has: every `key | default`
// row of the recipe tables, and every "`key` (`default`)" of the rewardanything row, against the
// section structs (trainer/config.h) and the judge options (reward/judge_options.h) as a minimal
// recipe leaves them. Also: every key the structs have is documented.
#include "core/json_options.h"
#include "reward/judge_options.h"
#include "test_util.h"
#include "trainer/config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <variant>

namespace fs = std::filesystem;
using namespace precept;

namespace {

using Value = std::variant<std::string, double, bool, std::vector<double>>;

// A default as the docs write it: "text", 0.2, 1e-6, true, [0.9, 0.999].
std::optional<Value> parse_literal(const std::string& text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') return Value(text.substr(1, text.size() - 2));
  if (text == "true" || text == "false") return Value(text == "true");
  if (!text.empty() && text.front() == '[') {
    std::vector<double> items;
    std::stringstream stream(text.substr(1, text.size() - 2));
    for (std::string item; std::getline(stream, item, ',');) items.push_back(std::stod(item));
    return Value(items);
  }
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  if (!text.empty() && end == text.c_str() + text.size()) return Value(number);
  return std::nullopt;  // "required", or prose
}

std::string show(const Value& value) {
  if (auto* s = std::get_if<std::string>(&value)) return "\"" + *s + "\"";
  if (auto* d = std::get_if<double>(&value)) return std::to_string(*d);
  if (auto* b = std::get_if<bool>(&value)) return *b ? "true" : "false";
  std::string out = "[";
  for (double d : std::get<std::vector<double>>(value)) out += std::to_string(d) + " ";
  return out + "]";
}

// The struct defaults, by "section.key", as a recipe with only the required keys leaves them.
std::map<std::string, Value> struct_defaults() {
  const fs::path dir = precept::testing::temp_dir("config_defaults");
  precept::testing::write_all(dir / "recipe.toml",
                              "[policy]\nmodel = \"m\"\n[data]\nprompts = \"p.jsonl\"\n[reward]\ntype = \"regex\"\n"
                              "must_match = ['x']\n");
  const trainer::RunConfig c = trainer::load_run_config((dir / "recipe.toml").string());
  const auto& a = c.algorithm;
  return {
      {"run.name", c.run.name}, {"run.seed", double(c.run.seed)}, {"run.steps", double(c.run.steps)},
      {"run.device", c.run.device}, {"run.threads", double(c.run.threads)}, {"run.overwrite", c.run.overwrite},
      {"run.memory_limit_gb", c.run.memory_limit_gb},
      {"task.kind", c.task.kind}, {"task.system_prompt_file", c.task.system_prompt_file}, {"task.mask", c.task.mask},
      {"policy.dtype", c.policy.dtype}, {"policy.recompute", c.policy.recompute},
      {"policy.logprob_chunk", double(c.policy.logprob_chunk)},
      {"data.field", c.data.field}, {"data.chat", c.data.chat}, {"data.system_prompt", c.data.system_prompt},
      {"data.enable_thinking", c.data.enable_thinking}, {"data.shuffle", c.data.shuffle},
      {"data.max_prompt_tokens", double(c.data.max_prompt_tokens)},
      {"rollout.prompts_per_step", double(c.rollout.prompts_per_step)}, {"rollout.group_size", double(c.rollout.group_size)},
      {"rollout.max_new_tokens", double(c.rollout.max_new_tokens)}, {"rollout.temperature", c.rollout.temperature},
      {"rollout.top_p", c.rollout.top_p}, {"rollout.top_k", double(c.rollout.top_k)}, {"rollout.min_p", c.rollout.min_p},
      {"rollout.slots", double(c.rollout.slots)}, {"rollout.release_cache", c.rollout.release_cache},
      {"rollout.stop", std::vector<double>(c.rollout.stop.size())},
      {"algorithm.advantage", trainer::advantage_estimator_name(a.advantage.estimator)},
      {"algorithm.scale_rewards", trainer::reward_scaling_name(a.advantage.scaling)},
      {"algorithm.std_eps", a.advantage.epsilon}, {"algorithm.filter_zero_variance", a.filter_zero_variance},
      {"algorithm.max_resample_rounds", double(a.max_resample_rounds)}, {"algorithm.epochs", double(a.epochs)},
      {"algorithm.mini_batches", double(a.mini_batches)}, {"algorithm.micro_batch_size", double(a.micro_batch_size)},
      {"algorithm.micro_batch_tokens", double(a.micro_batch_tokens)},
      {"algorithm.clip_low", a.loss.clip_low}, {"algorithm.clip_high", a.loss.clip_high},
      {"algorithm.dual_clip", a.loss.dual_clip}, {"algorithm.loss_agg", trainer::loss_aggregation_name(a.loss.aggregation)},
      {"algorithm.entropy_coef", a.loss.entropy_coef}, {"algorithm.kl", trainer::kl_mode_name(a.kl_mode)},
      {"algorithm.kl_estimator", trainer::kl_estimator_name(a.kl)}, {"algorithm.kl_coef", a.kl_coef},
      {"algorithm.overlong_buffer", 0.0}, {"algorithm.overlong_penalty", trainer::OverlongPenalty{}.penalty_factor},
      {"algorithm.gamma", a.gamma}, {"algorithm.lam", a.lam}, {"algorithm.whiten_advantages", a.whiten_advantages},
      {"algorithm.value_clip", a.value_clip}, {"algorithm.critic_warmup", double(a.critic_warmup)},
      {"algorithm.reward_clip", a.reward_clip}, {"algorithm.kl_target", a.kl_target},
      {"algorithm.kl_horizon", double(a.kl_horizon)},
      {"critic.model", c.critic.model}, {"critic.dtype", c.critic.dtype}, {"critic.recompute", c.critic.recompute},
      {"critic.lr", c.critic.lr}, {"critic.weight_decay", c.critic.weight_decay},
      {"critic.max_grad_norm", c.critic.max_grad_norm}, {"critic.warmup_steps", double(c.critic.warmup_steps)},
      {"critic.head_init_std", c.critic.head_init_std},
      {"optim.lr", c.optim.lr}, {"optim.weight_decay", c.optim.weight_decay},
      {"optim.betas", std::vector<double>{c.optim.beta1, c.optim.beta2}}, {"optim.eps", c.optim.eps},
      {"optim.max_grad_norm", c.optim.max_grad_norm}, {"optim.schedule", c.optim.schedule},
      {"optim.min_lr_ratio", c.optim.min_lr_ratio},
      {"checkpoint.every", double(c.checkpoint.every)}, {"checkpoint.keep_last", double(c.checkpoint.keep_last)},
      {"checkpoint.save_final", c.checkpoint.save_final},
      {"logging.samples_every", double(c.logging.samples_every)}, {"logging.tensorboard", c.logging.tensorboard},
      {"distributed.backend", c.distributed.backend}, {"distributed.timeout_seconds", double(c.distributed.timeout_seconds)},
      {"distributed.bucket_mb", double(c.distributed.bucket_mb)}, {"distributed.zero1", c.distributed.zero1},
  };
}

std::vector<std::string> split_cells(const std::string& cell) {  // "`a`, `b`" -> a, b
  std::vector<std::string> out;
  static const std::regex quoted("`([^`]*)`");
  for (std::sregex_iterator it(cell.begin(), cell.end(), quoted), end; it != end; ++it) out.push_back((*it)[1]);
  return out;
}

std::string docs() { return precept::testing::read_all(fs::path(PRECEPT_SOURCE_DIR) / "docs" / "training.md"); }

}  // namespace

TEST(ConfigDefaults, TrainingDocsTablesEqualTheSectionStructs) {
  const auto defaults = struct_defaults();
  std::set<std::string> documented;
  std::string section;
  int64_t compared = 0;
  std::istringstream lines(docs());
  static const std::regex heading(R"(^### `\[([a-z]+)\]`$)");
  static const std::regex row(R"(^\| (`[^|]*`) \| ([^|]*) \|)");
  for (std::string line; std::getline(lines, line);) {
    std::smatch match;
    if (line.rfind("### ", 0) == 0) section = std::regex_match(line, match, heading) ? std::string(match[1]) : "";
    if (!std::regex_search(line, match, row) || section == "reward") continue;
    const std::vector<std::string> keys = split_cells(match[1]), values = split_cells(match[2]);
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string name = section.empty() ? keys[i] : section + "." + keys[i];
      documented.insert(name);
      if (i >= values.size()) continue;  // "required"
      // A schedule row also names its warmup; the doc cell's own literal is the first.
      const auto literal = parse_literal(values[i]);
      if (!literal || name == "run.output_dir") continue;
      ASSERT_TRUE(defaults.count(name)) << "docs/training.md documents " << name << ", which the config does not read";
      EXPECT_EQ(show(*literal), show(defaults.at(name))) << name << ": docs/training.md says " << values[i];
      ++compared;
    }
  }
  for (const auto& [name, value] : defaults) EXPECT_TRUE(documented.count(name)) << name << " is not in docs/training.md";
  EXPECT_GE(compared, 55) << "the docs tables were not found or not parsed";
  std::cout << "[defaults] " << compared << " documented defaults equal the structs'\n";
}

TEST(ConfigDefaults, TrainingDocsJudgeKeysEqualTheJudgeOptions) {
  const nlohmann::json empty = nlohmann::json::object();
  core::JsonOptions reader(empty, "test", "the judge");
  const reward::JudgeOptions judge = reward::read_judge_options(reader, "cpu", /*principle_required=*/false);
  const auto& s = judge.settings;
  const std::map<std::string, Value> expected = {
      {"mask", s.mask}, {"thinking", s.enable_thinking}, {"temperature", s.sampler.temperature},
      {"top_p", s.sampler.top_p}, {"top_k", double(s.sampler.top_k)}, {"max_new_tokens", double(s.max_new_tokens)},
      {"max_per_call", double(s.max_responses_per_call)}, {"retries", double(s.max_retries)},
      {"conversion", reward::listwise_mode_name(s.conversion)}, {"fallback", reward::judge_fallback_name(s.fallback)},
      {"fallback_value", s.fallback_value}, {"overflow", reward::judge_overflow_name(s.overflow)},
      {"slots", double(judge.generator.max_slots)}, {"max_length", double(judge.generator.max_length)},
      {"system_prompt_file", std::string()},
  };
  const std::string text = docs();
  const size_t start = text.find("| `rewardanything` |");
  ASSERT_NE(start, std::string::npos);
  const std::string row = text.substr(start, text.find('\n', start) - start);
  static const std::regex pair(R"(`([a-z_]+)` \(`([^`]*)`)");
  int64_t compared = 0;
  for (std::sregex_iterator it(row.begin(), row.end(), pair), end; it != end; ++it) {
    const std::string key = (*it)[1];
    const auto literal = parse_literal((*it)[2]);
    ASSERT_TRUE(literal) << key;
    ASSERT_TRUE(expected.count(key)) << "the rewardanything row documents '" << key << "'";
    EXPECT_EQ(show(*literal), show(expected.at(key))) << key;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int64_t>(expected.size()));
}
