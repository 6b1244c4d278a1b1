// llama2.c -> Hugging Face conversion: both checkpoint formats, the RoPE row permutation, the
// written directory, and the errors a user sees for a bad file. The transformers round trip
// (logits and greedy ids) is tests/check_llama2c_hf.py.
#include "lm/llama2c.h"
#include "lm/safetensors.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <set>

#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace precept::lm;
using namespace precept::text;
using namespace precept::testing;

namespace {
const fs::path kStories = fs::path(PRECEPT_SHARED_DIR) / "assets/stories260K";
const fs::path kLegacy = kStories / "stories260K.bin";
const fs::path kVersion1 = kStories / "stories260K.v1.bin";
const fs::path kTokenizer = kStories / "tok512.bin";

void put_int32(std::string& bytes, size_t offset, int32_t value) { std::memcpy(bytes.data() + offset, &value, 4); }
std::string tensor_bytes(const at::Tensor& tensor) {
  at::Tensor contiguous = tensor.contiguous();
  return std::string(static_cast<const char*>(contiguous.data_ptr()), contiguous.nbytes());
}
json read_json(const fs::path& path) { return json::parse(read_all(path)); }

// RoPE as llama2.c applies it: adjacent pairs (2i, 2i+1) of each head rotate by
// pos * theta^(-2i / head_size). x: [heads * head_size]
at::Tensor rope_adjacent(const at::Tensor& x, int64_t heads, int64_t pos) {
  const int64_t head_size = x.size(0) / heads;
  at::Tensor pairs = x.reshape({heads, head_size / 2, 2});
  at::Tensor i = torch::arange(head_size / 2, torch::kDouble);
  at::Tensor angle = pos * torch::pow(10000.0, -2.0 * i / head_size);
  at::Tensor a = pairs.select(2, 0), b = pairs.select(2, 1);
  return torch::stack({a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()}, 2).reshape({-1});
}
// RoPE as Hugging Face Llama applies it: pairs (i, i + head_size/2), same frequencies.
at::Tensor rope_half_split(const at::Tensor& x, int64_t heads, int64_t pos) {
  const int64_t head_size = x.size(0) / heads;
  at::Tensor halves = x.reshape({heads, 2, head_size / 2});
  at::Tensor i = torch::arange(head_size / 2, torch::kDouble);
  at::Tensor angle = pos * torch::pow(10000.0, -2.0 * i / head_size);
  at::Tensor a = halves.select(1, 0), b = halves.select(1, 1);
  return torch::stack({a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()}, 1).reshape({-1});
}
}  // namespace

TEST(Llama2c, ReadsTheLegacyHeader) {
  Llama2cCheckpoint checkpoint = read_llama2c_checkpoint(kLegacy);
  const Llama2cConfig& c = checkpoint.config;
  EXPECT_EQ(c.format, Llama2cFormat::kLegacy);
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.seq_len, 512);
  EXPECT_TRUE(c.shared_classifier);
  EXPECT_EQ(checkpoint.wk.sizes(), (std::vector<int64_t>{5, 32, 64}));
  EXPECT_EQ(checkpoint.w2.sizes(), (std::vector<int64_t>{5, 64, 172}));
  EXPECT_FALSE(checkpoint.wcls.defined());
  // RMSNorm weights of a trained model sit around 1, embeddings around 0: a misaligned read
  // would mix them up.
  EXPECT_GT(checkpoint.rms_final.mean().item<double>(), 0.3);
  EXPECT_LT(checkpoint.tok_embeddings.abs().mean().item<double>(), 0.3);
}

TEST(Llama2c, LegacyAndVersion1HoldTheSameWeights) {
  Llama2cCheckpoint legacy = read_llama2c_checkpoint(kLegacy);
  Llama2cCheckpoint version1 = read_llama2c_checkpoint(kVersion1);
  EXPECT_EQ(version1.config.format, Llama2cFormat::kVersion1);
  EXPECT_TRUE(version1.config.shared_classifier);
  NamedTensors a = llama2c_to_hf_tensors(legacy), b = llama2c_to_hf_tensors(version1);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
}

TEST(Llama2c, RopePermutationMovesAdjacentPairsToHalves) {
  // 2 heads of size 4, one input column holding the row number.
  at::Tensor weight = torch::arange(8, torch::kFloat).reshape({8, 1});
  at::Tensor permuted = rope_pairs_to_half_split(weight, 2);
  EXPECT_TRUE(torch::equal(permuted.reshape({-1}).to(torch::kLong), torch::tensor({0, 2, 1, 3, 4, 6, 5, 7}, torch::kLong)));
  EXPECT_THROW(rope_pairs_to_half_split(torch::zeros({6, 3}), 2), std::invalid_argument);  // head size 3
}

TEST(Llama2c, RopePermutationKeepsAttentionScores) {
  // q.k after llama2.c's RoPE with the original rows equals q.k after HF's RoPE with the
  // permuted rows, for every head pair and position pair; this is what makes the converted
  // model compute the same attention.
  torch::manual_seed(0);
  const int64_t heads = 4, head_size = 8, in = 16;
  at::Tensor wq = torch::randn({heads * head_size, in}, torch::kDouble);
  at::Tensor wk = torch::randn({heads * head_size, in}, torch::kDouble);
  at::Tensor x = torch::randn({in}, torch::kDouble), y = torch::randn({in}, torch::kDouble);
  at::Tensor wq_hf = rope_pairs_to_half_split(wq, heads), wk_hf = rope_pairs_to_half_split(wk, heads);
  for (int64_t m : {0, 1, 7, 300}) {
    for (int64_t n : {0, 3, 300}) {
      at::Tensor q = rope_adjacent(wq.matmul(x), heads, m).reshape({heads, head_size});
      at::Tensor k = rope_adjacent(wk.matmul(y), heads, n).reshape({heads, head_size});
      at::Tensor q_hf = rope_half_split(wq_hf.matmul(x), heads, m).reshape({heads, head_size});
      at::Tensor k_hf = rope_half_split(wk_hf.matmul(y), heads, n).reshape({heads, head_size});
      EXPECT_TRUE(torch::allclose(q.matmul(k.t()), q_hf.matmul(k_hf.t()), 1e-10, 1e-10)) << m << " " << n;
    }
  }
}

TEST(Llama2c, ConvertWritesAHuggingFaceLlamaDirectory) {
  fs::path out = temp_dir("llama2c_convert");
  convert_llama2c(kLegacy, kTokenizer, out / "model");
  const fs::path dir = out / "model";
  for (const char* name : {"config.json", "generation_config.json", "model.safetensors", "tokenizer.model",
                           "tokenizer_config.json"}) {
    EXPECT_TRUE(fs::exists(dir / name)) << name;
  }
  json config = read_json(dir / "config.json");
  EXPECT_EQ(config["architectures"], json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(config["model_type"], "llama");
  EXPECT_EQ(config["hidden_size"], 64);
  EXPECT_EQ(config["intermediate_size"], 172);
  EXPECT_EQ(config["num_hidden_layers"], 5);
  EXPECT_EQ(config["num_attention_heads"], 8);
  EXPECT_EQ(config["num_key_value_heads"], 4);
  EXPECT_EQ(config["head_dim"], 8);
  EXPECT_EQ(config["vocab_size"], 512);
  EXPECT_EQ(config["max_position_embeddings"], 512);
  EXPECT_DOUBLE_EQ(config["rms_norm_eps"].get<double>(), 1e-5);
  EXPECT_DOUBLE_EQ(config["rope_theta"].get<double>(), 10000.0);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["bos_token_id"], 1);
  EXPECT_EQ(config["eos_token_id"], 2);
  EXPECT_EQ(read_json(dir / "generation_config.json"), (json{{"bos_token_id", 1}, {"eos_token_id", 2}}));

  SafetensorsFile file(dir / "model.safetensors");
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const TensorEntry& entry : file.entries()) {
    EXPECT_EQ(entry.dtype, at::kFloat) << entry.name;
    shapes[entry.name] = entry.shape;
  }
  std::map<std::string, std::vector<int64_t>> expected = {{"model.embed_tokens.weight", {512, 64}},
                                                          {"model.norm.weight", {64}}};
  for (int layer = 0; layer < 5; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    expected[prefix + "input_layernorm.weight"] = {64};
    expected[prefix + "post_attention_layernorm.weight"] = {64};
    expected[prefix + "self_attn.q_proj.weight"] = {64, 64};
    expected[prefix + "self_attn.k_proj.weight"] = {32, 64};
    expected[prefix + "self_attn.v_proj.weight"] = {32, 64};
    expected[prefix + "self_attn.o_proj.weight"] = {64, 64};
    expected[prefix + "mlp.gate_proj.weight"] = {172, 64};
    expected[prefix + "mlp.up_proj.weight"] = {172, 64};
    expected[prefix + "mlp.down_proj.weight"] = {64, 172};
  }
  EXPECT_EQ(shapes, expected);  // tied: no lm_head.weight

  // Spot-check the mapping against the llama2.c tensors.
  Llama2cCheckpoint checkpoint = read_llama2c_checkpoint(kLegacy);
  EXPECT_TRUE(torch::equal(file.tensor("model.layers.3.mlp.gate_proj.weight"), checkpoint.w1[3]));
  EXPECT_TRUE(torch::equal(file.tensor("model.layers.3.mlp.up_proj.weight"), checkpoint.w3[3]));
  EXPECT_TRUE(torch::equal(file.tensor("model.layers.3.mlp.down_proj.weight"), checkpoint.w2[3]));
  EXPECT_TRUE(torch::equal(file.tensor("model.layers.2.self_attn.v_proj.weight"), checkpoint.wv[2]));
  EXPECT_TRUE(torch::equal(file.tensor("model.layers.2.self_attn.k_proj.weight"),
                           rope_pairs_to_half_split(checkpoint.wk[2], 4)));
  EXPECT_TRUE(torch::equal(file.tensor("model.layers.4.post_attention_layernorm.weight"), checkpoint.rms_ffn[4]));
  fs::remove_all(out);
}

TEST(Llama2c, BothFormatsConvertToIdenticalFiles) {
  fs::path out = temp_dir("llama2c_formats");
  convert_llama2c(kLegacy, kTokenizer, out / "legacy");
  convert_llama2c(kVersion1, kTokenizer, out / "v1");
  for (const char* name : {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json"}) {
    EXPECT_EQ(read_all(out / "legacy" / name), read_all(out / "v1" / name)) << name;
  }
  fs::remove_all(out);
}

TEST(Llama2c, UnsharedClassifierBecomesLmHead) {
  // A legacy file with a negative vocab_size and a classifier after the freq_cis tables, and
  // the same weights as version 1 with shared_classifier = 0.
  fs::path out = temp_dir("llama2c_unshared");
  at::Tensor classifier = torch::randn({512, 64});
  std::string legacy = read_all(kLegacy);
  put_int32(legacy, 20, -512);
  write_all(out / "legacy.bin", legacy + tensor_bytes(classifier));
  std::string version1 = read_all(kVersion1);
  version1[36] = 0;
  write_all(out / "v1.bin", version1 + tensor_bytes(classifier));

  for (const char* name : {"legacy", "v1"}) {
    convert_llama2c(out / (std::string(name) + ".bin"), kTokenizer, out / name);
    SafetensorsFile file(out / name / "model.safetensors");
    ASSERT_TRUE(file.contains("lm_head.weight")) << name;
    EXPECT_TRUE(torch::equal(file.tensor("lm_head.weight"), classifier)) << name;
    EXPECT_EQ(read_json(out / name / "config.json")["tie_word_embeddings"], false) << name;
  }
  fs::remove_all(out);
}

TEST(Llama2c, AcceptsTheMagicAsExportPyWritesIt) {
  // export.py writes struct.pack('I', 0x616b3432), the bytes "24ka"; the asset has "ak42".
  fs::path out = temp_dir("llama2c_magic");
  std::string bytes = read_all(kVersion1);
  ASSERT_EQ(bytes.substr(0, 4), "ak42");
  uint32_t magic = 0x616b3432;
  std::memcpy(bytes.data(), &magic, 4);
  write_all(out / "export_py.bin", bytes);
  Llama2cCheckpoint checkpoint = read_llama2c_checkpoint(out / "export_py.bin");
  EXPECT_EQ(checkpoint.config.format, Llama2cFormat::kVersion1);
  EXPECT_TRUE(torch::equal(checkpoint.wq, read_llama2c_checkpoint(kLegacy).wq));
  fs::remove_all(out);
}

TEST(Llama2c, TruncatedCheckpointNamesFileAndSizes) {
  fs::path out = temp_dir("llama2c_truncated");
  write_all(out / "short.bin", read_all(kLegacy).substr(0, 1056540 - 4));
  std::string error = error_of([&] { read_llama2c_checkpoint(out / "short.bin"); });
  EXPECT_NE(error.find((out / "short.bin").string()), std::string::npos) << error;
  EXPECT_NE(error.find("should be 1056540 bytes"), std::string::npos) << error;
  EXPECT_NE(error.find("is 1056536 bytes"), std::string::npos) << error;

  write_all(out / "long.bin", read_all(kVersion1) + "xxxx");
  error = error_of([&] { read_llama2c_checkpoint(out / "long.bin"); });
  EXPECT_NE(error.find("should be 1040384 bytes"), std::string::npos) << error;
  EXPECT_NE(error.find("version 1 format"), std::string::npos) << error;

  write_all(out / "tiny.bin", "ak42");
  error = error_of([&] { read_llama2c_checkpoint(out / "tiny.bin"); });
  EXPECT_NE(error.find("too short"), std::string::npos) << error;
  EXPECT_NE(error.find("tiny.bin"), std::string::npos) << error;
  fs::remove_all(out);
}

TEST(Llama2c, BadMagicOrVersionIsAClearError) {
  fs::path out = temp_dir("llama2c_version");
  std::string bytes = read_all(kVersion1);
  put_int32(bytes, 4, 2);
  write_all(out / "q80.bin", bytes);
  std::string error = error_of([&] { read_llama2c_checkpoint(out / "q80.bin"); });
  EXPECT_NE(error.find("q80.bin"), std::string::npos) << error;
  EXPECT_NE(error.find("version 2 (int8 quantized)"), std::string::npos) << error;

  put_int32(bytes, 4, 7);
  write_all(out / "v7.bin", bytes);
  error = error_of([&] { read_llama2c_checkpoint(out / "v7.bin"); });
  EXPECT_NE(error.find("version 7"), std::string::npos) << error;

  // Any other first word is read as a legacy header, which then does not fit the file.
  bytes = read_all(kVersion1);
  bytes.replace(0, 4, "ak43");
  write_all(out / "bad_magic.bin", bytes);
  error = error_of([&] { read_llama2c_checkpoint(out / "bad_magic.bin"); });
  EXPECT_NE(error.find("bad_magic.bin"), std::string::npos) << error;
  EXPECT_NE(error.find("implausible header"), std::string::npos) << error;

  bytes = read_all(kLegacy);
  put_int32(bytes, 12, 7);  // n_heads 7 does not divide dim 64
  write_all(out / "heads.bin", bytes);
  error = error_of([&] { read_llama2c_checkpoint(out / "heads.bin"); });
  EXPECT_NE(error.find("dim must be a multiple of n_heads"), std::string::npos) << error;
  fs::remove_all(out);
}

TEST(Llama2c, MissingFilesAreNamed) {
  const fs::path missing = fs::temp_directory_path() / "precept_no_such_checkpoint.bin";
  std::string error = error_of([&] { convert_llama2c(missing, kTokenizer, temp_dir("llama2c_missing")); });
  EXPECT_NE(error.find(missing.string()), std::string::npos) << error;
  EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
  error = error_of([&] { convert_llama2c(kLegacy, missing, temp_dir("llama2c_missing")); });
  EXPECT_NE(error.find("tokenizer " + missing.string()), std::string::npos) << error;
  fs::remove_all(temp_dir("llama2c_missing"));
}

TEST(Llama2c, TokenizerOfAnotherVocabularyIsRejectedBeforeWriting) {
  fs::path out = temp_dir("llama2c_vocab");
  const fs::path llama2_tokenizer = fs::path(PRECEPT_SHARED_DIR) / "assets/llama2-tokenizer/tokenizer.bin";
  std::string error = error_of([&] { convert_llama2c(kLegacy, llama2_tokenizer, out / "model"); });
  EXPECT_NE(error.find(llama2_tokenizer.string()), std::string::npos) << error;
  EXPECT_NE(error.find("holds 32000 tokens"), std::string::npos) << error;
  EXPECT_NE(error.find("vocab_size 512"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(out / "model"));
  fs::remove_all(out);
}

TEST(Llama2c, ReadsTok512) {
  Llama2cVocab vocab = read_llama2c_tokenizer(kTokenizer);
  EXPECT_EQ(vocab.max_token_length, 7);
  ASSERT_EQ(vocab.pieces.size(), 512u);
  EXPECT_EQ(vocab.pieces[1], "\n<s>\n");
  EXPECT_EQ(vocab.pieces[13], "<0x0A>");
  EXPECT_EQ(vocab.pieces[403], " Once");
  EXPECT_EQ(vocab.pieces[259], " t");
  EXPECT_FLOAT_EQ(vocab.scores[260], -1.0f);
}

TEST(Llama2c, MalformedTokenizerIsNamed) {
  fs::path out = temp_dir("llama2c_tokenizer");
  const std::string bytes = read_all(kTokenizer);
  write_all(out / "cut.bin", bytes.substr(0, bytes.size() - 3));
  std::string error = error_of([&] { read_llama2c_tokenizer(out / "cut.bin"); });
  EXPECT_NE(error.find("cut.bin"), std::string::npos) << error;
  EXPECT_NE(error.find("truncated in token 511"), std::string::npos) << error;

  std::string long_token = bytes;
  put_int32(long_token, 4 + 4, 9);  // token 0's length 9 > max_token_length 7
  write_all(out / "long.bin", long_token);
  error = error_of([&] { read_llama2c_tokenizer(out / "long.bin"); });
  EXPECT_NE(error.find("token 0 has length 9"), std::string::npos) << error;

  // A vocabulary whose id 1 is not BOS does not fit run.c's hard-coded ids.
  Llama2cVocab vocab = read_llama2c_tokenizer(kTokenizer);
  vocab.pieces[1] = "<s>";
  error = error_of([&] { llama2c_sentencepiece_pieces(vocab, kTokenizer); });
  EXPECT_NE(error.find("token 1 must be"), std::string::npos) << error;

  // Two pieces that become the same piece once ' ' is written as "▁".
  vocab = read_llama2c_tokenizer(kTokenizer);
  vocab.pieces[300] = "\xE2\x96\x81t";  // "▁t", while token 259 is " t"
  error = error_of([&] { serialize_sentencepiece_bpe_model(llama2c_sentencepiece_pieces(vocab, kTokenizer)); });
  EXPECT_NE(error.find("appears twice"), std::string::npos) << error;
  fs::remove_all(out);
}
