// Vectorisable double-precision log and cos for the Box-Muller initialisation (native/init-normal.cc). They are not
// the functions V8 calls for Math.log and Math.cos, and need not be: their relative error against those is below
// 2^-46 over every input the generator can produce (2^24 values each; test/nn/init-native.test.ts checks them
// all), and init-normal.cc hands every element whose float32 rounding that much error could change back to the
// JavaScript reference. Only +, *, /, comparisons, selects and bit casts: GCC turns loops over them into SIMD.
#pragma once

#include <cstdint>
#include <cstring>

namespace hydra {

inline uint64_t double_bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

inline double bits_double(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}

// log(x) for normal positive finite x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1),
// by its series to s^21 (|s| <= 0.1716, the next term is below 2^-55 relative).
inline double normal_log(double x) {
  const uint64_t b = double_bits(x);
  // The biased exponent as a double without an int64 -> double conversion (AVX2 has none): 2^52 + k is exact.
  double e = bits_double(0x4330000000000000ull | (b >> 52)) - (4503599627370496.0 + 1023.0);
  double m = bits_double((b & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);  // [1, 2)
  const bool big = m > 1.4142135623730951;
  m = big ? m * 0.5 : m;
  e = big ? e + 1.0 : e;
  const double f = m - 1.0;  // exact (Sterbenz)
  const double s = f / (2.0 + f);
  const double z = s * s;
  double p = 1.0 / 21;
  p = p * z + 1.0 / 19;
  p = p * z + 1.0 / 17;
  p = p * z + 1.0 / 15;
  p = p * z + 1.0 / 13;
  p = p * z + 1.0 / 11;
  p = p * z + 1.0 / 9;
  p = p * z + 1.0 / 7;
  p = p * z + 1.0 / 5;
  p = p * z + 1.0 / 3;
  const double logm = 2.0 * s + 2.0 * s * (z * p);
  return e * 0.6931471805599453 + logm;
}

// cos(x) for 0 <= x < 8: x - j pi/2 with pi/2 in four pieces of at most 34 bits (exact products for j <= 4; the
// first subtraction is exact by Sterbenz), then sin or cos of the remainder (|r| <= pi/4) by Taylor series.
inline double normal_cos(double x) {
  // pi/2 = 1.921FB54442D18469898CC51701B839A2... (hex), split so that j * piece is exact.
  const double P1 = 0x3243F6A88p-33, P2 = 0x85A308D3p-65, P3 = 0x13198A2Ep-97, P4 = 0x03707344p-129;
  const double shifter = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer held in the low bits
  const double t = x * 0.6366197723675814 + shifter;
  const double j = t - shifter;
  const int64_t q = static_cast<int64_t>(double_bits(t) & 3);
  const double r = (((x - j * P1) - j * P2) - j * P3) - j * P4;
  const double z = r * r;
  double c = 1.0 / 20922789888000.0;  // 1/16!
  c = c * z - 1.0 / 87178291200.0;
  c = c * z + 1.0 / 479001600.0;
  c = c * z - 1.0 / 3628800.0;
  c = c * z + 1.0 / 40320.0;
  c = c * z - 1.0 / 720.0;
  c = c * z + 1.0 / 24.0;
  c = c * z - 0.5;
  c = c * z + 1.0;
  double s = -1.0 / 1307674368000.0;  // -1/15!
  s = s * z + 1.0 / 6227020800.0;
  s = s * z - 1.0 / 39916800.0;
  s = s * z + 1.0 / 362880.0;
  s = s * z - 1.0 / 5040.0;
  s = s * z + 1.0 / 120.0;
  s = s * z - 1.0 / 6.0;
  s = r + r * (z * s);
  return q == 0 ? c : q == 1 ? -s : q == 2 ? -c : s;
}

}  // namespace hydra
