// Node-API entry points of the GPT-2 kernels (embedding, layernorm, GELU, attention, dropout, cross-entropy).
#include <string>

#include "args.h"
#include "device.h"
#include "kernels.h"

namespace hydra {

namespace {

// Every index must address a row of a table with `rows` rows; `allow_negative` lets t < 0 mean "ignore".
void check_indices(const Args& a, const char* name, const int32_t* idx, int64_t n, int64_t rows, bool allow_negative) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t t = idx[i];
    if (t >= rows || (t < 0 && !allow_negative)) {
      a.range_error(std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(t) + " is outside [" +
                    (allow_negative ? "<0 (ignored), 0" : "0") + ", " + std::to_string(rows) + ")");
    }
  }
}

}  // namespace

// embeddingForward(out, tokens, wte, wpe | null, B, T, C)
Napi::Value CpuDevice::EmbeddingForward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("embeddingForward");
  Args a(info, "embeddingForward", table_);
  const int64_t B = a.count(4, "B"), T = a.count(5, "T"), C = a.count(6, "C");
  const int64_t BT = a.mul(B, T);
  const int32_t* tokens = a.i32(1, "tokens", BT);
  DeviceBuffer* wte = a.buffer(2, "wte", DType::F32, 0);
  if (C > 0) check_indices(a, "tokens", tokens, BT, wte->length / C, false);
  const float* wpe = a.is_null(3) ? nullptr : a.f32(3, "wpe", a.mul(T, C));
  embedding_forward(tp, a.f32(0, "out", a.mul(BT, C)), tokens, static_cast<float*>(wte->data), wpe, B, T, C);
  return info.Env().Undefined();
}

// embeddingBackward(dwte, dwpe | null, dout, tokens, B, T, C)
Napi::Value CpuDevice::EmbeddingBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("embeddingBackward");
  Args a(info, "embeddingBackward", table_);
  const int64_t B = a.count(4, "B"), T = a.count(5, "T"), C = a.count(6, "C");
  const int64_t BT = a.mul(B, T);
  const int32_t* tokens = a.i32(3, "tokens", BT);
  DeviceBuffer* dwte = a.buffer(0, "dwte", DType::F32, 0);
  if (C > 0) check_indices(a, "tokens", tokens, BT, dwte->length / C, false);
  float* dwpe = a.is_null(1) ? nullptr : a.f32(1, "dwpe", a.mul(T, C));
  embedding_backward(tp, static_cast<float*>(dwte->data), dwpe, a.f32(2, "dout", a.mul(BT, C)), tokens, B, T, C);
  return info.Env().Undefined();
}

// layernormForward(out, mean, rstd, x, w, b, N, C)
Napi::Value CpuDevice::LayernormForward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("layernormForward");
  Args a(info, "layernormForward", table_);
  const auto [N, C, NC] = a.rows(6);
  layernorm_forward(tp, a.f32(0, "out", NC), a.f32(1, "mean", N), a.f32(2, "rstd", N), a.f32(3, "x", NC),
                    a.f32(4, "w", C), a.f32(5, "b", C), N, C);
  return info.Env().Undefined();
}

// layernormBackward(dx, dw, db, dout, x, w, mean, rstd, N, C)
Napi::Value CpuDevice::LayernormBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("layernormBackward");
  Args a(info, "layernormBackward", table_);
  const auto [N, C, NC] = a.rows(8);
  layernorm_backward(tp, a.f32(0, "dx", NC), a.f32(1, "dw", C), a.f32(2, "db", C), a.f32(3, "dout", NC),
                     a.f32(4, "x", NC), a.f32(5, "w", C), a.f32(6, "mean", N), a.f32(7, "rstd", N), N, C);
  return info.Env().Undefined();
}

Napi::Value CpuDevice::GeluForward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("geluForward");
  Args a(info, "geluForward", table_);
  const int64_t n = a.count(2, "n");
  gelu_forward(tp, a.f32(0, "out", n), a.f32(1, "x", n), n);
  return info.Env().Undefined();
}

Napi::Value CpuDevice::GeluBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("geluBackward");
  Args a(info, "geluBackward", table_);
  const int64_t n = a.count(3, "n");
  gelu_backward(tp, a.f32(0, "dx", n), a.f32(1, "x", n), a.f32(2, "dout", n), n);
  return info.Env().Undefined();
}

// splitHeads(q, k, v, qkv, B, T, NH, hs)
Napi::Value CpuDevice::SplitHeads(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("splitHeads");
  Args a(info, "splitHeads", table_);
  const auto [B, T, NH, hs, n] = a.heads(4);
  split_heads(tp, a.f32(0, "q", n), a.f32(1, "k", n), a.f32(2, "v", n), a.f32(3, "qkv", a.mul(n, 3)), B, T, NH, hs);
  return info.Env().Undefined();
}

// splitHeadsBackward(dqkv, dq, dk, dv, B, T, NH, hs)
Napi::Value CpuDevice::SplitHeadsBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("splitHeadsBackward");
  Args a(info, "splitHeadsBackward", table_);
  const auto [B, T, NH, hs, n] = a.heads(4);
  split_heads_backward(tp, a.f32(0, "dqkv", a.mul(n, 3)), a.f32(1, "dq", n), a.f32(2, "dk", n), a.f32(3, "dv", n),
                       B, T, NH, hs);
  return info.Env().Undefined();
}

// mergeHeads(out, y, B, T, NH, hs)
Napi::Value CpuDevice::MergeHeads(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("mergeHeads");
  Args a(info, "mergeHeads", table_);
  const auto [B, T, NH, hs, n] = a.heads(2);
  merge_heads(tp, a.f32(0, "out", n), a.f32(1, "y", n), B, T, NH, hs);
  return info.Env().Undefined();
}

// mergeHeadsBackward(dy, dout, B, T, NH, hs)
Napi::Value CpuDevice::MergeHeadsBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("mergeHeadsBackward");
  Args a(info, "mergeHeadsBackward", table_);
  const auto [B, T, NH, hs, n] = a.heads(2);
  merge_heads_backward(tp, a.f32(0, "dy", n), a.f32(1, "dout", n), B, T, NH, hs);
  return info.Env().Undefined();
}

// causalSoftmaxForward(att, rows, T, scale)
Napi::Value CpuDevice::CausalSoftmaxForward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("causalSoftmaxForward");
  Args a(info, "causalSoftmaxForward", table_);
  const int64_t rows = a.count(1, "rows"), T = a.count(2, "T");
  const double scale = a.number(3, "scale");
  causal_softmax_forward(tp, a.f32(0, "att", a.mul(rows, a.mul(T, T))), rows, T, scale);
  return info.Env().Undefined();
}

// causalSoftmaxBackward(datt, att, rows, T, scale)
Napi::Value CpuDevice::CausalSoftmaxBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("causalSoftmaxBackward");
  Args a(info, "causalSoftmaxBackward", table_);
  const int64_t rows = a.count(2, "rows"), T = a.count(3, "T");
  const double scale = a.number(4, "scale");
  const int64_t n = a.mul(rows, a.mul(T, T));
  causal_softmax_backward(tp, a.f32(0, "datt", n), a.f32(1, "att", n), rows, T, scale);
  return info.Env().Undefined();
}

namespace {
float dropout_p(const Args& a, size_t i) {
  const double p = a.number(i, "p");
  if (!(p >= 0 && p <= 1)) a.range_error("p must be in [0, 1], got " + std::to_string(p));
  return static_cast<float>(p);
}
// fround(1 / (1 - p)) with p the double the caller passed, as js computes it.
float dropout_scale(const Args& a, size_t i) { return static_cast<float>(1.0 / (1.0 - a.number(i, "p"))); }
}  // namespace

// dropoutForward(out, x, n, p, keyPrefix)
Napi::Value CpuDevice::DropoutForward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("dropoutForward");
  Args a(info, "dropoutForward", table_);
  const int64_t n = a.count(2, "n");
  const float p = dropout_p(a, 3), s = dropout_scale(a, 3);
  dropout_forward(tp, a.f32(0, "out", n), a.f32(1, "x", n), n, p, s, a.u32(4, "keyPrefix"));
  return info.Env().Undefined();
}

// dropoutBackward(dx, dout, n, p, keyPrefix)
Napi::Value CpuDevice::DropoutBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("dropoutBackward");
  Args a(info, "dropoutBackward", table_);
  const int64_t n = a.count(2, "n");
  const float p = dropout_p(a, 3), s = dropout_scale(a, 3);
  dropout_backward(tp, a.f32(0, "dx", n), a.f32(1, "dout", n), n, p, s, a.u32(4, "keyPrefix"));
  return info.Env().Undefined();
}

// crossEntropyForward(losses, lse, logits, targets, N, V)
Napi::Value CpuDevice::CrossEntropyForward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("crossEntropyForward");
  Args a(info, "crossEntropyForward", table_);
  const int64_t N = a.count(4, "N"), V = a.count(5, "V");
  const int32_t* targets = a.i32(3, "targets", N);
  check_indices(a, "targets", targets, N, V, true);
  cross_entropy_forward(tp, a.f32(0, "losses", N), a.f32(1, "lse", N), a.f32(2, "logits", a.mul(N, V)), targets, N, V);
  return info.Env().Undefined();
}

// crossEntropyBackward(dlogits, logits, lse, targets, N, V, gradScale)
Napi::Value CpuDevice::CrossEntropyBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("crossEntropyBackward");
  Args a(info, "crossEntropyBackward", table_);
  const int64_t N = a.count(4, "N"), V = a.count(5, "V");
  const double grad_scale = a.number(6, "gradScale");
  const int32_t* targets = a.i32(3, "targets", N);
  check_indices(a, "targets", targets, N, V, true);
  const int64_t NV = a.mul(N, V);
  cross_entropy_backward(tp, a.f32(0, "dlogits", NV), a.f32(1, "logits", NV), a.f32(2, "lse", N), targets, N, V,
                         grad_scale);
  return info.Env().Undefined();
}

}  // namespace hydra
