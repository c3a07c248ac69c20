// Multi-head attention helpers: head split/merge permutations and the causal softmax.
#include <algorithm>
#include <vector>

#include "kernels.h"
#include "reductions.h"
#include "vmath.h"

namespace hydra {

namespace {

// Calls body(head_row, packed_row) for every (b, h, t) where head_row indexes (B,NH,T,hs) rows of hs and
// packed_row is the element offset of that head's slice in a (B,T,X) row-major tensor of row width `width`.
template <class Body>
void for_head_rows(ThreadPool& pool, int64_t B, int64_t T, int64_t NH, int64_t hs, int64_t width, Body&& body) {
  const int64_t rows = B * NH * T;
  const int64_t min_rows = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(hs, 1));
  parallel_for(pool, rows, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t t = row % T, bh = row / T, h = bh % NH, b = bh / NH;
      body(row * hs, (b * T + t) * width + h * hs);
    }
  });
}

}  // namespace

void split_heads(ThreadPool& pool, float* q, float* k, float* v, const float* qkv, int64_t B, int64_t T,
                 int64_t NH, int64_t hs) {
  const int64_t C = NH * hs;
  for_head_rows(pool, B, T, NH, hs, 3 * C, [&](int64_t head, int64_t packed) {
    std::copy(qkv + packed, qkv + packed + hs, q + head);
    std::copy(qkv + packed + C, qkv + packed + C + hs, k + head);
    std::copy(qkv + packed + 2 * C, qkv + packed + 2 * C + hs, v + head);
  });
}

void split_heads_backward(ThreadPool& pool, float* dqkv, const float* dq, const float* dk, const float* dv,
                          int64_t B, int64_t T, int64_t NH, int64_t hs) {
  const int64_t C = NH * hs;
  for_head_rows(pool, B, T, NH, hs, 3 * C, [&](int64_t head, int64_t packed) {
    float* g = dqkv + packed;
    for (int64_t e = 0; e < hs; ++e) g[e] += dq[head + e];
    for (int64_t e = 0; e < hs; ++e) g[C + e] += dk[head + e];
    for (int64_t e = 0; e < hs; ++e) g[2 * C + e] += dv[head + e];
  });
}

void merge_heads(ThreadPool& pool, float* out, const float* y, int64_t B, int64_t T, int64_t NH, int64_t hs) {
  for_head_rows(pool, B, T, NH, hs, NH * hs, [&](int64_t head, int64_t merged) {
    std::copy(y + head, y + head + hs, out + merged);
  });
}

void merge_heads_backward(ThreadPool& pool, float* dy, const float* dout, int64_t B, int64_t T, int64_t NH,
                          int64_t hs) {
  for_head_rows(pool, B, T, NH, hs, NH * hs, [&](int64_t head, int64_t merged) {
    for (int64_t e = 0; e < hs; ++e) dy[head + e] += dout[merged + e];
  });
}

// Row t of each (T,T) matrix: softmax(scale * att[t, 0..t]), zeros after t.
void causal_softmax_forward(ThreadPool& pool, float* att, int64_t rows, int64_t T, double scale) {
  const float sc = static_cast<float>(scale);
  const int64_t min_rows = std::max<int64_t>(1, 8192 / std::max<int64_t>(T, 1));
  parallel_for(pool, rows * T, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t rt = lo; rt < hi; ++rt) {
      const int64_t t = rt % T;
      float* a = att + rt * T;
      const int64_t len = t + 1;
      for (int64_t j = 0; j < len; ++j) a[j] *= sc;
      const float mx = max_lanes(a, len);
      for (int64_t j = 0; j < len; ++j) a[j] = fast_expf(a[j] - mx);
      const float inv = static_cast<float>(1.0 / sum_lanes_f64(a, len));
      for (int64_t j = 0; j < len; ++j) a[j] *= inv;
      std::fill(a + len, a + T, 0.0f);
    }
  });
}

// d = scale * p * (datt - sum_j p*datt) over j <= t, 0 after t; float64 in js's order (matches js exactly).
void causal_softmax_backward(ThreadPool& pool, float* datt, const float* att, int64_t rows, int64_t T,
                             double scale) {
  const int64_t min_rows = std::max<int64_t>(1, 8192 / std::max<int64_t>(T, 1));
  parallel_for(pool, rows * T, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t rt = lo; rt < hi; ++rt) {
      const int64_t t = rt % T;
      float* g = datt + rt * T;
      const float* p = att + rt * T;
      double dot = 0;
      for (int64_t j = 0; j <= t; ++j) dot += static_cast<double>(p[j]) * g[j];
      for (int64_t j = 0; j <= t; ++j) g[j] = static_cast<float>(scale * p[j] * (g[j] - dot));
      std::fill(g + t + 1, g + T, 0.0f);
    }
  });
}

}  // namespace hydra
