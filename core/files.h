// Files, once for every layer: reading a whole file or a JSON file with an error that names it,
// an append-only file whose every write reaches the operating system before write() returns, and
// atomic replacement (temporary sibling, fsync of the file, rename, fsync of the folder), so that
// a reader or a crash sees the old file or the new one, never a mix. Not a message logger and not
// a format reader. Used by the model, text, trainer and command-line layers.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace precept::core {

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

// The whole file. Throws std::runtime_error "cannot open PATH: reason" (or "cannot read").
std::string read_file(const std::filesystem::path& path);

// A JSON file, parsed. Throws naming the file: "cannot open PATH", "PATH is not valid JSON: ...".
nlohmann::json read_json_file(const std::filesystem::path& path);
nlohmann::ordered_json read_ordered_json_file(const std::filesystem::path& path);
// The same, and the top level must be an object: "PATH: expected a JSON object at the top level".
nlohmann::json read_json_object(const std::filesystem::path& path);

// Writes `bytes` to `path` + ".tmp", fsyncs it, renames it over `path` and fsyncs the folder.
void replace_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// The same for a large file written as a stream (safetensors): `body` writes into a buffered
// stream on the temporary file; a failed write (a full disk) is an error and leaves `path` as it was.
void replace_file_atomically(const std::filesystem::path& path, const std::function<void(std::ostream&)>& body);

}  // namespace precept::core
