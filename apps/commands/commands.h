// The `precept` command line: a table of subcommands, each parsing its own options with
// Boost.Program_options. Not a library API: other code calls lm/, rollout/, ... directly.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace precept::apps {

struct Command {
  std::string name;
  std::string summary;
  // args excludes the program name and the subcommand; returns the exit code.
  std::function<int(const std::vector<std::string>& args)> run;
};

const std::vector<Command>& commands();
int run_cli(int argc, char** argv);

// One entry per subcommand, defined in apps/commands/<name>.cpp.
int cmd_convert(const std::vector<std::string>& args);
int cmd_data(const std::vector<std::string>& args);
int cmd_eval(const std::vector<std::string>& args);
int cmd_generate(const std::vector<std::string>& args);
int cmd_init_model(const std::vector<std::string>& args);
int cmd_inspect(const std::vector<std::string>& args);
int cmd_judge(const std::vector<std::string>& args);
int cmd_plan(const std::vector<std::string>& args);
int cmd_sft(const std::vector<std::string>& args);
int cmd_tokenize(const std::vector<std::string>& args);
int cmd_train(const std::vector<std::string>& args);

// `precept data synth` (apps/commands/data_synth.cpp).
int run_data_synth(const std::vector<std::string>& args);

}  // namespace precept::apps
