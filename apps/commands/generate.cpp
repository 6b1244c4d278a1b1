// `precept generate`: text from a Hugging Face model directory with the KV-cache generator
// (rollout/generator.h). Prompts from --prompt (repeatable) or a JSONL file of text or chat
// messages; the chat template is applied to messages (and to text with --chat). Text goes to
// stdout, one JSON record per completion to --output, a progress line to stderr.
// --reference runs the slow full-recompute loop instead, for checking.
#include "apps/commands/commands.h"
#include "apps/commands/options.h"
#include "policy/lora.h"
#include "core/progress.h"
#include "lm/model_config.h"
#include "lm/pretrained.h"
#include "data/prompt.h"
#include "text/tokenizer.h"
#include "rollout/full_recompute.h"
#include "rollout/generator.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

namespace precept::apps {

int cmd_generate(const std::vector<std::string>& args) {
  po::options_description options("options");
  std::string model_dir, prompts_path, field, dtype_name, device_name, output_path, system_prompt, adapter_dir;
  std::vector<std::string> prompt_texts, stop_strings;
  rollout::SamplingParams params;
  rollout::GeneratorConfig generator_config;
  int64_t samples = 1;
  options.add_options()
      ("model", po::value(&model_dir)->required(), "model directory (config.json, safetensors, tokenizer)")
      ("adapter", po::value(&adapter_dir), "a peft LoRA adapter folder to apply, unmerged (e.g. a LoRA run's checkpoints/step-N/adapter)")
      ("prompt", po::value(&prompt_texts)->composing(), "prompt text (repeatable); none: one prompt of BOS alone")
      ("prompts", po::value(&prompts_path), "JSONL file: one prompt per line, text or chat messages")
      ("field", po::value(&field)->default_value("prompt"), "the JSONL field holding each prompt")
      ("chat", po::bool_switch(), "apply the chat template to plain-text prompts too (as one user message)")
      ("system", po::value(&system_prompt), "chat: a system message put first")
      ("no-thinking", po::bool_switch(), "chat: enable_thinking=false (Qwen3)")
      ("max-new-tokens,n", po::value(&params.max_new_tokens)->default_value(256), "tokens to generate per sample")
      ("temperature,t", po::value(&params.sampler.temperature)->default_value(0.0), "0 = greedy")
      ("top-p,p", po::value(&params.sampler.top_p)->default_value(1.0), "nucleus mass kept (1 = off)")
      ("top-k", po::value(&params.sampler.top_k)->default_value(0), "keep the k most likely tokens (0 = off)")
      ("min-p", po::value(&params.sampler.min_p)->default_value(0.0), "keep tokens with p >= min_p * p_max (0 = off)")
      ("seed,s", po::value(&params.seed)->default_value(0), "sampling seed")
      ("num-samples", po::value(&samples)->default_value(1), "samples per prompt (they share the prompt's prefill)")
      ("stop", po::value(&stop_strings)->composing(), "stop string (repeatable); the text is cut before it")
      ("ignore-eos", po::bool_switch(), "do not stop at the model's EOS ids")
      ("slots", po::value(&generator_config.max_slots)->default_value(16), "sequences decoded at once")
      ("max-length", po::value(&generator_config.max_length)->default_value(0),
       "cache positions per slot (prompt + new tokens); 0 = the longest prompt + max new tokens")
      ("dtype", po::value(&dtype_name)->default_value("float32"), "float32 | bfloat16 | float16")
      ("device", po::value(&device_name)->default_value("cpu"), "cpu | cuda | cuda:N")
      ("output,o", po::value(&output_path), "write one JSON record per completion (JSONL)")
      ("reference", po::bool_switch(), "use the slow full-recompute loop (one prompt, n=1; for checking)");
  po::variables_map values;
  if (!parse_options("generate", "--model DIR [--prompt TEXT ... | --prompts FILE.jsonl] [options]", options, args,
                     values)) {
    return 0;
  }
  if (values.count("prompt") && values.count("prompts")) throw std::runtime_error("give --prompt or --prompts, not both");

  lm::LoadOptions load;
  load.dtype = lm::dtype_from_name(dtype_name, "--dtype");
  load.device = c10::Device(device_name);
  const auto start = std::chrono::steady_clock::now();
  lm::OpenOptions open;
  open.load = load;
  lm::Pretrained pretrained = lm::open_pretrained(model_dir, open);
  if (!adapter_dir.empty()) policy::load_adapter(*pretrained.model, adapter_dir);
  lm::Transformer model = pretrained.model;
  const text::Tokenizer* tokenizer = pretrained.tokenizer.get();
  const auto& config = pretrained.config;
  if (!values["ignore-eos"].as<bool>()) params.stop_token_ids = pretrained.stop_ids;
  params.stop_strings = stop_strings;

  std::vector<data::Prompt> prompts;
  if (!prompts_path.empty()) {
    prompts = data::read_prompts_jsonl(prompts_path, field);
  } else if (prompt_texts.empty()) {
    prompts.push_back(data::Prompt{"", {}, {}, "--prompt"});
  } else {
    for (size_t i = 0; i < prompt_texts.size(); ++i) prompts.push_back(data::Prompt{prompt_texts[i], {}, {}, "--prompt " + std::to_string(i)});
  }
  data::PromptFormat format;
  format.chat_for_text = values["chat"].as<bool>();
  format.system_prompt = system_prompt;
  format.enable_thinking = !values["no-thinking"].as<bool>();
  std::vector<rollout::GenerationRequest> requests;
  for (const auto& prompt : prompts) {
    rollout::GenerationRequest request;
    const bool chat = !prompt.messages.empty() || format.chat_for_text;
    request.prompt = data::encode_prompt(prompt, *tokenizer, chat ? &pretrained.require_chat_template(prompt.where) : nullptr, format);
    if (request.prompt.empty()) throw std::runtime_error(prompt.where + ": encodes to no tokens and the tokenizer adds no BOS");
    request.n = samples;
    requests.push_back(std::move(request));
  }
  if (generator_config.max_length == 0) {  // sized to the longest request, within the model's context
    size_t longest = 0;
    for (const auto& request : requests) longest = std::max(longest, request.prompt.size());
    generator_config.max_length = std::min<int64_t>(pretrained.context_length, int64_t(longest) + params.max_new_tokens);
  }

  std::vector<rollout::Completion> completions;
  if (values["reference"].as<bool>()) {
    if (requests.size() != 1 || samples != 1) throw std::runtime_error("--reference takes one prompt and one sample");
    rollout::ReferenceSampling reference;
    reference.temperature = params.sampler.temperature;
    reference.top_p = params.sampler.top_p;
    reference.seed = params.seed;
    reference.max_new_tokens = params.max_new_tokens;
    reference.stop_ids = params.stop_token_ids;
    rollout::ReferenceOutput out = rollout::generate_full_recompute(*model, requests[0].prompt, reference);
    rollout::Completion completion;
    completion.tokens = out.tokens;
    completion.logprobs.assign(out.logprobs.begin(), out.logprobs.end());
    completion.finish = out.stopped ? rollout::FinishReason::stop_token : rollout::FinishReason::length;
    completions.push_back(std::move(completion));
  } else {
    rollout::Generator generator(*model, generator_config, tokenizer);
    core::ProgressLine line("generate");
    completions = generator.generate(requests, params, [&](const rollout::GenerationProgress& p) {
      line.update(p.sequences_done, p.sequences_total, p.tokens_generated, "tok", p.seconds, p.eta_seconds);
    });
    line.finish();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::ofstream output;
  if (!output_path.empty()) {
    output.open(output_path, std::ios::trunc);
    if (!output) throw std::runtime_error(output_path + ": cannot write");
  }
  int64_t generated = 0;
  for (const auto& completion : completions) {
    const auto& prompt_ids = requests[completion.request].prompt;
    generated += static_cast<int64_t>(completion.tokens.size());
    const std::string text = rollout::completion_text(*tokenizer, completion);
    // One prompt from text: print the prompt and continuation as one decoded sequence, as
    // llama2.c does; otherwise each completion's text alone.
    const bool single_text = prompts.size() == 1 && samples == 1 && prompts[0].messages.empty() && !format.chat_for_text;
    if (single_text && completion.finish != rollout::FinishReason::stop_string) {
      std::vector<int64_t> all = prompt_ids;
      all.insert(all.end(), completion.tokens.begin(), completion.tokens.end());
      std::cout << tokenizer->decode(all, /*skip_special=*/true) << std::endl;
    } else if (single_text) {
      std::cout << tokenizer->decode(prompt_ids, true) << text << std::endl;
    } else {
      std::cout << "=== prompt " << completion.request << ", sample " << completion.sample << " ("
                << rollout::finish_reason_name(completion.finish) << ")\n" << text << "\n";
    }
    if (output.is_open()) {
      nlohmann::json record = {{"prompt_index", completion.request}, {"sample", completion.sample},
                               {"prompt_ids", prompt_ids},           {"ids", completion.tokens},
                               {"logprobs", completion.logprobs},    {"text", text},
                               {"finish_reason", rollout::finish_reason_name(completion.finish)}};
      output << record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
  }
  std::cerr << "[precept generate] " << config.architecture << " from " << model_dir << " (" << dtype_name << ", "
            << device_name << "): " << completions.size() << " completions, " << generated << " tokens in " << seconds
            << " s" << (output.is_open() ? ", records in " + output_path : std::string()) << "\n";
  return 0;
}

}  // namespace precept::apps
