// The hooks `precept train` installs in its trainer (trainer/hooks.h). The `precept` executable
// links apps/no_training_hooks.cpp, which installs none; the test-only `precept_fault` executable
// links tests/support/fault_hooks.cpp, which injects the fault PRECEPT_FAULT names.
#pragma once

#include "trainer/hooks.h"

namespace precept::apps {

trainer::TrainerHooks training_hooks();

}  // namespace precept::apps
