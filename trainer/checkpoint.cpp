#include "trainer/checkpoint.h"

#include "lm/pretrained.h"
#include "lm/safetensors.h"
#include "policy/lora.h"
#include "core/files.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <unistd.h>

namespace precept::trainer {
namespace fs = std::filesystem;

namespace {

std::string step_name(int64_t step) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "step-%08lld", static_cast<long long>(step));
  return buffer;
}

// Step folders under root, ascending.
std::vector<std::pair<int64_t, fs::path>> step_folders(const fs::path& root) {
  std::vector<std::pair<int64_t, fs::path>> out;
  if (!fs::exists(root)) return out;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_directory() || name.rfind("step-", 0) != 0) continue;
    try {
      out.push_back({std::stoll(name.substr(5)), entry.path()});
    } catch (const std::exception&) {
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

CheckpointManager::CheckpointManager(fs::path output_dir, int64_t keep_last)
    : root_(output_dir / "checkpoints"), keep_last_(std::max<int64_t>(1, keep_last)) {}

fs::path CheckpointManager::save(int64_t step, lm::TransformerImpl& model, const fs::path& model_source,
                                 const std::map<std::string, at::Tensor>& optimizer_state, const nlohmann::json& state,
                                 std::optional<c10::ScalarType> dtype, const std::optional<policy::LoraConfig>& lora,
                                 const std::function<void(const fs::path&)>& extra) {
  fs::create_directories(root_);
  const fs::path final_dir = root_ / step_name(step);
  const fs::path partial = root_ / ("." + step_name(step) + ".partial-" + std::to_string(::getpid()));
  fs::remove_all(partial);
  fs::create_directories(partial);
  try {
    if (lora) {
      policy::save_adapter(model, *lora, partial / "adapter", fs::absolute(model_source).string(), dtype);
    } else {
      lm::SaveOptions save;
      save.dtype = dtype;
      save.source_dir = model_source;
      lm::save_pretrained(model, partial / "model", save);
    }
    stage_done("model");
    write_tensor_file(partial / "optimizer.safetensors", optimizer_state);
    if (extra) extra(partial);
    stage_done("optimizer");
    core::replace_file_atomically(partial / "trainer_state.json", state.dump(2) + "\n");
    stage_done("state");
  } catch (...) {
    fs::remove_all(partial);
    throw;
  }
  // Move the finished folder into place; a folder of the same step (a rerun after resuming
  // from an earlier one) is set aside first and removed only once the new one is in.
  const fs::path previous = root_ / ("." + step_name(step) + ".replaced");
  if (fs::exists(final_dir)) {
    fs::remove_all(previous);
    fs::rename(final_dir, previous);
  }
  fs::rename(partial, final_dir);
  stage_done("moved");
  core::replace_file_atomically(root_ / "latest", step_name(step) + "\n");
  stage_done("latest");
  fs::remove_all(previous);
  prune();
  return final_dir;
}

void CheckpointManager::prune() {
  auto folders = step_folders(root_);
  while (static_cast<int64_t>(folders.size()) > keep_last_) {
    fs::remove_all(folders.front().second);
    folders.erase(folders.begin());
  }
  // Leftovers of interrupted writes by earlier processes.
  for (const auto& entry : fs::directory_iterator(root_)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(".step-", 0) == 0 && name.find(".partial-" + std::to_string(::getpid())) == std::string::npos) {
      fs::remove_all(entry.path());
    }
  }
}

std::optional<fs::path> CheckpointManager::latest() const {
  const fs::path pointer = root_ / "latest";
  if (fs::exists(pointer)) {
    std::ifstream in(pointer);
    std::string name;
    std::getline(in, name);
    if (!name.empty() && fs::exists(root_ / name / "trainer_state.json")) return root_ / name;
  }
  auto folders = step_folders(root_);
  for (auto it = folders.rbegin(); it != folders.rend(); ++it) {
    if (fs::exists(it->second / "trainer_state.json")) return it->second;
  }
  return std::nullopt;
}

void write_tensor_file(const fs::path& path, const std::map<std::string, at::Tensor>& tensors) {
  lm::NamedTensors named;
  for (const auto& [name, tensor] : tensors) named.push_back({name, tensor.detach().cpu()});
  lm::write_safetensors(path, named);
}

std::map<std::string, at::Tensor> read_tensor_file(const fs::path& path) {
  if (!fs::exists(path)) throw std::runtime_error(path.string() + ": missing");
  std::map<std::string, at::Tensor> out;
  lm::SafetensorsFile file(path);
  for (const auto& entry : file.entries()) out[entry.name] = file.tensor(entry.name).clone();
  return out;
}

bool CheckpointContents::has_adapter() const { return fs::exists(adapter_dir() / policy::kAdapterConfigFile); }

CheckpointContents load_checkpoint(const fs::path& path) {
  fs::path dir = path;
  if (!fs::exists(dir / "trainer_state.json")) {
    // A run folder: its latest checkpoint.
    auto latest = CheckpointManager(path, 1).latest();
    if (!latest) {
      throw std::runtime_error(path.string() + ": neither a checkpoint (no trainer_state.json) nor a run folder with "
                               "checkpoints/");
    }
    dir = *latest;
  }
  CheckpointContents contents;
  contents.dir = dir;
  contents.state = core::read_json_file(dir / "trainer_state.json");
  if (!contents.state.contains("step")) throw std::runtime_error((dir / "trainer_state.json").string() + ": no \"step\"");
  if (!fs::exists(dir / "model" / "config.json") && !contents.has_adapter()) {
    throw std::runtime_error(dir.string() + ": neither model/config.json nor adapter/" + policy::kAdapterConfigFile);
  }
  contents.optimizer = read_tensor_file(dir / "optimizer.safetensors");
  return contents;
}

}  // namespace precept::trainer
