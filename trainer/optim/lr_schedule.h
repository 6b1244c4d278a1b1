// Learning-rate schedules with linear warmup (constant, linear decay, cosine decay, an optional
// floor), giving the same doubles as transformers' get_*_schedule_with_warmup under torch's
// LambdaLR (lr = base_lr * factor(step)). Pure functions of the step: nothing to save in a
// checkpoint but the step. Not the optimizer (trainer/adamw.h). Used by the GRPO trainer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace precept::trainer {

enum class LrScheduleKind {
  kConstant,  // "constant": warmup, then 1 (transformers get_constant_schedule_with_warmup)
  kLinear,    // "linear": warmup, then linear to 0 at total_steps (get_linear_schedule_with_warmup)
  kCosine,    // "cosine": warmup, then half a cosine to 0 (get_cosine_schedule_with_warmup,
              //  get_cosine_with_min_lr_schedule_with_warmup when min_lr_ratio > 0)
};

// "constant", "linear", "cosine" (also transformers' names "constant_with_warmup" and
// "cosine_with_min_lr"); throws std::invalid_argument listing the valid names otherwise.
LrScheduleKind parse_lr_schedule(std::string_view name);
std::string lr_schedule_name(LrScheduleKind kind);

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::kConstant;
  double base_lr = 1e-6;      // TRL GRPOConfig's default learning_rate
  int64_t warmup_steps = 0;   // factor rises linearly from 0 at step 0 to 1 at warmup_steps
  int64_t total_steps = 0;    // needed by linear and cosine (the step where the decay ends)
  // Floor of the decay as a fraction of base_lr: transformers' min_lr_rate for cosine; for
  // linear precept applies the same formula (factor * (1 - r) + r), which transformers lacks.
  double min_lr_ratio = 0.0;
  double num_cycles = 0.5;    // cosine only: 0.5 = from the peak down to the floor once
};

// Throws std::invalid_argument naming the field when the schedule makes no sense.
void validate(const LrSchedule& schedule);
// The multiplier at `step` (0-based, the step about to be taken), exactly as transformers'
// lambdas compute it in Python floats.
double lr_factor(const LrSchedule& schedule, int64_t step);
// base_lr * lr_factor(step), as LambdaLR multiplies.
double learning_rate(const LrSchedule& schedule, int64_t step);
// transformers' TrainingArguments.get_warmup_steps for a warmup given as a ratio: ceil(total * ratio).
int64_t warmup_steps_from_ratio(int64_t total_steps, double warmup_ratio);

}  // namespace precept::trainer
