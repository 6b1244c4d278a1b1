// Decode throughput of precept's KV-cache generator: the C++ half of bench/generate_bench.py,
// which times transformers' generate on the same model and prompts in the same run.
// Usage: bench_generate MODEL_DIR PROMPTS.json NEW_TOKENS THREADS [repeats]
// PROMPTS.json is a list of token-id lists (one per sequence, all generated at once). EOS is
// disabled so every sequence runs NEW_TOKENS steps. Prints one JSON object with the best time.
#include "lm/pretrained.h"
#include "rollout/generator.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  using namespace precept;
  if (argc < 5) {
    std::cerr << "usage: bench_generate MODEL_DIR PROMPTS.json NEW_TOKENS THREADS [repeats]\n";
    return 2;
  }
  try {
    at::set_num_threads(std::stoi(argv[4]));
    const int64_t new_tokens = std::stoll(argv[3]);
    const int repeats = argc > 5 ? std::stoi(argv[5]) : 3;
    lm::Transformer model = lm::load_pretrained(argv[1]);
    model->eval();
    std::ifstream in(argv[2]);
    if (!in) throw std::runtime_error(std::string(argv[2]) + ": cannot open");
    auto prompts = nlohmann::json::parse(in).get<std::vector<std::vector<int64_t>>>();
    std::vector<rollout::GenerationRequest> requests;
    int64_t longest = 0;
    for (auto& prompt : prompts) {
      longest = std::max<int64_t>(longest, prompt.size());
      requests.push_back({prompt, 1, std::nullopt});
    }
    rollout::GeneratorConfig config;
    config.max_slots = static_cast<int64_t>(requests.size());
    config.max_length = longest + new_tokens;
    rollout::Generator generator(*model, config);
    rollout::SamplingParams params;
    params.sampler.temperature = 0.0;
    params.max_new_tokens = new_tokens;
    double best = 1e30;
    int64_t tokens = 0;
    generator.generate(requests, params);  // warm-up: allocates the cache, first-touch pages
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      auto out = generator.generate(requests, params);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      tokens = 0;
      for (const auto& completion : out) tokens += static_cast<int64_t>(completion.tokens.size());
    }
    std::cout << nlohmann::json{{"sequences", requests.size()}, {"tokens", tokens}, {"seconds", best},
                                {"tokens_per_s", tokens / best},
                                {"cache_bytes_per_slot", generator.memory().cache_bytes_per_slot}}
                     .dump()
              << "\n";
  } catch (const std::exception& error) {
    std::cerr << "bench_generate: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
