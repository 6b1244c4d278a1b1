// The run folder's logs: metrics.jsonl content (order, nulls, counts), samples.jsonl, the errors
// a trainer can make, fresh-versus-earlier-run folders, and resume (records after the resume step
// and lines torn by a crash dropped, files rewritten, logging continues). The hidden
// MetricsTensorBoardExport test writes runs that tests/check_tensorboard_events.py reads back
// with TensorBoard.
#include "trainer/metrics.h"

#include "tests/test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace precept::trainer;
using namespace precept::testing;

namespace {

std::vector<std::string> lines_of(const fs::path& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_all(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<int64_t> event_steps(const fs::path& directory) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory))
    if (tensorboard::is_event_file_name(entry.path().filename().string())) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  std::vector<int64_t> steps;
  for (const auto& file : files)
    for (const std::string& record : tensorboard::scan_records(read_all(file)).records)
      steps.push_back(tensorboard::event_step(record));
  return steps;
}

// Options with the given fields set (designated initializers are C++20).
MetricsOptions options(bool tensorboard = true, std::optional<int64_t> resume_step = std::nullopt,
                       bool overwrite = false, int64_t samples_every = 0) {
  MetricsOptions result;
  result.tensorboard = tensorboard;
  result.resume_step = resume_step;
  result.overwrite = overwrite;
  result.samples_every = samples_every;
  return result;
}

SampleGroup group_of(const std::string& prompt, double reward) {
  SampleGroup group;
  group.prompt = prompt;
  group.responses = {"first answer", "second answer"};
  group.rewards = {reward, -reward};
  group.judge = {{"reasoning", "the first is clearer"}, {"scores", {{"model-1", 8}, {"model-2", 3}}}};
  return group;
}

// A run of `last` steps, with samples at even steps.
void write_run(const fs::path& dir, int64_t first, int64_t last) {
  MetricsLogger logger(dir, options(true, std::nullopt, false, 2));
  for (int64_t step = first; step <= last; ++step) {
    logger.log(step, 1000.0 + step, {{"loss", step / 10.0}, {"reward/mean", double(step)}});
    if (logger.samples_due(step)) logger.log_samples(step, 1000.5 + step, {group_of("prompt " + std::to_string(step), 1)});
  }
}

}  // namespace

TEST(MetricsLogger, WritesOneOrderedObjectPerStep) {
  const fs::path dir = temp_dir("metrics_jsonl");
  {
    MetricsLogger logger(dir, options(false));
    logger.log(1, 1700000000.125, {{"time/generate", 12.5}, {"reward/mean", 0.25}, {"loss", -0.5}});
    logger.log(2, 1700000001.5, {{"reward/mean", 0.75}, {"count", 3}});
    EXPECT_EQ(logger.nonfinite_count(), 0);
    EXPECT_EQ(logger.events_path(), fs::path());
  }
  const std::vector<std::string> lines = lines_of(dir / "metrics.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], R"({"step":1,"time":1700000000.125,"loss":-0.5,"reward/mean":0.25,"time/generate":12.5})");
  EXPECT_EQ(lines[1], R"({"step":2,"time":1700000001.5,"count":3.0,"reward/mean":0.75})");
  EXPECT_TRUE(fs::exists(dir / "samples.jsonl"));
  fs::remove_all(dir);
}

TEST(MetricsLogger, EveryStepIsOnDiskBeforeLogReturns) {
  const fs::path dir = temp_dir("metrics_flush");
  MetricsLogger logger(dir);
  logger.log(0, 1.0, {{"x", 0.1}});
  EXPECT_EQ(lines_of(dir / "metrics.jsonl").size(), 1u);  // read while the logger is still open
  EXPECT_EQ(event_steps(dir), (std::vector<int64_t>{0, 0}));
  logger.log(1, 2.0, {{"x", 0.2}});
  EXPECT_EQ(lines_of(dir / "metrics.jsonl").size(), 2u);
  EXPECT_EQ(event_steps(dir), (std::vector<int64_t>{0, 0, 1}));
  logger.sync();
  fs::remove_all(dir);
}

TEST(MetricsLogger, NonFiniteValuesAreNullAndCounted) {
  const fs::path dir = temp_dir("metrics_nonfinite");
  {
    MetricsLogger logger(dir);
    const double inf = std::numeric_limits<double>::infinity();
    logger.log(5, 10.0, {{"a", std::nan("")}, {"b", inf}, {"c", -inf}, {"d", 1e300}});
    SampleGroup group = group_of("p", std::nan(""));
    logger.log_samples(5, 10.0, {group});
    EXPECT_EQ(logger.nonfinite_count(), 5);  // three metrics, two rewards
    // What the loops print at the end of a run.
    EXPECT_NE(logger.nonfinite_note().find("5 metric value(s) or reward(s)"), std::string::npos) << logger.nonfinite_note();
    EXPECT_NE(logger.nonfinite_note().find("metrics.jsonl"), std::string::npos);
  }
  EXPECT_EQ(MetricsLogger(temp_dir("metrics_finite")).nonfinite_note(), "");
  EXPECT_EQ(lines_of(dir / "metrics.jsonl")[0], R"({"step":5,"time":10.0,"a":null,"b":null,"c":null,"d":1e+300})");
  const json sample = json::parse(lines_of(dir / "samples.jsonl")[0]);
  EXPECT_EQ(sample["rewards"], json::parse("[null, null]"));
  fs::remove_all(dir);
}

TEST(MetricsLogger, WrongCallsAreRejectedAndWriteNothing) {
  const fs::path dir = temp_dir("metrics_errors");
  MetricsLogger logger(dir);
  logger.log(3, 1.0, {{"x", 1}});
  EXPECT_NE(error_of([&] { logger.log(3, 2.0, {{"x", 1}}); }).find("step 3 does not come after step 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { logger.log(2, 2.0, {{"x", 1}}); }).find("step 2 does not come after step 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { logger.log(4, 2.0, {{"a", std::nan("")}, {"step", 1}}); }).find("may not be named 'step'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { logger.log(4, 2.0, {{"time", 1}}); }).find("may not be named 'time'"), std::string::npos);
  EXPECT_NE(error_of([&] { logger.log(4, 2.0, {{"", 1}}); }).find("may not be named ''"), std::string::npos);
  EXPECT_NE(error_of([&] { logger.log(4, 2.0, {{"bad\xff", 1}}); }).find("not valid UTF-8"), std::string::npos);
  SampleGroup uneven = group_of("p", 1);
  uneven.rewards.pop_back();
  EXPECT_NE(error_of([&] { logger.log_samples(4, 2.0, {uneven}); }).find("group 0 has 2 responses but 1 rewards"),
            std::string::npos);
  SampleGroup nonfinite = group_of("p", std::nan(""));
  EXPECT_NE(error_of([&] { logger.log_samples(4, 2.0, {nonfinite, uneven}); }).find("group 1 has"), std::string::npos);
  EXPECT_EQ(lines_of(dir / "metrics.jsonl").size(), 1u);
  EXPECT_EQ(lines_of(dir / "samples.jsonl").size(), 0u);
  EXPECT_EQ(logger.nonfinite_count(), 0);
  EXPECT_EQ(event_steps(dir), (std::vector<int64_t>{0, 3}));
  logger.log(4, 2.0, {{"x", 1}});  // a rejected call leaves the logger usable
  fs::remove_all(dir);
}

TEST(MetricsLogger, SamplesAreOneLinePerGroup) {
  const fs::path dir = temp_dir("metrics_samples");
  {
    MetricsLogger logger(dir, options(true, std::nullopt, false, 10));
    EXPECT_TRUE(logger.samples_due(0));
    EXPECT_FALSE(logger.samples_due(5));
    EXPECT_TRUE(logger.samples_due(20));
    SampleGroup broken = group_of("second prompt", 0.5);
    broken.responses[1] = "cut \xe4\xbd";  // a response that ends inside a character
    logger.log_samples(20, 99.25, {group_of("first prompt", 2), broken});
  }
  const std::vector<std::string> lines = lines_of(dir / "samples.jsonl");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            R"({"step":20,"time":99.25,"group":0,"prompt":"first prompt","responses":["first answer","second answer"],)"
            R"("rewards":[2.0,-2.0],"judge":{"reasoning":"the first is clearer","scores":{"model-1":8,"model-2":3}}})");
  const json second = json::parse(lines[1]);
  EXPECT_EQ(second["group"], 1);
  EXPECT_EQ(second["responses"][1], "cut \xef\xbf\xbd");
  EXPECT_FALSE(MetricsLogger(temp_dir("metrics_samples_never")).samples_due(0));
  fs::remove_all(dir);
}

TEST(MetricsLogger, SampleMarkdownFencesAreLongerThanTheText) {
  SampleGroup group;
  group.prompt = "Write code";
  group.responses = {"```python\nprint(1)\n```", "plain"};
  group.rewards = {0.5, std::nan("")};
  const std::string markdown = sample_markdown(7, group);
  EXPECT_NE(markdown.find("**step 7** prompt:\n\n```text\nWrite code\n```\n"), std::string::npos) << markdown;
  EXPECT_NE(markdown.find("response 1, reward 0.5:\n\n````text\n```python\nprint(1)\n```\n````\n"), std::string::npos)
      << markdown;
  EXPECT_NE(markdown.find("response 2, reward nan:"), std::string::npos) << markdown;
  EXPECT_EQ(markdown.find("judge:"), std::string::npos);
}

TEST(MetricsLogger, AnEarlierRunIsNotOverwrittenUnlessAsked) {
  const fs::path dir = temp_dir("metrics_earlier");
  write_run(dir, 1, 3);
  const std::string message = error_of([&] { MetricsLogger logger(dir); });
  EXPECT_NE(message.find(dir.string() + ": holds the logs of an earlier run"), std::string::npos) << message;
  EXPECT_EQ(lines_of(dir / "metrics.jsonl").size(), 3u);
  {
    MetricsLogger logger(dir, options(true, std::nullopt, true));
    logger.log(1, 5.0, {{"x", 1}});
  }
  EXPECT_EQ(lines_of(dir / "metrics.jsonl").size(), 1u);
  EXPECT_EQ(lines_of(dir / "samples.jsonl").size(), 0u);
  EXPECT_EQ(event_steps(dir), (std::vector<int64_t>{0, 1}));  // the earlier event file is gone
  fs::remove_all(dir);
}

TEST(MetricsLogger, AFolderThatCannotBeMadeIsNamed) {
  const fs::path dir = temp_dir("metrics_blocked");
  write_all(dir / "file", "in the way");
  const std::string message = error_of([&] { MetricsLogger logger(dir / "file" / "run"); });
  EXPECT_NE(message.find((dir / "file" / "run").string() + ": cannot create the metrics folder"), std::string::npos)
      << message;
  const std::string file_message = error_of([&] { MetricsLogger logger(dir / "file"); });
  EXPECT_NE(file_message.find((dir / "file").string() + ": cannot create the metrics folder"), std::string::npos)
      << file_message;
  fs::remove_all(dir);
}

TEST(MetricsLogger, ResumeDropsWhatACrashedRunWroteAfterTheResumeStep) {
  const fs::path dir = temp_dir("metrics_resume");
  write_run(dir, 1, 8);
  const std::vector<std::string> before = lines_of(dir / "metrics.jsonl");
  // The crash tore the last line of each JSONL file.
  std::ofstream(dir / "metrics.jsonl", std::ios::app) << R"({"step":9,"time":1009.0,"lo)";
  std::ofstream(dir / "samples.jsonl", std::ios::app) << R"({"step":10,"ti)";

  {
    MetricsLogger logger(dir, options(true, 5));
    const ResumeReport& report = logger.resume_report();
    EXPECT_EQ(report.metrics_kept, 5);
    EXPECT_EQ(report.metrics_dropped, 3 + 1);  // steps 6..8 and the torn line
    EXPECT_EQ(report.samples_kept, 2);         // steps 2, 4
    EXPECT_EQ(report.samples_dropped, 2 + 1);  // steps 6, 8 and the torn line
    EXPECT_EQ(report.events_kept, 1 + 5 + 2);  // file_version, scalars of steps 1..5, texts of steps 2, 4
    EXPECT_EQ(report.events_dropped, 3 + 2);
    ASSERT_EQ(report.damaged.size(), 2u);
    EXPECT_EQ(report.damaged[0], "metrics.jsonl:9: not a JSON object with an integer \"step\"; dropped");
    EXPECT_EQ(report.damaged[1], "samples.jsonl:5: not a JSON object with an integer \"step\"; dropped");
    EXPECT_NE(error_of([&] { logger.log(5, 1.0, {{"x", 1}}); }).find("step 5 does not come after step 5"),
              std::string::npos);
    EXPECT_NE(error_of([&] { logger.log_samples(5, 1.0, {}); }).find("not after the resume step 5"),
              std::string::npos);
    logger.log(6, 2000.0, {{"loss", 42}});
    logger.log_samples(6, 2000.0, {group_of("again", 3)});
  }
  const std::vector<std::string> after = lines_of(dir / "metrics.jsonl");
  ASSERT_EQ(after.size(), 6u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(after[i], before[i]);  // kept byte for byte
  EXPECT_EQ(after[5], R"({"step":6,"time":2000.0,"loss":42.0})");
  std::vector<int64_t> sample_steps;
  for (const std::string& line : lines_of(dir / "samples.jsonl")) sample_steps.push_back(json::parse(line)["step"]);
  EXPECT_EQ(sample_steps, (std::vector<int64_t>{2, 4, 6}));
  // First file: file_version and steps <= 5 in write order; second file: file_version, step 6 twice.
  EXPECT_EQ(event_steps(dir), (std::vector<int64_t>{0, 1, 2, 2, 3, 4, 4, 5, 0, 6, 6}));
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_NE(entry.path().extension(), ".tmp") << entry.path();
  fs::remove_all(dir);
}

TEST(MetricsLogger, ResumeInAnEmptyFolderStartsTheFiles) {
  const fs::path dir = temp_dir("metrics_resume_empty");
  MetricsLogger logger(dir / "new", options(true, 100));
  EXPECT_EQ(logger.resume_report().metrics_kept, 0);
  logger.log(101, 1.0, {{"x", 1}});
  EXPECT_EQ(lines_of(dir / "new" / "metrics.jsonl").size(), 1u);
  fs::remove_all(dir);
}

// Not a test on its own: writes two runs for tests/check_tensorboard_events.py, which reads them
// back with TensorBoard. Runs only when PRECEPT_TENSORBOARD_OUT names the folder to write.
TEST(MetricsTensorBoardExport, WritesRunsForTheTensorBoardCheck) {
  const char* out = std::getenv("PRECEPT_TENSORBOARD_OUT");
  if (out == nullptr) GTEST_SKIP() << "PRECEPT_TENSORBOARD_OUT not set (tests/check_tensorboard_events.py sets it)";
  const fs::path root = out;
  fs::remove_all(root);
  json expected = {{"fresh", {{"scalars", json::object()}, {"texts", json::object()}}},
                   {"resumed", {{"scalars", json::object()}, {"texts", json::object()}}}};
  // Values as strings for JSON's sake: "nan", "inf", or a double printed to 17 digits.
  auto remember = [&](const char* run, int64_t step, double time, const Metrics& metrics) {
    for (const auto& [name, value] : metrics) {
      char printed[40];
      std::snprintf(printed, sizeof printed, "%.17g", value);
      expected[run]["scalars"][name].push_back({step, time, printed});
    }
  };
  const double inf = std::numeric_limits<double>::infinity();

  // "fresh": many values that float32 rounds, extremes, non-finite, unicode tags, samples.
  {
    MetricsLogger logger(root / "fresh", options(true, std::nullopt, false, 3));
    for (int64_t step = 0; step < 12; ++step) {
      const double time = 1700000000.0 + step * 1.234567;
      Metrics metrics = {{"loss", 0.1 * step - 0.35},
                         {"reward/mean", std::sin(step) * 7.3},
                         {"reward/std", step * 1e-7},
                         {"time/generate", 1e30 * step},
                         {"kl/π", step == 4 ? std::nan("") : 1.0 / 3.0},
                         {"tokens", step * 4096.0}};
      if (step == 5) metrics["edge/huge"] = inf;
      if (step == 6) metrics["edge/huge"] = 1e300;  // becomes inf as a float
      logger.log(step, time, metrics);
      remember("fresh", step, time, metrics);
      if (logger.samples_due(step)) {
        SampleGroup group = group_of("Step " + std::to_string(step) + ": say `hi` **boldly**", 0.25 * step);
        group.responses[1] = "```\ncode\n``` and ünïcødé";
        logger.log_samples(step, time, {group, group_of("other", 1)});
        expected["fresh"]["texts"]["samples/0"].push_back({step, time, sample_markdown(step, group)});
        expected["fresh"]["texts"]["samples/1"].push_back({step, time, sample_markdown(step, group_of("other", 1))});
      }
    }
  }
  // "resumed": steps 1..9 by a run that crashed, resumed from a checkpoint at step 5, then 6..8.
  {
    MetricsLogger crashed(root / "resumed", options(true, std::nullopt, false, 2));
    for (int64_t step = 1; step <= 9; ++step) {
      crashed.log(step, 100.0 + step, {{"loss", -1.0 * step}});
      if (crashed.samples_due(step)) crashed.log_samples(step, 100.0 + step, {group_of("crashed", step)});
    }
  }
  for (int64_t step = 1; step <= 5; ++step) {
    remember("resumed", step, 100.0 + step, {{"loss", -1.0 * step}});
    if (step % 2 == 0)
      expected["resumed"]["texts"]["samples/0"].push_back({step, 100.0 + step, sample_markdown(step, group_of("crashed", step))});
  }
  {
    MetricsLogger resumed(root / "resumed", options(true, 5, false, 2));
    for (int64_t step = 6; step <= 8; ++step) {
      resumed.log(step, 500.0 + step, {{"loss", 0.5 * step}});
      remember("resumed", step, 500.0 + step, {{"loss", 0.5 * step}});
      if (resumed.samples_due(step)) {
        resumed.log_samples(step, 500.0 + step, {group_of("resumed", step)});
        expected["resumed"]["texts"]["samples/0"].push_back({step, 500.0 + step, sample_markdown(step, group_of("resumed", step))});
      }
    }
  }
  write_all(root / "expected.json", expected.dump(1));
  std::cout << "wrote " << root.string() << "\n";
}
