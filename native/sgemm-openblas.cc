// sgemm through OpenBLAS. Declared here rather than taken from <cblas.h>, because distributions ship several
// cblas.h variants (netlib's lacks openblas_set_num_threads); the ABI below is the standard CBLAS one.
#include <mutex>

#include "sgemm.h"

extern "C" {
enum HydraCblasOrder { HydraCblasRowMajor = 101 };
enum HydraCblasTranspose { HydraCblasNoTrans = 111, HydraCblasTrans = 112 };
void cblas_sgemm(int order, int trans_a, int trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc);
void openblas_set_num_threads(int threads);
}

namespace hydra {

void sgemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(HydraCblasRowMajor, trans_a ? HydraCblasTrans : HydraCblasNoTrans,
              trans_b ? HydraCblasTrans : HydraCblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char* blas_name() { return "openblas"; }

void blas_init() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

}  // namespace hydra
