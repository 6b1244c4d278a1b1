// The judge-training task ([task] kind = "judge"): the listwise cases of data.prompts
// (data/listwise.h) as prompts for the model being trained as a judge. Each case becomes the
// RewardAnything chat [system prompt, USER_JSON] with its responses masked by the case's own
// seed (reward/judge_case.h), rendered by the model's chat template with the generation prompt;
// its record carries what the judge-training reward needs: the gold scores under the case's
// names and the map from shown names back to them. The rest of the loop is GRPO's
// (trainer/grpo_trainer.h) unchanged. docs/judge-training.md.
#pragma once

#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "trainer/config.h"
#include "trainer/prompt_data.h"

#include <vector>

namespace precept::trainer {

// One example per case, in file order. The record of each:
//   {"id", "principle", "ground_truth": {"scores": {name: gold}}, "masked2real": {shown: name},
//    "domain", "category"}
// Errors name the file and line (a case that breaks data/listwise.h's rules, a rendered prompt
// longer than data.max_prompt_tokens).
std::vector<PromptExample> judge_task_examples(const RunConfig& config, const text::Tokenizer& tokenizer,
                                               const text::ChatTemplate& chat);

// The system prompt of the task: task.system_prompt_file's bytes, or precept's own prompt.
std::string judge_task_system_prompt(const TaskSection& task);

}  // namespace precept::trainer
