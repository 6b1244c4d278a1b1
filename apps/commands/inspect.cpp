// `precept inspect`: what a model directory holds, as precept reads it.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "lm/model_config.h"
#include "lm/safetensors.h"

#include <iostream>

namespace precept::apps {

int cmd_inspect(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string model_dir;
  options.add_options()("model", po::value(&model_dir)->required(), "model directory")
      ("tensors", po::bool_switch(), "list every tensor with its dtype and shape");
  po::positional_options_description positional;
  positional.add("model", 1);
  po::variables_map values;
  if (!parse_options("inspect", "[--model] DIR [--tensors]", options, args, values, &positional)) return 0;

  lm::ModelConfig config = lm::load_config(model_dir);
  lm::CheckpointTensors tensors(model_dir);
  int64_t parameters = 0;
  for (const auto& name : tensors.names()) {
    int64_t count = 1;
    for (int64_t dim : tensors.entry(name).shape) count *= dim;
    parameters += count;
  }
  std::cout << "architecture      " << config.architecture << "\n"
            << "layers            " << config.num_layers << "\n"
            << "hidden / inter    " << config.hidden_size << " / " << config.intermediate_size << "\n"
            << "heads / kv / dim  " << config.num_heads << " / " << config.num_kv_heads << " / " << config.head_dim << "\n"
            << "vocab             " << config.vocab_size << (config.tie_word_embeddings ? " (tied embeddings)" : "") << "\n"
            << "rope theta        " << config.rope.theta << "\n"
            << "dtype             " << lm::dtype_name(config.dtype) << "\n"
            << "tensors           " << tensors.names().size() << " holding " << parameters << " values\n";
  if (values["tensors"].as<bool>()) {
    for (const auto& name : tensors.names()) {
      const auto& entry = tensors.entry(name);
      std::cout << "  " << name << "  " << lm::dtype_to_safetensors(entry.dtype) << " [";
      for (size_t i = 0; i < entry.shape.size(); ++i) std::cout << (i ? ", " : "") << entry.shape[i];
      std::cout << "]\n";
    }
  }
  return 0;
}

}  // namespace precept::apps
