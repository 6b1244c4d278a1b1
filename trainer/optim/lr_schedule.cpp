#include "trainer/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace precept::trainer {

LrScheduleKind parse_lr_schedule(std::string_view name) {
  if (name == "constant" || name == "constant_with_warmup") return LrScheduleKind::kConstant;
  if (name == "linear") return LrScheduleKind::kLinear;
  if (name == "cosine" || name == "cosine_with_min_lr") return LrScheduleKind::kCosine;
  throw std::invalid_argument("unknown learning-rate schedule '" + std::string(name) +
                              "'; expected one of: constant, linear, cosine "
                              "(or transformers' constant_with_warmup, cosine_with_min_lr)");
}

std::string lr_schedule_name(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::kConstant: return "constant";
    case LrScheduleKind::kLinear: return "linear";
    case LrScheduleKind::kCosine: return "cosine";
  }
  return "?";
}

void validate(const LrSchedule& schedule) {
  if (!(schedule.base_lr >= 0.0) || !std::isfinite(schedule.base_lr)) {
    throw std::invalid_argument("learning-rate schedule: base_lr must be finite and >= 0, got " +
                                std::to_string(schedule.base_lr));
  }
  if (schedule.warmup_steps < 0) {
    throw std::invalid_argument("learning-rate schedule: warmup_steps must be >= 0, got " +
                                std::to_string(schedule.warmup_steps));
  }
  if (schedule.kind != LrScheduleKind::kConstant && schedule.total_steps <= 0) {
    throw std::invalid_argument("learning-rate schedule: '" + lr_schedule_name(schedule.kind) +
                                "' needs total_steps > 0, got " + std::to_string(schedule.total_steps));
  }
  if (!(schedule.min_lr_ratio >= 0.0 && schedule.min_lr_ratio <= 1.0)) {
    throw std::invalid_argument("learning-rate schedule: min_lr_ratio must be in [0, 1], got " +
                                std::to_string(schedule.min_lr_ratio));
  }
  if (schedule.kind == LrScheduleKind::kConstant && schedule.min_lr_ratio != 0.0) {
    throw std::invalid_argument("learning-rate schedule: min_lr_ratio has no meaning for 'constant'");
  }
}

// The transformers lambdas (optimization.py), with their integer/float conversions and their
// order of operations, so that the doubles agree exactly.
double lr_factor(const LrSchedule& schedule, int64_t step) {
  validate(schedule);
  if (step < 0) throw std::invalid_argument("learning-rate schedule: step must be >= 0, got " + std::to_string(step));
  const int64_t warmup = schedule.warmup_steps;
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  const double floor = schedule.min_lr_ratio;
  switch (schedule.kind) {
    case LrScheduleKind::kConstant:
      return 1.0;
    case LrScheduleKind::kLinear: {
      const double factor = std::max(0.0, static_cast<double>(schedule.total_steps - step) /
                                              static_cast<double>(std::max<int64_t>(1, schedule.total_steps - warmup)));
      return floor == 0.0 ? factor : factor * (1 - floor) + floor;
    }
    case LrScheduleKind::kCosine: {
      const double progress = static_cast<double>(step - warmup) /
                              static_cast<double>(std::max<int64_t>(1, schedule.total_steps - warmup));
      double factor = 0.5 * (1.0 + std::cos(M_PI * schedule.num_cycles * 2.0 * progress));
      factor = factor * (1 - floor) + floor;
      return std::max(0.0, factor);
    }
  }
  return 1.0;
}

double learning_rate(const LrSchedule& schedule, int64_t step) { return schedule.base_lr * lr_factor(schedule, step); }

int64_t warmup_steps_from_ratio(int64_t total_steps, double warmup_ratio) {
  if (!(warmup_ratio >= 0.0 && warmup_ratio < 1.0)) {
    throw std::invalid_argument("warmup ratio must be in [0, 1), got " + std::to_string(warmup_ratio));
  }
  return static_cast<int64_t>(std::ceil(static_cast<double>(total_steps) * warmup_ratio));
}

}  // namespace precept::trainer
