// `precept generate`: text from a Hugging Face model directory. This version recomputes the
// whole sequence each step (rollout/full_recompute.h); it is exact but slow, meant for small
// models and checks.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "lm/model_config.h"
#include "lm/pretrained.h"
#include "lm/tokenizer.h"
#include "rollout/full_recompute.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

namespace precept::apps {

int cmd_generate(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string model_dir, prompt, dtype_name, output_path;
  rollout::ReferenceSampling sampling;
  options.add_options()
      ("model", po::value(&model_dir)->required(), "model directory (config.json, safetensors, tokenizer)")
      ("prompt", po::value(&prompt)->default_value(""), "prompt text; empty starts from BOS alone")
      ("max-new-tokens,n", po::value(&sampling.max_new_tokens)->default_value(256), "tokens to generate")
      ("temperature,t", po::value(&sampling.temperature)->default_value(0.0), "0 = greedy")
      ("top-p,p", po::value(&sampling.top_p)->default_value(1.0), "nucleus sampling mass (with temperature > 0)")
      ("seed,s", po::value(&sampling.seed)->default_value(0), "sampling seed")
      ("ignore-eos", po::bool_switch(), "do not stop at the model's EOS ids")
      ("dtype", po::value(&dtype_name)->default_value("float32"), "float32 | bfloat16 | float16")
      ("json", po::value(&output_path), "also write {prompt_ids, ids, logprobs, text} to this JSON file");
  po::variables_map values;
  if (!parse_options("generate", "--model DIR [--prompt TEXT] [options]", options, args, values)) return 0;
  if (sampling.max_new_tokens < 1) throw std::runtime_error("--max-new-tokens must be at least 1");
  if (sampling.top_p <= 0.0 || sampling.top_p > 1.0) throw std::runtime_error("--top-p must be in (0, 1]");

  lm::LoadOptions load;
  load.dtype = lm::dtype_from_name(dtype_name, "--dtype");
  auto start = std::chrono::steady_clock::now();
  lm::Transformer model = lm::load_pretrained(model_dir, load);
  auto tokenizer = lm::load_tokenizer(model_dir);
  const auto& config = model->config();
  if (!values["ignore-eos"].as<bool>()) {
    sampling.stop_ids = config.eos_token_ids;
    if (auto eos = tokenizer->eos_id(); eos && sampling.stop_ids.empty()) sampling.stop_ids.push_back(*eos);
  }
  std::vector<int64_t> prompt_ids = tokenizer->encode(prompt, /*add_special=*/true);
  if (prompt_ids.empty()) throw std::runtime_error("the prompt encodes to no tokens and the tokenizer adds no BOS");

  rollout::ReferenceOutput out = rollout::generate_full_recompute(*model, prompt_ids, sampling);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::vector<int64_t> all = prompt_ids;
  all.insert(all.end(), out.tokens.begin(), out.tokens.end());
  const std::string text = tokenizer->decode(all, /*skip_special=*/true);
  std::cout << text << std::endl;
  std::cerr << "[precept generate] " << config.architecture << " from " << model_dir << " (" << dtype_name << "), "
            << prompt_ids.size() << " prompt tokens, " << out.tokens.size() << " generated ("
            << (sampling.temperature <= 0 ? std::string("greedy") : "temperature " + std::to_string(sampling.temperature))
            << (out.stopped ? ", stopped at EOS" : "") << ") in " << seconds << " s\n";
  if (!output_path.empty()) {
    nlohmann::json record = {{"prompt_ids", prompt_ids}, {"ids", out.tokens}, {"logprobs", out.logprobs}, {"text", text}};
    std::ofstream(output_path) << record.dump() << "\n";
  }
  return 0;
}

}  // namespace precept::apps
