#include "lm/cpu_matvec.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <cstdlib>
#include <string>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define PRECEPT_MATVEC_X86 1
#endif

namespace precept::lm {

namespace {

#ifdef PRECEPT_MATVEC_X86

// PRECEPT_CPU_MATVEC=0 turns the kernel off (MKL runs every product), to compare the two.
bool cpu_has_avx2_fma() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          !(std::getenv("PRECEPT_CPU_MATVEC") && std::string(std::getenv("PRECEPT_CPU_MATVEC")) == "0");
  return has;
}

__attribute__((target("avx2,fma"))) inline float horizontal_sum(__m256 v) {
  const __m128 quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
  return _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps(pair, pair, 0x1)));
}

// Rows [n0, n1) of out [R, N]: WR weight rows at a time, each against all R rows of x, so that a
// weight vector loaded once feeds R FMAs and WR x R independent accumulators hide the FMA latency.
template <int R, int WR>
__attribute__((target("avx2,fma"))) void matvec_rows(const float* x, const float* w, float* out, int64_t N, int64_t K,
                                                     int64_t n0, int64_t n1) {
  const int64_t K8 = K / 8 * 8;
  int64_t n = n0;
  for (; n + WR <= n1; n += WR) {
    __m256 acc[WR][R];
#pragma GCC unroll 8
    for (int k = 0; k < WR; ++k) {
#pragma GCC unroll 8
      for (int b = 0; b < R; ++b) acc[k][b] = _mm256_setzero_ps();
    }
    for (int64_t i = 0; i < K8; i += 8) {
      __m256 wv[WR];
#pragma GCC unroll 8
      for (int k = 0; k < WR; ++k) wv[k] = _mm256_loadu_ps(w + (n + k) * K + i);
#pragma GCC unroll 8
      for (int b = 0; b < R; ++b) {
        const __m256 xv = _mm256_loadu_ps(x + b * K + i);
#pragma GCC unroll 8
        for (int k = 0; k < WR; ++k) acc[k][b] = _mm256_fmadd_ps(wv[k], xv, acc[k][b]);
      }
    }
#pragma GCC unroll 8
    for (int k = 0; k < WR; ++k) {
#pragma GCC unroll 8
      for (int b = 0; b < R; ++b) {
        float sum = horizontal_sum(acc[k][b]);
        for (int64_t i = K8; i < K; ++i) sum += w[(n + k) * K + i] * x[b * K + i];
        out[b * N + n + k] = sum;
      }
    }
  }
  if constexpr (WR > 1) {
    if (n < n1) matvec_rows<R, 1>(x, w, out, N, K, n, n1);
  }
}

// WR x R accumulators plus WR weight vectors and one x vector fit AVX2's 16 registers.
template <int R>
void matvec_chunk(const float* x, const float* w, float* out, int64_t N, int64_t K, int64_t n0, int64_t n1) {
  constexpr int WR = R <= 2 ? 4 : R <= 4 ? 2 : 1;
  matvec_rows<R, WR>(x, w, out, N, K, n0, n1);
}

using Chunk = void (*)(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t);
constexpr int64_t kGroup = 8;  // rows of x per kernel call
constexpr Chunk kChunks[kGroup] = {matvec_chunk<1>, matvec_chunk<2>, matvec_chunk<3>, matvec_chunk<4>,
                                           matvec_chunk<5>, matvec_chunk<6>, matvec_chunk<7>, matvec_chunk<8>};

#else

bool cpu_has_avx2_fma() { return false; }

#endif

thread_local bool matvec_scope_open = false;

}  // namespace

CpuMatvecScope::CpuMatvecScope() : previous_(matvec_scope_open) { matvec_scope_open = true; }
CpuMatvecScope::~CpuMatvecScope() { matvec_scope_open = previous_; }

bool cpu_matvec_applies(const at::Tensor& x, const at::Tensor& weight) {
  if (!matvec_scope_open || !cpu_has_avx2_fma()) return false;
  if (x.dim() != 2 || weight.dim() != 2 || x.size(1) != weight.size(1)) return false;
  if (!x.device().is_cpu() || !weight.device().is_cpu()) return false;
  if (x.scalar_type() != at::kFloat || weight.scalar_type() != at::kFloat || !weight.is_contiguous()) return false;
  if (x.size(0) < 1 || x.size(0) > kMatvecMaxRows || x.size(1) < 1) return false;
  return !(c10::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad()));
}

at::Tensor cpu_matvec(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias) {
  TORCH_CHECK(cpu_matvec_applies(x, weight), "cpu_matvec: x ", x.sizes(), " ", x.scalar_type(), " and weight ",
              weight.sizes(), " ", weight.scalar_type(), " are not a case it runs");
#ifdef PRECEPT_MATVEC_X86
  const at::Tensor rows = x.contiguous();
  const int64_t R = rows.size(0), K = rows.size(1), N = weight.size(0);
  at::Tensor out = at::empty({R, N}, rows.options());
  const float* x_data = rows.data_ptr<float>();
  const float* w_data = weight.data_ptr<float>();
  float* out_data = out.data_ptr<float>();
  // One contiguous block of weight rows per thread (a block under 16K weights is not worth a
  // thread), walked in tiles of about 128 KB so that a tile read from memory once serves every
  // group of 8 rows of x from the core's L2.
  const int64_t threads = std::max(1, at::get_num_threads());
  const int64_t grain = std::max<int64_t>((N + threads - 1) / threads, (16384 + K - 1) / K);
  const int64_t tile = std::max<int64_t>(8, 32768 / K / 8 * 8);
  at::parallel_for(0, N, grain, [&](int64_t n0, int64_t n1) {
    for (int64_t t0 = n0; t0 < n1; t0 += tile) {
      const int64_t t1 = std::min(n1, t0 + tile);
      for (int64_t r0 = 0; r0 < R; r0 += kGroup) {
        const int64_t rows_here = std::min<int64_t>(kGroup, R - r0);
        kChunks[rows_here - 1](x_data + r0 * K, w_data, out_data + r0 * N, N, K, t0, t1);
      }
    }
  });
  if (bias.defined()) out.add_(bias);
  return out;
#else
  return at::linear(x, weight, bias);
#endif
}

}  // namespace precept::lm
