// fill, copy, scale, add, axpy, sumSquares, addBias, biasBackward.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels.h"

namespace hydra {

void fill_f32(ThreadPool& pool, float* x, int64_t n, float value) {
  parallel_for(pool, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) { std::fill(x + lo, x + hi, value); });
}

void fill_i32(ThreadPool& pool, int32_t* x, int64_t n, int32_t value) {
  parallel_for(pool, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) { std::fill(x + lo, x + hi, value); });
}

void copy_elements(ThreadPool& pool, void* dst, const void* src, int64_t n) {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  const int64_t bytes = n * 4;
  if (d == s || bytes == 0) return;
  if (d < s + bytes && s < d + bytes) {
    std::memmove(d, s, bytes);  // overlapping ranges (same buffer): one thread, memmove order
    return;
  }
  parallel_for(pool, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) { std::memcpy(d + lo * 4, s + lo * 4, (hi - lo) * 4); });
}

// The float64 intermediate mirrors js (alpha is not rounded to float first).
void scale(ThreadPool& pool, float* x, int64_t n, double alpha) {
  parallel_for(pool, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) x[i] = static_cast<float>(static_cast<double>(x[i]) * alpha);
  });
}

void add(ThreadPool& pool, float* out, const float* a, const float* b, int64_t n) {
  parallel_for(pool, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) out[i] = a[i] + b[i];
  });
}

void axpy(ThreadPool& pool, float* y, const float* x, double alpha, int64_t n) {
  parallel_for(pool, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) y[i] = static_cast<float>(static_cast<double>(y[i]) + alpha * x[i]);
  });
}

namespace {

constexpr int64_t kSumBlock = 4096;

double block_sum_squares(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * x[i];
  return s;
}

}  // namespace

float sum_squares(ThreadPool& pool, const float* x, int64_t n) {
  const int64_t blocks = (n + kSumBlock - 1) / kSumBlock;
  std::vector<double> partial(blocks);
  parallel_for(pool, blocks, 16, [&](int64_t lo, int64_t hi) {
    int64_t b = lo;
    // Four full blocks at a time as four independent chains: each block is still summed strictly in order (so the
    // result equals the one-block-at-a-time sum), but the CPU overlaps the four addition latencies.
    for (; b + 4 <= hi && (b + 4) * kSumBlock <= n; b += 4) {
      const float* x0 = x + b * kSumBlock;
      const float* x1 = x0 + kSumBlock;
      const float* x2 = x1 + kSumBlock;
      const float* x3 = x2 + kSumBlock;
      double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (int64_t i = 0; i < kSumBlock; ++i) {
        s0 += static_cast<double>(x0[i]) * x0[i];
        s1 += static_cast<double>(x1[i]) * x1[i];
        s2 += static_cast<double>(x2[i]) * x2[i];
        s3 += static_cast<double>(x3[i]) * x3[i];
      }
      partial[b] = s0, partial[b + 1] = s1, partial[b + 2] = s2, partial[b + 3] = s3;
    }
    for (; b < hi; ++b) {
      const int64_t start = b * kSumBlock;
      partial[b] = block_sum_squares(x + start, std::min(kSumBlock, n - start));
    }
  });
  double total = 0;
  for (int64_t b = 0; b < blocks; ++b) total += partial[b];
  return static_cast<float>(total);
}

void add_bias(ThreadPool& pool, float* out, const float* bias, int64_t rows, int64_t cols) {
  const int64_t min_rows = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(cols, 1));
  parallel_for(pool, rows, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      float* o = out + r * cols;
      for (int64_t c = 0; c < cols; ++c) o[c] += bias[c];
    }
  });
}

// Split over columns: each column is summed over all rows in row order by one thread, as js does.
void bias_backward(ThreadPool& pool, float* dbias, const float* dout, int64_t rows, int64_t cols) {
  const int64_t min_cols = rows * cols < kElementwiseGrain ? cols : 16;
  parallel_for(pool, cols, min_cols, [&](int64_t c0, int64_t c1) {
    std::vector<double> acc(c1 - c0, 0.0);
    double* a = acc.data();
    const int64_t w = c1 - c0;
    for (int64_t r = 0; r < rows; ++r) {
      const float* d = dout + r * cols + c0;
      for (int64_t c = 0; c < w; ++c) a[c] += d[c];
    }
    for (int64_t c = 0; c < w; ++c) dbias[c0 + c] = static_cast<float>(dbias[c0 + c] + a[c]);
  });
}

}  // namespace hydra
