// Vectorisable float math. libm's expf/tanhf are scalar calls that stop GCC from vectorising a loop; these use only
// +, *, comparisons and bit casts, so loops that call them compile to SIMD (no -ffast-math needed, and the results
// are the same whether a given element lands in a vector lane or a scalar tail).
#pragma once

#include <cstdint>
#include <cstring>

namespace hydra {

inline float bits_to_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}

inline int32_t float_to_bits(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}

// exp(x) for float, max error about 2 ulp on the normal range (Cephes polynomial after reduction by ln 2). Results
// below FLT_MIN flush to 0, above 88 saturate to +inf; NaN propagates.
inline float fast_expf(float x) {
  const float lo = -87.0f, hi = 88.0f;
  float xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  // Round x*log2(e) to the nearest integer n with the 1.5*2^23 shifter: exact without any rounding-mode calls.
  const float shifter = 12582912.0f;
  const float t = xc * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  const int32_t ni = float_to_bits(t) - 0x4B400000;
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const float y = p * bits_to_float((ni + 127) << 23);
  const float inf = bits_to_float(0x7F800000);
  return x < lo ? 0.0f : (x > hi ? inf : y);
}

// sigmoid(z) = 1 / (1 + exp(-z)); correct limits at both tails (0 and 1, no cancellation).
inline float fast_sigmoidf(float z) { return 1.0f / (1.0f + fast_expf(-z)); }

}  // namespace hydra
