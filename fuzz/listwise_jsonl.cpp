// Fuzzes the listwise JSONL reader (data/listwise.h, read_listwise_jsonl, the judge's training
// and evaluation cases): principle, prompt, named responses, gold scores and ranking, and the
// checks between them. A std::exception naming file:line and the field is the expected answer.
#include "data/listwise.h"
#include "fuzz/fuzz_input.h"

#include <exception>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path path = precept::fuzz::input_path("cases.jsonl");
  precept::fuzz::write_input(path, data, size);
  try {
    (void)precept::data::read_listwise_jsonl(path);
  } catch (const std::exception&) {
  }
  return 0;
}
