// The judge-training task's prompts; see judge_task.h.
#include "trainer/judge_task.h"

#include "data/listwise.h"
#include "reward/judge_case.h"
#include "reward/judge_prompt.h"

namespace precept::trainer {

std::string judge_task_system_prompt(const TaskSection& task) {
  if (task.system_prompt_file.empty()) return reward::default_judge_system_prompt();
  return reward::load_judge_system_prompt(task.system_prompt_file);
}

std::vector<PromptExample> judge_task_examples(const RunConfig& config, const text::Tokenizer& tokenizer,
                                               const text::ChatTemplate& chat) {
  const std::string system_prompt = judge_task_system_prompt(config.task);
  data::PromptFormat format;
  format.enable_thinking = config.data.enable_thinking;
  std::vector<PromptExample> examples;
  for (const data::ListwiseCase& listwise : data::read_listwise_jsonl(config.data.prompts)) {
    const reward::JudgeCase shown = reward::judge_case(listwise, system_prompt, config.task.mask, config.run.seed);
    PromptExample example;
    example.prompt.messages = shown.messages;
    example.prompt.where = listwise.where;
    nlohmann::json gold = nlohmann::json::object();
    for (const auto& [name, score] : shown.gold_scores) gold[name] = score;
    example.prompt.record = {{"id", listwise.id},
                             {"principle", listwise.principle},
                             {"ground_truth", {{"scores", gold}}},
                             {"masked2real", shown.masked2real},
                             {"domain", listwise.domain},
                             {"category", listwise.category}};
    example.ids = data::encode_prompt(example.prompt, tokenizer, &chat, format);
    example.judge_text = listwise.prompt;
    examples.push_back(std::move(example));
  }
  return examples;
}

}  // namespace precept::trainer
