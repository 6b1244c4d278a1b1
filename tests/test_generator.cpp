// The KV-cache generator against its references: transformers' generate(do_sample=False) on
// left-padded batches of the tiny fixtures (token for token, whatever the slot count or prompt
// order), llama2.c's greedy stories260K output, teacher-forced log-probs from a full forward
// (1e-4 in fp32), and the sampler's distributions (top-p, top-k, min-p) checked statistically.
#include "lm/llama2c.h"
#include "lm/pretrained.h"
#include "lm/safetensors.h"
#include "text/tokenizer.h"
#include "rollout/generator.h"
#include "rollout/sampler.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <fstream>
#include <regex>
#include <numeric>

namespace fs = std::filesystem;
using namespace precept;

namespace {

const std::vector<std::string> kCases = {"llama",          "llama3_rope",     "llama_linear_bias", "mistral_window",
                                         "qwen2_bias_tied", "qwen3_head_dim", "qwen3_sharded"};

struct GreedyFixture {
  std::vector<std::vector<int64_t>> prompts;   // without padding
  std::vector<std::vector<int64_t>> expected;  // transformers' greedy continuation
};

GreedyFixture load_greedy_fixture(const std::string& name) {
  lm::SafetensorsFile file(fs::path(PRECEPT_FIXTURE_DIR) / (name + ".reference.safetensors"));
  at::Tensor ids = file.tensor("generation_prompts"), mask = file.tensor("generation_mask");
  at::Tensor greedy = file.tensor("generation_greedy");
  GreedyFixture fixture;
  for (int64_t row = 0; row < ids.size(0); ++row) {
    std::vector<int64_t> prompt;
    for (int64_t t = 0; t < ids.size(1); ++t) {
      if (mask[row][t].item<int64_t>()) prompt.push_back(ids[row][t].item<int64_t>());
    }
    fixture.prompts.push_back(prompt);
    at::Tensor out = greedy[row].contiguous();
    fixture.expected.emplace_back(out.data_ptr<int64_t>(), out.data_ptr<int64_t>() + out.numel());
  }
  return fixture;
}

rollout::SamplingParams greedy_params(int64_t new_tokens) {
  rollout::SamplingParams params;
  params.sampler.temperature = 0.0;
  params.max_new_tokens = new_tokens;
  return params;
}

std::vector<rollout::GenerationRequest> requests_of(const std::vector<std::vector<int64_t>>& prompts, int64_t n = 1) {
  std::vector<rollout::GenerationRequest> requests;
  for (const auto& prompt : prompts) requests.push_back({prompt, n, std::nullopt});
  return requests;
}

class GreedyParity : public ::testing::TestWithParam<std::string> {};

}  // namespace

// Every slot count (1: one at a time; 2 and 3: slots refilled mid-batch; 8: all at once) and a
// reversed prompt order give exactly transformers' tokens.
TEST_P(GreedyParity, MatchesTransformersGenerateForEverySlotLayout) {
  GreedyFixture fixture = load_greedy_fixture(GetParam());
  lm::Transformer model = lm::load_pretrained(fs::path(PRECEPT_FIXTURE_DIR) / GetParam());
  const int64_t new_tokens = static_cast<int64_t>(fixture.expected.front().size());
  for (int64_t slots : {1, 2, 3, 8}) {
    rollout::GeneratorConfig config;
    config.max_slots = slots;
    config.max_length = 64;
    config.max_prefill_tokens = slots == 3 ? 12 : 4096;  // 12: a prompt per prefill call at most
    rollout::Generator generator(*model, config);
    auto completions = generator.generate(requests_of(fixture.prompts), greedy_params(new_tokens));
    ASSERT_EQ(completions.size(), fixture.prompts.size());
    for (size_t i = 0; i < completions.size(); ++i) {
      EXPECT_EQ(completions[i].request, int64_t(i));
      EXPECT_EQ(completions[i].tokens, fixture.expected[i]) << GetParam() << ": prompt " << i << " with " << slots << " slots";
      EXPECT_EQ(completions[i].finish, rollout::FinishReason::length);
    }
  }
  rollout::GeneratorConfig config;
  config.max_slots = 2;
  config.max_length = 64;
  rollout::Generator generator(*model, config);
  std::vector<std::vector<int64_t>> reversed(fixture.prompts.rbegin(), fixture.prompts.rend());
  auto completions = generator.generate(requests_of(reversed), greedy_params(new_tokens));
  for (size_t i = 0; i < completions.size(); ++i) {
    EXPECT_EQ(completions[i].tokens, fixture.expected[fixture.expected.size() - 1 - i]) << GetParam() << " reversed";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GreedyParity, ::testing::ValuesIn(kCases));

namespace {

// log softmax(logits / T) of each generated token from one full forward over prompt + tokens.
std::vector<double> teacher_forced_logprobs(lm::TransformerImpl& model, const std::vector<int64_t>& prompt,
                                            const std::vector<int64_t>& generated, double temperature) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> all = prompt;
  all.insert(all.end(), generated.begin(), generated.end());
  at::Tensor tokens = at::tensor(all, at::kLong).unsqueeze(0);
  at::Tensor positions = at::arange(tokens.size(1), at::kLong).unsqueeze(0);
  at::Tensor logits = model.logits(model.forward(tokens, positions)).squeeze(0).to(at::kFloat);  // [T, V]
  if (temperature > 0) logits = logits / temperature;
  at::Tensor logprobs = at::log_softmax(logits, -1);
  std::vector<double> out;
  for (size_t i = 0; i < generated.size(); ++i) out.push_back(logprobs[prompt.size() - 1 + i][generated[i]].item<double>());
  return out;
}

}  // namespace

TEST(GeneratorLogprobs, EqualTeacherForcedFullForwardInFp32) {
  GreedyFixture fixture = load_greedy_fixture("qwen3_head_dim");
  lm::Transformer model = lm::load_pretrained(fs::path(PRECEPT_FIXTURE_DIR) / "qwen3_head_dim");
  rollout::GeneratorConfig config;
  config.max_slots = 4;
  config.max_length = 64;
  rollout::Generator generator(*model, config);
  double worst = 0.0;
  for (double temperature : {0.0, 0.7, 1.0}) {
    rollout::SamplingParams params = greedy_params(20);
    params.sampler.temperature = temperature;
    params.sampler.top_p = temperature > 0 ? 0.9 : 1.0;
    params.seed = 5;
    auto completions = generator.generate(requests_of(fixture.prompts, /*n=*/3), params);
    ASSERT_EQ(completions.size(), fixture.prompts.size() * 3);
    for (const auto& completion : completions) {
      auto expected = teacher_forced_logprobs(*model, fixture.prompts[completion.request], completion.tokens, temperature);
      ASSERT_EQ(expected.size(), completion.logprobs.size());
      for (size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::abs(expected[i] - completion.logprobs[i]));
    }
  }
  std::cout << "[generator] max |logprob - teacher-forced| = " << worst << " (bound 1e-4)\n";
  EXPECT_LT(worst, 1e-4);
}

// A sequence's samples depend on its seed only: the same request alone, in a crowd, or with a
// different slot count gives the same tokens; n samples of one prompt differ from each other.
TEST(GeneratorSampling, ReproducibleWhateverTheBatch) {
  GreedyFixture fixture = load_greedy_fixture("llama");
  lm::Transformer model = lm::load_pretrained(fs::path(PRECEPT_FIXTURE_DIR) / "llama");
  rollout::SamplingParams params = greedy_params(16);
  params.sampler.temperature = 1.0;
  params.sampler.top_k = 50;
  std::vector<rollout::GenerationRequest> crowd;
  for (size_t i = 0; i < fixture.prompts.size(); ++i) crowd.push_back({fixture.prompts[i], 3, 1000 + i});
  rollout::GeneratorConfig wide;
  wide.max_slots = 8;
  wide.max_length = 64;
  auto together = rollout::Generator(*model, wide).generate(crowd, params);
  rollout::GeneratorConfig narrow = wide;
  narrow.max_slots = 1;
  rollout::Generator single(*model, narrow);
  for (size_t i = 0; i < crowd.size(); ++i) {
    auto alone = single.generate({crowd[i]}, params);
    for (int64_t j = 0; j < 3; ++j) EXPECT_EQ(alone[j].tokens, together[i * 3 + j].tokens) << "request " << i << " sample " << j;
  }
  EXPECT_NE(together[0].tokens, together[1].tokens);
  EXPECT_NE(together[1].tokens, together[2].tokens);
  params.seed = 99;  // request seeds win over the global seed
  auto again = rollout::Generator(*model, wide).generate(crowd, params);
  for (size_t i = 0; i < again.size(); ++i) EXPECT_EQ(again[i].tokens, together[i].tokens);
}

TEST(GeneratorStops, StopTokenAndStopStringAndLength) {
  const fs::path assets = fs::path(PRECEPT_SHARED_DIR) / "assets" / "stories260K";
  const fs::path dir = precept::testing::temp_dir("generator_stops");
  lm::convert_llama2c(assets / "stories260K.bin", assets / "tok512.bin", dir);
  lm::Transformer model = lm::load_pretrained(dir);
  auto tokenizer = text::load_tokenizer(dir);
  rollout::GeneratorConfig config;
  config.max_slots = 2;
  config.max_length = 512;
  rollout::Generator generator(*model, config, tokenizer.get());
  const std::vector<int64_t> bos = {1};
  auto plain = generator.generate({{bos, 1, std::nullopt}}, greedy_params(60));
  ASSERT_EQ(plain[0].tokens.size(), 60u);
  const std::string text = rollout::completion_text(*tokenizer, plain[0]);
  ASSERT_NE(text.find("Lily"), std::string::npos) << text;

  rollout::SamplingParams by_token = greedy_params(60);
  by_token.stop_token_ids = {plain[0].tokens[9]};
  auto stopped = generator.generate({{bos, 1, std::nullopt}}, by_token);
  const auto first = std::find(plain[0].tokens.begin(), plain[0].tokens.end(), plain[0].tokens[9]) - plain[0].tokens.begin();
  EXPECT_EQ(stopped[0].finish, rollout::FinishReason::stop_token);
  EXPECT_EQ(int64_t(stopped[0].tokens.size()), first + 1);

  rollout::SamplingParams by_string = greedy_params(60);
  by_string.stop_strings = {"Lily"};
  auto cut = generator.generate({{bos, 1, std::nullopt}}, by_string);
  EXPECT_EQ(cut[0].finish, rollout::FinishReason::stop_string);
  EXPECT_EQ(cut[0].stop_string, "Lily");
  EXPECT_EQ(rollout::completion_text(*tokenizer, cut[0]), text.substr(0, text.find("Lily")));
  EXPECT_LT(cut[0].tokens.size(), 60u);
}

TEST(GeneratorStories260K, GreedyFromBosEqualsLlama2c) {
  const fs::path assets = fs::path(PRECEPT_SHARED_DIR) / "assets" / "stories260K";
  const fs::path dir = precept::testing::temp_dir("generator_stories");
  lm::convert_llama2c(assets / "stories260K.bin", assets / "tok512.bin", dir);
  lm::Transformer model = lm::load_pretrained(dir);
  auto expected_json = nlohmann::json::parse(precept::testing::read_all(assets / "expected_greedy_ids_and_first_logits.json"));
  const auto expected = expected_json["ids"].get<std::vector<int64_t>>();  // BOS + 256 greedy ids
  ASSERT_EQ(expected.size(), 257u);
  rollout::GeneratorConfig config;
  config.max_length = 512;
  rollout::Generator generator(*model, config);
  auto out = generator.generate({{{1}, 1, std::nullopt}}, greedy_params(256));
  EXPECT_EQ(out[0].tokens, std::vector<int64_t>(expected.begin() + 1, expected.end()));
}

// `precept generate --prompt TEXT` prints what llama2.c's `run -t 0 -n STEPS -i TEXT` prints
// (tests/fixtures/llama2c/README.md says how the fixture was made).
TEST(GeneratorStories260K, PromptContinuationsEqualLlama2c) {
  const fs::path assets = fs::path(PRECEPT_SHARED_DIR) / "assets" / "stories260K";
  const fs::path dir = precept::testing::temp_dir("generator_prompts");
  lm::convert_llama2c(assets / "stories260K.bin", assets / "tok512.bin", dir / "model");
  auto tokenizer = text::load_tokenizer(dir / "model");
  auto cases = nlohmann::json::parse(
      precept::testing::read_all(fs::path(PRECEPT_SOURCE_DIR) / "tests/fixtures/llama2c/greedy_prompt_continuations.json"));
  ASSERT_GE(cases.size(), 5u);
  for (const auto& item : cases) {
    const std::string prompt = item["prompt"];
    // run.c's `-n` counts every position, prompt (with BOS) included.
    const int64_t new_tokens = item["steps"].get<int64_t>() - static_cast<int64_t>(tokenizer->encode(prompt, true).size()) + 1;
    const fs::path out = dir / "out.txt";
    const std::string command = std::string(PRECEPT_BINARY) + " generate --model " + (dir / "model").string() +
                                " --ignore-eos -n " + std::to_string(new_tokens) + " --prompt '" +
                                std::regex_replace(prompt, std::regex("'"), "'\\''") + "' > " + out.string() + " 2>/dev/null";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    EXPECT_EQ(precept::testing::read_all(out), item["stdout"].get<std::string>()) << prompt;
  }
}

TEST(GeneratorLimits, RefusesWhatDoesNotFitBeforeAnyWork) {
  lm::Transformer model = lm::load_pretrained(fs::path(PRECEPT_FIXTURE_DIR) / "llama");
  rollout::GeneratorConfig config;
  config.max_slots = 64;
  config.max_length = 256;
  config.memory_budget_bytes = 1 << 20;
  const std::string error = precept::testing::error_of([&] { rollout::Generator generator(*model, config); });
  EXPECT_NE(error.find("do not fit"), std::string::npos) << error;
  EXPECT_NE(error.find("per slot"), std::string::npos) << error;

  config.memory_budget_bytes = 0;
  config.max_slots = 2;
  config.max_length = 32;
  rollout::Generator generator(*model, config);
  // Slot memory: 2 layers x (k, v) x 2 KV heads x 32 positions x head_dim 16 x 4 bytes.
  EXPECT_EQ(generator.memory().cache_bytes_per_slot, 2 * 2 * 2 * 32 * 16 * 4);
  const std::string too_long = precept::testing::error_of(
      [&] { generator.generate({{{5, 6, 7}, 1, std::nullopt}, {std::vector<int64_t>(20, 9), 1, std::nullopt}}, greedy_params(20)); });
  EXPECT_NE(too_long.find("request 1"), std::string::npos) << too_long;
  EXPECT_NE(too_long.find("max_length 32"), std::string::npos) << too_long;
  const std::string bad_id =
      precept::testing::error_of([&] { generator.generate({{{5, 100000}, 1, std::nullopt}}, greedy_params(4)); });
  EXPECT_NE(bad_id.find("outside the vocabulary"), std::string::npos) << bad_id;
  EXPECT_NE(precept::testing::error_of([&] { generator.generate({{{}, 1, std::nullopt}}, greedy_params(4)); }), "");
  config.max_length = 100000;
  EXPECT_NE(precept::testing::error_of([&] { rollout::Generator too_big(*model, config); }).find("max_position_embeddings"),
            std::string::npos);
}

// The KV cache holds what the calls need (longest prompt + max_new_tokens, in steps of 512), not
// max_length; it grows for a longer call and keeps its size for a shorter one. Greedy output does
// not depend on its size.
TEST(GeneratorLimits, TheCacheHoldsWhatTheCallsNeedNotMaxLength) {
  const nlohmann::json raw = {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 64}, {"hidden_size", 32},
                              {"intermediate_size", 48}, {"num_hidden_layers", 2}, {"num_attention_heads", 4},
                              {"num_key_value_heads", 2}, {"rms_norm_eps", 1e-5}, {"max_position_embeddings", 4096},
                              {"torch_dtype", "float32"}};
  lm::Transformer model(lm::config_from_json(raw, "config.json"), at::kFloat);
  model->init_random(7, 0.5);
  rollout::GeneratorConfig config;
  config.max_slots = 2;
  rollout::Generator generator(*model, config);
  EXPECT_EQ(generator.memory().max_length, 4096);
  EXPECT_EQ(generator.cache_length(), 0);
  const std::vector<rollout::GenerationRequest> short_call = {{{5, 6, 7}, 2, std::nullopt}};
  const auto first = generator.generate(short_call, greedy_params(12));
  EXPECT_EQ(generator.cache_length(), 512);
  generator.generate({{std::vector<int64_t>(600, 9), 1, std::nullopt}}, greedy_params(8));
  EXPECT_EQ(generator.cache_length(), 1024);
  const auto again = generator.generate(short_call, greedy_params(12));
  EXPECT_EQ(generator.cache_length(), 1024);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(again.size(), 2u);
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(first[i].tokens.size(), 12u);
    EXPECT_EQ(first[i].tokens, again[i].tokens) << "output depends on the cache's size";
  }
  generator.release_cache();
  EXPECT_EQ(generator.cache_length(), 0);
}

// ---------------------------------------------------------------------------------------------
// The sampler's draws follow the distribution it claims, checked by a chi-square statistic over
// 40,000 independent streams (fixed seeds: the outcome is deterministic, the bound generous).

namespace {

// [count, 2] stream keys of samples 0, 1, ... of a request seeded with `seed`, cycling through
// `samples` distinct streams (count when 0).
at::Tensor stream_keys(uint64_t seed, int64_t count, int64_t samples = 0) {
  std::vector<int64_t> key_data;
  for (int64_t i = 0; i < count; ++i) {
    auto keys = rollout::stream_keys_for(seed, samples > 0 ? i % samples : i);
    key_data.push_back(keys.first);
    key_data.push_back(keys.second);
  }
  return at::tensor(key_data, at::kLong).view({count, 2});
}

// Expected probabilities after temperature, top-k, top-p and min-p, by the textbook definition.
std::vector<double> truncated_distribution(const std::vector<double>& logits, const rollout::SamplerSettings& s) {
  const size_t V = logits.size();
  std::vector<size_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return logits[a] > logits[b]; });
  const size_t k = s.top_k > 0 ? std::min<size_t>(s.top_k, V) : V;
  std::vector<double> p(V, 0.0);
  double total = 0.0;
  for (size_t i = 0; i < k; ++i) total += std::exp(logits[order[i]] / s.temperature);
  double before = 0.0;
  const double p_max = std::exp(logits[order[0]] / s.temperature) / total;
  for (size_t i = 0; i < k; ++i) {
    const double q = std::exp(logits[order[i]] / s.temperature) / total;
    if (before < s.top_p && q >= s.min_p * p_max) p[order[i]] = q;
    before += q;
  }
  const double kept = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& q : p) q /= kept;
  return p;
}

}  // namespace

TEST(Sampler, DrawsMatchTheTruncatedDistribution) {
  const std::vector<double> logits = {2.0, 1.5, 1.2, 0.3, 0.0, -0.5, -1.0, -3.0};
  const int64_t draws = 40000, V = static_cast<int64_t>(logits.size());
  at::Tensor batch = at::tensor(logits, at::kDouble).to(at::kFloat).unsqueeze(0).expand({draws, V}).contiguous();
  at::Tensor keys = stream_keys(12345, draws);
  std::vector<rollout::SamplerSettings> settings = {
      {1.0, 0, 1.0, 0.0}, {0.7, 0, 0.8, 0.0}, {1.3, 0, 0.6, 0.0}, {1.0, 3, 1.0, 0.0}, {1.0, 5, 0.9, 0.0}, {1.0, 0, 1.0, 0.2}};
  for (const auto& setting : settings) {
    for (int64_t counter : {0, 17}) {
      auto sampled = rollout::sample_tokens(batch, setting, keys, at::full({draws}, counter, at::kLong));
      std::vector<double> expected = truncated_distribution(logits, setting);
      std::vector<int64_t> counts(V, 0);
      at::Tensor tokens = sampled.tokens.contiguous();
      for (int64_t i = 0; i < draws; ++i) ++counts[tokens[i].item<int64_t>()];
      double chi2 = 0.0;
      int64_t dof = -1;
      for (int64_t v = 0; v < V; ++v) {
        if (expected[v] == 0.0) {
          EXPECT_EQ(counts[v], 0) << "token " << v << " is outside the kept set";
          continue;
        }
        const double e = expected[v] * draws;
        chi2 += (counts[v] - e) * (counts[v] - e) / e;
        ++dof;
      }
      // The 99.9% quantile of chi-square with <= 7 degrees of freedom is 24.3.
      EXPECT_LT(chi2, 24.3) << "T=" << setting.temperature << " top_k=" << setting.top_k << " top_p=" << setting.top_p
                            << " min_p=" << setting.min_p << " dof=" << dof;
      // The reported log-probs are log softmax(logits / T) of the chosen token.
      for (int64_t i = 0; i < 5; ++i) {
        const int64_t token = tokens[i].item<int64_t>();
        double z = 0.0;
        for (double l : logits) z += std::exp(l / setting.temperature);
        EXPECT_NEAR(sampled.logprobs[i].item<double>(), logits[token] / setting.temperature - std::log(z), 1e-5);
      }
    }
  }
}

// A large vocabulary takes the partial top-p path (the 1024 most likely tokens hold the mass)
// or falls back to the full sort (they do not); both must keep exactly the truncated set.
TEST(Sampler, LargeVocabularyTopPKeepsExactlyTheNucleus) {
  const int64_t V = 4096, draws = 8000;
  at::Tensor keys = stream_keys(77, draws);
  at::Tensor counters = at::zeros({draws}, at::kLong);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
  for (bool peaked : {true, false}) {
    at::Tensor row = at::randn({V}, generator, at::kDouble) * (peaked ? 0.1 : 0.5);
    if (peaked) row.narrow(0, 100, 6).add_(at::tensor({12.0, 11.6, 11.3, 11.0, 10.1, 9.0}, at::kDouble));
    std::vector<double> logits(row.data_ptr<double>(), row.data_ptr<double>() + V);
    const rollout::SamplerSettings setting{1.0, 0, 0.9, 0.0};
    std::vector<double> expected = truncated_distribution(logits, setting);
    at::Tensor batch = row.to(at::kFloat).unsqueeze(0).expand({draws, V}).contiguous();
    at::Tensor tokens = rollout::sample_tokens(batch, setting, keys, counters).tokens.contiguous();
    std::vector<int64_t> counts(V, 0);
    for (int64_t i = 0; i < draws; ++i) ++counts[tokens[i].item<int64_t>()];
    int64_t outside = 0, kept = 0;
    double chi2 = 0.0;
    for (int64_t v = 0; v < V; ++v) {
      if (expected[v] == 0.0) {
        outside += counts[v];
        continue;
      }
      ++kept;
      const double e = expected[v] * draws;
      chi2 += (counts[v] - e) * (counts[v] - e) / e;
    }
    EXPECT_EQ(outside, 0) << (peaked ? "peaked" : "flat") << ": draws outside the nucleus";
    if (peaked) {
      ASSERT_LE(kept, 6);
      EXPECT_LT(chi2, 20.5);  // 99.9% quantile, <= 5 degrees of freedom
    } else {
      EXPECT_GT(kept, 1024);  // the full-sort path was needed
    }
  }
}

TEST(Sampler, UniformStreamsAreUniformAndDistinct) {
  const int64_t n = 100000;
  at::Tensor counters = at::arange(n, at::kLong).floor_divide(100);
  at::Tensor u = rollout::stream_uniform(stream_keys(7, n, 100), counters);
  EXPECT_GT(u.min().item<double>(), 0.0);
  EXPECT_LT(u.max().item<double>(), 1.0);
  EXPECT_NEAR(u.mean().item<double>(), 0.5, 0.005);
  EXPECT_NEAR(u.var().item<double>(), 1.0 / 12, 0.002);
  at::Tensor histogram = at::histc(u.to(at::kFloat), 20, 0, 1);
  const double e = n / 20.0;
  const double chi2 = ((histogram - e).pow(2) / e).sum().item<double>();
  EXPECT_LT(chi2, 43.8);  // 99.9% quantile, 19 degrees of freedom
  EXPECT_EQ(std::get<0>(at::_unique(u)).numel(), n);
  EXPECT_THROW(rollout::validate({-1.0, 0, 1.0, 0.0}), std::invalid_argument);
  EXPECT_THROW(rollout::validate({1.0, 0, 0.0, 0.0}), std::invalid_argument);
  EXPECT_THROW(rollout::validate({1.0, -2, 1.0, 0.0}), std::invalid_argument);
}
