// `precept inspect`: what a model directory (or a GGUF file) holds, as precept reads it.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "lm/gguf.h"
#include "lm/gguf_model.h"
#include "lm/model_config.h"
#include "lm/safetensors.h"

#include <filesystem>
#include <iostream>

namespace precept::apps {

namespace {

// A GGUF file: its header, every metadata value (long arrays shortened), the config precept
// derives from it, and with --tensors each tensor's type and shape.
int inspect_gguf(const std::string& path, bool list_tensors) {
  lm::GgufFile file(path);
  std::cout << "GGUF version      " << file.version() << "\n"
            << "alignment         " << file.alignment() << "\n"
            << "data offset       " << file.data_offset() << " of " << file.file_size() << " bytes\n"
            << "metadata          " << file.metadata().size() << " keys\n";
  for (const auto& [key, value] : file.metadata()) {
    std::cout << "  " << key << " (" << lm::gguf_value_type_name(value.type);
    if (value.type == lm::GgufValueType::array) std::cout << " of " << lm::gguf_value_type_name(value.element_type);
    std::cout << ") = " << value.describe() << "\n";
  }
  std::map<std::string, int64_t> types;
  int64_t values = 0;
  for (const auto& tensor : file.tensors()) {
    ++types[lm::ggml_type_name(tensor.type_id)];
    values += tensor.elements;
  }
  std::cout << "tensors           " << file.tensors().size() << " holding " << values << " values (";
  bool first = true;
  for (const auto& [type, count] : types) {
    std::cout << (first ? "" : ", ") << count << " " << type;
    first = false;
  }
  std::cout << ")\n";
  if (!file.tensors().empty()) {
    try {
      std::cout << "as config.json     " << lm::gguf_hf_config(file).dump() << "\n";
    } catch (const std::exception& error) {
      std::cout << "as config.json     (not convertible: " << error.what() << ")\n";
    }
  }
  if (list_tensors) {
    for (const auto& tensor : file.tensors()) {
      std::cout << "  " << tensor.name << "  " << lm::ggml_type_name(tensor.type_id) << " [";
      const auto shape = tensor.shape();
      for (size_t i = 0; i < shape.size(); ++i) std::cout << (i ? ", " : "") << shape[i];
      std::cout << "]\n";
    }
  }
  return 0;
}

}  // namespace

int cmd_inspect(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string model_dir;
  options.add_options()("model", po::value(&model_dir)->required(), "model directory or .gguf file")
      ("tensors", po::bool_switch(), "list every tensor with its dtype and shape");
  po::positional_options_description positional;
  positional.add("model", 1);
  po::variables_map values;
  if (!parse_options("inspect", "[--model] DIR|FILE.gguf [--tensors]", options, args, values, &positional)) return 0;
  // A file is read as a GGUF (which names what is wrong when it is not one); a directory as HF.
  if (std::filesystem::is_regular_file(model_dir)) return inspect_gguf(model_dir, values["tensors"].as<bool>());

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
