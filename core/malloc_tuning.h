// How the process's malloc keeps memory it freed. ATen allocates every CPU tensor with
// posix_memalign and frees it when the last reference goes; with glibc's defaults a decode step's
// large temporaries (logits, softmax, MLP activations) are mmapped fresh or trimmed back to the
// kernel, so every step faults in and zero-fills new pages (bench/generate_bench.py reports the
// minor faults per step). Retaining freed memory turns that into reuse.
#pragma once

namespace precept::core {

// Sets glibc's mmap threshold to 256 MiB (larger blocks are still mapped and unmapped: the
// weights, the KV cache) and its trim threshold to 1 GiB, so that freed blocks below those sizes
// stay in the heap for the next step. PRECEPT_RETAIN_FREED_MEMORY=0 keeps glibc's defaults.
// Returns whether the settings were applied. Call it once, early in main().
bool retain_freed_memory();

}  // namespace precept::core
