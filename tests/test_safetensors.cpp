#include "lm/safetensors.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace precept::lm;
using namespace precept::testing;

namespace {

// A safetensors file by hand: the 8-byte little-endian header length, the header, the data.
std::string raw_safetensors(const std::string& header, const std::string& data = "") {
  std::string bytes(8, '\0');
  const uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
  return bytes + header + data;
}

}  // namespace

TEST(Safetensors, RoundTripsEveryFloatDtype) {
  fs::path dir = temp_dir("roundtrip");
  torch::manual_seed(0);
  NamedTensors tensors = {{"a.f32", torch::randn({3, 4})},
                          {"b.f16", torch::randn({5}).to(torch::kHalf)},
                          {"c.bf16", torch::randn({2, 2, 2}).to(torch::kBFloat16)},
                          {"d.i64", torch::arange(7)}};
  write_safetensors(dir / "x.safetensors", tensors);
  SafetensorsFile file(dir / "x.safetensors");
  ASSERT_EQ(file.entries().size(), 4u);
  for (const auto& [name, tensor] : tensors) {
    at::Tensor back = file.tensor(name);
    EXPECT_EQ(back.scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(back, tensor)) << name;
  }
  EXPECT_EQ(file.metadata().at("format"), "pt");
}

TEST(Safetensors, ReadsAFileWrittenByHuggingFace) {
  // tiny-random-gpt2 was written by the reference Python implementation.
  fs::path path = fs::path(PRECEPT_SHARED_DIR) / "assets/tiny-random-gpt2/model.safetensors";
  SafetensorsFile file(path);
  EXPECT_GT(file.entries().size(), 10u);
  at::Tensor wte = file.tensor("transformer.wte.weight");
  EXPECT_EQ(wte.dim(), 2);
  EXPECT_TRUE(torch::isfinite(wte.to(torch::kFloat)).all().item<bool>());
}

TEST(Safetensors, TruncatedFileNamesFileAndTensor) {
  fs::path dir = temp_dir("truncated");
  write_safetensors(dir / "x.safetensors", {{"weight", torch::ones({64})}});
  std::string bytes = read_all(dir / "x.safetensors");
  write_all(dir / "x.safetensors", bytes.substr(0, bytes.size() - 16));
  std::string message = error_of([&] { SafetensorsFile file(dir / "x.safetensors"); });
  EXPECT_NE(message.find("x.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("'weight'"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(Safetensors, OversizedHeaderIsRejectedBeforeReading) {
  fs::path dir = temp_dir("oversized");
  std::string bytes(8, '\0');
  uint64_t huge = 1ull << 40;
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((huge >> (8 * i)) & 0xff);
  bytes += "{}";
  write_all(dir / "big.safetensors", bytes);
  std::string message = error_of([&] { SafetensorsFile file(dir / "big.safetensors"); });
  EXPECT_NE(message.find("big.safetensors"), std::string::npos) << message;
  EXPECT_NE(message.find("100 MB"), std::string::npos) << message;
}

TEST(Safetensors, HeaderShorterThanClaimedIsTruncated) {
  fs::path dir = temp_dir("shortheader");
  std::string bytes(8, '\0');
  bytes[0] = 100;
  bytes += "{\"a\":";
  write_all(dir / "h.safetensors", bytes);
  std::string message = error_of([&] { SafetensorsFile file(dir / "h.safetensors"); });
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(Safetensors, WrongByteCountForShapeIsAnError) {
  fs::path dir = temp_dir("badshape");
  write_all(dir / "s.safetensors",
            raw_safetensors(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,12]}})", std::string(12, '\0')));
  std::string message = error_of([&] { SafetensorsFile file(dir / "s.safetensors"); });
  EXPECT_NE(message.find("tensor 'w'"), std::string::npos) << message;
  EXPECT_NE(message.find("16"), std::string::npos) << message;
}

// Issue 20: [2^32, 2^32] F32 elements wrap to 0 bytes in 64 bits and used to pass as an empty
// data range, describing a 64 EiB tensor over nothing.
TEST(Safetensors, AShapeWhoseByteCountOverflowsIsAnError) {
  fs::path dir = temp_dir("overflow");
  write_all(dir / "o.safetensors", raw_safetensors(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})"));
  std::string message = error_of([&] { SafetensorsFile file(dir / "o.safetensors"); });
  EXPECT_NE(message.find("tensor 'w'"), std::string::npos) << message;
  EXPECT_NE(message.find("overflows"), std::string::npos) << message;
}

// Issue 20: tensors view the memory-mapped file; a write used to fault on read-only pages. The
// mapping is copy-on-write: the write lands in the tensor, the file keeps its bytes.
TEST(Safetensors, WritingToATensorReadFromAFileCopiesAndLeavesTheFile) {
  fs::path dir = temp_dir("cow");
  write_safetensors(dir / "c.safetensors", {{"w", at::arange(6, at::kFloat)}});
  {
    SafetensorsFile file(dir / "c.safetensors");
    at::Tensor view = file.tensor("w");
    view.add_(10);
    EXPECT_TRUE(at::equal(view, at::arange(6, at::kFloat) + 10));
  }
  SafetensorsFile again(dir / "c.safetensors");
  EXPECT_TRUE(at::equal(again.tensor("w"), at::arange(6, at::kFloat)));
}

TEST(Safetensors, UnknownDtypeIsNamed) {
  fs::path dir = temp_dir("dtype");
  write_all(dir / "d.safetensors",
            raw_safetensors(R"({"w":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[0,4]}})", std::string(4, '\0')));
  std::string message = error_of([&] { SafetensorsFile file(dir / "d.safetensors"); });
  EXPECT_NE(message.find("F8_E4M3"), std::string::npos) << message;
  EXPECT_NE(message.find("'w'"), std::string::npos) << message;
}

TEST(Safetensors, ShardedCheckpointWithIndex) {
  fs::path dir = temp_dir("sharded");
  NamedTensors tensors;
  for (int i = 0; i < 6; ++i) tensors.push_back({"layer." + std::to_string(i), torch::full({256}, float(i))});
  write_checkpoint_tensors(dir, tensors, 2048);  // 1 KiB each: 2 per shard
  EXPECT_TRUE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_TRUE(fs::exists(dir / "model-00003-of-00003.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
  CheckpointTensors checkpoint(dir);
  ASSERT_EQ(checkpoint.names().size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_FLOAT_EQ(checkpoint.tensor("layer." + std::to_string(i))[0].item<float>(), float(i));
  }
  // Saving again unsharded removes the shards and the index.
  write_checkpoint_tensors(dir, tensors, 1 << 30);
  EXPECT_TRUE(fs::exists(dir / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(dir / "model-00001-of-00003.safetensors"));
}

TEST(Safetensors, IndexNamingAMissingTensorIsAnError) {
  fs::path dir = temp_dir("badindex");
  write_safetensors(dir / "model-00001-of-00001.safetensors", {{"present", torch::ones({2})}});
  write_all(dir / "model.safetensors.index.json",
            R"({"weight_map": {"present": "model-00001-of-00001.safetensors", "absent": "model-00001-of-00001.safetensors"}})");
  std::string message = error_of([&] { CheckpointTensors checkpoint(dir); });
  EXPECT_NE(message.find("'absent'"), std::string::npos) << message;
}

TEST(Safetensors, MissingCheckpointNamesTheDirectory) {
  fs::path dir = temp_dir("empty");
  std::string message = error_of([&] { CheckpointTensors checkpoint(dir); });
  EXPECT_NE(message.find(dir.string()), std::string::npos) << message;
}
