// The production `precept`: training runs without hooks (see apps/commands/training_hooks.h).
#include "apps/commands/training_hooks.h"

namespace precept::apps {

trainer::TrainerHooks training_hooks() { return {}; }

}  // namespace precept::apps
