// AdamW and SGD(momentum) steps, elementwise. The arithmetic is js's, in float64 and in the same order (including
// using the unrounded new moment, as js's `mi = (m[i] = ...)` does), so the two backends step identically.
#include <cmath>

#include "kernels.h"

namespace hydra {

void adamw(ThreadPool& pool, float* param, const float* grad, float* m, float* v, int64_t n, const AdamWStep& h) {
  parallel_for(pool, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    const double b1 = h.beta1, b2 = h.beta2, bc1 = h.bias_correction1, bc2 = h.bias_correction2;
    for (int64_t i = lo; i < hi; ++i) {
      const double gi = grad[i] * h.grad_scale;
      const double mi = b1 * m[i] + (1 - b1) * gi;
      const double vi = b2 * v[i] + (1 - b2) * gi * gi;
      m[i] = static_cast<float>(mi);
      v[i] = static_cast<float>(vi);
      const double mhat = mi / bc1;
      const double vhat = vi / bc2;
      const double p = param[i];
      param[i] = static_cast<float>(p - h.lr * (mhat / (std::sqrt(vhat) + h.eps) + h.weight_decay * p));
    }
  });
}

void sgd(ThreadPool& pool, float* param, const float* grad, float* momentum_buf, int64_t n, const SgdStep& h) {
  const bool use_momentum = momentum_buf != nullptr && h.momentum != 0;
  parallel_for(pool, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const double p = param[i];
      double d = grad[i] * h.grad_scale + h.weight_decay * p;
      if (use_momentum) {
        const double b = h.momentum * momentum_buf[i] + d;
        momentum_buf[i] = static_cast<float>(b);
        d = h.nesterov ? d + h.momentum * b : b;
      }
      param[i] = static_cast<float>(p - h.lr * d);
    }
  });
}

}  // namespace hydra
