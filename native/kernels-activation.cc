// GELU (tanh form) and counter-based dropout.
#include <cmath>
#include "kernels.h"
#include "rng.h"
#include "vmath.h"

namespace hydra {

namespace {
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluCubic = 0.044715f;
}  // namespace

// 0.5 x (1 + tanh(u)) == x * sigmoid(2u): same function, no cancellation for large negative x.
void gelu_forward(ThreadPool& pool, float* out, const float* x, int64_t n) {
  parallel_for(pool, n, kElementwiseGrain / 4, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float v = x[i];
      const float u = kGeluScale * (v + kGeluCubic * v * v * v);
      out[i] = v * fast_sigmoidf(2.0f * u);
    }
  });
}

// d/dx [x sigmoid(2u)] = s + x * 2 s (1 - s) * u'(x), with s = sigmoid(2u) and 1 - s = exp(-2u) * s computed
// without cancellation. Accumulates into dx.
void gelu_backward(ThreadPool& pool, float* dx, const float* x, const float* dout, int64_t n) {
  parallel_for(pool, n, kElementwiseGrain / 4, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float v = x[i];
      const float u = kGeluScale * (v + kGeluCubic * v * v * v);
      const float q = fast_expf(-2.0f * u);
      const float s = 1.0f / (1.0f + q);
      // Far left tail (x < ~-11) q overflows to inf and s to 0: q * s would be inf * 0 = NaN, while 1 - s is 1.
      const float one_minus_s = std::isinf(q) ? 1.0f : q * s;
      const float du = kGeluScale * (1.0f + 3.0f * kGeluCubic * v * v);
      const float local = s + 2.0f * v * s * one_minus_s * du;
      dx[i] += local * dout[i];
    }
  });
}

// out = keep ? x * scale : 0. x * scale in float is the correctly rounded product, as js computes it.
void dropout_forward(ThreadPool& pool, float* out, const float* x, int64_t n, float p, float scale,
                     uint32_t key_prefix) {
  parallel_for(pool, n, kElementwiseGrain / 2, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      out[i] = dropout_keep(key_prefix, static_cast<uint32_t>(i), p) ? x[i] * scale : 0.0f;
    }
  });
}

// dx += keep ? dout * scale : 0, in float64 then rounded, exactly as js's `g[i] += d[i] * s`.
void dropout_backward(ThreadPool& pool, float* dx, const float* dout, int64_t n, float p, float scale,
                      uint32_t key_prefix) {
  parallel_for(pool, n, kElementwiseGrain / 2, [&](int64_t lo, int64_t hi) {
    const double s = scale;
    for (int64_t i = lo; i < hi; ++i) {
      const float updated = static_cast<float>(static_cast<double>(dx[i]) + static_cast<double>(dout[i]) * s);
      dx[i] = dropout_keep(key_prefix, static_cast<uint32_t>(i), p) ? updated : dx[i];
    }
  });
}

}  // namespace hydra
