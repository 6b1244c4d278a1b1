// metrics.jsonl, samples.jsonl and TensorBoard events of a training run; see metrics.h.
#include "trainer/metrics.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <system_error>

#include "text/unicode.h"

namespace precept::trainer {

namespace {

using ordered_json = nlohmann::ordered_json;

// A JSON number, or null for NaN and infinities (counted in `nonfinite`).
ordered_json number_or_null(double value, int64_t& nonfinite) {
  if (std::isfinite(value)) return value;
  ++nonfinite;
  return nullptr;
}

// One JSONL line. Strings that are not valid UTF-8 (a response cut inside a character) get
// U+FFFD rather than making the whole record fail.
std::string jsonl_line(const ordered_json& record) {
  return record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool has_content(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error) && std::filesystem::file_size(path, error) > 0;
}

std::vector<std::filesystem::path> event_files(const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error))
    if (entry.is_regular_file() && tensorboard::is_event_file_name(entry.path().filename().string()))
      files.push_back(entry.path());
  if (error) throw std::runtime_error(directory.string() + ": cannot list the folder: " + error.message());
  return files;
}

// Keeps the lines of a JSONL file whose "step" is <= last_step, byte for byte; drops the others
// and any line that is not a JSON object with an integer "step" (a line torn by a crash).
void truncate_jsonl(const std::filesystem::path& path, int64_t last_step, int64_t& kept, int64_t& dropped,
                    std::vector<std::string>& damaged) {
  if (!std::filesystem::exists(path)) return;
  const std::string bytes = core::read_file(path);
  std::string out;
  size_t begin = 0;
  int64_t line_number = 0;
  bool changed = false;
  while (begin < bytes.size()) {
    size_t end = bytes.find('\n', begin);
    if (end == std::string::npos) end = bytes.size();
    const std::string_view line(bytes.data() + begin, end - begin);
    ++line_number;
    begin = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    const bool readable = record.is_object() && record.contains("step") && record["step"].is_number_integer();
    if (!readable) {
      damaged.push_back(path.filename().string() + ":" + std::to_string(line_number) +
                        ": not a JSON object with an integer \"step\"; dropped");
      ++dropped;
      changed = true;
    } else if (record["step"].get<int64_t>() > last_step) {
      ++dropped;
      changed = true;
    } else {
      out.append(line.data(), line.size());
      out += '\n';
      ++kept;
    }
  }
  if (changed || out.size() != bytes.size()) core::replace_file_atomically(path, out);
}

void check_step(const std::optional<int64_t>& last_step, int64_t step, const char* what) {
  if (step < 0) throw std::invalid_argument(std::string(what) + ": step " + std::to_string(step) + " is negative");
  if (last_step && step <= *last_step)
    throw std::invalid_argument(std::string(what) + ": step " + std::to_string(step) +
                                " does not come after step " + std::to_string(*last_step));
}

// A fence of backticks longer than any run of backticks in `text`, and at least three.
std::string fence_for(const std::string& text) {
  size_t longest = 0, run = 0;
  for (const char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<size_t>(3, longest + 1), '`');
}

void append_fenced(std::string& out, const std::string& text, const char* language) {
  const std::string fence = fence_for(text);
  out += fence + language + "\n" + text + (text.empty() || text.back() != '\n' ? "\n" : "") + fence + "\n\n";
}

std::string format_reward(double reward) {
  if (!std::isfinite(reward)) return std::isnan(reward) ? "nan" : (reward > 0 ? "inf" : "-inf");
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", reward);
  return buffer;
}

}  // namespace

double wall_clock_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string sample_markdown(int64_t step, const SampleGroup& group) {
  std::string out = "**step " + std::to_string(step) + "** prompt:\n\n";
  append_fenced(out, group.prompt, "text");
  for (size_t i = 0; i < group.responses.size(); ++i) {
    out += "response " + std::to_string(i + 1);
    if (i < group.rewards.size()) out += ", reward " + format_reward(group.rewards[i]);
    out += ":\n\n";
    append_fenced(out, group.responses[i], "text");
  }
  if (!group.judge.is_null()) {
    out += "judge:\n\n";
    append_fenced(out, group.judge.dump(2, ' ', false, nlohmann::json::error_handler_t::replace), "json");
  }
  return out;
}

MetricsLogger::MetricsLogger(std::filesystem::path directory, MetricsOptions options)
    : directory_(std::move(directory)), options_(options) {
  if (options_.samples_every < 0)
    throw std::invalid_argument("metrics: samples_every must be >= 0, not " + std::to_string(options_.samples_every));
  if (options_.resume_step && *options_.resume_step < 0)
    throw std::invalid_argument("metrics: resume step must be >= 0, not " + std::to_string(*options_.resume_step));
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error || !std::filesystem::is_directory(directory_))
    throw std::runtime_error(directory_.string() + ": cannot create the metrics folder" +
                             (error ? ": " + error.message() : std::string(": a file is in the way")));
  if (options_.resume_step) {
    prepare_resume(*options_.resume_step);
  } else {
    prepare_fresh();
  }
  metrics_file_.emplace(metrics_path(), core::AppendFile::Mode::append);
  samples_file_.emplace(samples_path(), core::AppendFile::Mode::append);
  if (options_.tensorboard) events_.emplace(directory_, wall_clock_seconds());
}

void MetricsLogger::prepare_fresh() {
  std::vector<std::filesystem::path> earlier = event_files(directory_);
  for (const auto& path : {metrics_path(), samples_path()})
    if (has_content(path)) earlier.push_back(path);
  if (earlier.empty()) return;
  if (!options_.overwrite)
    throw std::runtime_error(directory_.string() + ": holds the logs of an earlier run (" +
                             earlier.front().filename().string() +
                             "); resume from a checkpoint step, allow overwriting, or choose another folder");
  for (const auto& path : earlier) {
    std::error_code error;
    std::filesystem::remove(path, error);
    if (error) throw std::runtime_error(path.string() + ": cannot delete the earlier run's file: " + error.message());
  }
}

void MetricsLogger::prepare_resume(int64_t resume_step) {
  ResumeReport& report = resume_report_;
  truncate_jsonl(metrics_path(), resume_step, report.metrics_kept, report.metrics_dropped, report.damaged);
  truncate_jsonl(samples_path(), resume_step, report.samples_kept, report.samples_dropped, report.damaged);
  const tensorboard::EventTruncation events = tensorboard::truncate_event_files(directory_, resume_step);
  report.events_kept = events.kept;
  report.events_dropped = events.dropped;
  report.damaged.insert(report.damaged.end(), events.damaged.begin(), events.damaged.end());
  last_step_ = resume_step;
}

void MetricsLogger::log(int64_t step, double wall_time, const Metrics& metrics) {
  check_step(last_step_, step, "metrics");
  for (const auto& [name, value] : metrics) {
    if (name.empty() || name == "step" || name == "time")
      throw std::invalid_argument("metrics: a metric may not be named '" + name + "' (step " + std::to_string(step) +
                                  "); \"step\" and \"time\" are the record's own keys");
    if (!text::unicode::is_valid_utf8(name))  // TensorBoard's tag is a protobuf string: UTF-8 only
      throw std::invalid_argument("metrics: metric name " + nlohmann::json(text::unicode::to_valid_utf8(name)).dump() +
                                  " is not valid UTF-8 (step " + std::to_string(step) + ")");
  }
  ordered_json record = ordered_json::object();
  record["step"] = step;
  record["time"] = number_or_null(wall_time, nonfinite_count_);
  for (const auto& [name, value] : metrics) record[name] = number_or_null(value, nonfinite_count_);
  metrics_file_->write(jsonl_line(record));
  if (events_) events_->write(tensorboard::scalars_event(wall_time, step, metrics));
  last_step_ = step;
}

bool MetricsLogger::samples_due(int64_t step) const {
  return options_.samples_every > 0 && step % options_.samples_every == 0;
}

void MetricsLogger::log_samples(int64_t step, double wall_time, const std::vector<SampleGroup>& groups) {
  if (step < 0) throw std::invalid_argument("samples: step " + std::to_string(step) + " is negative");
  if (options_.resume_step && step <= *options_.resume_step)
    throw std::invalid_argument("samples: step " + std::to_string(step) + " is not after the resume step " +
                                std::to_string(*options_.resume_step));
  for (size_t index = 0; index < groups.size(); ++index)
    if (groups[index].rewards.size() != groups[index].responses.size())
      throw std::invalid_argument("samples: step " + std::to_string(step) + " group " + std::to_string(index) +
                                  " has " + std::to_string(groups[index].responses.size()) + " responses but " +
                                  std::to_string(groups[index].rewards.size()) + " rewards");
  std::string lines;
  for (size_t index = 0; index < groups.size(); ++index) {
    const SampleGroup& group = groups[index];
    ordered_json record = ordered_json::object();
    record["step"] = step;
    record["time"] = number_or_null(wall_time, nonfinite_count_);
    record["group"] = index;
    record["prompt"] = group.prompt;
    record["responses"] = group.responses;
    ordered_json rewards = ordered_json::array();
    for (const double reward : group.rewards) rewards.push_back(number_or_null(reward, nonfinite_count_));
    record["rewards"] = std::move(rewards);
    record["judge"] = group.judge;
    lines += jsonl_line(record);
  }
  samples_file_->write(lines);
  if (events_)
    for (size_t index = 0; index < groups.size(); ++index)
      events_->write(tensorboard::text_event(wall_time, step, "samples/" + std::to_string(index),
                                             text::unicode::to_valid_utf8(sample_markdown(step, groups[index]))));
}

void MetricsLogger::sync() {
  metrics_file_->sync();
  samples_file_->sync();
  if (events_) events_->sync();
}

std::filesystem::path MetricsLogger::events_path() const { return events_ ? events_->path() : std::filesystem::path(); }

std::string MetricsLogger::nonfinite_note() const {
  if (nonfinite_count_ == 0) return "";
  return std::to_string(nonfinite_count_) + " metric value(s) or reward(s) were NaN or infinite and were written as null in " +
         metrics_path().string() + " or " + samples_path().string() + " (TensorBoard has the values themselves)";
}

}  // namespace precept::trainer
