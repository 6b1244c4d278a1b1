// `precept data synth`: the synthetic listwise judge data of the paper in miniature. Short user
// prompts from ../shared/datasets (data/prompt_sources.h) are split into training and held-out
// prompts; a model (SmolLM2-135M-Instruct by default in scripts/paper.sh) answers each once,
// with a system prompt and a temperature that vary by prompt; reward/synthetic_cases.h turns the
// answers into cases by controlled edits, gold-scored by the criteria's rules. Writes, under
// --out: train.jsonl and held_out.jsonl (listwise), responses.jsonl (the base answers),
// prompts_train.jsonl and prompts_held_out.jsonl (for aligning a policy), principles/ (one TOML
// per held-out wording) and summary.json. docs/paper.md.
#include "apps/commands/commands.h"
#include "apps/commands/eval_commands.h"
#include "apps/commands/options.h"
#include "apps/commands/paths.h"
#include "core/files.h"
#include "core/progress.h"
#include "core/random_streams.h"
#include "data/prompt.h"
#include "data/prompt_sources.h"
#include "reward/criteria.h"
#include "reward/synthetic_cases.h"
#include "eval/completions.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>
#include <map>

namespace precept::apps {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

// The system prompts and temperatures the base answers vary over (prompt i gets
// kSystemPrompts[i % 4] and kTemperatures[(i / 4) % 3]).
const std::vector<std::string> kSystemPrompts = {
    "You are a helpful assistant.", "You are a concise assistant. Answer in two or three sentences.",
    "You are a friendly assistant who explains things simply.", "Answer with a few short points."};
const std::vector<double> kTemperatures = {0.3, 0.7, 1.0};

struct PromptEntry {
  std::string text, source;
  bool held_out = false;
};

// Prompts from the three sources in turn (round robin), shuffled by the seed, `count` kept;
// the last `held_out_fraction` of them are held out.
std::vector<PromptEntry> choose_prompts(const fs::path& datasets, int64_t count, double held_out_fraction,
                                        int64_t max_words, uint64_t seed) {
  std::vector<std::vector<std::string>> per_source;
  std::vector<std::string> names;
  for (auto source : {data::PromptSource::alpacaeval, data::PromptSource::chatbot_arena, data::PromptSource::hh_rlhf_helpful}) {
    const fs::path file = data::prompt_source_path(source, datasets);
    if (!fs::exists(file)) throw std::runtime_error(file.string() + ": prompt source not found (pass --datasets DIR)");
    auto prompts = data::read_source_prompts(source, file, max_words);
    for (size_t i = prompts.size(); i > 1; --i) std::swap(prompts[i - 1], prompts[core::mix_seed(seed, i) % i]);
    per_source.push_back(std::move(prompts));
    names.push_back(data::prompt_source_name(source));
  }
  std::vector<PromptEntry> out;
  for (size_t i = 0; static_cast<int64_t>(out.size()) < count; ++i) {
    bool any = false;
    for (size_t s = 0; s < per_source.size() && static_cast<int64_t>(out.size()) < count; ++s) {
      if (i < per_source[s].size()) {
        out.push_back({per_source[s][i], names[s], false});
        any = true;
      }
    }
    if (!any) break;
  }
  const int64_t held = static_cast<int64_t>(double(out.size()) * held_out_fraction + 0.5);
  for (int64_t i = static_cast<int64_t>(out.size()) - held; i < static_cast<int64_t>(out.size()); ++i) out[i].held_out = true;
  return out;
}

std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int run_data_synth(const std::vector<std::string>& args) {
  std::string model_dir, principles_path, datasets_dir, out_dir;
  int64_t prompt_count = 0, max_words = 0, max_new_tokens = 0, slots = 0;
  double held_out_fraction = 0.3;
  reward::SyntheticCasesConfig cases;
  po::options_description options("precept data synth");
  options.add_options()
      ("model", po::value(&model_dir)->required(), "the chat model that writes the base answers (a directory or .gguf)")
      ("out", po::value(&out_dir)->required(), "the directory to write")
      ("principles", po::value(&principles_path), "the criterion wordings (default: configs/paper/principles.toml)")
      ("datasets", po::value(&datasets_dir)->default_value("../shared/datasets"), "where the prompt sources are")
      ("prompts", po::value(&prompt_count)->default_value(120), "prompts drawn, in turn from AlpacaEval, Chatbot Arena and HH-RLHF")
      ("held-out-fraction", po::value(&held_out_fraction)->default_value(0.3), "the share of prompts held out")
      ("max-words", po::value(&max_words)->default_value(16), "keep prompts of at most this many words")
      ("train-cases", po::value(&cases.train_cases_per_criterion)->default_value(24), "training cases per criterion")
      ("held-out-cases", po::value(&cases.held_out_cases_per_criterion)->default_value(8), "held-out cases per criterion")
      ("responses", po::value(&cases.responses_per_case)->default_value(4), "responses per case")
      ("max-new-tokens,n", po::value(&max_new_tokens)->default_value(48), "tokens per base answer (cut to the last full sentence)")
      ("slots", po::value(&slots)->default_value(16), "sequences decoded at once")
      ("seed", po::value(&cases.seed)->default_value(0), "the seed of every choice and sample");
  po::variables_map values;
  if (!parse_options("data synth", "--model DIR --out DIR [options]", options, args, values)) return 0;
  if (held_out_fraction <= 0 || held_out_fraction >= 1) throw std::runtime_error("--held-out-fraction must be in (0, 1)");
  if (prompt_count < 4) throw std::runtime_error("--prompts must be at least 4");
  const fs::path principles = principles_path.empty() ? find_config_file("paper", "principles") : fs::path(principles_path);
  const auto wordings = reward::load_criterion_wordings(principles);
  fs::create_directories(fs::path(out_dir) / "principles");

  // 1. Prompts, split.
  const auto prompts = choose_prompts(datasets_dir, prompt_count, held_out_fraction, max_words, cases.seed);
  if (static_cast<int64_t>(prompts.size()) < prompt_count) {
    std::cerr << "[data synth] only " << prompts.size() << " prompts of at most " << max_words << " words exist\n";
  }

  // 2. Base answers: one per prompt, varied system prompt and temperature (one generation
  // per temperature, each prompt a [system, user] chat).
  std::vector<std::string> answers(prompts.size());
  core::ProgressLine line("data synth: base answers");
  int64_t done = 0;
  for (size_t t = 0; t < kTemperatures.size(); ++t) {
    std::vector<size_t> indices;
    std::vector<data::Prompt> chats;
    for (size_t i = 0; i < prompts.size(); ++i) {
      if ((i / kSystemPrompts.size()) % kTemperatures.size() != t) continue;
      chats.push_back(data::Prompt{"", {{"system", kSystemPrompts[i % kSystemPrompts.size()]}, {"user", prompts[i].text}},
                                   {}, "prompt " + std::to_string(i)});
      indices.push_back(i);
    }
    if (chats.empty()) continue;
    eval::CompletionSettings settings;
    settings.generator.max_slots = slots;
    settings.sampling.max_new_tokens = max_new_tokens;
    settings.sampling.sampler.temperature = kTemperatures[t];
    settings.sampling.sampler.top_p = 0.95;
    settings.sampling.seed = core::mix_seed(cases.seed, t);
    const auto texts = eval::generate_completions(model_dir, chats, settings, [&](const rollout::GenerationProgress& p) {
      line.update(done + p.sequences_done, int64_t(prompts.size()), p.tokens_generated, "tok", p.seconds, p.eta_seconds);
    });
    for (size_t k = 0; k < texts.size(); ++k) answers[indices[k]] = texts[k];
    done += static_cast<int64_t>(chats.size());
  }
  line.finish();

  std::vector<reward::BaseResponse> train_pool, held_pool;
  std::vector<ordered_json> response_records, train_prompts, held_prompts;
  for (size_t i = 0; i < prompts.size(); ++i) {
    const std::string text = reward::trim_to_last_sentence(answers[i]);
    const bool usable = reward::split_sentences(text).size() >= 1 && text.size() >= 20;
    response_records.push_back({{"prompt", prompts[i].text}, {"source", prompts[i].source},
                                {"split", prompts[i].held_out ? "held_out" : "train"},
                                {"system", kSystemPrompts[i % kSystemPrompts.size()]},
                                {"temperature", kTemperatures[(i / kSystemPrompts.size()) % kTemperatures.size()]},
                                {"raw", answers[i]}, {"text", text}, {"used", usable}});
    (prompts[i].held_out ? held_prompts : train_prompts).push_back({{"prompt", prompts[i].text}, {"source", prompts[i].source}});
    if (usable) (prompts[i].held_out ? held_pool : train_pool).push_back({prompts[i].text, text});
  }
  write_jsonl((fs::path(out_dir) / "responses.jsonl").string(), response_records);
  write_jsonl((fs::path(out_dir) / "prompts_train.jsonl").string(), train_prompts);
  write_jsonl((fs::path(out_dir) / "prompts_held_out.jsonl").string(), held_prompts);

  // 3. Cases.
  const reward::SyntheticCases built = reward::build_synthetic_cases(wordings, train_pool, held_pool, cases);
  write_jsonl((fs::path(out_dir) / "train.jsonl").string(), built.train);
  write_jsonl((fs::path(out_dir) / "held_out.jsonl").string(), built.held_out);
  for (const auto& entry : wordings) {
    for (size_t k = 0; k < entry.held_out.size(); ++k) {
      const std::string name = entry.criterion + "-held-" + std::to_string(k);
      core::replace_file_atomically(fs::path(out_dir) / "principles" / (name + ".toml"),
                                    "# A held-out wording of criterion " + entry.criterion + " (" + principles.string() +
                                        ")\nname = " + toml_string(name) + "\ntext = " + toml_string(entry.held_out[k]) + "\n");
    }
  }

  // 4. Summary: cases and the gold score histogram per criterion and split.
  ordered_json summary = {{"prompts", {{"train", train_prompts.size()}, {"held_out", held_prompts.size()}}},
                          {"base_answers", {{"train", train_pool.size()}, {"held_out", held_pool.size()}}},
                          {"criteria", ordered_json::object()}};
  std::cout << "criterion                  category   train  held-out  split   gold scores 1..5 (train+held-out)\n";
  for (const auto& entry : wordings) {
    std::map<int, int64_t> histogram;
    int64_t train_count = 0, held_count = 0;
    for (const auto* list : {&built.train, &built.held_out}) {
      for (const auto& record : *list) {
        if (record["criterion"] != entry.criterion) continue;
        (list == &built.train ? train_count : held_count) += 1;
        for (const auto& [name, score] : record["ground_truth"]["scores"].items()) histogram[score.get<int>()] += 1;
      }
    }
    const auto& criterion = reward::find_criterion(entry.criterion);
    ordered_json scores = ordered_json::array();
    std::string shown;
    for (int s = 1; s <= 5; ++s) {
      scores.push_back(histogram[s]);
      shown += std::to_string(histogram[s]) + (s < 5 ? " " : "");
    }
    summary["criteria"][entry.criterion] = {{"category", reward::criterion_category_name(criterion.category)},
                                            {"split", entry.held_out_only ? "unseen" : "seen"},
                                            {"train_cases", train_count}, {"held_out_cases", held_count},
                                            {"gold_histogram", scores}, {"rule", criterion.rule}};
    std::printf("%-26s %-10s %5lld %9lld  %-7s %s\n", entry.criterion.c_str(),
                reward::criterion_category_name(criterion.category).c_str(), (long long)train_count,
                (long long)held_count, entry.held_out_only ? "unseen" : "seen", shown.c_str());
  }
  core::replace_file_atomically(fs::path(out_dir) / "summary.json", summary.dump(2) + "\n");
  std::cerr << "[data synth] " << built.train.size() << " training and " << built.held_out.size()
            << " held-out cases from " << train_pool.size() << " + " << held_pool.size() << " base answers -> " << out_dir
            << "\n";
  return 0;
}

}  // namespace precept::apps
