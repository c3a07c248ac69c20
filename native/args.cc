#include "args.h"

#include <cmath>

namespace hydra {

namespace {
constexpr double kMaxSafeInteger = 9007199254740992.0;  // 2^53
}

void Args::range_error(const std::string& message) const {
  throw Napi::RangeError::New(info_.Env(), std::string("cpu.") + op_ + ": " + message);
}

void Args::type_error(const std::string& message) const {
  throw Napi::TypeError::New(info_.Env(), std::string("cpu.") + op_ + ": " + message);
}

double Args::number(size_t i, const char* name) const {
  if (info_.Length() <= i || !info_[i].IsNumber()) type_error(std::string(name) + " must be a number");
  return info_[i].As<Napi::Number>().DoubleValue();
}

int64_t Args::count(size_t i, const char* name) const {
  const double v = number(i, name);
  if (!(v >= 0) || v > kMaxSafeInteger || std::floor(v) != v) {
    range_error(std::string(name) + " must be a non-negative integer, got " + info_[i].ToString().Utf8Value());
  }
  return static_cast<int64_t>(v);
}

bool Args::flag(size_t i, const char* name) const {
  if (info_.Length() <= i || !info_[i].IsBoolean()) type_error(std::string(name) + " must be a boolean");
  return info_[i].As<Napi::Boolean>().Value();
}

uint32_t Args::u32(size_t i, const char* name) const {
  const double v = number(i, name);
  if (!(v >= 0) || v > 4294967295.0 || std::floor(v) != v) {
    range_error(std::string(name) + " must be a uint32, got " + info_[i].ToString().Utf8Value());
  }
  return static_cast<uint32_t>(v);
}

DeviceBuffer* Args::buffer(size_t i, const char* name, DType dtype, int64_t needed) const {
  const double id = number(i, name);
  DeviceBuffer* b = table_.find(static_cast<uint64_t>(id));
  if (b == nullptr) range_error(std::string(name) + ": no live buffer with id " + std::to_string(static_cast<int64_t>(id)));
  if (b->dtype != dtype) {
    type_error(std::string(name) + " must be an " + (dtype == DType::F32 ? "f32" : "i32") + " buffer, got " +
               (b->dtype == DType::F32 ? "f32" : "i32"));
  }
  if (needed > b->length) {
    range_error(std::string(name) + " needs " + std::to_string(needed) + " elements for these sizes but has " +
                std::to_string(b->length));
  }
  table_.wait_idle(b);
  return b;
}

float* Args::host_f32(size_t i, const char* name, int64_t needed) const {
  if (info_.Length() <= i || !info_[i].IsTypedArray() || info_[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    type_error(std::string(name) + " must be a Float32Array");
  }
  Napi::TypedArray a = info_[i].As<Napi::TypedArray>();
  if (static_cast<int64_t>(a.ElementLength()) < needed) {
    range_error(std::string(name) + " needs " + std::to_string(needed) + " elements but has " + std::to_string(a.ElementLength()));
  }
  // napi_get_typedarray_info's data pointer works for SharedArrayBuffer-backed arrays (the host tier) too.
  void* raw = nullptr;
  napi_get_typedarray_info(info_.Env(), a, nullptr, nullptr, &raw, nullptr, nullptr);
  return static_cast<float*>(raw);
}

int64_t Args::mul(int64_t a, int64_t b) const {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r) || static_cast<double>(r) > kMaxSafeInteger) {
    range_error("size " + std::to_string(a) + " x " + std::to_string(b) + " is too large");
  }
  return r;
}

Args::Rows Args::rows(size_t i) const {
  const int64_t N = count(i, "N"), C = count(i + 1, "C");
  return {N, C, mul(N, C)};
}

Args::Heads Args::heads(size_t i) const {
  const int64_t B = count(i, "B"), T = count(i + 1, "T"), NH = count(i + 2, "NH"), hs = count(i + 3, "hs");
  return {B, T, NH, hs, mul(mul(B, T), mul(NH, hs))};
}

int64_t matrix_extent(int64_t rows, int64_t cols, int64_t ld) {
  if (rows == 0 || cols == 0) return 0;
  return (rows - 1) * ld + cols;
}

}  // namespace hydra
