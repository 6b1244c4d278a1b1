// A progress line on stderr for long commands: done/total, rate and ETA. Redrawn in place
// (carriage return) at most every 0.25 s on a terminal; on a pipe or file, one line every 10 s
// so that logs stay readable. Used by `precept generate`, `judge` and `train`.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace precept::core {

inline std::string format_duration(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "?";
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  char buffer[32];
  if (total >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", (long long)(total / 3600), (long long)(total / 60 % 60),
                  (long long)(total % 60));
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", (long long)(total / 60), (long long)(total % 60));
  }
  return buffer;
}

class ProgressLine {
 public:
  explicit ProgressLine(std::string label) : label_(std::move(label)), terminal_(::isatty(STDERR_FILENO) != 0) {}

  // done/total items, `amount` of `unit` processed so far (for the rate), elapsed seconds, ETA.
  void update(int64_t done, int64_t total, int64_t amount, const char* unit, double seconds, double eta,
              const std::string& extra = "") {
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (printed_ && since < (terminal_ ? 0.25 : 10.0) && done < total) return;
    last_ = now;
    printed_ = true;
    char buffer[256];
    std::snprintf(buffer, sizeof buffer, "[%s] %lld/%lld | %lld %s | %.1f %s/s | %s elapsed | ETA %s%s%s",
                  label_.c_str(), (long long)done, (long long)total, (long long)amount, unit,
                  seconds > 0 ? amount / seconds : 0.0, unit, format_duration(seconds).c_str(),
                  format_duration(eta).c_str(), extra.empty() ? "" : " | ", extra.c_str());
    if (terminal_) {
      std::fprintf(stderr, "\r\033[K%s", buffer);
    } else {
      std::fprintf(stderr, "%s\n", buffer);
    }
    std::fflush(stderr);
    open_ = terminal_;
  }

  // Ends the line on a terminal.
  void finish() {
    if (open_) std::fprintf(stderr, "\n");
    open_ = false;
  }

 private:
  std::string label_;
  bool terminal_;
  bool printed_ = false, open_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace precept::core
