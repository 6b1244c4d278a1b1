// `precept data`: datasets for training and evaluating the judge. `convert` turns public judged
// sets into listwise judge cases (data/convert.h); `sft-targets` writes, for each listwise case,
// the chat a judge that agrees with the gold labels would have (reward/judge_case.h). Formats
// and assumptions: docs/data.md.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "core/files.h"
#include "data/convert.h"
#include "data/listwise.h"
#include "reward/judge_case.h"
#include "reward/judge_prompt.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace precept::apps {

namespace {

using ordered_json = nlohmann::ordered_json;

std::string known_formats() {
  std::string known;
  for (const auto& name : data::source_format_names()) known += (known.empty() ? "" : " | ") + name;
  return known;
}

void print_summary(const std::string& input, const std::string& output, const data::Conversion& conversion) {
  std::cerr << "read " << conversion.source_records << " source records from " << input << "\n"
            << "wrote " << conversion.records.size() << " listwise cases to " << output << " (read back and valid; "
            << conversion.all_tied << " with all gold scores equal)\n";
  std::cerr << (conversion.skipped.empty() ? "skipped: nothing\n" : "skipped, by reason:\n");
  for (const auto& [reason, count] : conversion.skipped) std::cerr << "  " << count << ": " << reason << "\n";
}

int run_convert(const std::vector<std::string>& args) {
  std::string from, input, output;
  po::options_description options("precept data convert");
  options.add_options()
      ("from", po::value(&from)->required(), ("the input's format: " + known_formats()).c_str())
      ("input", po::value(&input)->required(), "the source file (rm-bench: its data directory or one <domain>_filtered.json)")
      ("output,o", po::value(&output)->required(), "the listwise JSONL to write (replaced atomically)");
  po::positional_options_description positional;
  positional.add("input", 1);
  po::variables_map values;
  if (!parse_options("data convert", "--from FORMAT IN -o OUT.jsonl", options, args, values, &positional)) return 0;

  const data::Conversion conversion = data::convert_to_listwise(data::parse_source_format(from), input);
  if (conversion.records.empty()) throw std::runtime_error(input + ": no case could be converted");
  core::replace_file_atomically(output, data::listwise_jsonl_text(conversion.records));
  const auto read_back = data::read_listwise_jsonl(output);  // the file must load as the trainer loads it
  if (read_back.size() != conversion.records.size()) {
    throw std::runtime_error(output + ": read back " + std::to_string(read_back.size()) + " cases, wrote " +
                             std::to_string(conversion.records.size()));
  }
  print_summary(input, output, conversion);
  return 0;
}

ordered_json message_json(const std::string& role, const std::string& content) {
  return ordered_json{{"role", role}, {"content", content}};
}

int run_sft_targets(const std::vector<std::string>& args) {
  std::string data_path, output, system_prompt_file;
  uint64_t seed = 0;
  po::options_description options("precept data sft-targets");
  options.add_options()
      ("data", po::value(&data_path)->required(), "the listwise JSONL (data/listwise.h)")
      ("output,o", po::value(&output)->required(), "the chat JSONL to write: {id, messages: [system, user, assistant]}")
      ("system-prompt-file", po::value(&system_prompt_file), "the judge's system prompt (default: precept's own)")
      ("seed", po::value(&seed)->default_value(0), "the mask seed; a case is masked with case_mask_seed(seed, id), as the judge trainer does")
      ("no-mask", po::bool_switch(), "show the case's own names in file order instead of model-1 .. model-k")
      ("think", po::bool_switch(), "begin each target with a short <think> block written from the gold scores");
  po::variables_map values;
  if (!parse_options("data sft-targets", "--data LISTWISE.jsonl -o OUT.jsonl [options]", options, args, values)) return 0;
  const bool mask = !values["no-mask"].as<bool>();
  const bool think = values["think"].as<bool>();

  const std::string system_prompt = system_prompt_file.empty() ? reward::default_judge_system_prompt()
                                                                : reward::load_judge_system_prompt(system_prompt_file);
  const auto cases = data::read_listwise_jsonl(data_path);
  std::string text;
  for (const auto& listwise : cases) {
    const reward::JudgeCase shown = reward::judge_case(listwise, system_prompt, mask, seed);
    ordered_json messages = ordered_json::array();
    for (const auto& message : shown.messages) messages.push_back(message_json(message.role, message.content));
    messages.push_back(message_json("assistant", reward::judge_target(listwise, shown, think)));
    text += ordered_json{{"id", listwise.id}, {"messages", std::move(messages)}}.dump() + "\n";
  }
  core::replace_file_atomically(output, text);
  std::cerr << "wrote " << cases.size() << " SFT chats to " << output << " (" << (mask ? "masked, seed " + std::to_string(seed) : "unmasked")
            << (think ? ", with <think>" : "") << ")\n";
  return 0;
}

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

const Subcommand kSubcommands[] = {
    {"convert", "turn a public judged dataset into listwise judge cases (--from FORMAT IN -o OUT.jsonl)", run_convert},
    {"sft-targets", "write the chat a gold-agreeing judge would produce for each listwise case", run_sft_targets},
    {"synth", "synthetic listwise cases with machine-checked gold scores, from a model's answers (docs/paper.md)",
     run_data_synth},
};

void print_data_usage(std::ostream& out) {
  out << "usage: precept data <subcommand> [options]\n       precept data <subcommand> --help\n\nsubcommands:\n";
  for (const auto& sub : kSubcommands) {
    const std::string name = sub.name;
    out << "  " << name << std::string(name.size() < 13 ? 13 - name.size() : 1, ' ') << sub.summary << "\n";
  }
  out << "\nFormats and what each conversion assumes: docs/data.md\n";
}

}  // namespace

int cmd_data(const std::vector<std::string>& args) {
  if (args.empty()) {
    print_data_usage(std::cerr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_data_usage(std::cout);
    return 0;
  }
  for (const auto& sub : kSubcommands) {
    if (args[0] == sub.name) return sub.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::cerr << "precept data: unknown subcommand '" << args[0] << "'\n\n";
  print_data_usage(std::cerr);
  return 2;
}

}  // namespace precept::apps
