// `precept convert`: a llama2.c checkpoint (legacy or v1) and its tokenizer.bin into a
// Hugging Face Llama directory (config.json, model.safetensors, tokenizer.model).
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "lm/llama2c.h"

#include <iostream>

namespace precept::apps {

int cmd_convert(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string checkpoint, tokenizer, out_dir;
  options.add_options()
      ("checkpoint", po::value(&checkpoint)->required(), "llama2.c model file (legacy or version 1 \"ak42\")")
      ("tokenizer", po::value(&tokenizer)->required(), "llama2.c tokenizer.bin with the same vocabulary")
      ("out", po::value(&out_dir)->required(), "output directory (created)");
  po::variables_map values;
  if (!parse_options("convert", "--checkpoint FILE --tokenizer FILE --out DIR", options, args, values)) return 0;
  lm::convert_llama2c(checkpoint, tokenizer, out_dir);
  std::cerr << "[precept convert] " << checkpoint << " + " << tokenizer << " -> " << out_dir
            << " (Hugging Face Llama: config.json, model.safetensors, tokenizer.model)\n";
  return 0;
}

}  // namespace precept::apps
