#include "core/malloc_tuning.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace precept::core {

bool retain_freed_memory() {
  const char* setting = std::getenv("PRECEPT_RETAIN_FREED_MEMORY");
  if (setting && std::strcmp(setting, "0") == 0) return false;
#if defined(__GLIBC__)
  // Setting M_MMAP_THRESHOLD also turns off glibc's dynamic threshold, which would otherwise
  // reset the trim threshold to twice the largest mapped block freed so far.
  const bool mmap_set = mallopt(M_MMAP_THRESHOLD, 256 << 20) == 1;
  const bool trim_set = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1;
  return mmap_set && trim_set;
#else
  return false;
#endif
}

}  // namespace precept::core
