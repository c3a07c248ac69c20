// Multi-threaded gemm over the single-threaded BLAS: the output is split into fixed ranges (rows or columns of C,
// or whole batch items) and every thread computes its part with one sgemm_serial call.
#pragma once

#include <cstdint>

#include "thread-pool.h"

namespace hydra {

struct GemmShape {
  bool trans_a, trans_b;
  int64_t M, N, K;
  float alpha, beta;
  int64_t lda, ldb, ldc;
};

// C = alpha op(A) op(B) + beta C (row-major); pointers already include offsets.
void gemm(ThreadPool& pool, const GemmShape& s, const float* A, const float* B, float* C);

// For i < batch: the gemm above on A + i*stride_a, B + i*stride_b, C + i*stride_c.
void gemm_batched(ThreadPool& pool, const GemmShape& s, int64_t batch, const float* A, int64_t stride_a,
                  const float* B, int64_t stride_b, float* C, int64_t stride_c);

}  // namespace hydra
