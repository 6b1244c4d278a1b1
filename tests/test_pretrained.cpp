// Loading and saving Hugging Face model directories: config parsing, missing/unexpected
// weights, and the round trip precept save -> transformers load -> equal logits.
#include "lm/model_config.h"
#include "lm/pretrained.h"
#include "lm/safetensors.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

namespace fs = std::filesystem;
using namespace precept::lm;
using namespace precept::text;
using namespace precept::testing;
using json = nlohmann::json;

namespace {
json tiny_config(const std::string& architecture) {
  return {{"architectures", {architecture}}, {"vocab_size", 64},        {"hidden_size", 32},
          {"intermediate_size", 48},         {"num_hidden_layers", 2},  {"num_attention_heads", 4},
          {"num_key_value_heads", 2},        {"rms_norm_eps", 1e-5},    {"torch_dtype", "bfloat16"}};
}
fs::path fixture(const std::string& name) { return fs::path(PRECEPT_FIXTURE_DIR) / name; }
at::Tensor positions_like(const at::Tensor& ids) {
  return at::arange(ids.size(1), at::kLong).unsqueeze(0).expand_as(ids).contiguous();
}
}  // namespace

TEST(ModelConfig, ReadsEveryFieldThatChangesTheMath) {
  json raw = tiny_config("Qwen3ForCausalLM");
  raw["head_dim"] = 16;
  raw["attention_bias"] = true;
  raw["tie_word_embeddings"] = true;
  raw["rope_theta"] = 1e6;
  raw["eos_token_id"] = {5, 7};
  ModelConfig config = config_from_json(raw, "config.json");
  EXPECT_EQ(config.head_dim, 16);
  EXPECT_EQ(config.q_size(), 64);
  EXPECT_EQ(config.kv_size(), 32);
  EXPECT_TRUE(config.qk_norm);
  EXPECT_TRUE(config.qkv_bias);
  EXPECT_TRUE(config.o_bias);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(config.rope.theta, 1e6);
  EXPECT_EQ(config.dtype, at::kBFloat16);
  EXPECT_EQ(config.eos_token_ids, (std::vector<int64_t>{5, 7}));

  ModelConfig qwen2 = config_from_json(tiny_config("Qwen2ForCausalLM"), "config.json");
  EXPECT_TRUE(qwen2.qkv_bias);
  EXPECT_FALSE(qwen2.o_bias);
  EXPECT_FALSE(qwen2.qk_norm);
  EXPECT_EQ(qwen2.head_dim, 8);
}

TEST(ModelConfig, ReadsLegacyAndNewRopeScaling) {
  json legacy = tiny_config("LlamaForCausalLM");
  legacy["rope_theta"] = 500000.0;
  legacy["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  ModelConfig a = config_from_json(legacy, "config.json");
  EXPECT_EQ(a.rope.scaling, RopeScaling::llama3);
  EXPECT_DOUBLE_EQ(a.rope.theta, 500000.0);
  EXPECT_EQ(a.rope.original_max_position, 8192);

  json modern = tiny_config("LlamaForCausalLM");
  modern["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 10000.0}};
  ModelConfig b = config_from_json(modern, "config.json");
  EXPECT_EQ(b.rope.scaling, RopeScaling::linear);
  EXPECT_DOUBLE_EQ(b.rope.factor, 2.0);
}

// Issue 20: a 0 head count reached an integer % and killed the process with SIGFPE; a huge size
// asked for an absurd allocation. Each size is now an error naming its key.
TEST(ModelConfig, ZeroNegativeOrHugeSizesAreErrorsNamingTheKey) {
  for (const char* key : {"num_attention_heads", "num_key_value_heads", "hidden_size", "intermediate_size",
                          "num_hidden_layers", "vocab_size", "head_dim", "max_position_embeddings"}) {
    for (int64_t value : {int64_t{0}, int64_t{-4}, int64_t{1} << 40}) {
      if (std::string(key) == "head_dim" && value == 0) continue;  // 0 = hidden_size / heads, as transformers
      json raw = tiny_config("Qwen3ForCausalLM");
      raw[key] = value;
      const std::string message = error_of([&] { config_from_json(raw, "hostile/config.json"); });
      EXPECT_NE(message.find(std::string("\"") + key + "\" must be between 1 and 2^31"), std::string::npos)
          << key << " = " << value << ": " << message;
      EXPECT_NE(message.find("hostile/config.json"), std::string::npos) << message;
    }
  }
}

TEST(ModelConfig, UnsupportedThingsAreClearErrors) {
  json gpt2 = tiny_config("GPT2LMHeadModel");
  std::string message = error_of([&] { config_from_json(gpt2, "x/config.json"); });
  EXPECT_NE(message.find("GPT2LMHeadModel"), std::string::npos) << message;
  EXPECT_NE(message.find("x/config.json"), std::string::npos) << message;

  json yarn = tiny_config("Qwen3ForCausalLM");
  yarn["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  message = error_of([&] { config_from_json(yarn, "config.json"); });
  EXPECT_NE(message.find("yarn"), std::string::npos) << message;

  json gelu = tiny_config("LlamaForCausalLM");
  gelu["hidden_act"] = "gelu";
  EXPECT_NE(error_of([&] { config_from_json(gelu, "config.json"); }).find("hidden_act"), std::string::npos);

  json missing = tiny_config("LlamaForCausalLM");
  missing.erase("hidden_size");
  EXPECT_NE(error_of([&] { config_from_json(missing, "config.json"); }).find("\"hidden_size\" is missing"),
            std::string::npos);

  json wrong_type = tiny_config("LlamaForCausalLM");
  wrong_type["num_hidden_layers"] = "two";
  EXPECT_NE(error_of([&] { config_from_json(wrong_type, "config.json"); }).find("num_hidden_layers"), std::string::npos);

  EXPECT_NE(error_of([] { load_config("/nonexistent/model"); }).find("/nonexistent/model/config.json"), std::string::npos);
}

TEST(Pretrained, MissingAndUnexpectedWeightsAreListed) {
  fs::path dir = temp_dir("missing");
  json raw = tiny_config("LlamaForCausalLM");
  raw["torch_dtype"] = "float32";
  std::ofstream(dir / "config.json") << raw.dump();
  Transformer model(config_from_json(raw, "config.json"), at::kFloat);
  model->init_random(0);
  auto tensors = state_dict_for_save(*model);
  tensors.erase(std::remove_if(tensors.begin(), tensors.end(),
                               [](const auto& named) { return named.first == "model.layers.1.mlp.up_proj.weight"; }),
                tensors.end());
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.extra", torch::ones({2})});
  write_checkpoint_tensors(dir, tensors, 1ull << 30);
  std::string message = error_of([&] { load_pretrained(dir); });
  EXPECT_NE(message.find("missing weights: model.layers.1.mlp.up_proj.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("unexpected weights: model.layers.0.self_attn.rotary_emb.extra (in model.safetensors)"),
            std::string::npos)
      << message;
}

TEST(Pretrained, ShapeMismatchNamesTensorAndFile) {
  fs::path dir = temp_dir("shape");
  json raw = tiny_config("LlamaForCausalLM");
  std::ofstream(dir / "config.json") << raw.dump();
  Transformer model(config_from_json(raw, "config.json"), at::kFloat);
  model->init_random(0);
  auto tensors = state_dict_for_save(*model);
  for (auto& named : tensors) {
    if (named.first == "model.norm.weight") named.second = torch::ones({31});
  }
  write_checkpoint_tensors(dir, tensors, 1ull << 30);
  std::string message = error_of([&] { load_pretrained(dir); });
  EXPECT_NE(message.find("'model.norm.weight'"), std::string::npos) << message;
  EXPECT_NE(message.find("model.safetensors"), std::string::npos) << message;
}

// precept saves (fp32, forced into several shards) -> transformers loads -> logits equal.
TEST(Pretrained, SavedCheckpointLoadsInTransformersWithEqualLogits) {
  for (const std::string name : {"qwen3_head_dim", "llama3_rope", "qwen2_bias_tied"}) {
    torch::NoGradGuard no_grad;
    Transformer model = load_pretrained(fixture(name));
    fs::path out = temp_dir("roundtrip_" + name);
    SaveOptions options;
    options.max_shard_bytes = 64 * 1024;
    options.source_dir = fixture(name);
    save_pretrained(*model, out, options);
    EXPECT_TRUE(fs::exists(out / "model.safetensors.index.json")) << name;

    at::Tensor ids = at::randint(3, 300, {2, 11}, at::kLong);
    write_safetensors(out / "ids.safetensors", {{"input_ids", ids}});
    const std::string command = std::string(PRECEPT_PYTHON) + " " + PRECEPT_SOURCE_DIR +
                                "/tests/fixtures/hf_logits.py --model " + out.string() + " --ids " +
                                (out / "ids.safetensors").string() + " --out " + (out / "hf.safetensors").string() +
                                " > " + (out / "log.txt").string() + " 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << "transformers could not load " << out << "; see log.txt there";
    at::Tensor theirs = SafetensorsFile(out / "hf.safetensors").tensor("logits").clone();
    at::Tensor ours = model->logits(model->forward(ids, positions_like(ids)));
    const double diff = (ours - theirs).abs().max().item<double>();
    std::cout << "[roundtrip] " << name << " precept-saved, transformers-loaded: max |diff| = " << diff << "\n";
    EXPECT_LT(diff, 1e-4) << name;

    // And precept reads its own output back exactly.
    Transformer again = load_pretrained(out);
    EXPECT_TRUE(torch::equal(again->logits(again->forward(ids, positions_like(ids))), ours)) << name;
  }
}
