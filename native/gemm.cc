#include "gemm.h"

#include <algorithm>

#include "sgemm.h"

namespace hydra {
namespace {

// Products smaller than this many multiply-adds are not worth waking a thread for.
constexpr int64_t kMinParallelFlops = 1 << 18;

// C = beta * C without reading C when beta == 0 (K == 0 means the product term vanishes).
void scale_only(const GemmShape& s, float* C) {
  for (int64_t i = 0; i < s.M; ++i) {
    float* row = C + i * s.ldc;
    if (s.beta == 0.0f) {
      std::fill(row, row + s.N, 0.0f);
    } else {
      for (int64_t j = 0; j < s.N; ++j) row[j] *= s.beta;
    }
  }
}

// Rows [i0, i1) and columns [j0, j1) of C.
void gemm_block(const GemmShape& s, const float* A, const float* B, float* C, int64_t i0, int64_t i1, int64_t j0,
                int64_t j1) {
  if (i1 <= i0 || j1 <= j0) return;
  const float* a = s.trans_a ? A + i0 : A + i0 * s.lda;
  const float* b = s.trans_b ? B + j0 * s.ldb : B + j0;
  sgemm_serial(s.trans_a, s.trans_b, static_cast<int>(i1 - i0), static_cast<int>(j1 - j0), static_cast<int>(s.K),
               s.alpha, a, static_cast<int>(s.lda), b, static_cast<int>(s.ldb), s.beta, C + i0 * s.ldc + j0,
               static_cast<int>(s.ldc));
}

void gemm_serial_one(const GemmShape& s, const float* A, const float* B, float* C) {
  if (s.M == 0 || s.N == 0) return;
  if (s.K == 0) return scale_only(s, C);
  gemm_block(s, A, B, C, 0, s.M, 0, s.N);
}

}  // namespace

void gemm(ThreadPool& pool, const GemmShape& s, const float* A, const float* B, float* C) {
  if (s.M == 0 || s.N == 0) return;
  if (s.K == 0) return scale_only(s, C);
  const int threads = pool.threads();
  if (threads == 1 || s.M * s.N * s.K < kMinParallelFlops) return gemm_block(s, A, B, C, 0, s.M, 0, s.N);
  // Split the longer side of C; boundaries on multiples of 16 keep the BLAS micro-kernels on full tiles.
  const bool split_rows = s.M >= s.N;
  const int64_t extent = split_rows ? s.M : s.N;
  const int64_t units = (extent + 15) / 16;
  const int parts = static_cast<int>(std::min<int64_t>(threads, units));
  pool.run(parts, [&](int p) {
    const int64_t lo = std::min(extent, units * p / parts * 16);
    const int64_t hi = std::min(extent, units * (p + 1) / parts * 16);
    if (split_rows) {
      gemm_block(s, A, B, C, lo, hi, 0, s.N);
    } else {
      gemm_block(s, A, B, C, 0, s.M, lo, hi);
    }
  });
}

void gemm_batched(ThreadPool& pool, const GemmShape& s, int64_t batch, const float* A, int64_t stride_a,
                  const float* B, int64_t stride_b, float* C, int64_t stride_c) {
  if (batch <= 0 || s.M == 0 || s.N == 0) return;
  const int threads = pool.threads();
  if (batch < threads) {
    // Too few items to go round: split each product instead.
    for (int64_t i = 0; i < batch; ++i) gemm(pool, s, A + i * stride_a, B + i * stride_b, C + i * stride_c);
    return;
  }
  parallel_for(pool, batch, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) gemm_serial_one(s, A + i * stride_a, B + i * stride_b, C + i * stride_c);
  });
}

}  // namespace hydra
