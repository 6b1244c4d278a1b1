#include "eval/completions.h"

#include "lm/chat_template.h"
#include "lm/pretrained.h"
#include "lm/tokenizer.h"

#include <algorithm>
#include <stdexcept>

namespace precept::eval {

std::vector<std::string> generate_completions(const std::string& model_dir, const std::vector<lm::Prompt>& prompts,
                                              const CompletionSettings& settings,
                                              const rollout::ProgressCallback& progress) {
  lm::LoadOptions load;
  load.dtype = lm::dtype_from_name(settings.dtype, "--dtype");
  load.device = c10::Device(settings.device);
  lm::Transformer model = lm::load_pretrained(model_dir, load);
  model->eval();
  auto tokenizer = lm::load_tokenizer(model_dir);
  std::optional<lm::ChatTemplate> chat;
  try {
    chat = lm::ChatTemplate::from_model_dir(model_dir);
  } catch (const std::exception& error) {
    throw std::runtime_error(model_dir + ": the policy needs a chat template to be evaluated on prompts (" +
                             error.what() + ")");
  }
  lm::PromptFormat format;
  format.chat_for_text = true;
  format.system_prompt = settings.system_prompt;
  format.enable_thinking = settings.enable_thinking;
  rollout::SamplingParams params = settings.sampling;
  if (params.stop_token_ids.empty()) params.stop_token_ids = rollout::default_stop_ids(model_dir, model->config(), tokenizer.get());
  std::vector<rollout::GenerationRequest> requests;
  for (const auto& prompt : prompts) {
    rollout::GenerationRequest request;
    request.prompt = lm::encode_prompt(prompt, *tokenizer, &*chat, format);
    requests.push_back(std::move(request));
  }
  rollout::GeneratorConfig config = settings.generator;
  if (config.max_length == 0) config.max_length = std::min<int64_t>(model->config().max_position_embeddings, 4096);
  rollout::Generator generator(*model, config, tokenizer.get());
  const auto completions = generator.generate(requests, params, progress);
  std::vector<std::string> out(prompts.size());
  for (const auto& completion : completions) {
    out[static_cast<size_t>(completion.request)] = rollout::completion_text(*tokenizer, completion);
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
