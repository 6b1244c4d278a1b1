// GRPO training end to end on the real stories260K checkpoint (converted from llama2.c) with a
// rule reward: it learns (mean reward from < 0.2 to > 0.8 in a fixed number of steps), resumes
// bitwise exactly, stops on NaN before touching a checkpoint, keeps the last K checkpoints, and
// refuses bad configuration with the file, line and key.
#include "lm/llama2c.h"
#include "lm/pretrained.h"
#include "lm/safetensors.h"
#include "stories260k.h"
#include "test_util.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/grpo_trainer.h"
#include "trainer/phases.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace precept;

namespace {

const fs::path& stories_model() { return precept::testing::stories260k_model(); }

const fs::path& prompts_file() {
  static const fs::path file = fs::path(PRECEPT_SOURCE_DIR) / "recipes" / "data" / "story_openings.jsonl";
  return file;
}

// A recipe for the dog task; `extra` is appended (later keys of a section must not repeat).
std::string recipe(const fs::path& out, int steps, const std::string& extra_algorithm = "",
                   const std::string& extra = "") {
  return "[run]\nname = \"test\"\noutput_dir = \"" + out.string() + "\"\nseed = 1\nsteps = " + std::to_string(steps) +
         "\nthreads = 1\n\n[policy]\nmodel = \"" + stories_model().string() + "\"\n\n[data]\nprompts = \"" +
         prompts_file().string() +
         "\"\nchat = false\n\n[rollout]\nprompts_per_step = 4\ngroup_size = 8\nmax_new_tokens = 32\nslots = 32\n\n"
         "[reward]\ntype = \"regex\"\nmust_match = ['\\b[Dd]ogs?\\b']\n\n[algorithm]\nkl = \"loss\"\nkl_coef = 0.05\n"
         "micro_batch_size = 16\n" +
         extra_algorithm + "\n[optim]\nlr = 5e-4\n\n[logging]\nsamples_every = 0\ntensorboard = false\n" + extra;
}

trainer::RunConfig config_from(const fs::path& dir, const std::string& text, std::vector<std::string> overrides = {}) {
  fs::create_directories(dir);
  precept::testing::write_all(dir / "recipe.toml", text);
  return trainer::load_run_config((dir / "recipe.toml").string(), overrides);
}

std::map<std::string, at::Tensor> weights_of(const fs::path& model_dir) {
  lm::CheckpointTensors tensors(model_dir);
  std::map<std::string, at::Tensor> out;
  for (const auto& name : tensors.names()) out[name] = tensors.tensor(name).clone();
  return out;
}

}  // namespace

TEST(TrainLearning, RuleRewardRisesFromBelowPointTwoToAbovePointEight) {
  const fs::path dir = precept::testing::temp_dir("train_learning");
  trainer::RunConfig config = config_from(dir, recipe(dir / "run", 20));
  trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
  std::vector<double> curve;
  trainer.train([&](const trainer::StepSummary& summary) { curve.push_back(summary.metrics.at("reward/mean")); });
  ASSERT_EQ(curve.size(), 20u);
  std::cout << "[train] learning curve (mean reward per step):";
  for (double r : curve) std::cout << " " << r;
  std::cout << "\n";
  EXPECT_LT(curve.front(), 0.2);
  const double last = (curve[17] + curve[18] + curve[19]) / 3.0;
  EXPECT_GT(last, 0.8) << "mean reward of steps 18-20";
}

// 2N steps straight and N steps + resume + N steps give the same parameters, bit for bit, with
// every stateful part in play: several optimizer steps per step (old log-probs), a warmup and
// cosine schedule, KL to the reference, shuffled data crossing an epoch.
TEST(TrainResume, StraightAndResumedRunsAreBitwiseIdentical) {
  const fs::path dir = precept::testing::temp_dir("train_resume");
  const std::string algorithm = "epochs = 2\nmini_batches = 2\n";
  const std::string extra = "\n[checkpoint]\nevery = 3\nkeep_last = 5\n";
  auto cosine = [](std::string text) {
    const std::string from = "lr = 5e-4\n";
    return text.replace(text.find(from), from.size(), "lr = 5e-4\nschedule = \"cosine\"\nwarmup_steps = 2\nweight_decay = 0.01\n");
  };
  trainer::RunConfig straight_config = config_from(dir / "a", cosine(recipe(dir / "a" / "run", 6, algorithm, extra)));
  {
    trainer::GrpoTrainer straight(straight_config, trainer::single_process_communicator());
    straight.train();
  }
  // The interrupted run: the same recipe, stopped after 3 steps with a checkpoint (as a run
  // killed after its step-3 checkpoint would leave it).
  trainer::RunConfig first_config = config_from(dir / "b", cosine(recipe(dir / "b" / "run", 6, algorithm, extra)));
  {
    trainer::GrpoTrainer first(first_config, trainer::single_process_communicator());
    for (int i = 0; i < 3; ++i) first.step();
    first.save_checkpoint();
  }
  trainer::RunConfig second_config = config_from(dir / "b", cosine(recipe(dir / "b" / "run", 6, algorithm, extra)));
  {
    trainer::GrpoTrainer second(second_config, trainer::single_process_communicator());
    second.resume((dir / "b" / "run").string());
    EXPECT_EQ(second.current_step(), 3);
    second.train();
  }
  auto a = weights_of(dir / "a" / "run" / "checkpoints" / "step-00000006" / "model");
  auto b = weights_of(dir / "b" / "run" / "checkpoints" / "step-00000006" / "model");
  auto start = weights_of(stories_model());
  ASSERT_EQ(a.size(), b.size());
  int64_t changed = 0;
  for (const auto& [name, tensor] : a) {
    ASSERT_TRUE(b.count(name)) << name;
    EXPECT_TRUE(at::equal(tensor, b.at(name))) << name << " differs after resuming";
    if (start.count(name) && !at::equal(tensor, start.at(name))) ++changed;
  }
  EXPECT_GT(changed, 0) << "training changed nothing, so the comparison proves nothing";
  // The optimizer state too.
  auto state_a = trainer::load_checkpoint(dir / "a" / "run").optimizer;
  auto state_b = trainer::load_checkpoint(dir / "b" / "run").optimizer;
  ASSERT_EQ(state_a.size(), state_b.size());
  for (const auto& [name, tensor] : state_a) EXPECT_TRUE(at::equal(tensor, state_b.at(name))) << name;
  std::cout << "[train] resume: " << a.size() << " tensors bitwise equal after 6 steps straight vs 3 + resume + 3 ("
            << changed << " changed by training)\n";
}

TEST(TrainFaults, NanStopsBeforeAnyCheckpointIsWritten) {
  const fs::path dir = precept::testing::temp_dir("train_nan");
  trainer::RunConfig config = config_from(dir, recipe(dir / "run", 4, "", "\n[checkpoint]\nevery = 1\n"), {"run.steps=2"});
  {
    trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
    trainer.train();
  }
  const fs::path good = dir / "run" / "checkpoints" / "step-00000002";
  ASSERT_TRUE(fs::exists(good / "model" / "model.safetensors"));
  const std::string before = precept::testing::read_all(good / "model" / "model.safetensors");
  // Resume into a policy whose weights turn to NaN: step 3 must stop, naming itself.
  config = config_from(dir, recipe(dir / "run", 4, "", "\n[checkpoint]\nevery = 1\n"));
  trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
  trainer.resume((dir / "run").string());
  {
    torch::NoGradGuard no_grad;
    trainer.policy().named_parameters()["model.layers.0.mlp.down_proj.weight"].fill_(std::nan(""));
  }
  std::string error;
  try {
    trainer.train();
  } catch (const trainer::TrainingDiverged& diverged) {
    error = diverged.what();
  }
  EXPECT_NE(error.find("step 3"), std::string::npos) << error;
  EXPECT_NE(error.find("not finite"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(dir / "run" / "checkpoints" / "step-00000003"));
  EXPECT_EQ(precept::testing::read_all(good / "model" / "model.safetensors"), before);
  EXPECT_EQ(trainer::load_checkpoint(dir / "run").dir.filename(), "step-00000002");
}

TEST(TrainCheckpoints, KeepsTheLastKAndLoadsInPrecept) {
  const fs::path dir = precept::testing::temp_dir("train_keep");
  trainer::RunConfig config = config_from(dir, recipe(dir / "run", 5, "", "\n[checkpoint]\nevery = 1\nkeep_last = 2\n"));
  // A leftover of an interrupted write by another process is cleaned away.
  fs::create_directories(dir / "run" / "checkpoints" / ".step-00000001.partial-999999");
  trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
  trainer.train();
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir / "run" / "checkpoints")) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"latest", "step-00000004", "step-00000005"}));
  auto contents = trainer::load_checkpoint(dir / "run");
  EXPECT_EQ(contents.state["step"], 5);
  EXPECT_EQ(contents.state["data"]["epoch"], 2);  // 5 steps x 4 prompts over 8 prompts
  lm::Transformer reloaded = lm::load_pretrained(contents.model_dir());
  for (auto& item : trainer.policy().named_parameters()) {
    EXPECT_TRUE(at::equal(item.value(), reloaded->named_parameters()[item.key()])) << item.key();
  }
}

TEST(TrainConfig, ErrorsNameTheKeyFileAndLine) {
  const fs::path dir = precept::testing::temp_dir("train_config");
  const std::string good = recipe(dir / "run", 2);
  auto error_of = [&](const std::string& text, std::vector<std::string> overrides = {}) {
    return precept::testing::error_of([&] { config_from(dir, text, overrides); });
  };
  // An unknown key in [rollout], on the line it is written.
  std::string typo = good;
  typo.replace(typo.find("group_size = 8"), 14, "group_sise = 8");
  std::string error = error_of(typo);
  EXPECT_NE(error.find("recipe.toml:"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown key 'rollout.group_sise'"), std::string::npos) << error;
  int line = 0;
  {
    std::istringstream lines(typo);
    std::string text;
    for (int n = 1; std::getline(lines, text); ++n) {
      if (text.find("group_sise") != std::string::npos) line = n;
    }
  }
  EXPECT_NE(error.find("recipe.toml:" + std::to_string(line)), std::string::npos) << error;
  // A wrong type.
  std::string wrong = good;
  wrong.replace(wrong.find("max_new_tokens = 32"), 19, "max_new_tokens = \"32\"");
  error = error_of(wrong);
  EXPECT_NE(error.find("rollout.max_new_tokens must be an integer, not a string"), std::string::npos) << error;
  // Overrides are checked like the file.
  EXPECT_NE(error_of(good, {"optim.lrr=1"}).find("unknown key 'optim.lrr'"), std::string::npos);
  EXPECT_NE(error_of(good, {"rollout.temperature=-1"}).find("rollout.temperature must be positive"), std::string::npos);
  EXPECT_NE(error_of(good, {"algorithm.kl=maybe"}).find("algorithm.kl must be"), std::string::npos);
  EXPECT_NE(error_of(good, {"algorithm.loss_agg=mean"}).find("token-mean"), std::string::npos);
  EXPECT_NE(error_of(good, {"noequals"}).find("expected section.key=value"), std::string::npos);
  auto overridden = config_from(dir, good, {"rollout.group_size=3", "run.name=renamed"});
  EXPECT_EQ(overridden.rollout.group_size, 3);
  EXPECT_NE(overridden.resolved.find("group_size = 3"), std::string::npos);
  // Missing sections' required keys and syntax errors.
  EXPECT_NE(error_of("[run]\nsteps = 1\n").find("policy.model is required"), std::string::npos);
  EXPECT_NE(error_of("[run\n").find("TOML syntax error"), std::string::npos);
  // A reward key the reward does not read is refused when the reward is built.
  trainer::RunConfig config = config_from(dir, good, {"reward.must_mach=x"});
  error = precept::testing::error_of([&] { trainer::GrpoTrainer trainer(config, trainer::single_process_communicator()); });
  EXPECT_NE(error.find("unknown key 'must_mach'"), std::string::npos) << error;
  EXPECT_NE(error.find("recipe.toml:"), std::string::npos) << error;
  // A missing prompt file is named.
  config = config_from(dir, good, {"data.prompts=/nonexistent/prompts.jsonl"});
  error = precept::testing::error_of([&] { trainer::GrpoTrainer trainer(config, trainer::single_process_communicator()); });
  EXPECT_NE(error.find("/nonexistent/prompts.jsonl"), std::string::npos) << error;
  // Resuming where there is no checkpoint says so.
  config = config_from(dir, good);
  trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
  error = precept::testing::error_of([&] { trainer.resume((dir / "nothing-here").string()); });
  EXPECT_NE(error.find("nothing-here"), std::string::npos) << error;
}

// ---------------------------------------------------------------------------------------------
// Paths of the GRPO step that only a recipe reaches: DAPO's refill, the KL in the reward, the
// overlong shaping and recomputation, each in a real step on stories260K.

namespace {

// The metrics of the last of `steps` steps of the dog recipe with these overrides.
trainer::Metrics first_steps(const fs::path& dir, const std::vector<std::string>& overrides, int steps) {
  trainer::RunConfig config = config_from(dir, recipe(dir / "run", steps), overrides);
  trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
  trainer::Metrics metrics;
  for (int i = 0; i < steps; ++i) metrics = trainer.step();
  return metrics;
}

}  // namespace

// At the start almost no story mentions a dog, so most groups score all 0 and carry no signal.
// With refill rounds those groups are replaced by fresh prompts' groups; without, they are not.
TEST(TrainPaths, DapoRefillReplacesGroupsWithoutSignal) {
  const fs::path dir = precept::testing::temp_dir("train_refill");
  const auto kept = first_steps(dir / "off", {"algorithm.filter_zero_variance=true", "algorithm.max_resample_rounds=0"}, 1);
  const auto refilled = first_steps(dir / "on", {"algorithm.filter_zero_variance=true", "algorithm.max_resample_rounds=3"}, 1);
  std::cout << "[train] refill: " << kept.at("groups/zero_variance") << " of 4 groups without signal; resampled "
            << refilled.at("groups/resampled") << " groups in up to 3 rounds; generated tokens "
            << kept.at("throughput/generated_tokens") << " -> " << refilled.at("throughput/generated_tokens") << "\n";
  ASSERT_GT(kept.at("groups/zero_variance"), 0.0) << "no group without signal: the test proves nothing";
  EXPECT_EQ(refilled.at("groups/zero_variance"), kept.at("groups/zero_variance"));  // the same first round
  EXPECT_EQ(kept.at("groups/resampled"), 0.0);
  // Round 1 alone replaces every group without signal; later rounds replace those still without.
  EXPECT_GE(refilled.at("groups/resampled"), refilled.at("groups/zero_variance"));
  EXPECT_GT(refilled.at("throughput/generated_tokens"), kept.at("throughput/generated_tokens"));
}

// kl = "reward": r - beta * sum_t KL_t. The policy starts as the reference, so step 1's penalty is
// exactly 0; once an update has moved the policy it is positive (k3 >= 0 per token) and lowers
// the shaped reward, and nothing of it goes into the loss.
TEST(TrainPaths, KlInTheRewardIsZeroAtTheStartAndLowersTheRewardAfter) {
  const fs::path dir = precept::testing::temp_dir("train_kl_reward");
  trainer::RunConfig config = config_from(dir, recipe(dir / "run", 6), {"algorithm.kl=reward", "algorithm.kl_coef=0.5"});
  trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
  const trainer::Metrics first = trainer.step();
  EXPECT_EQ(first.at("kl/reward_mean"), 0.0);
  EXPECT_EQ(first.at("reward/shaped_mean"), first.at("reward/mean"));
  // Steps whose groups all scored 0 carry no signal and leave the policy where it was.
  bool updated = first.at("groups/zero_variance") < 4;
  for (int step = 2; step <= 6 && !updated; ++step) {
    const trainer::Metrics metrics = trainer.step();
    EXPECT_EQ(metrics.at("kl/reward_mean"), 0.0) << "step " << step << ": no update yet, no KL";
    updated = metrics.at("groups/zero_variance") < 4;
  }
  ASSERT_TRUE(updated) << "no step had a group with signal: the test proves nothing";
  const trainer::Metrics after = trainer.step();
  std::cout << "[train] KL in the reward after the first update: " << after.at("kl/reward_mean") << " (reward "
            << after.at("reward/mean") << ", shaped " << after.at("reward/shaped_mean") << ")\n";
  EXPECT_GT(after.at("kl/reward_mean"), 0.0);
  EXPECT_LT(after.at("reward/shaped_mean"), after.at("reward/mean"));
  EXPECT_EQ(after.count("policy/kl_loss") ? after.at("policy/kl_loss") : 0.0, 0.0);
}

// overlong_buffer = max_new_tokens makes DAPO's penalty linear in the length over the whole
// range, -factor * L / L_max, so the shaped mean is the raw mean minus factor * mean length / L_max.
// Stopping at the first full stop makes the lengths differ.
TEST(TrainPaths, OverlongShapingFollowsDapo) {
  const fs::path dir = precept::testing::temp_dir("train_overlong");
  const auto metrics = first_steps(dir, {"rollout.stop=[\".\"]", "algorithm.overlong_buffer=32",
                                         "algorithm.overlong_penalty=0.5"}, 1);
  const double expected = metrics.at("reward/mean") - 0.5 * metrics.at("response/length_mean") / 32.0;
  std::cout << "[train] overlong: lengths " << metrics.at("response/length_min") << ".." << metrics.at("response/length_max")
            << " (mean " << metrics.at("response/length_mean") << "), reward " << metrics.at("reward/mean") << ", shaped "
            << metrics.at("reward/shaped_mean") << "\n";
  ASSERT_LT(metrics.at("response/length_min"), metrics.at("response/length_max"));
  EXPECT_NEAR(metrics.at("reward/shaped_mean"), expected, 1e-9);
}

// policy.recompute = true recomputes each decoder block in the backward pass: the same weights
// after two steps, bit for bit.
TEST(TrainPaths, RecomputeTrainsTheSameWeights) {
  const fs::path dir = precept::testing::temp_dir("train_recompute");
  std::map<std::string, at::Tensor> weights[2];
  for (int recompute = 0; recompute < 2; ++recompute) {
    const fs::path run = dir / (recompute ? "on" : "off");
    trainer::RunConfig config =
        config_from(run, recipe(run / "run", 2), {std::string("policy.recompute=") + (recompute ? "true" : "false")});
    EXPECT_EQ(config.policy.recompute, recompute == 1);
    trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
    trainer.train();
    for (auto& item : trainer.policy().named_parameters()) weights[recompute][item.key()] = item.value().detach().clone();
  }
  const auto start = weights_of(stories_model());
  int64_t changed = 0;
  for (const auto& [name, tensor] : weights[0]) {
    EXPECT_TRUE(at::equal(tensor, weights[1].at(name))) << name;
    if (start.count(name) && !at::equal(tensor, start.at(name))) ++changed;
  }
  EXPECT_GT(changed, 0) << "training changed nothing, so the comparison proves nothing";
}

// Micro-batches are bucketed by length, longest first, capped in rows and (micro_batch_tokens)
// in padded tokens; every member lands in exactly one, and a row longer than the cap goes alone.
TEST(TrainPaths, LengthBucketsSortAndCapTheMicroBatches) {
  const std::vector<int64_t> lengths = {5, 40, 12, 40, 7, 90, 12};
  auto length = [&](int64_t m) { return lengths[static_cast<size_t>(m)]; };
  const std::vector<int64_t> members = {0, 1, 2, 3, 4, 5, 6};
  using Batches = std::vector<std::vector<int64_t>>;
  EXPECT_EQ(trainer::length_bucketed_micro_batches(members, length, 3), (Batches{{5, 1, 3}, {2, 6, 4}, {0}}));
  EXPECT_EQ(trainer::length_bucketed_micro_batches(members, length, 8), (Batches{{5, 1, 3, 2, 6, 4, 0}}));
  // 80 padded tokens at most: 90 alone, then 40 x 2, then 12 x 6 (rows of 12, 7 and 5).
  EXPECT_EQ(trainer::length_bucketed_micro_batches(members, length, 8, 80), (Batches{{5}, {1, 3}, {2, 6, 4, 0}}));
  EXPECT_EQ(trainer::length_bucketed_micro_batches({3, 4}, length, 8, 1), (Batches{{3}, {4}}));
  EXPECT_TRUE(trainer::length_bucketed_micro_batches({}, length, 8).empty());
}

// Bucketing and a token cap change how the update is split, not what it computes: one padded
// micro-batch and many capped ones give the same loss and gradient norm and, within fp32
// summation order, the same weights; the metrics show the split and the padding it saves.
TEST(TrainPaths, ATokenCapSplitsTheUpdateButTrainsTheSameWeights) {
  const fs::path dir = precept::testing::temp_dir("train_token_cap");
  std::map<std::string, at::Tensor> weights[2];
  std::vector<std::map<std::string, double>> metrics[2];
  for (int capped = 0; capped < 2; ++capped) {
    const fs::path run = dir / (capped ? "capped" : "whole");
    trainer::RunConfig config = config_from(run, recipe(run / "run", 2),
                                            {"algorithm.micro_batch_size=32", std::string("algorithm.micro_batch_tokens=") +
                                                                                  (capped ? "120" : "0")});
    trainer::GrpoTrainer trainer(config, trainer::single_process_communicator());
    trainer.train([&](const trainer::StepSummary& summary) {
      metrics[capped].push_back(summary.metrics);
    });
    for (auto& item : trainer.policy().named_parameters()) weights[capped][item.key()] = item.value().detach().clone();
  }
  ASSERT_EQ(metrics[0].size(), 2u);
  ASSERT_EQ(metrics[1].size(), 2u);
  for (size_t step = 0; step < 2; ++step) {
    const auto &whole = metrics[0][step], &capped = metrics[1][step];
    EXPECT_EQ(whole.at("update/micro_batches"), 1.0);
    EXPECT_GE(capped.at("update/micro_batches"), 4.0);
    EXPECT_LT(capped.at("update/padding_fraction"), whole.at("update/padding_fraction"));
    EXPECT_EQ(capped.at("throughput/update_tokens"), whole.at("throughput/update_tokens"));
    EXPECT_NEAR(capped.at("loss/total"), whole.at("loss/total"), 1e-5);
    EXPECT_NEAR(capped.at("optim/grad_norm"), whole.at("optim/grad_norm"), 1e-4 * whole.at("optim/grad_norm"));
    std::cout << "[train] step " << step + 1 << ": micro-batches " << whole.at("update/micro_batches") << " -> "
              << capped.at("update/micro_batches") << ", padding " << whole.at("update/padding_fraction") << " -> "
              << capped.at("update/padding_fraction") << "\n";
  }
  double largest = 0;
  for (const auto& [name, tensor] : weights[0]) {
    largest = std::max(largest, (tensor - weights[1].at(name)).abs().max().item<double>());
  }
  std::cout << "[train] largest weight difference after 2 steps: " << largest << "\n";
  EXPECT_LT(largest, 1e-4);
}
