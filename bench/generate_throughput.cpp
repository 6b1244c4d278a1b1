// Decode throughput of precept's KV-cache generator: the C++ half of bench/generate_bench.py,
// which times transformers' generate on the same model and prompts in the same run.
// Usage: bench_generate MODEL_DIR PROMPTS.json NEW_TOKENS THREADS [repeats]
// PROMPTS.json is a list of token-id lists (one per sequence, all generated at once). EOS is
// disabled so every sequence runs NEW_TOKENS steps. Prints one JSON object with the best time,
// the minor page faults per decode step over the timed runs (getrusage) and the peak RSS (VmHWM:
// getrusage's ru_maxrss would carry the launching process's peak across exec).
#include "core/malloc_tuning.h"
#include "lm/pretrained.h"
#include "rollout/generator.h"
#include "trainer/step_metrics.h"

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <sys/resource.h>

#include <chrono>
#include <fstream>
#include <iostream>

namespace {

rusage usage_now() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace precept;
  if (argc < 5) {
    std::cerr << "usage: bench_generate MODEL_DIR PROMPTS.json NEW_TOKENS THREADS [repeats]\n";
    return 2;
  }
  core::retain_freed_memory();  // as the precept CLI does
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
    const rusage before = usage_now();
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      auto out = generator.generate(requests, params);
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      tokens = 0;
      for (const auto& completion : out) tokens += static_cast<int64_t>(completion.tokens.size());
    }
    const rusage after = usage_now();
    const double faults_per_step = double(after.ru_minflt - before.ru_minflt) / double(repeats * new_tokens);
    std::cout << nlohmann::json{{"sequences", requests.size()}, {"tokens", tokens}, {"seconds", best},
                                {"minor_faults_per_step", faults_per_step},
                                {"peak_rss_bytes", int64_t(trainer::peak_rss_gib() * double(1 << 30))},
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
