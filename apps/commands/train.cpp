// `precept train RECIPE.toml`: GRPO from a recipe (trainer/config.h), with `--set` overrides,
// `--resume` from the run's latest checkpoint (or a given one), and a progress line per step.
// Under torchrun or srun every process runs this same command; `--nproc N` starts N local
// processes itself (trainer/dist/launch.h).
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "apps/commands/ranks.h"
#include "apps/commands/training_hooks.h"
#include "core/progress.h"
#include "trainer/config.h"
#include "trainer/dist/launch.h"
#include "trainer/dist/process_group.h"
#include "trainer/grpo_trainer.h"

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace precept::apps {

namespace {

std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

double get(const trainer::Metrics& metrics, const std::string& name) {
  auto it = metrics.find(name);
  return it == metrics.end() ? std::nan("") : it->second;
}

}  // namespace

int train_with(trainer::RunConfig config, std::shared_ptr<trainer::Communicator> communicator, const std::string& resume);

int cmd_train(const std::vector<std::string>& args) {
  RunCommandOptions run;
  if (!parse_run_command("train", "docs/training.md", args, run)) return 0;
  trainer::RunConfig config = trainer::load_run_config(run.recipe, run.overrides);
  if (run.check) {
    std::cout << config.resolved;
    // The memory plan the run would make (model files and prompts are read, no weights); a
    // recipe for another machine is checked without it.
    for (const std::string& path : {config.policy.model, config.data.prompts}) {
      if (!std::filesystem::exists(path)) {
        std::cout << "\nmemory plan: not made, " << path << " is not on this machine (precept plan --policy-shape "
                  << "plans a run for models that are elsewhere; docs/memory.md)\n";
        return 0;
      }
    }
    trainer::MemoryPlanOptions options;
    options.world_size = run.nproc > 0 ? run.nproc : trainer::world_size_from_environment();
    options.ranks_sharing = run.nproc > 0 ? run.nproc : trainer::local_ranks_from_environment();
    const trainer::MemoryPlan plan = trainer::plan_grpo_memory(config, options);
    std::cout << "\n" << plan.table();
    if (!plan.fits()) {
      std::cerr << "[precept train] the run does not fit in memory (the table above; docs/memory.md)\n";
      return 1;
    }
    return 0;
  }
  if (run.nproc > 0) return trainer::dist::launch_local(run.nproc, args);
  auto communicator = trainer::dist::communicator_from_environment(config.distributed, config.run.device);
  return run_rank("train", *communicator, [&] { return train_with(std::move(config), communicator, run.resume); });
}

int train_with(trainer::RunConfig config, std::shared_ptr<trainer::Communicator> communicator, const std::string& resume) {
  const bool main = communicator->is_main();
  trainer::GrpoTrainer trainer(std::move(config), communicator);
  trainer.set_hooks(training_hooks());
  const auto& run = trainer.config();
  if (!resume.empty()) {
    trainer.resume(resume == "latest" ? run.run.output_dir : resume);
    if (main) std::cerr << "[precept train] resumed at step " << trainer.current_step() << "\n";
  }
  if (main) {
    std::cerr << "[precept train] " << run.run.name << ": " << run.run.steps << " steps, " << run.rollout.prompts_per_step
              << " prompts x " << run.rollout.group_size << " responses per step, " << communicator->world_size()
              << " rank(s) (" << communicator->backend() << "), output in " << run.run.output_dir << "\n";
  }
  trainer.train([&](const trainer::StepSummary& summary) {
    if (!main) return;
    const auto& m = summary.metrics;
    std::string detail = "reward " + fixed(get(m, "reward/mean"), 3) + " ±" + fixed(get(m, "reward/std"), 2);
    if (m.count("policy/kl_mean")) detail += " | kl " + fixed(get(m, "policy/kl_mean"), 4);
    if (m.count("reward/accuracy")) {  // a judge being trained: its reward's two halves and its failures
      detail += " | format " + fixed(get(m, "reward/format"), 2) + " accuracy " + fixed(get(m, "reward/accuracy"), 3) +
                " unparsed " + fixed(get(m, "reward/parse_failure"), 2);
    }
    detail += " | len " + fixed(get(m, "response/length_mean"), 0) + " | gen " + fixed(get(m, "time/generate"), 1) +
              "s reward " + fixed(get(m, "time/reward"), 1) + "s update " + fixed(get(m, "time/update"), 1) + "s";
    if (get(m, "judge/failures") > 0) detail += " | judge failures " + fixed(get(m, "judge/failures"), 0);
    // One line per step, so that the history stays on screen.
    std::fprintf(stderr, "[train] step %lld/%lld | %s | %.0f tok/s | ETA %s%s\n", static_cast<long long>(summary.step),
                 static_cast<long long>(summary.total_steps), detail.c_str(), get(m, "throughput/tokens_per_s"),
                 core::format_duration(summary.eta_seconds).c_str(),
                 summary.checkpoint.empty() ? "" : (" | checkpoint " + summary.checkpoint).c_str());
  });
  if (main) {
    std::cerr << "[precept train] done. Metrics: " << run.run.output_dir << "/metrics.jsonl (TensorBoard: tensorboard --logdir "
              << run.run.output_dir << "), samples: " << run.run.output_dir << "/samples.jsonl, checkpoints: "
              << trainer.checkpoint_dir() << "\n";
  }
  return 0;
}

}  // namespace precept::apps
