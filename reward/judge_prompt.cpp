// Building the judge's input; see judge_prompt.h.
#include "reward/judge_prompt.h"
#include "core/files.h"

#include "text/unicode.h"
#include "core/python_strings.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace precept::reward {

namespace {

// precept's own judge prompt. configs/judge/default_system_prompt.txt holds the same bytes
// (a test keeps the two equal) so that users can copy and edit it.
constexpr const char* kDefaultSystemPrompt = R"PROMPT(You are a judge of answers. The user message is a JSON object with three fields: "principle" states what a good answer should do, "prompt" is the request a person made, and "responses" maps each candidate's name to its reply.

Decide how faithfully each reply follows the principle while answering the prompt. The principle outweighs your own taste in answers; even so, never reward content that would cause real harm.

Proceed in this order:
1. Think it through briefly: hold each reply against the principle and against the other replies.
2. Give each reply a whole-number score:
   5 = follows the principle fully and is excellent in substance
   4 = follows it well, with small shortcomings
   3 = follows it adequately
   2 = follows it only in part and misses something important
   1 = ignores the principle or works against it
3. Order every reply from best to worst. Settle ties between equal scores; each name appears exactly once.

Let the scores mirror real differences: when the replies clearly differ in quality, spread them over the scale rather than bunching them in the middle.

After thinking, answer with this JSON object and nothing else, using the names exactly as given:
{"scores": {"model-1": 3, "model-2": 5}, "best-to-worst": ["model-2", "model-1"]}
)PROMPT";

}  // namespace

std::string judge_user_json(const std::string& principle, const std::string& prompt,
                            const std::vector<NamedResponse>& shown_responses) {
  nlohmann::ordered_json responses = nlohmann::ordered_json::object();
  for (const NamedResponse& response : shown_responses) responses[response.name] = response.text;
  nlohmann::ordered_json user = nlohmann::ordered_json::object();
  user["principle"] = principle;
  user["prompt"] = prompt;
  user["responses"] = std::move(responses);
  return core::python_json_dumps(user);
}

std::vector<text::ChatMessage> judge_messages(const std::string& system_prompt, const std::string& user_json) {
  return {{"system", system_prompt, std::nullopt}, {"user", user_json, std::nullopt}};
}

JudgePromptBuilder::JudgePromptBuilder(text::ChatTemplate chat_template, std::string system_prompt,
                                       JudgePromptOptions options)
    : chat_template_(std::move(chat_template)), system_prompt_(std::move(system_prompt)), options_(options) {
  if (system_prompt_.empty()) throw std::invalid_argument("JudgePromptBuilder: the judge system prompt is empty");
}

JudgePrompt JudgePromptBuilder::build(const JudgeRequest& request) const { return build(request, options_.mask_seed); }

JudgePrompt JudgePromptBuilder::build(const JudgeRequest& request, uint64_t mask_seed) const {
  if (request.responses.empty())
    throw std::invalid_argument("judge prompt: the request has no responses to judge");
  JudgePrompt result;
  result.names = options_.mask ? mask_responses(request.responses, mask_seed) : unmasked_responses(request.responses);
  result.user_json = judge_user_json(request.principle, request.prompt, result.names.shown);
  result.text = chat_template_.render(judge_messages(system_prompt_, result.user_json),
                                      /*add_generation_prompt=*/true, options_.enable_thinking);
  return result;
}

std::string load_judge_system_prompt(const std::filesystem::path& file) {
  if (!std::filesystem::is_regular_file(file)) {
    throw std::runtime_error("judge system prompt file " + file.string() + " does not exist or cannot be read");
  }
  const std::string text = core::read_file(file);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw std::runtime_error("judge system prompt file " + file.string() +
                             " is empty; it should hold the judge's system prompt text");
  if (!text::unicode::is_valid_utf8(text))
    throw std::runtime_error("judge system prompt file " + file.string() + " is not valid UTF-8");
  return text;
}

const std::string& default_judge_system_prompt() {
  static const std::string prompt = kDefaultSystemPrompt;
  return prompt;
}

std::vector<std::vector<size_t>> split_balanced(size_t count, size_t max_per_call) {
  if (max_per_call == 0) throw std::invalid_argument("split_balanced: max_per_call must be at least 1");
  std::vector<std::vector<size_t>> calls;
  if (count == 0) return calls;
  const size_t call_count = (count + max_per_call - 1) / max_per_call;
  const size_t base = count / call_count;
  const size_t larger = count % call_count;  // the first `larger` calls take one more
  size_t next = 0;
  for (size_t call = 0; call < call_count; ++call) {
    std::vector<size_t> indices(base + (call < larger ? 1 : 0));
    for (size_t& index : indices) index = next++;
    calls.push_back(std::move(indices));
  }
  return calls;
}

}  // namespace precept::reward
