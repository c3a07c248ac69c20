// Fused softmax cross-entropy over rows of V logits (V = 50257 for GPT-2: this is the widest loop of a step).
#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "reductions.h"
#include "vmath.h"

namespace hydra {

namespace {

constexpr int64_t kChunk = 2048;  // exp() results are staged here so the exp loop and the sum loop both vectorise

// log(sum_j exp(z_j)) in float64 around the row maximum.
double row_logsumexp(const float* z, int64_t V) {
  const float mx = max_lanes(z, V);
  alignas(64) float buf[kChunk];
  double sum = 0;
  for (int64_t j0 = 0; j0 < V; j0 += kChunk) {
    const int64_t len = std::min(kChunk, V - j0);
    for (int64_t j = 0; j < len; ++j) buf[j] = fast_expf(z[j0 + j] - mx);
    sum += sum_lanes_f64(buf, len);
  }
  return static_cast<double>(mx) + std::log(sum);
}

int64_t rows_per_part(int64_t V) { return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(V, 1)); }

}  // namespace

void cross_entropy_forward(ThreadPool& pool, float* losses, float* lse, const float* logits, const int32_t* targets,
                           int64_t N, int64_t V) {
  parallel_for(pool, N, rows_per_part(V), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* z = logits + r * V;
      const double logsum = row_logsumexp(z, V);
      lse[r] = static_cast<float>(logsum);
      const int32_t t = targets[r];
      losses[r] = t < 0 ? 0.0f : static_cast<float>(logsum - z[t]);
    }
  });
}

// dlogits[r, j] = (exp(logits[r, j] - lse[r]) - [j == t]) * gradScale; zero rows for ignored targets.
void cross_entropy_backward(ThreadPool& pool, float* dlogits, const float* logits, const float* lse,
                            const int32_t* targets, int64_t N, int64_t V, double grad_scale) {
  const float gs = static_cast<float>(grad_scale);
  parallel_for(pool, N, rows_per_part(V), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* z = logits + r * V;
      float* g = dlogits + r * V;
      const int32_t t = targets[r];
      if (t < 0) {
        std::fill(g, g + V, 0.0f);
        continue;
      }
      const float l = lse[r];
      const float zt = z[t];  // read before the row is overwritten (dlogits may alias logits)
      for (int64_t j = 0; j < V; ++j) g[j] = fast_expf(z[j] - l) * gs;
      g[t] = (fast_expf(zt - l) - 1.0f) * gs;
    }
  });
}

}  // namespace hydra
