// LayerNorm over rows of C, eps = 1e-5. The arithmetic mirrors js exactly (float64, same operations, same order),
// so cpu and js agree bit for bit; the cost is small next to the matrix products around it.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels.h"

namespace hydra {

static constexpr double kLayerNormEps = 1e-5;

void layernorm_forward(ThreadPool& pool, float* out, float* mean, float* rstd, const float* x, const float* w,
                       const float* b, int64_t N, int64_t C) {
  const int64_t min_rows = std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1));
  parallel_for(pool, N, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * C;
      float* o = out + r * C;
      double m = 0;
      for (int64_t c = 0; c < C; ++c) m += xr[c];
      m /= static_cast<double>(C);
      double v = 0;
      for (int64_t c = 0; c < C; ++c) {
        const double d = xr[c] - m;
        v += d * d;
      }
      v /= static_cast<double>(C);
      const double s = 1.0 / std::sqrt(v + kLayerNormEps);
      for (int64_t c = 0; c < C; ++c) o[c] = static_cast<float>((xr[c] - m) * s * w[c] + b[c]);
      mean[r] = static_cast<float>(m);
      rstd[r] = static_cast<float>(s);
    }
  });
}

void layernorm_backward(ThreadPool& pool, float* dx, float* dw, float* db, const float* dout, const float* x,
                        const float* w, const float* mean, const float* rstd, int64_t N, int64_t C) {
  // dw, db first: column sums over all rows in row order; each thread owns a range of columns. Doing them before
  // dx means that, should dx alias dout, both read the original dout, as in js.
  const int64_t min_cols = N * C < 8192 ? C : 16;
  parallel_for(pool, C, min_cols, [&](int64_t c0, int64_t c1) {
    const int64_t width = c1 - c0;
    std::vector<double> dw_acc(width, 0.0), db_acc(width, 0.0);
    for (int64_t r = 0; r < N; ++r) {
      const float* xr = x + r * C + c0;
      const float* d = dout + r * C + c0;
      const double m = mean[r], s = rstd[r];
      for (int64_t c = 0; c < width; ++c) {
        const double norm = (xr[c] - m) * s;
        db_acc[c] += d[c];
        dw_acc[c] += norm * d[c];
      }
    }
    for (int64_t c = 0; c < width; ++c) {
      dw[c0 + c] = static_cast<float>(dw[c0 + c] + dw_acc[c]);
      db[c0 + c] = static_cast<float>(db[c0 + c] + db_acc[c]);
    }
  });
  // dx: rows are independent (within a row, dout[c] is read before dx[c] is written, as in js).
  const int64_t min_rows = std::max<int64_t>(1, 4096 / std::max<int64_t>(C, 1));
  parallel_for(pool, N, min_rows, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const float* xr = x + r * C;
      const float* d = dout + r * C;
      float* g = dx + r * C;
      const double m = mean[r], s = rstd[r];
      double dnorm_mean = 0, dnorm_norm_mean = 0;
      for (int64_t c = 0; c < C; ++c) {
        const double norm = (xr[c] - m) * s;
        const double dnorm = static_cast<double>(w[c]) * d[c];
        dnorm_mean += dnorm;
        dnorm_norm_mean += dnorm * norm;
      }
      dnorm_mean /= static_cast<double>(C);
      dnorm_norm_mean /= static_cast<double>(C);
      for (int64_t c = 0; c < C; ++c) {
        const double norm = (xr[c] - m) * s;
        const double dnorm = static_cast<double>(w[c]) * d[c];
        g[c] = static_cast<float>(g[c] + (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s);
      }
    }
  });
}

}  // namespace hydra
