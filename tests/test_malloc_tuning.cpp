// core::retain_freed_memory: a block freed and allocated again is reused without faulting in
// fresh pages. glibc's defaults map and unmap a block above 32 MiB (its largest dynamic mmap
// threshold) on every allocation: 12,288 faults per round of 48 MiB, 49,156 in the 4 rounds here.
#include "core/malloc_tuning.h"

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cstdlib>
#include <cstring>

namespace {

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Allocates `bytes`, writes every byte and frees it; the empty asm that takes the pointer keeps
// the compiler from removing the allocation and the writes.
void touch_and_free(size_t bytes) {
  char* block = static_cast<char*>(std::malloc(bytes));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, bytes);
  __asm__ volatile("" : : "r"(block) : "memory");
  std::free(block);
}

}  // namespace

TEST(MallocTuning, AFreedBlockIsReusedWithoutNewPageFaults) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer replaces malloc (mallopt has no effect) and quarantines freed blocks.
  GTEST_SKIP() << "malloc is AddressSanitizer's here";
#endif
  ::unsetenv("PRECEPT_RETAIN_FREED_MEMORY");
  ASSERT_TRUE(precept::core::retain_freed_memory());
  constexpr size_t kBytes = size_t(48) << 20;  // 12,288 pages of 4 KiB
  touch_and_free(kBytes);                      // the first round faults its pages in
  const long before = minor_faults();
  for (int round = 0; round < 4; ++round) touch_and_free(kBytes);
  const long faults = minor_faults() - before;
  EXPECT_LT(faults, 256) << faults << " minor faults in 4 rounds of a 48 MiB block";
}

TEST(MallocTuning, TheEnvironmentCanKeepGlibcsDefaults) {
  ::setenv("PRECEPT_RETAIN_FREED_MEMORY", "0", 1);
  EXPECT_FALSE(precept::core::retain_freed_memory());
  ::unsetenv("PRECEPT_RETAIN_FREED_MEMORY");
}
