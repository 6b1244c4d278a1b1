// Fuzzes the judge-output parser (reward/judge_parser.h, parse_judgment): the raw text a
// RewardAnything judge generated, with <think> blocks, fences, JSON that needs upstream's
// repair or precept's salvage, masked names. Bad text is reported in Judgment::problems, so
// parse_judgment is expected not to throw at all; and the judgment it returns must serialise
// (to_json().dump() with invalid UTF-8 would throw): either failing is a crash.
#include "reward/judge_parser.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace precept::reward;
  static const ShownResponses kMasked =
      mask_responses({{"alpha", "First answer."}, {"beta", "Second answer."}, {"gamma", "Third answer."}});
  static const ShownResponses kPlain = unmasked_responses({{"model-1", "One."}, {"model-2", "Two."}});
  const std::string_view output(reinterpret_cast<const char*>(data), size);
  (void)parse_judgment(output, kMasked).to_json().dump();
  (void)parse_judgment(output, kPlain).to_json().dump();
  (void)parse_judgment(output).to_json().dump();
  (void)upstream_safe_parse_json(upstream_json_text(output));
  return 0;
}
