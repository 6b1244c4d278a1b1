// Tokenizer conformance with published vectors, through load_tokenizer as a user would call it:
// llama.cpp's ggml-vocab-*.gguf.inp/.out (made by llama.cpp from Hugging Face's tokenizers) for
// qwen2 (Qwen's vocab.json + merges.txt + tokenizer_config.json), llama-bpe (Meta's Llama 3
// tiktoken tokenizer.model), llama-spm (Llama 2's SentencePiece tokenizer.model) and gpt-2 (the
// vocabulary tests/check_bpe_vs_hf.py takes out of ggml-vocab-gpt-2.gguf; skipped without it);
// and the encode vectors of Meta's Llama 3 tests and llama2.c's Llama 2 tests.
#include "text/tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <unistd.h>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace precept::text;
using Ids = std::vector<int64_t>;

namespace {
const fs::path kAssets = fs::path(PRECEPT_SHARED_DIR) / "assets";
const fs::path kVectors = kAssets / "llamacpp-vocab-tests";

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// .inp: cases separated by "\n__ggml_vocab_test__\n" (the file ends with one); .out: one line of
// space-separated ids per case, no BOS.
std::vector<std::pair<std::string, Ids>> llamacpp_cases(const std::string& vocabulary) {
  const std::string separator = "\n__ggml_vocab_test__\n";
  const std::string inputs = read_all(kVectors / ("ggml-vocab-" + vocabulary + ".gguf.inp"));
  std::vector<std::string> texts;
  for (size_t start = 0, end = 0; (end = inputs.find(separator, start)) != std::string::npos;
       start = end + separator.size()) {
    texts.push_back(inputs.substr(start, end - start));
  }
  std::istringstream outputs(read_all(kVectors / ("ggml-vocab-" + vocabulary + ".gguf.out")));
  std::vector<std::pair<std::string, Ids>> cases;
  std::string line;
  for (const std::string& text : texts) {
    if (!std::getline(outputs, line)) throw std::runtime_error("fewer .out lines than .inp cases for " + vocabulary);
    std::istringstream numbers(line);
    Ids ids;
    for (int64_t id; numbers >> id;) ids.push_back(id);
    cases.emplace_back(text, ids);
  }
  return cases;
}

// Every case must match; prints "<vocabulary> passed/total".
void expect_conformance(const Tokenizer& tokenizer, const std::string& vocabulary) {
  const auto cases = llamacpp_cases(vocabulary);
  int passed = 0;
  for (const auto& [text, expected] : cases) {
    const Ids ids = tokenizer.encode(text, false);
    if (ids == expected) {
      ++passed;
    } else {
      ADD_FAILURE() << vocabulary << ": " << json(text).dump() << "\n  expected " << json(expected).dump()
                    << "\n  got      " << json(ids).dump();
    }
  }
  std::cout << vocabulary << " " << passed << "/" << cases.size() << "\n";
  EXPECT_EQ(cases.size(), 46u);
}

fs::path qwen3_dir() {
  fs::path dir = fs::temp_directory_path() / ("precept_test_conformance_qwen3_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path qwen = kAssets / "qwen-tokenizer";
  fs::create_symlink(qwen / "vocab.json", dir / "vocab.json");
  fs::create_symlink(qwen / "merges.txt", dir / "merges.txt");
  fs::create_symlink(qwen / "tokenizer_config.qwen3.json", dir / "tokenizer_config.json");
  return dir;
}
}  // namespace

TEST(VocabConformance, Qwen2) {
  const fs::path dir = qwen3_dir();
  expect_conformance(*load_tokenizer(dir), "qwen2");
  fs::remove_all(dir);
}

TEST(VocabConformance, LlamaBpe) { expect_conformance(*load_tokenizer(kAssets / "llama3-tokenizer"), "llama-bpe"); }

TEST(VocabConformance, LlamaSpm) { expect_conformance(*load_tokenizer(kAssets / "llama2-tokenizer"), "llama-spm"); }

TEST(VocabConformance, Gpt2FromGguf) {
  const char* path = std::getenv("PRECEPT_HARD_STRINGS_JSON");
  if (path == nullptr) GTEST_SKIP() << "the GPT-2 vocabulary is taken out of the GGUF by tests/check_bpe_vs_hf.py";
  std::ifstream in(path);
  const json document = json::parse(in);
  expect_conformance(*load_tokenizer(document["gpt2_gguf_dir"].get<std::string>()), "gpt-2");
}

TEST(EncodeVectors, Llama3) {
  auto tokenizer = load_tokenizer(kAssets / "llama3-tokenizer");
  std::ifstream in(kAssets / "llama3-tokenizer/encode_vectors.json");
  const json vectors = json::parse(in);
  int checked = 0;
  // Meta's chat format, as its ChatFormat.encode_message writes it.
  auto message = [](const json& m) {
    return "<|start_header_id|>" + m["role"].get<std::string>() + "<|end_header_id|>\n\n" +
           m["content"].get<std::string>() + "<|eot_id|>";
  };
  for (const json& c : vectors["cases"]) {
    if (c.contains("text")) {  // encode(text, bos=True, eos=True)
      Ids ids = tokenizer->encode(c["text"].get<std::string>(), c["bos"].get<bool>());
      if (c["eos"].get<bool>()) ids.push_back(*tokenizer->eos_id());
      EXPECT_EQ(ids, c["ids"].get<Ids>());
    } else if (c.contains("decode_ids")) {
      EXPECT_EQ(tokenizer->decode(c["decode_ids"].get<Ids>(), false), c["text_out"].get<std::string>());
    } else if (c.contains("chat_message")) {
      EXPECT_EQ(tokenizer->encode(message(c["chat_message"]), false), c["ids"].get<Ids>());
    } else if (c.contains("chat_dialog")) {
      std::string dialog = "<|begin_of_text|>";
      for (const json& m : c["chat_dialog"]) dialog += message(m);
      dialog += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      EXPECT_EQ(tokenizer->encode(dialog, false), c["ids"].get<Ids>());
    } else {
      continue;
    }
    ++checked;
  }
  std::cout << "llama3 encode vectors " << checked << "\n";
  EXPECT_EQ(checked, 4);
}

TEST(EncodeVectors, Llama2) {
  auto tokenizer = load_tokenizer(kAssets / "llama2-tokenizer");
  std::ifstream in(kAssets / "llama2-tokenizer/encode_vectors.json");
  const json vectors = json::parse(in);
  for (const json& c : vectors["cases"]) {
    EXPECT_EQ(tokenizer->encode(c["text"].get<std::string>(), true), c["ids"].get<Ids>()) << c["text"];
  }
  std::cout << "llama2 encode vectors " << vectors["cases"].size() << "\n";
  EXPECT_EQ(vectors["cases"].size(), 5u);
}
