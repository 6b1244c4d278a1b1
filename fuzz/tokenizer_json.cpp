// Fuzzes the tokenizer.json reader (text/bpe_files.h, read_tokenizer_json, as load_tokenizer
// uses it for a Hugging Face directory), then compiles the spec into a BpeTokenizer and encodes
// and decodes a fixed text with it: the model, added tokens, normalizer, pre-tokenizer regexes,
// post-processor and decoder all come from the input. A std::exception is the expected answer.
#include "fuzz/fuzz_input.h"
#include "text/bpe_files.h"
#include "text/bpe_tokenizer.h"

#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path path = precept::fuzz::input_path("tokenizer.json");
  precept::fuzz::write_input(path, data, size);
  try {
    precept::text::BpeTokenizer tokenizer(precept::text::read_tokenizer_json(path));
    static const std::string kText = "Hello, world! It's 2024:\n\tcaf\xc3\xa9 \xe4\xbd\xa0\xe5\xa5\xbd <|endoftext|> \xf0\x9f\x98\x80 \xff";
    const std::vector<int64_t> ids = tokenizer.encode(kText, true);
    (void)tokenizer.decode(ids, false);
    (void)tokenizer.decode(ids, true);
    for (int64_t id = 0; id < std::min<int64_t>(tokenizer.vocab_size(), 64); ++id) (void)tokenizer.piece(id);
  } catch (const std::exception&) {
  }
  return 0;
}
