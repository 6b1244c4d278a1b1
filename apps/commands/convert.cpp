// `precept convert`: a llama2.c checkpoint (legacy or v1) and its tokenizer.bin, or a GGUF file
// (llama.cpp: llama, qwen2, qwen3), into a Hugging Face model directory (config.json,
// model.safetensors, tokenizer files) that transformers loads unchanged.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "lm/gguf_model.h"
#include "lm/llama2c.h"
#include "lm/model_config.h"

#include <chrono>
#include <iostream>

namespace precept::apps {

int cmd_convert(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string checkpoint, tokenizer, gguf, out_dir, dtype;
  options.add_options()
      ("checkpoint", po::value(&checkpoint), "llama2.c model file (legacy or version 1 \"ak42\")")
      ("tokenizer", po::value(&tokenizer), "llama2.c tokenizer.bin with the same vocabulary")
      ("gguf", po::value(&gguf), "a GGUF file (llama, qwen2 or qwen3; F32/F16/BF16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K)")
      ("dtype", po::value(&dtype)->default_value("float32"), "GGUF only: float32 | bfloat16 for the safetensors")
      ("out", po::value(&out_dir)->required(), "output directory (created)");
  po::variables_map values;
  if (!parse_options("convert", "--checkpoint FILE --tokenizer FILE --out DIR | --gguf FILE.gguf --out DIR [--dtype D]",
                     options, args, values)) {
    return 0;
  }
  if (!gguf.empty()) {
    if (!checkpoint.empty() || !tokenizer.empty()) throw std::runtime_error("give --gguf or --checkpoint/--tokenizer, not both");
    const auto start = std::chrono::steady_clock::now();
    lm::convert_gguf(gguf, out_dir, lm::dtype_from_name(dtype, "--dtype"));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << "[precept convert] " << gguf << " -> " << out_dir << " (Hugging Face " << dtype
              << ": config.json, model.safetensors, tokenizer files) in " << seconds << " s\n";
    return 0;
  }
  if (checkpoint.empty() || tokenizer.empty()) {
    throw std::runtime_error("give --gguf FILE, or both --checkpoint and --tokenizer (see `precept convert --help`)");
  }
  lm::convert_llama2c(checkpoint, tokenizer, out_dir);
  std::cerr << "[precept convert] " << checkpoint << " + " << tokenizer << " -> " << out_dir
            << " (Hugging Face Llama: config.json, model.safetensors, tokenizer.model)\n";
  return 0;
}

}  // namespace precept::apps
