// The memory a typed-array argument views, for the functions that act on JavaScript memory directly (direct-io.cc,
// memory-advice.cc).
#pragma once

#include <napi.h>

#include <cstddef>

namespace hydra {

struct ViewBytes {
  void* data;    // the view's first byte
  size_t bytes;  // its length in bytes
};

// info[index] as memory; throws a TypeError naming `usage` when it is not a typed array. napi_get_typedarray_info's
// pointer works for SharedArrayBuffer-backed arrays too (the host tier's), where ArrayBuffer::Data() does not.
inline ViewBytes view_bytes(const Napi::CallbackInfo& info, size_t index, const char* usage) {
  Napi::Env env = info.Env();
  if (info.Length() <= index || !info[index].IsTypedArray()) throw Napi::TypeError::New(env, usage);
  void* raw = nullptr;
  size_t length = 0;
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, info[index], &type, &length, &raw, nullptr, nullptr) != napi_ok) throw Napi::Error::New(env, usage);
  return {raw, length * info[index].As<Napi::TypedArray>().ElementSize()};
}

}  // namespace hydra
