// Portable built-in sgemm for machines without OpenBLAS: the classic Goto/BLIS structure (pack a KCxNC panel of B
// and an MCxKC block of A, then a 6x16 register-tiled micro-kernel), written with GCC/Clang vector extensions so it
// compiles to AVX/AVX2 (with explicit FMA when the target has it) or SSE without intrinsics elsewhere.
// Every element of C is accumulated over k in increasing order within each KC block, so results do not depend on
// how callers split M or N across threads.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "sgemm.h"

#if defined(__FMA__)
#include <immintrin.h>
#endif

namespace hydra {
namespace {

typedef float v8sf __attribute__((vector_size(32)));

constexpr int MR = 6;
constexpr int NR = 16;
constexpr int KC = 256;
constexpr int MC = 120;   // multiple of MR; A block (MC*KC floats = 120 KiB) stays in L2
constexpr int NC = 3072;  // multiple of NR; B panel (KC*NC floats = 3 MiB) streams from L3

inline v8sf madd(v8sf a, v8sf b, v8sf c) {
#if defined(__FMA__)
  return (v8sf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
  return a * b + c;
#endif
}

inline v8sf splat(float x) { return v8sf{x, x, x, x, x, x, x, x}; }

struct AlignedFree {
  void operator()(float* p) const { std::free(p); }
};
using Scratch = std::unique_ptr<float, AlignedFree>;

float* scratch(Scratch& s, size_t floats) {
  if (!s) s.reset(static_cast<float*>(std::aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64)));
  return s.get();
}

// tile(MR, NR) = a-panel(kc, MR)^T-ish @ b-panel(kc, NR): a holds MR values per k, b holds NR values per k.
void micro_kernel(int kc, const float* a, const float* b, float* tile) {
  v8sf c00{}, c01{}, c10{}, c11{}, c20{}, c21{}, c30{}, c31{}, c40{}, c41{}, c50{}, c51{};
  for (int k = 0; k < kc; ++k) {
    const v8sf b0 = *reinterpret_cast<const v8sf*>(b);
    const v8sf b1 = *reinterpret_cast<const v8sf*>(b + 8);
    v8sf ak = splat(a[0]);
    c00 = madd(ak, b0, c00);
    c01 = madd(ak, b1, c01);
    ak = splat(a[1]);
    c10 = madd(ak, b0, c10);
    c11 = madd(ak, b1, c11);
    ak = splat(a[2]);
    c20 = madd(ak, b0, c20);
    c21 = madd(ak, b1, c21);
    ak = splat(a[3]);
    c30 = madd(ak, b0, c30);
    c31 = madd(ak, b1, c31);
    ak = splat(a[4]);
    c40 = madd(ak, b0, c40);
    c41 = madd(ak, b1, c41);
    ak = splat(a[5]);
    c50 = madd(ak, b0, c50);
    c51 = madd(ak, b1, c51);
    a += MR;
    b += NR;
  }
  v8sf* t = reinterpret_cast<v8sf*>(tile);
  t[0] = c00, t[1] = c01, t[2] = c10, t[3] = c11, t[4] = c20, t[5] = c21;
  t[6] = c30, t[7] = c31, t[8] = c40, t[9] = c41, t[10] = c50, t[11] = c51;
}

// Packs op(A)[i0:i0+mc, k0:k0+kc] into MR-row panels, k-major, zero-padded to a multiple of MR rows.
void pack_a(bool trans, const float* A, int lda, int i0, int mc, int k0, int kc, float* out) {
  for (int p = 0; p < mc; p += MR) {
    const int rows = std::min(MR, mc - p);
    for (int k = 0; k < kc; ++k) {
      for (int r = 0; r < MR; ++r) {
        const int64_t i = i0 + p + r, kk = k0 + k;
        out[r] = r < rows ? (trans ? A[kk * lda + i] : A[i * lda + kk]) : 0.0f;
      }
      out += MR;
    }
  }
}

// Packs op(B)[k0:k0+kc, j0:j0+nc] into NR-column panels, k-major, zero-padded to a multiple of NR columns.
void pack_b(bool trans, const float* B, int ldb, int k0, int kc, int j0, int nc, float* out) {
  for (int p = 0; p < nc; p += NR) {
    const int cols = std::min(NR, nc - p);
    for (int k = 0; k < kc; ++k) {
      const int64_t kk = k0 + k;
      if (!trans && cols == NR) {
        const float* src = B + kk * ldb + j0 + p;
        for (int c = 0; c < NR; ++c) out[c] = src[c];
      } else {
        for (int c = 0; c < NR; ++c) {
          const int64_t j = j0 + p + c;
          out[c] = c < cols ? (trans ? B[j * ldb + kk] : B[kk * ldb + j]) : 0.0f;
        }
      }
      out += NR;
    }
  }
}

}  // namespace

void sgemm_serial(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
                  const float* B, int ldb, float beta, float* C, int ldc) {
  thread_local Scratch a_buf, b_buf;
  float* ap = scratch(a_buf, static_cast<size_t>(MC) * KC);
  float* bp = scratch(b_buf, static_cast<size_t>(KC) * NC);
  alignas(64) float tile[MR * NR];
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = std::min(NC, N - jc);
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = std::min(KC, K - pc);
      // The first K block applies beta (never reading C when beta == 0); later blocks accumulate.
      const bool first = pc == 0;
      pack_b(trans_b, B, ldb, pc, kc, jc, nc, bp);
      for (int ic = 0; ic < M; ic += MC) {
        const int mc = std::min(MC, M - ic);
        pack_a(trans_a, A, lda, ic, mc, pc, kc, ap);
        for (int jr = 0; jr < nc; jr += NR) {
          const int nr = std::min(NR, nc - jr);
          for (int ir = 0; ir < mc; ir += MR) {
            const int mr = std::min(MR, mc - ir);
            micro_kernel(kc, ap + static_cast<size_t>(ir) * kc, bp + static_cast<size_t>(jr) * kc, tile);
            for (int r = 0; r < mr; ++r) {
              float* crow = C + static_cast<int64_t>(ic + ir + r) * ldc + jc + jr;
              const float* trow = tile + r * NR;
              if (!first) {
                for (int c = 0; c < nr; ++c) crow[c] += alpha * trow[c];
              } else if (beta == 0.0f) {
                for (int c = 0; c < nr; ++c) crow[c] = alpha * trow[c];
              } else {
                for (int c = 0; c < nr; ++c) crow[c] = alpha * trow[c] + beta * crow[c];
              }
            }
          }
        }
      }
    }
  }
}

const char* blas_name() { return "builtin"; }

void blas_init() {}

}  // namespace hydra
