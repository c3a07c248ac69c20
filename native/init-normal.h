// Normal initialisation of parameters (rng.ts normalAt scaled by std, rounded to float32), split over threads and
// written in place, e.g. into the host tier's SharedArrayBuffers. See init-normal.cc for why it is bit-exact.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

namespace hydra {

// Fills dst[i - begin] for i in [begin, end) and appends to `unsure` each i whose float32 value this code cannot
// guarantee to equal the JavaScript reference's (about one element in 10^5; the caller recomputes those).
void init_normal_range(float* dst, int64_t begin, int64_t end, uint32_t prefix, double std, std::vector<uint32_t>& unsure);

// initNormal(jobs: {dst: Float32Array, std: number, prefix: number}[], threads): Promise<Uint32Array[]>.
Napi::Value InitNormal(const Napi::CallbackInfo& info);

// normalLogCos(u: Float64Array, logOut: Float64Array, cosOut: Float64Array): log(1 - u) and cos(2 pi u) as the
// kernel computes them, so a test can compare them with Math.log and Math.cos on every input the generator makes.
Napi::Value NormalLogCos(const Napi::CallbackInfo& info);

}  // namespace hydra
