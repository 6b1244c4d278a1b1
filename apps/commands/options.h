// Shared option parsing for subcommands: --help, unknown options and missing values are
// reported the same way everywhere.
#pragma once

#include <boost/program_options.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace precept::apps {

namespace po = boost::program_options;

// Parses args against `options` (plus --help). Returns false when --help was printed.
// Throws std::runtime_error naming the offending option on anything else.
inline bool parse_options(const std::string& command, const std::string& usage,
                          po::options_description& options, const std::vector<std::string>& args,
                          po::variables_map& values,
                          const po::positional_options_description* positional = nullptr) {
  options.add_options()("help,h", "show this help");
  try {
    po::command_line_parser parser(args);
    parser.options(options);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), values);
    if (values.count("help")) {
      std::cout << "usage: precept " << command << " " << usage << "\n\n" << options << "\n";
      return false;
    }
    po::notify(values);
  } catch (const po::error& error) {
    throw std::runtime_error(std::string(error.what()) + " (see `precept " + command + " --help`)");
  }
  return true;
}

}  // namespace precept::apps
