// safetensors: see safetensors.h. The format is an 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}, then the
// data section. Every offset is checked against the file before a byte is touched.
#include "lm/safetensors.h"
#include "core/files.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

namespace precept::lm {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
// The largest header we accept (the reference implementation uses the same 100 MB limit).
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

[[noreturn]] void fail(const fs::path& path, const std::string& what) {
  throw std::runtime_error("safetensors file " + path.string() + ": " + what);
}

// A JSON array of whole numbers, read as the reference reader (serde into usize) reads it: a
// float, a negative number or a non-number is an error naming the key. nlohmann's get<> would
// cast instead, which is undefined for a float out of range (found by fuzz/safetensors_header).
std::vector<uint64_t> whole_numbers(const json& value, const fs::path& path, const std::string& where,
                                    const std::string& key) {
  if (!value.is_array()) fail(path, where + ": " + key + " is not an array");
  std::vector<uint64_t> numbers;
  numbers.reserve(value.size());
  for (const json& item : value) {
    if (item.is_number_unsigned()) {
      numbers.push_back(item.get<uint64_t>());
    } else if (item.is_number_integer()) {  // negative: an unsigned one would be caught above
      fail(path, where + (key == "shape" ? " has a negative dimension" : ": " + key + " has a negative entry"));
    } else {
      fail(path, where + ": " + key + " has " + item.dump() + ", not a whole number");
    }
  }
  return numbers;
}
}  // namespace

c10::ScalarType dtype_from_safetensors(const std::string& code, const std::string& where) {
  static const std::map<std::string, c10::ScalarType> table = {
      {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"F64", at::kDouble},
      {"I64", at::kLong},  {"I32", at::kInt},   {"I16", at::kShort},     {"I8", at::kChar},
      {"U8", at::kByte},   {"BOOL", at::kBool}};
  auto found = table.find(code);
  if (found == table.end()) {
    throw std::runtime_error(where + ": unsupported dtype '" + code +
                             "' (precept reads F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)");
  }
  return found->second;
}

std::string dtype_to_safetensors(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kDouble: return "F64";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: throw std::runtime_error(std::string("safetensors: cannot write dtype ") + c10::toString(dtype));
  }
}

struct SafetensorsFile::Mapping {
  void* address = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (address && size) munmap(address, size);
  }
};

SafetensorsFile::SafetensorsFile(const fs::path& path) : path_(path), mapping_(std::make_shared<Mapping>()) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat info {};
  if (fstat(fd, &info) != 0) {
    ::close(fd);
    fail(path, "cannot stat");
  }
  const uint64_t file_size = static_cast<uint64_t>(info.st_size);
  if (file_size < 8) {
    ::close(fd);
    fail(path, "truncated: " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");
  }
  // Copy-on-write: a tensor read from the file may be written to (the pages are copied
  // privately, the file never changes) instead of faulting on read-only memory.
  void* address = mmap(nullptr, file_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (address == MAP_FAILED) fail(path, "mmap failed");
  mapping_->address = address;
  mapping_->size = file_size;

  const auto* bytes = static_cast<const unsigned char*>(address);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  if (header_size > kMaxHeaderBytes) {
    fail(path, "header length " + std::to_string(header_size) + " exceeds the 100 MB limit (corrupt file?)");
  }
  if (header_size > file_size - 8) {
    fail(path, "truncated: header length " + std::to_string(header_size) + " but only " +
                   std::to_string(file_size - 8) + " bytes follow");
  }
  data_offset_ = 8 + header_size;
  const uint64_t data_size = file_size - data_offset_;

  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + header_size);
  } catch (const json::exception& error) {
    fail(path, std::string("header is not valid JSON: ") + error.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) fail(path, "__metadata__ is not an object");
      for (auto meta = it.value().begin(); meta != it.value().end(); ++meta) {
        if (meta.value().is_string()) metadata_[meta.key()] = meta.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + it.key() + "'";
    const json& spec = it.value();
    if (!spec.is_object() || !spec.contains("dtype") || !spec.contains("shape") || !spec.contains("data_offsets")) {
      fail(path, where + " lacks dtype, shape or data_offsets");
    }
    TensorEntry entry;
    entry.name = it.key();
    try {
      entry.dtype = dtype_from_safetensors(spec.at("dtype").get<std::string>(), where);
    } catch (const json::exception& error) {
      fail(path, where + ": malformed entry: " + error.what());
    } catch (const std::runtime_error& error) {
      fail(path, error.what());
    }
    for (uint64_t dim : whole_numbers(spec.at("shape"), path, where, "shape")) {
      if (dim > static_cast<uint64_t>(INT64_MAX)) fail(path, where + ": dimension " + std::to_string(dim) + " is too large");
      entry.shape.push_back(static_cast<int64_t>(dim));
    }
    const std::vector<uint64_t> offsets = whole_numbers(spec.at("data_offsets"), path, where, "data_offsets");
    if (offsets.size() != 2) fail(path, where + ": data_offsets must have two entries");
    entry.begin = offsets[0];
    entry.end = offsets[1];
    // The byte count with overflow checked: a shape whose product wraps around could otherwise
    // match a tiny data range and describe a tensor far larger than the file.
    uint64_t expected = c10::elementSize(entry.dtype);
    for (int64_t dim : entry.shape) {
      if (dim < 0) fail(path, where + " has a negative dimension");
      if (__builtin_mul_overflow(expected, static_cast<uint64_t>(dim), &expected)) {
        fail(path, where + ": its shape's byte count overflows 64 bits");
      }
    }
    if (entry.begin > entry.end || entry.end > data_size) {
      fail(path, where + ": data_offsets [" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) +
                     ") fall outside the " + std::to_string(data_size) + "-byte data section (truncated file?)");
    }
    if (entry.end - entry.begin != expected) {
      fail(path, where + ": holds " + std::to_string(entry.end - entry.begin) + " bytes but its shape and dtype need " +
                     std::to_string(expected));
    }
    index_[entry.name] = entries_.size();
    entries_.push_back(std::move(entry));
  }
}

SafetensorsFile::~SafetensorsFile() = default;

const TensorEntry& SafetensorsFile::entry(const std::string& name) const {
  auto found = index_.find(name);
  if (found == index_.end()) fail(path_, "has no tensor named '" + name + "'");
  return entries_[found->second];
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorEntry& spec = entry(name);
  auto* data = static_cast<char*>(mapping_->address) + data_offset_ + spec.begin;
  auto keep_alive = mapping_;
  return at::from_blob(
      data, spec.shape, [keep_alive](void*) mutable { keep_alive.reset(); },
      at::TensorOptions().dtype(spec.dtype).device(at::kCPU));
}

CheckpointTensors::CheckpointTensors(const fs::path& dir) {
  const fs::path single = dir / "model.safetensors";
  const fs::path index = dir / "model.safetensors.index.json";
  std::map<std::string, std::string> listed;  // name -> shard, from the index
  if (fs::exists(index)) {
    const json parsed = core::read_json_file(index);
    if (!parsed.contains("weight_map") || !parsed["weight_map"].is_object()) {
      throw std::runtime_error(index.string() + ": has no \"weight_map\" object");
    }
    std::set<std::string> shards;
    for (auto it = parsed["weight_map"].begin(); it != parsed["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw std::runtime_error(index.string() + ": weight_map[" + it.key() + "] is not a file name");
      listed[it.key()] = it.value().get<std::string>();
      shards.insert(it.value().get<std::string>());
    }
    for (const auto& shard : shards) {
      if (shard.find('/') != std::string::npos || shard == "..") {
        throw std::runtime_error(index.string() + ": shard name '" + shard + "' is not a plain file name");
      }
      files_.push_back(std::make_unique<SafetensorsFile>(dir / shard));
    }
  } else if (fs::exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single));
  } else {
    throw std::runtime_error(dir.string() + ": no model.safetensors or model.safetensors.index.json");
  }
  for (size_t i = 0; i < files_.size(); ++i) {
    for (const auto& entry : files_[i]->entries()) {
      if (where_.count(entry.name)) {
        throw std::runtime_error("tensor '" + entry.name + "' appears in both " + files_[where_[entry.name]]->path().string() +
                                 " and " + files_[i]->path().string());
      }
      where_[entry.name] = i;
    }
  }
  for (const auto& [name, shard] : listed) {
    auto found = where_.find(name);
    if (found == where_.end() || files_[found->second]->path().filename() != shard) {
      throw std::runtime_error(index.string() + ": lists tensor '" + name + "' in " + shard + ", which does not hold it");
    }
  }
}

std::vector<std::string> CheckpointTensors::names() const {
  std::vector<std::string> out;
  for (const auto& [name, file] : where_) out.push_back(name);
  return out;
}

const TensorEntry& CheckpointTensors::entry(const std::string& name) const {
  auto found = where_.find(name);
  if (found == where_.end()) throw std::runtime_error("checkpoint has no tensor named '" + name + "'");
  return files_[found->second]->entry(name);
}

at::Tensor CheckpointTensors::tensor(const std::string& name) const {
  auto found = where_.find(name);
  if (found == where_.end()) throw std::runtime_error("checkpoint has no tensor named '" + name + "'");
  return files_[found->second]->tensor(name);
}

std::string CheckpointTensors::file_of(const std::string& name) const {
  auto found = where_.find(name);
  return found == where_.end() ? std::string() : files_[found->second]->path().string();
}


void write_safetensors(const fs::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<at::Tensor> contiguous;
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::set<std::string> seen;
  for (const auto& [name, tensor] : tensors) {
    if (!seen.insert(name).second) throw std::runtime_error("write_safetensors " + path.string() + ": duplicate tensor '" + name + "'");
    at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
    const uint64_t bytes = cpu.numel() * cpu.element_size();
    header[name] = {{"dtype", dtype_to_safetensors(cpu.scalar_type())},
                    {"shape", cpu.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(cpu);
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  core::replace_file_atomically(path, [&](std::ostream& out) {
    uint64_t size = header_text.size();
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>((size >> (8 * i)) & 0xff);
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const auto& tensor : contiguous) {
      out.write(static_cast<const char*>(tensor.data_ptr()), static_cast<std::streamsize>(tensor.numel() * tensor.element_size()));
    }
  });
}

void write_checkpoint_tensors(const fs::path& dir, const NamedTensors& tensors, uint64_t max_shard_bytes) {
  fs::create_directories(dir);
  std::vector<NamedTensors> shards(1);
  uint64_t shard_bytes = 0, total_bytes = 0;
  for (const auto& named : tensors) {
    const uint64_t bytes = named.second.numel() * named.second.element_size();
    if (!shards.back().empty() && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(named);
    shard_bytes += bytes;
    total_bytes += bytes;
  }
  // Remove what a previous save left that this one does not overwrite.
  for (const auto& item : fs::directory_iterator(dir)) {
    const std::string file = item.path().filename().string();
    if (file.rfind("model-", 0) == 0 && item.path().extension() == ".safetensors") fs::remove(item.path());
  }
  if (shards.size() == 1) {
    fs::remove(dir / "model.safetensors.index.json");
    write_safetensors(dir / "model.safetensors", shards[0]);
    return;
  }
  fs::remove(dir / "model.safetensors");
  json weight_map = json::object();
  auto shard_name = [&](size_t k) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "model-%05zu-of-%05zu.safetensors", k + 1, shards.size());
    return std::string(buffer);
  };
  for (size_t k = 0; k < shards.size(); ++k) {
    write_safetensors(dir / shard_name(k), shards[k]);
    for (const auto& named : shards[k]) weight_map[named.first] = shard_name(k);
  }
  json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  core::replace_file_atomically(dir / "model.safetensors.index.json", [&](std::ostream& out) { out << index.dump(2) << "\n"; });
}

}  // namespace precept::lm
