// Public judged datasets -> listwise judge cases; see convert.h and docs/data.md.
#include "data/convert.h"

#include "data/listwise.h"
#include "data/rm_bench.h"

#include <cmath>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace precept::data {

namespace {

struct NamedFormat {
  const char* name;
  SourceFormat format;
};

const NamedFormat kFormats[] = {
    {"prometheus-listwise", SourceFormat::prometheus_listwise},
    {"alpacaeval-listwise", SourceFormat::alpacaeval_listwise},
    {"reward-bench-bon", SourceFormat::reward_bench_bon},
    {"helpsteer", SourceFormat::helpsteer},
    {"rm-bench", SourceFormat::rm_bench},
};

const std::vector<std::string> kHelpSteerAttributes = {"helpfulness", "correctness", "coherence", "complexity",
                                                       "verbosity"};

// The three RM-Bench style levels, in the order of the item's arrays.
const std::vector<std::string> kRmBenchStyles = {"concise", "detailed", "markdown"};

[[noreturn]] void fail(const std::string& where, const std::string& field, const std::string& message) {
  throw std::runtime_error(where + ": field '" + field + "': " + message);
}

const ordered_json& field(const ordered_json& record, const std::string& key, const std::string& where) {
  auto it = record.find(key);
  if (it == record.end()) fail(where, key, "missing");
  return *it;
}

std::string string_field(const ordered_json& record, const std::string& key, const std::string& where) {
  const ordered_json& value = field(record, key, where);
  if (!value.is_string()) fail(where, key, "expected a string, got " + json_type_name(value));
  return value.get<std::string>();
}

// An array of at least 2 entries, or exactly `size` when size > 0.
const ordered_json& array_field(const ordered_json& record, const std::string& key, const std::string& where,
                                size_t size) {
  const ordered_json& value = field(record, key, where);
  if (!value.is_array()) fail(where, key, "expected an array, got " + json_type_name(value));
  if (size > 0 && value.size() != size) {
    fail(where, key, "expected " + std::to_string(size) + " entries (one per response), got " + std::to_string(value.size()));
  }
  return value;
}

std::vector<std::string> string_array(const ordered_json& record, const std::string& key, const std::string& where,
                                      size_t size) {
  std::vector<std::string> out;
  const ordered_json& values = array_field(record, key, where, size);
  for (size_t i = 0; i < values.size(); ++i) {
    if (!values[i].is_string()) {
      fail(where, key + "[" + std::to_string(i) + "]", "expected a string, got " + json_type_name(values[i]));
    }
    out.push_back(values[i].get<std::string>());
  }
  return out;
}

// A source number that must lie in [low, high].
double number_in(const ordered_json& value, double low, double high, const std::string& where, const std::string& name) {
  if (!value.is_number()) fail(where, name, "expected a number, got " + json_type_name(value));
  const double number = value.get<double>();
  if (!(number >= low && number <= high)) {
    fail(where, name, "expected a number from " + ordered_json(low).dump() + " to " + ordered_json(high).dump() +
                          ", got " + value.dump());
  }
  return number;
}

// A score as JSON: integral values as integers (4, not 4.0).
ordered_json score_value(double score) {
  if (score == std::floor(score) && std::fabs(score) < 1e15) return static_cast<int64_t>(score);
  return score;
}

// AlpacaEval's preference probability p in [0, 1] on the judge's 1-5 scale: 1 + 4p, rounded to
// 6 decimals (the sources give p to 6 decimals, so the order and the ties are kept exactly).
double preference_to_score(double probability) { return std::round((1.0 + 4.0 * probability) * 1e6) / 1e6; }

std::string file_name(const std::string& where) {
  return std::filesystem::path(where).filename().string();  // "dir/x.jsonl:12" -> "x.jsonl:12"
}

// One converted case before it becomes JSON: responses[i] is named names[i] and scored scores[i].
struct CaseFields {
  std::string id, principle, prompt;
  std::vector<std::string> names, texts;
  std::vector<ordered_json> scores;
  std::string domain, category;
  std::string where;        // the source's "file:line"
  std::string names_field;  // the source field the names come from, for the error
};

// The case's record; names must be unique (a JSON object would keep one silently).
ordered_json listwise_record(const CaseFields& fields) {
  ordered_json responses = ordered_json::object();
  ordered_json gold = ordered_json::object();
  for (size_t i = 0; i < fields.names.size(); ++i) {
    if (responses.contains(fields.names[i])) fail(fields.where, fields.names_field, "names '" + fields.names[i] + "' twice");
    responses[fields.names[i]] = fields.texts[i];
    gold[fields.names[i]] = fields.scores[i];
  }
  ordered_json record = ordered_json::object();
  record["id"] = fields.id;
  record["principle"] = fields.principle;
  record["prompt"] = fields.prompt;
  record["responses"] = std::move(responses);
  record["ground_truth"] = {{"scores", std::move(gold)}};
  record["domain"] = fields.domain;
  record["category"] = fields.category;
  record["source"] = file_name(fields.where);
  return record;
}

// Adds a record after checking it against the listwise rules and the ids seen so far.
class Writer {
 public:
  explicit Writer(Conversion& out) : out_(out) {}
  void add(ordered_json record, const std::string& where) {
    const ListwiseCase parsed = parse_listwise_case(record, where);
    auto [it, inserted] = first_seen_.emplace(parsed.id, where);
    if (!inserted) fail(where, "id", "gives the case id '" + parsed.id + "' again (first at " + it->second + ")");
    bool tied = true;
    for (double score : parsed.gold_scores) tied = tied && score == parsed.gold_scores.front();
    out_.all_tied += tied ? 1 : 0;
    out_.records.push_back(std::move(record));
  }
  void skip(const std::string& reason) { ++out_.skipped[reason]; }

 private:
  Conversion& out_;
  std::unordered_map<std::string, std::string> first_seen_;
};

Conversion convert_prometheus(const std::filesystem::path& input) {
  Conversion out;
  Writer writer(out);
  for_each_jsonl_object(input, [&](const ordered_json& record, const std::string& where, int64_t) {
    ++out.source_records;
    const std::vector<std::string> texts = string_array(record, "responses", where, 0);
    const std::vector<std::string> names = string_array(record, "response_sources", where, texts.size());
    const ordered_json& source_scores = array_field(record, "scores", where, texts.size());
    std::vector<ordered_json> scores;
    for (size_t i = 0; i < source_scores.size(); ++i) {
      number_in(source_scores[i], 1, 5, where, "scores[" + std::to_string(i) + "]");
      scores.push_back(source_scores[i]);  // as written: 5 stays 5, 4.3333 stays 4.3333
    }
    const std::string category = string_field(record, "category", where);
    const std::string domain = category == "coding" ? "code" : category == "math" ? "math" : "chat";
    writer.add(listwise_record({.id = "prometheus:" + record_id(record, where),
                                .principle = string_field(record, "principle", where),
                                .prompt = string_field(record, "prompt", where),
                                .names = names,
                                .texts = texts,
                                .scores = scores,
                                .domain = domain,
                                .category = category,
                                .where = where,
                                .names_field = "response_sources"}),
               where);
  });
  return out;
}

// alpacaeval-listwise and reward-bench-bon share a shape: {id, dataset, instruction,
// generators, responses, scores}, index 0 the reference at p = 0.5.
Conversion convert_alpacaeval_shape(const std::filesystem::path& input, const std::string& id_prefix, bool keep_reference) {
  Conversion out;
  Writer writer(out);
  for_each_jsonl_object(input, [&](const ordered_json& record, const std::string& where, int64_t) {
    ++out.source_records;
    const std::vector<std::string> texts = string_array(record, "responses", where, 0);
    const std::vector<std::string> generators = string_array(record, "generators", where, texts.size());
    const ordered_json& preferences = array_field(record, "scores", where, texts.size());
    std::vector<std::string> names, kept_texts;
    std::vector<ordered_json> scores;
    for (size_t i = 0; i < texts.size(); ++i) {
      const double p = number_in(preferences[i], 0, 1, where, "scores[" + std::to_string(i) + "]");
      if (i == 0 && p != 0.5) fail(where, "scores[0]", "expected the reference's 0.5 at index 0, got " + preferences[0].dump());
      if (i == 0 && !keep_reference) continue;
      names.push_back(generators[i]);
      kept_texts.push_back(texts[i]);
      scores.push_back(score_value(preference_to_score(p)));
    }
    writer.add(listwise_record({.id = id_prefix + record_id(record, where),
                                .principle = alpacaeval_principle(),
                                .prompt = string_field(record, "instruction", where),
                                .names = names,
                                .texts = kept_texts,
                                .scores = scores,
                                .domain = "chat",
                                .category = string_field(record, "dataset", where),
                                .where = where,
                                .names_field = "generators"}),
               where);
  });
  return out;
}

struct HelpSteerPrompt {
  std::string prompt;
  std::string where;  // of its first row
  int64_t first_line = 0;
  std::vector<std::string> texts;
  std::vector<std::vector<ordered_json>> scores;  // [attribute][response]
};

Conversion convert_helpsteer(const std::filesystem::path& input) {
  Conversion out;
  Writer writer(out);
  std::vector<HelpSteerPrompt> prompts;
  std::unordered_map<std::string, size_t> index_of_prompt;
  for_each_jsonl_object(input, [&](const ordered_json& record, const std::string& where, int64_t line) {
    ++out.source_records;
    const std::string prompt = string_field(record, "prompt", where);
    const std::string text = string_field(record, "response", where);
    std::vector<ordered_json> row_scores;
    for (const auto& attribute : kHelpSteerAttributes) {
      const ordered_json& value = field(record, attribute, where);
      if (!value.is_number_integer()) fail(where, attribute, "expected an integer 0-4, got " + value.dump());
      row_scores.push_back(score_value(number_in(value, 0, 4, where, attribute) + 1));  // 0-4 -> 1-5
    }
    auto [it, inserted] = index_of_prompt.emplace(prompt, prompts.size());
    if (inserted) prompts.push_back({prompt, where, line, {}, std::vector<std::vector<ordered_json>>(kHelpSteerAttributes.size())});
    HelpSteerPrompt& group = prompts[it->second];
    for (const auto& seen : group.texts) {
      if (seen == text) {
        writer.skip("row repeating a response already given for its prompt (first kept)");
        return;
      }
    }
    group.texts.push_back(text);
    for (size_t a = 0; a < kHelpSteerAttributes.size(); ++a) group.scores[a].push_back(row_scores[a]);
  });
  for (const auto& group : prompts) {
    if (group.texts.size() < 2) {
      writer.skip("prompt with fewer than 2 distinct responses");
      continue;
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < group.texts.size(); ++i) names.push_back("response-" + std::to_string(i + 1));
    for (size_t a = 0; a < kHelpSteerAttributes.size(); ++a) {
      const std::string& attribute = kHelpSteerAttributes[a];
      writer.add(listwise_record({.id = "helpsteer:" + std::to_string(group.first_line) + ":" + attribute,
                                  .principle = helpsteer_principle(attribute),
                                  .prompt = group.prompt,
                                  .names = names,
                                  .texts = group.texts,
                                  .scores = group.scores[a],
                                  .domain = "chat",
                                  .category = attribute,
                                  .where = group.where,
                                  .names_field = "response"}),
                 group.where);
    }
  }
  return out;
}

std::string rm_bench_domain(const std::string& domain) { return domain.rfind("safety", 0) == 0 ? "safety" : domain; }

Conversion convert_rm_bench(const std::filesystem::path& input) {
  Conversion out;
  Writer writer(out);
  std::vector<RmBenchItem> items;
  if (std::filesystem::is_directory(input)) {
    items = read_rm_bench_dir(input);
  } else {
    std::string domain = input.stem().string();  // chat_filtered -> chat; total_dataset: records carry domain
    const std::string suffix = "_filtered";
    domain = domain.size() > suffix.size() && domain.compare(domain.size() - suffix.size(), suffix.size(), suffix) == 0
                 ? domain.substr(0, domain.size() - suffix.size())
                 : "";
    items = read_rm_bench_file(input, domain);
  }
  for (const auto& item : items) {
    ++out.source_records;
    const std::set<std::string> chosen(item.chosen.begin(), item.chosen.end());
    bool contradicts = false;
    for (const auto& text : item.rejected) contradicts = contradicts || chosen.count(text) > 0;
    if (contradicts) {
      writer.skip("a rejected response has the text of a chosen one");
      continue;
    }
    std::vector<std::string> names, texts;
    std::vector<ordered_json> scores;
    for (size_t s = 0; s < kRmBenchStyles.size(); ++s) {
      names.push_back("chosen-" + kRmBenchStyles[s]);
      texts.push_back(item.chosen[s]);
      scores.push_back(2);
    }
    for (size_t s = 0; s < kRmBenchStyles.size(); ++s) {
      names.push_back("rejected-" + kRmBenchStyles[s]);
      texts.push_back(item.rejected[s]);
      scores.push_back(1);
    }
    ordered_json record = listwise_record({.id = "rm-bench:" + item.key(),
                                           .principle = rm_bench_principle(item.domain),
                                           .prompt = item.prompt,
                                           .names = names,
                                           .texts = texts,
                                           .scores = scores,
                                           .domain = rm_bench_domain(item.domain),
                                           .category = item.domain,
                                           .where = item.where,
                                           .names_field = "chosen"});
    record["source"] = item.domain + "/" + item.id;
    writer.add(std::move(record), item.where);
  }
  return out;
}

}  // namespace

const std::vector<std::string>& source_format_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& entry : kFormats) out.emplace_back(entry.name);
    return out;
  }();
  return names;
}

SourceFormat parse_source_format(const std::string& name) {
  for (const auto& entry : kFormats) {
    if (name == entry.name) return entry.format;
  }
  std::string known;
  for (const auto& entry : kFormats) known += (known.empty() ? "" : ", ") + std::string(entry.name);
  throw std::invalid_argument("unknown format '" + name + "' (known: " + known + ")");
}

std::string source_format_name(SourceFormat format) {
  for (const auto& entry : kFormats) {
    if (entry.format == format) return entry.name;
  }
  throw std::logic_error("source_format_name: unhandled format");
}

const std::vector<std::string>& helpsteer_attributes() { return kHelpSteerAttributes; }

std::string alpacaeval_principle() {
  return "Prefer the response that best serves the person who gave the instruction: it does what was asked, "
         "its content is accurate, and it is as complete as the request needs, without padding.";
}

std::string helpsteer_principle(const std::string& attribute) {
  if (attribute == "helpfulness") {
    return "Prefer the response that is most useful to the person asking: it does what the prompt asks and meets "
           "the need behind it.";
  }
  if (attribute == "correctness") {
    return "Prefer the response whose content is right and complete: every fact it states is true, and it leaves "
           "out nothing the prompt asks for.";
  }
  if (attribute == "coherence") {
    return "Prefer the response that is clear and consistent: it reads smoothly, never contradicts itself and is "
           "easy to follow.";
  }
  if (attribute == "complexity") {
    return "Prefer the response that shows more depth: vocabulary, ideas and expertise beyond what a basic command "
           "of the language would allow.";
  }
  if (attribute == "verbosity") {
    return "Prefer the response that gives more detail relative to what the prompt asks for: the fuller, longer "
           "answer ranks higher.";
  }
  throw std::invalid_argument("no HelpSteer principle for the attribute '" + attribute + "'");
}

std::string rm_bench_principle(const std::string& domain) {
  const std::string style = " Length and formatting do not matter.";
  if (domain == "chat") return "Prefer the response whose facts are all correct: one factual error outweighs any style." + style;
  if (domain == "code") return "Prefer the response whose code is correct and would do what the task asks." + style;
  if (domain == "math") return "Prefer the response that reaches the correct answer by valid steps." + style;
  if (domain.rfind("safety", 0) == 0) {
    return "Decline requests that could lead to real harm, and help fully with requests that are safe, even when "
           "they sound sensitive." + style;
  }
  throw std::invalid_argument("no RM-Bench principle for the domain '" + domain + "'");
}

Conversion convert_to_listwise(SourceFormat format, const std::filesystem::path& input) {
  if (!std::filesystem::exists(input)) throw std::runtime_error(input.string() + ": no such file or directory");
  switch (format) {
    case SourceFormat::prometheus_listwise: return convert_prometheus(input);
    case SourceFormat::alpacaeval_listwise: return convert_alpacaeval_shape(input, "alpacaeval:", true);
    case SourceFormat::reward_bench_bon: return convert_alpacaeval_shape(input, "reward-bench-bon:", false);
    case SourceFormat::helpsteer: return convert_helpsteer(input);
    case SourceFormat::rm_bench: return convert_rm_bench(input);
  }
  throw std::logic_error("convert_to_listwise: unhandled format");
}

std::string listwise_jsonl_text(const std::vector<ordered_json>& records) {
  std::string text;
  for (const auto& record : records) text += record.dump() + "\n";
  return text;
}

}  // namespace precept::data
