// Where the command line finds the files precept ships (configs/models, configs/principles,
// recipes): a path that exists is taken as is; a bare name is looked up in $PRECEPT_HOME, then
// next to the executable's source tree (<exe>/../), then in the current directory.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace precept::apps {

inline std::filesystem::path executable_dir() {
  std::vector<char> buffer(4096);
  const ssize_t length = ::readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (length <= 0) return std::filesystem::current_path();
  return std::filesystem::path(std::string(buffer.data(), static_cast<size_t>(length))).parent_path();
}

// find_config_file("models", "qwen3-tiny") -> .../configs/models/qwen3-tiny.toml
inline std::filesystem::path find_config_file(const std::string& kind, const std::string& name) {
  namespace fs = std::filesystem;
  if (fs::exists(name) && fs::is_regular_file(name)) return name;
  const std::string file = name.size() > 5 && name.compare(name.size() - 5, 5, ".toml") == 0 ? name : name + ".toml";
  std::vector<fs::path> roots;
  if (const char* home = std::getenv("PRECEPT_HOME")) roots.emplace_back(home);
  roots.push_back(executable_dir().parent_path());
  roots.push_back(fs::current_path());
  std::string tried;
  for (const auto& root : roots) {
    const fs::path candidate = root / "configs" / kind / file;
    if (fs::exists(candidate)) return candidate;
    tried += (tried.empty() ? "" : ", ") + candidate.string();
  }
  throw std::runtime_error("no " + kind + " config '" + name + "' (looked for " + tried + ")");
}

}  // namespace precept::apps
