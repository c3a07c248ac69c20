// Node-API entry points of the Llama kernels (RMSNorm, rotary embedding, SwiGLU).
#include <cmath>
#include <string>

#include "args.h"
#include "device.h"
#include "kernels.h"

namespace hydra {

namespace {
// The head size of a rotary call must be positive and even (the rotation pairs element i with i + hs/2).
void check_rope_head_size(const Args& a, int64_t hs) {
  if (hs < 2 || hs % 2 != 0) a.range_error("hs must be a positive even integer, got " + std::to_string(hs));
}
}  // namespace

// rmsnormForward(out, rstd, x, w, N, C, eps)
Napi::Value CpuDevice::RmsnormForward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("rmsnormForward");
  Args a(info, "rmsnormForward", table_);
  const auto [N, C, NC] = a.rows(4);
  const double eps = a.number(6, "eps");
  if (!(eps >= 0)) a.range_error("eps must be a non-negative number, got " + std::to_string(eps));
  rmsnorm_forward(tp, a.f32(0, "out", NC), a.f32(1, "rstd", N), a.f32(2, "x", NC), a.f32(3, "w", C), N, C, eps);
  return info.Env().Undefined();
}

// rmsnormBackward(dx, dw, dout, x, w, rstd, N, C)
Napi::Value CpuDevice::RmsnormBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("rmsnormBackward");
  Args a(info, "rmsnormBackward", table_);
  const auto [N, C, NC] = a.rows(6);
  rmsnorm_backward(tp, a.f32(0, "dx", NC), a.f32(1, "dw", C), a.f32(2, "dout", NC), a.f32(3, "x", NC),
                   a.f32(4, "w", C), a.f32(5, "rstd", N), N, C);
  return info.Env().Undefined();
}

// ropeTable(cs, T, hs, theta)
Napi::Value CpuDevice::RopeTable(const Napi::CallbackInfo& info) {
  pool("ropeTable");
  Args a(info, "ropeTable", table_);
  const int64_t T = a.count(1, "T"), hs = a.count(2, "hs");
  check_rope_head_size(a, hs);
  const double theta = a.number(3, "theta");
  if (!(theta > 0) || !std::isfinite(theta)) a.range_error("theta must be a positive number, got " + std::to_string(theta));
  rope_table(a.f32(0, "cs", a.mul(T, hs)), T, hs, theta);
  return info.Env().Undefined();
}

// ropeForward(out, x, cs, B, T, NH, hs)
Napi::Value CpuDevice::RopeForward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("ropeForward");
  Args a(info, "ropeForward", table_);
  const auto [B, T, NH, hs, n] = a.heads(3);
  check_rope_head_size(a, hs);
  rope_forward(tp, a.f32(0, "out", n), a.f32(1, "x", n), a.f32(2, "cs", a.mul(T, hs)), B, T, NH, hs);
  return info.Env().Undefined();
}

// ropeBackward(dx, dout, cs, B, T, NH, hs)
Napi::Value CpuDevice::RopeBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("ropeBackward");
  Args a(info, "ropeBackward", table_);
  const auto [B, T, NH, hs, n] = a.heads(3);
  check_rope_head_size(a, hs);
  rope_backward(tp, a.f32(0, "dx", n), a.f32(1, "dout", n), a.f32(2, "cs", a.mul(T, hs)), B, T, NH, hs);
  return info.Env().Undefined();
}

// swigluForward(out, gate, up, n)
Napi::Value CpuDevice::SwigluForward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("swigluForward");
  Args a(info, "swigluForward", table_);
  const int64_t n = a.count(3, "n");
  swiglu_forward(tp, a.f32(0, "out", n), a.f32(1, "gate", n), a.f32(2, "up", n), n);
  return info.Env().Undefined();
}

// swigluBackward(dgate, dup, gate, up, dout, n)
Napi::Value CpuDevice::SwigluBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("swigluBackward");
  Args a(info, "swigluBackward", table_);
  const int64_t n = a.count(5, "n");
  swiglu_backward(tp, a.f32(0, "dgate", n), a.f32(1, "dup", n), a.f32(2, "gate", n), a.f32(3, "up", n),
                  a.f32(4, "dout", n), n);
  return info.Env().Undefined();
}

}  // namespace hydra
