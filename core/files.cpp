// Append-only files and atomic replace with POSIX calls; see log_file.h.
#include "core/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <utility>

namespace precept::core {

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw std::runtime_error(path.string() + ": " + what + ": " + std::strerror(errno));
}

void write_all(int descriptor, const std::filesystem::path& path, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(descriptor, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      fail(path, "cannot write");
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
}

}  // namespace

AppendFile::AppendFile(std::filesystem::path path, Mode mode) : path_(std::move(path)) {
  int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  if (mode == Mode::create_new) flags |= O_EXCL;
  descriptor_ = ::open(path_.c_str(), flags, 0644);
  if (descriptor_ < 0) fail(path_, mode == Mode::create_new ? "cannot create" : "cannot open for appending");
}

AppendFile::~AppendFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

AppendFile::AppendFile(AppendFile&& other) noexcept
    : path_(std::move(other.path_)), descriptor_(std::exchange(other.descriptor_, -1)) {}

AppendFile& AppendFile::operator=(AppendFile&& other) noexcept {
  if (this != &other) {
    if (descriptor_ >= 0) ::close(descriptor_);
    path_ = std::move(other.path_);
    descriptor_ = std::exchange(other.descriptor_, -1);
  }
  return *this;
}

void AppendFile::write(std::string_view bytes) {
  if (descriptor_ < 0) throw std::runtime_error(path_.string() + ": write to a closed file");
  write_all(descriptor_, path_, bytes);
}

void AppendFile::sync() {
  if (descriptor_ >= 0 && ::fsync(descriptor_) != 0) fail(path_, "cannot fsync");
}

std::string read_file(const std::filesystem::path& path) {
  const int descriptor = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  std::string bytes;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(descriptor, buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(descriptor);
      errno = saved;
      fail(path, "cannot read");
    }
    if (got == 0) break;
    bytes.append(buffer, static_cast<size_t>(got));
  }
  ::close(descriptor);
  return bytes;
}

namespace {

// Renames the finished temporary over `path`, then fsyncs the folder: the rename itself is
// durable once the folder is synced. A folder that cannot be opened for that (some network file
// systems) leaves the replace done but not yet durable, which is fine.
void commit_temporary(const std::filesystem::path& temporary, const std::filesystem::path& path) {
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temporary.c_str());
    errno = saved;
    fail(path, "cannot replace with " + temporary.filename().string());
  }
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";
  const int folder_descriptor = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (folder_descriptor >= 0) {
    ::fsync(folder_descriptor);
    ::close(folder_descriptor);
  }
}

std::filesystem::path temporary_of(const std::filesystem::path& path) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  return temporary;
}

template <class Json>
Json parse_json_file(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  try {
    return Json::parse(bytes);
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(path.string() + " is not valid JSON: " + error.what());
  }
}

}  // namespace

nlohmann::json read_json_file(const std::filesystem::path& path) { return parse_json_file<nlohmann::json>(path); }

nlohmann::ordered_json read_ordered_json_file(const std::filesystem::path& path) {
  return parse_json_file<nlohmann::ordered_json>(path);
}

nlohmann::json read_json_object(const std::filesystem::path& path) {
  nlohmann::json root = read_json_file(path);
  if (!root.is_object()) throw std::runtime_error(path.string() + ": expected a JSON object at the top level");
  return root;
}

void replace_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  const std::filesystem::path temporary = temporary_of(path);
  const int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (descriptor < 0) fail(temporary, "cannot create");
  try {
    write_all(descriptor, temporary, bytes);
    if (::fsync(descriptor) != 0) fail(temporary, "cannot fsync");
  } catch (...) {
    ::close(descriptor);
    ::unlink(temporary.c_str());
    throw;
  }
  if (::close(descriptor) != 0) fail(temporary, "cannot close");
  commit_temporary(temporary, path);
}

void replace_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& body) {
  const std::filesystem::path temporary = temporary_of(path);
  try {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) fail(temporary, "cannot create");
    body(out);
    out.flush();
    if (!out) fail(temporary, "cannot write (disk full?)");
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  const int descriptor = ::open(temporary.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0 || ::fsync(descriptor) != 0) {
    if (descriptor >= 0) ::close(descriptor);
    ::unlink(temporary.c_str());
    fail(temporary, "cannot fsync");
  }
  ::close(descriptor);
  commit_temporary(temporary, path);
}

}  // namespace precept::core
