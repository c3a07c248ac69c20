// Token + position embedding, forward and backward.
#include <algorithm>

#include "kernels.h"

namespace hydra {

// out(B,T,C) = wte[tokens[b,t]] + wpe[t] (wpe null: wte[tokens[b,t]]); rows are independent.
void embedding_forward(ThreadPool& pool, float* out, const int32_t* tokens, const float* wte, const float* wpe,
                       int64_t B, int64_t T, int64_t C) {
  const int64_t min_rows = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(C, 1));
  parallel_for(pool, B * T, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const float* e = wte + static_cast<int64_t>(tokens[row]) * C;
      float* o = out + row * C;
      if (!wpe) {
        std::copy(e, e + C, o);
        continue;
      }
      const float* p = wpe + (row % T) * C;
      for (int64_t c = 0; c < C; ++c) o[c] = e[c] + p[c];
    }
  });
}

// dwte[tokens[b,t]] += dout[b,t]; dwpe[t] += dout[b,t], in (b,t) order. Two tokens may hit the same row of dwte,
// so splitting over tokens would race; each thread instead owns a range of channels and walks all tokens in order,
// which also makes the result independent of the thread count (and equal to js).
void embedding_backward(ThreadPool& pool, float* dwte, float* dwpe, const float* dout, const int32_t* tokens,
                        int64_t B, int64_t T, int64_t C) {
  const int64_t min_channels = B * T * C < kElementwiseGrain ? C : 16;
  parallel_for(pool, C, min_channels, [&](int64_t c0, int64_t c1) {
    const int64_t w = c1 - c0;
    for (int64_t row = 0; row < B * T; ++row) {
      const float* d = dout + row * C + c0;
      float* e = dwte + static_cast<int64_t>(tokens[row]) * C + c0;
      for (int64_t c = 0; c < w; ++c) e[c] += d[c];
      if (dwpe) {
        float* p = dwpe + (row % T) * C + c0;
        for (int64_t c = 0; c < w; ++c) p[c] += d[c];
      }
    }
  });
}

}  // namespace hydra
