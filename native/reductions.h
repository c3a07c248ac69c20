// Row reductions with a fixed lane structure: element i always goes to lane i % 8 and lanes are combined in a fixed
// order, so the result is deterministic while the loops still vectorise (GCC will not reorder a plain float sum
// without -ffast-math).
#pragma once

#include <cstdint>

namespace hydra {

inline float max_lanes(const float* x, int64_t n) {
  float lane[8];
  for (int l = 0; l < 8; ++l) lane[l] = -__builtin_inff();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) lane[l] = x[i + l] > lane[l] ? x[i + l] : lane[l];
  }
  float m = -__builtin_inff();
  for (int l = 0; l < 8; ++l) m = lane[l] > m ? lane[l] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// Sum of floats accumulated in float64 lanes.
inline double sum_lanes_f64(const float* x, int64_t n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) lane[l] += x[i + l];
  }
  double s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  for (; i < n; ++i) s += x[i];
  return s;
}

}  // namespace hydra
