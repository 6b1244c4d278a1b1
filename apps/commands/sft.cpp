// `precept sft RECIPE.toml`: supervised fine-tuning on chats (trainer/sft_trainer.h), with
// `--set` overrides, `--resume`, `--nproc N` and a progress line per step. docs/sft.md.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "apps/commands/ranks.h"
#include "core/progress.h"
#include "trainer/config.h"
#include "trainer/dist/launch.h"
#include "trainer/dist/process_group.h"
#include "trainer/sft_trainer.h"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace precept::apps {

namespace {

int sft_with(trainer::SftConfig config, std::shared_ptr<trainer::Communicator> communicator, const std::string& resume) {
  const bool main = communicator->is_main();
  trainer::SftTrainer trainer(std::move(config), communicator);
  const auto& run = trainer.config();
  if (!resume.empty()) {
    trainer.resume(resume == "latest" ? run.run.output_dir : resume);
    if (main) std::cerr << "[precept sft] resumed at step " << trainer.current_step() << "\n";
  }
  if (main) {
    std::cerr << "[precept sft] " << run.run.name << ": " << run.run.steps << " steps of " << run.sft.batch_size
              << " chats, " << communicator->world_size() << " rank(s) (" << communicator->backend() << "), output in "
              << run.run.output_dir << "\n";
  }
  trainer.train([&](const trainer::StepSummary& summary) {
    if (!main) return;
    const auto& m = summary.metrics;
    std::fprintf(stderr, "[sft] step %lld/%lld | loss %.4f | %0.f target tokens | grad %.3f | lr %.2e | %.0f tok/s | ETA %s%s\n",
                 static_cast<long long>(summary.step), static_cast<long long>(summary.total_steps), m.at("loss/sft"),
                 m.at("sft/target_tokens"), m.at("optim/grad_norm"), m.at("optim/lr"),
                 m.at("throughput/target_tokens_per_s"), core::format_duration(summary.eta_seconds).c_str(),
                 summary.checkpoint.empty() ? "" : (" | checkpoint " + summary.checkpoint).c_str());
  });
  if (main) {
    std::cerr << "[precept sft] done. Metrics: " << run.run.output_dir << "/metrics.jsonl, checkpoints: "
              << trainer.checkpoint_dir() << "\n";
  }
  return 0;
}

}  // namespace

int cmd_sft(const std::vector<std::string>& args) {
  RunCommandOptions run;
  if (!parse_run_command("sft", "docs/sft.md", args, run)) return 0;
  trainer::SftConfig config = trainer::load_sft_config(run.recipe, run.overrides);
  if (run.check) {
    std::cout << config.resolved;
    return 0;
  }
  if (run.nproc > 0) return trainer::dist::launch_local(run.nproc, args, 30, "sft");
  auto communicator = trainer::dist::communicator_from_environment(config.distributed, config.run.device);
  return run_rank("sft", *communicator, [&] { return sft_with(std::move(config), communicator, run.resume); });
}

}  // namespace precept::apps
