// `precept convert`: a llama2.c checkpoint (legacy or v1) and its tokenizer.bin, or a GGUF file
// (llama.cpp: llama, qwen2, qwen3), into a Hugging Face model directory (config.json,
// model.safetensors, tokenizer files) that transformers loads unchanged; or a peft LoRA adapter
// merged into its base (`--merge-lora ADAPTER_DIR --base DIR`), as peft's merge_and_unload.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "lm/gguf.h"
#include "lm/gguf_model.h"
#include "lm/llama2c.h"
#include "lm/model_config.h"
#include "lm/pretrained.h"
#include "policy/lora.h"

#include <chrono>
#include <iostream>

namespace precept::apps {

int cmd_convert(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string checkpoint, tokenizer, gguf, out_dir, dtype, adapter, base;
  options.add_options()
      ("checkpoint", po::value(&checkpoint), "llama2.c model file (legacy or version 1 \"ak42\")")
      ("tokenizer", po::value(&tokenizer), "llama2.c tokenizer.bin with the same vocabulary")
      ("gguf", po::value(&gguf), "a GGUF file (llama, qwen2 or qwen3; F32/F16/BF16/Q4_0/Q4_1/Q5_0/Q5_1/Q8_0/Q4_K/Q5_K/Q6_K)")
      ("merge-lora", po::value(&adapter), "a peft LoRA adapter folder (adapter_config.json, adapter_model.safetensors) to merge")
      ("base", po::value(&base), "--merge-lora: the base model directory (or .gguf file) the adapter was trained on")
      ("dtype", po::value(&dtype), "the safetensors' dtype: float32 | bfloat16 | float16 (GGUF: float32; --merge-lora: the base's)")
      ("out", po::value(&out_dir)->required(), "output directory (created)");
  po::variables_map values;
  if (!parse_options("convert", "--checkpoint FILE --tokenizer FILE --out DIR | --gguf FILE.gguf --out DIR [--dtype D] | "
                     "--merge-lora ADAPTER_DIR --base DIR --out DIR [--dtype D]",
                     options, args, values)) {
    return 0;
  }
  if (!adapter.empty()) {
    if (base.empty()) throw std::runtime_error("--merge-lora needs --base DIR: the model the adapter was trained on");
    if (!gguf.empty() || !checkpoint.empty() || !tokenizer.empty()) {
      throw std::runtime_error("give --merge-lora/--base alone, without --gguf or --checkpoint/--tokenizer");
    }
    const auto start = std::chrono::steady_clock::now();
    // Merged in fp32 (the base read as fp32), written in the base's dtype unless --dtype says.
    lm::LoadOptions load;
    load.dtype = c10::kFloat;
    lm::Transformer model = lm::load_pretrained(base, load);
    const policy::LoraConfig config = policy::load_adapter(*model, adapter);
    policy::merge_and_unload(*model);
    lm::SaveOptions save;
    save.source_dir = base;
    save.dtype = dtype.empty() ? (lm::is_gguf_file(base) ? c10::kFloat : lm::load_config(base).dtype)
                               : lm::dtype_from_name(dtype, "--dtype");
    lm::save_pretrained(*model, out_dir, save);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << "[precept convert] " << base << " + LoRA " << adapter << " (r " << config.r << ", alpha " << config.alpha
              << (config.rslora ? ", rsLoRA" : "") << ") merged -> " << out_dir << " (" << c10::toString(*save.dtype)
              << ") in " << seconds << " s\n";
    return 0;
  }
  if (!base.empty()) throw std::runtime_error("--base goes with --merge-lora ADAPTER_DIR");
  if (!gguf.empty()) {
    if (!checkpoint.empty() || !tokenizer.empty()) throw std::runtime_error("give --gguf or --checkpoint/--tokenizer, not both");
    const auto start = std::chrono::steady_clock::now();
    lm::convert_gguf(gguf, out_dir, lm::dtype_from_name(dtype.empty() ? "float32" : dtype, "--dtype"));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cerr << "[precept convert] " << gguf << " -> " << out_dir << " (Hugging Face " << (dtype.empty() ? "float32" : dtype)
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
