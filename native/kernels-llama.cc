// The Llama kernels: RMSNorm, the rotary table and the rotary embedding fused with the head split, SwiGLU.
// RMSNorm and the rotary kernels mirror js's float64 arithmetic operation for operation (so they match it bit for
// bit); SwiGLU is exp-based and uses the vectorised float exp, like GELU.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"
#include "vmath.h"

namespace hydra {

void rmsnorm_forward(ThreadPool& pool, float* out, float* rstd, const float* x, const float* w, int64_t N, int64_t C,
                     double eps) {
  const int64_t min_rows = std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1));
  parallel_for(pool, N, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * C;
      float* o = out + r * C;
      double ss = 0;
      for (int64_t c = 0; c < C; ++c) ss += static_cast<double>(xr[c]) * xr[c];
      const double s = 1.0 / std::sqrt(ss / static_cast<double>(C) + eps);
      for (int64_t c = 0; c < C; ++c) o[c] = static_cast<float>(xr[c] * s * w[c]);
      rstd[r] = static_cast<float>(s);
    }
  });
}

void rmsnorm_backward(ThreadPool& pool, float* dx, float* dw, const float* dout, const float* x, const float* w,
                      const float* rstd, int64_t N, int64_t C) {
  // dw first (column sums in row order, each thread a range of columns), then dx by rows, as layernorm does.
  const int64_t min_cols = N * C < 8192 ? C : 16;
  parallel_for(pool, C, min_cols, [&](int64_t c0, int64_t c1) {
    const int64_t width = c1 - c0;
    std::vector<double> acc(width, 0.0);
    for (int64_t r = 0; r < N; ++r) {
      const float* xr = x + r * C + c0;
      const float* d = dout + r * C + c0;
      const double s = rstd[r];
      for (int64_t c = 0; c < width; ++c) acc[c] += (xr[c] * s) * d[c];
    }
    for (int64_t c = 0; c < width; ++c) dw[c0 + c] = static_cast<float>(dw[c0 + c] + acc[c]);
  });
  const int64_t min_rows = std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1));
  parallel_for(pool, N, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * C;
      const float* d = dout + r * C;
      float* g = dx + r * C;
      const double s = rstd[r];
      double dot = 0;
      for (int64_t c = 0; c < C; ++c) dot += static_cast<double>(w[c]) * d[c] * (xr[c] * s);
      dot /= static_cast<double>(C);
      for (int64_t c = 0; c < C; ++c) {
        const double norm = xr[c] * s;
        g[c] = static_cast<float>(g[c] + (static_cast<double>(w[c]) * d[c] - norm * dot) * s);
      }
    }
  });
}

// src/backend/rope-table.ts, operation for operation.
void rope_table(float* cs, int64_t T, int64_t hs, double theta) {
  const int64_t half = hs / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float e = static_cast<float>(static_cast<double>(2 * i) / static_cast<double>(hs));
    const float p = static_cast<float>(std::pow(theta, static_cast<double>(e)));
    const float inv = static_cast<float>(1.0 / static_cast<double>(p));
    for (int64_t t = 0; t < T; ++t) {
      const float a = static_cast<float>(static_cast<double>(t) * inv);
      cs[t * half + i] = static_cast<float>(std::cos(static_cast<double>(a)));
      cs[(T + t) * half + i] = static_cast<float>(std::sin(static_cast<double>(a)));
    }
  }
}

namespace {
// Calls body(head_row, x_row, t) for every (b, h, t): head_row is the element offset of a row of (B,NH,T,hs),
// x_row that of the head's slice in (B,T,NH*hs).
template <class Body>
void for_rope_rows(ThreadPool& pool, int64_t B, int64_t T, int64_t NH, int64_t hs, Body&& body) {
  const int64_t rows = B * NH * T;
  const int64_t min_rows = std::max<int64_t>(1, kElementwiseGrain / 4 / std::max<int64_t>(hs, 1));
  parallel_for(pool, rows, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t t = row % T, bh = row / T, h = bh % NH, b = bh / NH;
      body(row * hs, (b * T + t) * NH * hs + h * hs, t);
    }
  });
}
}  // namespace

void rope_forward(ThreadPool& pool, float* out, const float* x, const float* cs, int64_t B, int64_t T, int64_t NH,
                  int64_t hs) {
  const int64_t half = hs / 2;
  for_rope_rows(pool, B, T, NH, hs, [&](int64_t o, int64_t xi, int64_t t) {
    const float* c = cs + t * half;
    const float* s = cs + (T + t) * half;
    for (int64_t i = 0; i < half; ++i) {
      const double x1 = x[xi + i], x2 = x[xi + half + i];
      out[o + i] = static_cast<float>(x1 * c[i] - x2 * s[i]);
      out[o + half + i] = static_cast<float>(x2 * c[i] + x1 * s[i]);
    }
  });
}

void rope_backward(ThreadPool& pool, float* dx, const float* dout, const float* cs, int64_t B, int64_t T, int64_t NH,
                   int64_t hs) {
  const int64_t half = hs / 2;
  for_rope_rows(pool, B, T, NH, hs, [&](int64_t o, int64_t xi, int64_t t) {
    const float* c = cs + t * half;
    const float* s = cs + (T + t) * half;
    for (int64_t i = 0; i < half; ++i) {
      const double d1 = dout[o + i], d2 = dout[o + half + i];
      dx[xi + i] = static_cast<float>(dx[xi + i] + (d1 * c[i] + d2 * s[i]));
      dx[xi + half + i] = static_cast<float>(dx[xi + half + i] + (d2 * c[i] - d1 * s[i]));
    }
  });
}

// silu(g) = g * sigmoid(g); 1 - sigmoid(g) is taken as sigmoid(-g) (no cancellation, and no inf * 0 in either tail).
void swiglu_forward(ThreadPool& pool, float* out, const float* gate, const float* up, int64_t n) {
  parallel_for(pool, n, kElementwiseGrain / 4, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float g = gate[i];
      out[i] = g * fast_sigmoidf(g) * up[i];
    }
  });
}

void swiglu_backward(ThreadPool& pool, float* dgate, float* dup, const float* gate, const float* up,
                     const float* dout, int64_t n) {
  parallel_for(pool, n, kElementwiseGrain / 4, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float g = gate[i];
      const float s = fast_sigmoidf(g);
      const float d = dout[i];
      dgate[i] += d * up[i] * s * (1.0f + g * fast_sigmoidf(-g));
      dup[i] += d * g * s;
    }
  });
}

}  // namespace hydra
