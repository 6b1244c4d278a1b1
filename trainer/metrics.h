// What a training run writes for people to plot and read, in one run folder: metrics.jsonl (one
// JSON object per step), TensorBoard event files (trainer/tensorboard.h) and samples.jsonl.
// Not the console progress line (apps/commands/progress.h) and not checkpoints. The GRPO trainer
// owns one MetricsLogger on rank 0 and calls log() once per step. docs/metrics.md for users.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/files.h"
#include "trainer/tensorboard.h"

namespace precept::trainer {

// Named scalars of one step, e.g. {"reward/mean", 0.61}, {"time/generate", 12.4}. Written in the
// order of their names, which keeps "reward/..." together.
using Metrics = std::map<std::string, double>;

struct MetricsOptions {
  bool tensorboard = true;             // also write events.out.tfevents.* files
  std::optional<int64_t> resume_step;  // resuming from a checkpoint of this step (see MetricsLogger)
  bool overwrite = false;              // a fresh run may delete an earlier run's files in the folder
  int64_t samples_every = 0;           // samples_due(step) every this many steps; 0: never
};

// One prompt with its sampled responses, as the trainer hands it to log_samples().
struct SampleGroup {
  std::string prompt;
  std::vector<std::string> responses;
  std::vector<double> rewards;     // one per response
  nlohmann::json judge = nullptr;  // the judge's reasoning and diagnostics, as the reward gave them
};

// What opening a folder in resume mode kept and dropped.
struct ResumeReport {
  int64_t metrics_kept = 0, metrics_dropped = 0;  // metrics.jsonl records
  int64_t samples_kept = 0, samples_dropped = 0;  // samples.jsonl records
  int64_t events_kept = 0, events_dropped = 0;    // TensorBoard events, all event files together
  std::vector<std::string> damaged;               // "<file>: <what>" for torn or unreadable lines and records
};

// Writes <directory>/metrics.jsonl, <directory>/samples.jsonl and, unless options.tensorboard is
// false, one new <directory>/events.out.tfevents.<seconds>.<host> per logger. Each record reaches
// the operating system before the call returns, so a crash of the process loses nothing logged.
//
// Fresh run (no resume_step): a folder that already holds metrics.jsonl, samples.jsonl or event
// files is an error, unless options.overwrite, which deletes those files first.
// Resume: every file is rewritten (atomically, file by file) to keep only the records of steps
// <= resume_step, dropping those a crashed run wrote after its last checkpoint and any line or
// record torn by the crash; logging then continues after them. A missing file is fine.
//
// Errors are std::runtime_error naming the file (a folder that cannot be created or written) and
// std::invalid_argument for a wrong call (a step that does not increase, a metric named "step");
// a rejected call writes nothing. Not thread-safe: one thread of rank 0 calls it.
class MetricsLogger {
 public:
  explicit MetricsLogger(std::filesystem::path directory, MetricsOptions options = {});

  // One line of metrics.jsonl, {"step": s, "time": t, "<name>": value, ...}, and one TensorBoard
  // event with a scalar per metric (rounded to float, as TensorBoard stores it). Steps must
  // increase from call to call (and exceed resume_step). A non-finite value is written as null in
  // the JSONL (JSON has no NaN) and as itself in TensorBoard, and is counted.
  void log(int64_t step, double wall_time, const Metrics& metrics);

  // Whether the trainer should log samples at this step (every options.samples_every steps).
  bool samples_due(int64_t step) const;
  // One line of samples.jsonl per group, {"step", "time", "group", "prompt", "responses",
  // "rewards", "judge"}, and a markdown text summary "samples/<group>" for TensorBoard's Text tab.
  // Text that is not valid UTF-8 is written with U+FFFD in place of the bad bytes.
  void log_samples(int64_t step, double wall_time, const std::vector<SampleGroup>& groups);

  // fsync(2) of every file: what was logged survives a power loss (call at checkpoints).
  void sync();

  int64_t nonfinite_count() const { return nonfinite_count_; }  // metric values and rewards written as null
  // What a loop prints when its run ends: how many values were written as null and where; ""
  // when every value was finite.
  std::string nonfinite_note() const;
  const ResumeReport& resume_report() const { return resume_report_; }
  const std::filesystem::path& directory() const { return directory_; }
  std::filesystem::path metrics_path() const { return directory_ / "metrics.jsonl"; }
  std::filesystem::path samples_path() const { return directory_ / "samples.jsonl"; }
  // The event file this logger writes; empty when options.tensorboard is false.
  std::filesystem::path events_path() const;

 private:
  void prepare_fresh();
  void prepare_resume(int64_t resume_step);

  std::filesystem::path directory_;
  MetricsOptions options_;
  ResumeReport resume_report_;
  std::optional<int64_t> last_step_;
  int64_t nonfinite_count_ = 0;
  std::optional<core::AppendFile> metrics_file_, samples_file_;
  std::optional<tensorboard::EventFileWriter> events_;
};

// Seconds since the Unix epoch, from the system clock: the wall_time to pass to log().
double wall_clock_seconds();

// The markdown that log_samples() shows in TensorBoard for one group: the prompt, each response
// with its reward, the judge's output, each in a fence longer than any backtick run inside it.
std::string sample_markdown(int64_t step, const SampleGroup& group);

}  // namespace precept::trainer
