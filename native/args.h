// Argument parsing and validation for the Node-API entry points. Every kernel checks that each buffer exists, has
// the right dtype and is long enough for the elements the kernel will touch, so a wrong shape becomes a RangeError
// naming the argument instead of memory corruption. Looking a buffer up also waits for its pending transfers.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

#include "buffers.h"

namespace hydra {

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* op, BufferTable& table) : info_(info), op_(op), table_(table) {}

  // A non-negative integer (at most 2^53).
  int64_t count(size_t i, const char* name) const;
  double number(size_t i, const char* name) const;
  bool flag(size_t i, const char* name) const;
  uint32_t u32(size_t i, const char* name) const;
  bool is_null(size_t i) const { return info_.Length() <= i || info_[i].IsNull() || info_[i].IsUndefined(); }

  // The buffer whose id is argument i, checked to be of `dtype` with at least `needed` elements.
  DeviceBuffer* buffer(size_t i, const char* name, DType dtype, int64_t needed) const;
  float* f32(size_t i, const char* name, int64_t needed) const {
    return static_cast<float*>(buffer(i, name, DType::F32, needed)->data);
  }
  int32_t* i32(size_t i, const char* name, int64_t needed) const {
    return static_cast<int32_t*>(buffer(i, name, DType::I32, needed)->data);
  }
  // A host Float32Array (possibly on a SharedArrayBuffer) as argument i, with at least `needed` elements.
  float* host_f32(size_t i, const char* name, int64_t needed) const;

  // a * b, refusing results beyond 2^53 (no silent wrap-around in size arithmetic).
  int64_t mul(int64_t a, int64_t b) const;

  // The shapes most kernels take, read from consecutive arguments with their element counts checked:
  // rows (N, C) at i, i+1 — normalisations over rows of C — and heads (B, T, NH, hs) at i..i+3 — per-head layouts.
  struct Rows {
    int64_t N, C, NC;
  };
  Rows rows(size_t i) const;
  struct Heads {
    int64_t B, T, NH, hs, n;  // n = B*T*NH*hs
  };
  Heads heads(size_t i) const;
  [[noreturn]] void range_error(const std::string& message) const;
  [[noreturn]] void type_error(const std::string& message) const;
  Napi::Env env() const { return info_.Env(); }

 private:
  const Napi::CallbackInfo& info_;
  const char* op_;
  BufferTable& table_;
};

// Elements touched by a rows x cols row-major matrix with leading dimension ld starting at element 0.
int64_t matrix_extent(int64_t rows, int64_t cols, int64_t ld);

}  // namespace hydra
