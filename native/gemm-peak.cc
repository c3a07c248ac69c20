// measureSgemmGflops(n, threads): the best observed GFLOP/s of an n x n x n product through the same threaded
// gemm the backend uses, so benchmarks can state what the machine's BLAS delivers.
#include <napi.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "gemm.h"
#include "gemm-peak.h"

namespace hydra {

Napi::Value MeasureSgemmGflops(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "measureSgemmGflops(n, threads): both arguments must be numbers");
  }
  const int64_t n = info[0].As<Napi::Number>().Int64Value();
  const int64_t threads = info[1].As<Napi::Number>().Int64Value();
  if (n < 16 || n > 8192) throw Napi::RangeError::New(env, "measureSgemmGflops: n must be in [16, 8192], got " + std::to_string(n));
  if (threads < 1 || threads > 1024) {
    throw Napi::RangeError::New(env, "measureSgemmGflops: threads must be in [1, 1024], got " + std::to_string(threads));
  }
  std::vector<float> a(n * n), b(n * n), c(n * n);
  for (int64_t i = 0; i < n * n; ++i) {
    a[i] = static_cast<float>((i * 7) % 13) * 0.1f - 0.6f;
    b[i] = static_cast<float>((i * 5) % 11) * 0.1f - 0.5f;
  }
  ThreadPool pool(static_cast<int>(threads));
  const GemmShape s{false, false, n, n, n, 1.0f, 0.0f, n, n, n};
  gemm(pool, s, a.data(), b.data(), c.data());  // warm-up: page faults, BLAS buffers
  double best = 0, total = 0;
  for (int rep = 0; rep < 50 && (rep < 3 || total < 0.5); ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    gemm(pool, s, a.data(), b.data(), c.data());
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    total += dt;
    best = std::max(best, 2.0 * n * n * n / dt / 1e9);
  }
  return Napi::Number::New(env, best);
}

}  // namespace hydra
