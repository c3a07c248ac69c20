// The counter-based hash of src/backend/rng.ts, bit for bit: lowbias32 applied in a chain. Dropout masks computed
// here must equal those of the js backend exactly (the conformance suite compares them).
#pragma once

#include <cstdint>

namespace hydra {

inline uint32_t mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// rng.ts hashAt: JavaScript's `prefix ^ index` works on the low 32 bits of index, hence the truncation.
inline uint32_t hash_at(uint32_t prefix, uint32_t index) { return mix32(mix32(prefix ^ index) + 0x6a09e667u); }

// rng.ts dropoutKeep: uniform = (hash >>> 8) / 2^24 is exact in float, so a float comparison with fround(p) decides
// exactly as the double comparison in JavaScript does.
inline bool dropout_keep(uint32_t prefix, uint32_t index, float p) {
  return static_cast<float>(hash_at(prefix, index) >> 8) * (1.0f / 16777216.0f) >= p;
}

}  // namespace hydra
