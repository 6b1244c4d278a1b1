// `precept eval paper`: the report of the paper in miniature (eval/paper_report.h) from the run
// directory scripts/paper.sh wrote: a table on stdout, the JSON report (-o) and the HTML page
// beside it.
#include "apps/commands/eval_commands.h"
#include "eval/paper_report.h"
#include "reward/principle.h"

#include <iostream>

namespace precept::apps {

int cmd_eval_paper(const std::vector<std::string>& args) {
  std::string dir, criterion, principle_file;
  ReportOutputs outputs;
  po::options_description options("precept eval paper");
  options.add_options()
      ("dir", po::value(&dir)->required(), "the run directory of scripts/paper.sh (its OUT)")
      ("criterion", po::value(&criterion)->required(), "the policy's criterion id")
      ("principle-file", po::value(&principle_file)->required(), "the principle the policy was aligned to");
  add_report_options(options, outputs);
  po::variables_map values;
  if (!parse_options("eval paper", "--dir DIR --criterion ID --principle-file P.toml [-o report.json]", options, args, values)) {
    return 0;
  }
  const eval::PaperReportInputs inputs{dir, criterion, reward::load_principle(principle_file).text};
  const nlohmann::ordered_json report = eval::paper_report(inputs);
  std::cout << eval::paper_report_table(report);
  write_report_outputs(outputs, report, eval::paper_report_html(report), {});
  return 0;
}

}  // namespace precept::apps
