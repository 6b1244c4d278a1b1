// `precept eval`: evaluation of judges and policies. One dispatcher over the subcommands in
// apps/commands/eval_*.cpp, plus what they share (eval_commands.h). Metrics: eval/, docs/eval.md.
#include "apps/commands/commands.h"
#include "apps/commands/eval_commands.h"
#include "apps/commands/paths.h"
#include "core/progress.h"
#include "eval/html_report.h"
#include "reward/principle.h"

#include <chrono>
#include <fstream>
#include <iostream>

namespace precept::apps {

namespace {

struct Subcommand {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>&);
};

const Subcommand kSubcommands[] = {
    {"judge", "a listwise judge on a listwise dataset: pairwise accuracy, Kendall tau-b, NDCG, score variance",
     cmd_eval_judge},
    {"rm-bench", "RM-Bench's easy / normal / hard accuracy of a judge (listwise or pairwise) or of given scores",
     cmd_eval_rm_bench},
    {"xstest", "XSTest over-refusal of policies or given completions (string matcher, optional judge)", cmd_eval_xstest},
    {"compare", "win rate of a candidate over a baseline under a principle, both orders judged, 95% CI",
     cmd_eval_compare},
    {"criterion", "how often completions satisfy a machine-checked criterion (no judge), 95% CI", cmd_eval_criterion},
    {"paper", "the report of scripts/paper.sh's run: judges, policy, curves, samples, times, targets", cmd_eval_paper},
};

void print_eval_usage(std::ostream& out) {
  out << "usage: precept eval <subcommand> [options]\n       precept eval <subcommand> --help\n\nsubcommands:\n";
  for (const auto& sub : kSubcommands) {
    const std::string name = sub.name;
    out << "  " << name << std::string(name.size() < 10 ? 10 - name.size() : 1, ' ') << sub.summary << "\n";
  }
  out << "\nMetric definitions and report fields: docs/eval.md\n";
}

}  // namespace

int cmd_eval(const std::vector<std::string>& args) {
  if (args.empty()) {
    print_eval_usage(std::cerr);
    return 2;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_eval_usage(std::cout);
    return 0;
  }
  for (const auto& sub : kSubcommands) {
    if (args[0] == sub.name) return sub.run(std::vector<std::string>(args.begin() + 1, args.end()));
  }
  std::cerr << "precept eval: unknown subcommand '" << args[0] << "'\n\n";
  print_eval_usage(std::cerr);
  return 2;
}

void add_report_options(po::options_description& options, ReportOutputs& outputs) {
  options.add_options()
      ("output,o", po::value(&outputs.json), "write the JSON report here (and the HTML report beside it)")
      ("html", po::value(&outputs.html), "write the HTML report here (default: the -o path with .html)")
      ("per-case", po::value(&outputs.per_case), "write one JSON line of metrics per case here");
}

void write_jsonl(const std::string& path, const std::vector<nlohmann::ordered_json>& records) {
  std::string text;
  for (const auto& record : records) text += record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  eval::write_text_file(path, text);
}

void write_report_outputs(const ReportOutputs& outputs, const nlohmann::ordered_json& report, const std::string& html,
                          const std::vector<nlohmann::ordered_json>& per_case) {
  if (!outputs.json.empty()) {
    eval::write_text_file(outputs.json, report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
    std::cerr << "report: " << outputs.json << "\n";
  }
  const std::string html_path = !outputs.html.empty() ? outputs.html
                                : !outputs.json.empty() ? eval::html_path_beside(outputs.json) : std::string();
  if (!html_path.empty()) {
    eval::write_text_file(html_path, html);
    std::cerr << "html report: " << html_path << "\n";
  }
  if (!outputs.per_case.empty()) {
    write_jsonl(outputs.per_case, per_case);
    std::cerr << "per-case metrics: " << outputs.per_case << "\n";
  }
}

void add_completion_options(po::options_description& options, eval::CompletionSettings& settings) {
  settings.sampling.max_new_tokens = 512;
  settings.sampling.sampler.temperature = 0.0;
  settings.generator.max_slots = 16;
  options.add_options()
      ("max-new-tokens", po::value(&settings.sampling.max_new_tokens)->default_value(settings.sampling.max_new_tokens),
       "policy: tokens per completion")
      ("temperature", po::value(&settings.sampling.sampler.temperature)->default_value(0.0), "policy: 0 = greedy")
      ("top-p", po::value(&settings.sampling.sampler.top_p)->default_value(1.0), "policy: nucleus mass (1 = off)")
      ("seed", po::value(&settings.sampling.seed)->default_value(0), "policy: sampling seed")
      ("system", po::value(&settings.system_prompt), "policy: a system message before each prompt")
      ("no-thinking", po::bool_switch(), "policy: enable_thinking=false (Qwen3)")
      ("no-chat", po::bool_switch(), "policy: the prompts as plain text, without the chat template (base models)")
      ("slots", po::value(&settings.generator.max_slots)->default_value(settings.generator.max_slots),
       "policy: sequences decoded at once")
      ("max-length", po::value(&settings.generator.max_length)->default_value(0),
       "policy: cache positions per slot; 0 = the longest prompt + max new tokens")
      ("dtype", po::value(&settings.dtype)->default_value("float32"), "policy: float32 | bfloat16 | float16")
      ("device", po::value(&settings.device)->default_value("cpu"), "policy: cpu | cuda | cuda:N");
}

void finish_completion_options(const po::variables_map& values, eval::CompletionSettings& settings) {
  settings.enable_thinking = !values["no-thinking"].as<bool>();
  settings.chat = !values["no-chat"].as<bool>();
}

std::vector<eval::JudgedGroup> judge_with_progress(reward::RewardAnythingJudge& judge,
                                                   const std::vector<reward::Group>& groups,
                                                   const std::vector<std::string>& principles, const std::string& label) {
  core::ProgressLine line(label);
  const auto start = std::chrono::steady_clock::now();
  auto judged = eval::judge_groups(judge, groups, principles,
                                   [&](int64_t done, int64_t total, const rollout::GenerationProgress& p) {
                                     const double seconds =
                                         std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
                                     line.update(p.sequences_done, p.sequences_total, p.tokens_generated, "tok", seconds,
                                                 p.eta_seconds, std::to_string(done) + "/" + std::to_string(total) + " groups");
                                   });
  line.finish();
  return judged;
}

std::string resolve_principle(const std::string& text, const std::string& file, const std::string& default_name) {
  if (!text.empty() && !file.empty()) throw std::runtime_error("give --principle or --principle-file, not both");
  if (!text.empty()) return text;
  // A path, or the name of a shipped principle ("concise" -> configs/principles/concise.toml).
  return reward::load_principle(find_config_file("principles", file.empty() ? default_name : file)).text;
}

}  // namespace precept::apps
