// The single-threaded matrix product every gemm in the backend ends in. One implementation is linked: OpenBLAS
// (sgemm-openblas.cc) or the portable built-in kernel (sgemm-builtin.cc) when OpenBLAS is not installed.
// Threading is never the BLAS library's business: gemm.cc splits the output over the backend's own threads.
#pragma once

namespace hydra {

// Row-major C(M,N) = alpha * op(A) @ op(B) + beta * C. With beta == 0, C is not read. Requires M, N, K >= 1.
void sgemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc);

// "openblas" or "builtin".
const char* blas_name();

// Once per process: make the BLAS library single-threaded (several backends call it from their own threads).
void blas_init();

}  // namespace hydra
