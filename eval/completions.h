// Completions from a policy for the evaluation commands (XSTest, win rates): each prompt as one
// user turn under the model's chat template, generated with the KV-cache generator
// (rollout/generator.h) as `precept generate --chat` does, and the final answer kept: the text
// after the last </think> when a thinking model wrote one. Not a sampler or a server.
#pragma once

#include "data/prompt.h"
#include "rollout/generator.h"

#include <functional>
#include <string>
#include <vector>

namespace precept::eval {

struct CompletionSettings {
  rollout::SamplingParams sampling;    // max_new_tokens, sampler (default greedy), seed
  rollout::GeneratorConfig generator;  // slots; max_length 0 = the longest prompt + max_new_tokens
  std::string system_prompt;           // a system turn before each prompt when not empty
  bool enable_thinking = true;         // Qwen3's switch
  bool chat = true;                    // false: plain-text prompts as they are, BOS first (base models, no template)
  std::string dtype = "float32", device = "cpu";
};

// One completion per prompt (data::Prompt: text, wrapped as a user turn, or chat messages), in
// order. Throws std::runtime_error when the model has no chat template (unless `chat` is off,
// then a chat prompt or a system prompt is the error).
std::vector<std::string> generate_completions(const std::string& model_dir, const std::vector<data::Prompt>& prompts,
                                              const CompletionSettings& settings,
                                              const rollout::ProgressCallback& progress = {});

// The answer part of a completion: after the last "</think>" (leading whitespace dropped) when
// there is one, else the whole text.
std::string final_answer(const std::string& completion);

}  // namespace precept::eval
