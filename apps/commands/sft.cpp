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
  trainer.train([&](const trainer::SftStepSummary& summary) {
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
  po::options_description options("options");
  std::string recipe, resume;
  std::vector<std::string> overrides;
  int nproc = 0;
  options.add_options()
      ("recipe", po::value(&recipe)->required(), "the run's TOML file (see recipes/judge_sft.toml and docs/sft.md)")
      ("set", po::value(&overrides)->composing(), "override a key: --set section.key=value (repeatable)")
      ("resume", po::value(&resume)->implicit_value("latest"),
       "continue from the run's latest checkpoint, or from the checkpoint folder given")
      ("nproc", po::value(&nproc)->default_value(0), "start this many local processes (data parallel over Gloo/NCCL)")
      ("check", po::bool_switch(), "read and check the recipe, print the resolved config, and stop");
  po::positional_options_description positional;
  positional.add("recipe", 1);
  po::variables_map values;
  if (!parse_options("sft", "RECIPE.toml [--set section.key=value ...] [--resume [DIR]] [--nproc N]", options, args,
                     values, &positional)) {
    return 0;
  }
  trainer::SftConfig config = trainer::load_sft_config(recipe, overrides);
  if (values["check"].as<bool>()) {
    std::cout << config.resolved;
    return 0;
  }
  if (nproc > 0) return trainer::dist::launch_local(nproc, args, 30, "sft");
  auto communicator = trainer::dist::communicator_from_environment(config.distributed, config.run.device);
  return run_rank("sft", *communicator, [&] { return sft_with(std::move(config), communicator, resume); });
}

}  // namespace precept::apps
