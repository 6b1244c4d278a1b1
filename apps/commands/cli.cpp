#include "apps/commands/commands.h"
#include "core/malloc_tuning.h"

#include <iostream>
#include <stdexcept>

namespace precept::apps {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"convert", "convert a llama2.c checkpoint + tokenizer.bin, or a GGUF file, into a Hugging Face model directory", cmd_convert},
      {"data", "datasets for the judge: convert public judged sets to listwise cases, write SFT targets (precept data --help)", cmd_data},
      {"eval", "evaluate judges and policies: listwise metrics, RM-Bench, XSTest, win rates (precept eval --help)", cmd_eval},
      {"generate", "generate text from a model directory (greedy or sampled)", cmd_generate},
      {"init-model", "write a model directory with seeded random weights from a preset (configs/models)", cmd_init_model},
      {"inspect", "print a model directory's (or a GGUF file's) config and tensors", cmd_inspect},
      {"judge", "score responses against a principle with a RewardAnything judge (or parse judge outputs)", cmd_judge},
      {"plan", "print a training run's memory plan per rank (weights, optimizer state, caches, activations) and whether it fits", cmd_plan},
      {"sft", "supervised fine-tuning on chats, loss on the assistant's tokens (e.g. a judge's warm start)", cmd_sft},
      {"train", "train a policy (or, with [task] kind = \"judge\", a judge) with GRPO from a recipe (TOML)", cmd_train},
      {"tokenize", "show the ids, pieces and chat-rendered text a model would see", cmd_tokenize},
  };
  return table;
}

static void print_usage(std::ostream& out) {
  out << "precept: align language models from natural-language principles\n\n"
         "usage: precept <command> [options]\n       precept <command> --help\n\ncommands:\n";
  for (const auto& command : commands()) {
    out << "  " << command.name << std::string(command.name.size() < 12 ? 12 - command.name.size() : 1, ' ')
        << command.summary << "\n";
  }
}

int run_cli(int argc, char** argv) {
  core::retain_freed_memory();
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return 0;
  }
  for (const auto& command : commands()) {
    if (command.name != name) continue;
    std::vector<std::string> args(argv + 2, argv + argc);
    try {
      return command.run(args);
    } catch (const std::exception& error) {
      std::cerr << "precept " << name << ": error: " << error.what() << "\n";
      return 1;
    }
  }
  std::cerr << "precept: unknown command '" << name << "'\n\n";
  print_usage(std::cerr);
  return 2;
}

}  // namespace precept::apps
