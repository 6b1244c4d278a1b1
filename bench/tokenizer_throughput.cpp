// Encode throughput of precept's tokenizer on a corpus, single-threaded: the C++ half of
// bench/tokenizer_bench.py, which runs Hugging Face `tokenizers` on the same text and
// prints the ratio. Usage: bench_tokenizer MODEL_DIR CORPUS.jsonl [repeats]
// The corpus holds one JSON string per line. Prints one JSON object with the figures.
#include "text/tokenizer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: bench_tokenizer MODEL_DIR CORPUS.jsonl [repeats]\n";
    return 2;
  }
  try {
    auto tokenizer = precept::text::load_tokenizer(argv[1]);
    const int repeats = argc > 3 ? std::stoi(argv[3]) : 3;
    std::vector<std::string> documents;
    std::ifstream in(argv[2]);
    if (!in) throw std::runtime_error(std::string(argv[2]) + ": cannot open");
    std::string line;
    size_t bytes = 0;
    while (std::getline(in, line)) {
      documents.push_back(nlohmann::json::parse(line).get<std::string>());
      bytes += documents.back().size();
    }
    size_t tokens = 0;
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {  // the first pass also warms the word cache, as HF's does
      tokens = 0;
      auto start = std::chrono::steady_clock::now();
      for (const auto& document : documents) tokens += tokenizer->encode(document, false).size();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    std::cout << nlohmann::json{{"documents", documents.size()}, {"bytes", bytes}, {"tokens", tokens},
                                {"seconds", best}, {"mb_per_s", bytes / best / 1e6}}
                     .dump()
              << "\n";
  } catch (const std::exception& error) {
    std::cerr << "bench_tokenizer: " << error.what() << "\n";
    return 1;
  }
  return 0;
}
