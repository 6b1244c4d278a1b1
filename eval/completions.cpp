#include "eval/completions.h"

#include "text/chat_template.h"
#include "lm/pretrained.h"
#include "text/tokenizer.h"

#include <algorithm>
#include <stdexcept>

namespace precept::eval {

std::vector<std::string> generate_completions(const std::string& model_dir, const std::vector<data::Prompt>& prompts,
                                              const CompletionSettings& settings,
                                              const rollout::ProgressCallback& progress) {
  lm::OpenOptions open;
  if (!settings.dtype.empty()) open.load.dtype = lm::dtype_from_name(settings.dtype, "--dtype");
  open.load.device = c10::Device(settings.device);
  lm::Pretrained policy = lm::open_pretrained(model_dir, open);
  const text::ChatTemplate* chat =
      settings.chat ? &policy.require_chat_template("evaluating the policy on chat prompts (--no-chat gives a base model the plain text)")
                    : nullptr;
  if (!settings.chat && !settings.system_prompt.empty()) {
    throw std::runtime_error("a system prompt needs the chat template; it cannot be used with --no-chat");
  }
  data::PromptFormat format;
  format.chat_for_text = settings.chat;
  format.system_prompt = settings.system_prompt;
  format.enable_thinking = settings.enable_thinking;
  rollout::SamplingParams params = settings.sampling;
  if (params.stop_token_ids.empty()) params.stop_token_ids = policy.stop_ids;
  std::vector<rollout::GenerationRequest> requests;
  size_t longest = 0;
  for (const auto& prompt : prompts) {
    rollout::GenerationRequest request;
    request.prompt = data::encode_prompt(prompt, *policy.tokenizer, chat, format);
    longest = std::max(longest, request.prompt.size());
    requests.push_back(std::move(request));
  }
  rollout::GeneratorConfig config = settings.generator;
  if (config.max_length == 0) {  // sized to the longest request, within the model's context (as precept generate)
    config.max_length = std::min<int64_t>(policy.context_length, int64_t(longest) + params.max_new_tokens);
  }
  rollout::Generator generator(*policy.model, config, policy.tokenizer.get());
  const auto completions = generator.generate(requests, params, progress);
  std::vector<std::string> out(prompts.size());
  for (const auto& completion : completions) {
    out[static_cast<size_t>(completion.request)] = rollout::completion_text(*policy.tokenizer, completion);
  }
  return out;
}

std::string final_answer(const std::string& completion) {
  const size_t at = completion.rfind("</think>");
  if (at == std::string::npos) return completion;
  const size_t begin = completion.find_first_not_of(" \t\r\n", at + 8);
  return begin == std::string::npos ? std::string() : completion.substr(begin);
}

}  // namespace precept::eval
