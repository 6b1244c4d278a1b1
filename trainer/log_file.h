// Files that training logs live in: an append-only file whose every write reaches the operating
// system before write() returns (a crash of the process loses nothing written), and an atomic
// whole-file replace. Not a message logger. Used by trainer/metrics.h and trainer/tensorboard.h.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace precept::trainer {

class AppendFile {
 public:
  enum class Mode {
    append,      // open or create, writes go to the end
    create_new,  // create; an existing file is an error
  };

  AppendFile(std::filesystem::path path, Mode mode);
  ~AppendFile();
  AppendFile(AppendFile&& other) noexcept;
  AppendFile& operator=(AppendFile&& other) noexcept;
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // Writes all of `bytes` with unbuffered write(2) calls; throws std::runtime_error naming the file.
  void write(std::string_view bytes);
  // fsync(2): the bytes written so far survive a power loss too.
  void sync();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  int descriptor_ = -1;
};

// The whole file; throws std::runtime_error naming it when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// Writes `bytes` to `path` + ".tmp", fsyncs it, renames it over `path` and fsyncs the folder, so
// that a reader (or a crash) sees either the old file or the new one, never a mix.
void replace_file_atomically(const std::filesystem::path& path, std::string_view bytes);

}  // namespace precept::trainer
