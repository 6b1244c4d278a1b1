// safetensors read and write: memory-mapped single files, sharded checkpoints with
// `model.safetensors.index.json`, F32/F16/BF16 (and integer types for fixtures).
// Not a model loader: lm/pretrained.h maps these tensors onto a Transformer.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace precept::lm {

struct TensorEntry {
  std::string name;
  c10::ScalarType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

// One memory-mapped .safetensors file. The header is bounds-checked on open; tensors are
// zero-copy views of the mapping that keep it alive.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::vector<TensorEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) > 0; }
  const TensorEntry& entry(const std::string& name) const;
  // A read-only CPU view of the bytes (do not write to it). Stays valid while any view lives.
  at::Tensor tensor(const std::string& name) const;

 private:
  struct Mapping;
  std::filesystem::path path_;
  std::shared_ptr<Mapping> mapping_;
  uint64_t data_offset_ = 0;
  std::vector<TensorEntry> entries_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// All the safetensors of a checkpoint directory: `model.safetensors`, or the shards named by
// `model.safetensors.index.json`. A name listed in the index but missing from its shard is an
// error naming both.
class CheckpointTensors {
 public:
  explicit CheckpointTensors(const std::filesystem::path& dir);
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  at::Tensor tensor(const std::string& name) const;
  const TensorEntry& entry(const std::string& name) const;
  std::string file_of(const std::string& name) const;

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Writes one file atomically (temporary file, then rename). Tensors are written contiguous
// on the CPU in their own dtype.
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// Writes `model.safetensors`, or, when the total exceeds max_shard_bytes, shards named
// `model-0000K-of-0000N.safetensors` plus `model.safetensors.index.json` as transformers does.
void write_checkpoint_tensors(const std::filesystem::path& dir, const NamedTensors& tensors,
                              uint64_t max_shard_bytes);

// "F32" <-> kFloat and friends; throws on a dtype we do not read.
c10::ScalarType dtype_from_safetensors(const std::string& code, const std::string& where);
std::string dtype_to_safetensors(c10::ScalarType dtype);

}  // namespace precept::lm
