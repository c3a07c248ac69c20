// Node-API entry points of the utility, matmul and optimizer kernels: parse and validate, then call kernels.h.
#include <climits>
#include <string>

#include "args.h"
#include "device.h"
#include "gemm.h"
#include "kernels.h"

namespace hydra {

Napi::Value CpuDevice::Fill(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("fill");
  Args a(info, "fill", table_);
  const double value = a.number(1, "value");
  const int64_t n = a.count(2, "n"), offset = a.count(3, "offset");
  DeviceBuffer* x = table_.find(static_cast<uint64_t>(a.number(0, "x")));
  if (x == nullptr) a.range_error("x: no live buffer with that id");
  DeviceBuffer* checked = a.buffer(0, "x", x->dtype, offset + n);
  if (checked->dtype == DType::F32) {
    fill_f32(tp, static_cast<float*>(checked->data) + offset, n, static_cast<float>(value));
  } else {
    if (!(value >= INT32_MIN && value <= INT32_MAX) || value != static_cast<double>(static_cast<int64_t>(value))) {
      a.range_error("value for an i32 buffer must be an int32, got " + std::to_string(value));
    }
    fill_i32(tp, static_cast<int32_t*>(checked->data) + offset, n, static_cast<int32_t>(value));
  }
  return info.Env().Undefined();
}

Napi::Value CpuDevice::Copy(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("copy");
  Args a(info, "copy", table_);
  const int64_t n = a.count(2, "n"), dst_offset = a.count(3, "dstOffset"), src_offset = a.count(4, "srcOffset");
  DeviceBuffer* src = table_.find(static_cast<uint64_t>(a.number(1, "src")));
  if (src == nullptr) a.range_error("src: no live buffer with that id");
  src = a.buffer(1, "src", src->dtype, src_offset + n);
  DeviceBuffer* dst = a.buffer(0, "dst", src->dtype, dst_offset + n);
  copy_elements(tp, static_cast<char*>(dst->data) + dst_offset * 4, static_cast<char*>(src->data) + src_offset * 4, n);
  return info.Env().Undefined();
}

Napi::Value CpuDevice::Scale(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("scale");
  Args a(info, "scale", table_);
  const double alpha = a.number(1, "alpha");
  const int64_t n = a.count(2, "n");
  scale(tp, a.f32(0, "x", n), n, alpha);
  return info.Env().Undefined();
}

Napi::Value CpuDevice::Add(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("add");
  Args a(info, "add", table_);
  const int64_t n = a.count(3, "n");
  add(tp, a.f32(0, "out", n), a.f32(1, "a", n), a.f32(2, "b", n), n);
  return info.Env().Undefined();
}

Napi::Value CpuDevice::Axpy(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("axpy");
  Args a(info, "axpy", table_);
  const double alpha = a.number(2, "alpha");
  const int64_t n = a.count(3, "n");
  axpy(tp, a.f32(0, "y", n), a.f32(1, "x", n), alpha, n);
  return info.Env().Undefined();
}

Napi::Value CpuDevice::SumSquares(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("sumSquares");
  Args a(info, "sumSquares", table_);
  const int64_t out_index = a.count(1, "outIndex"), n = a.count(3, "n");
  float* out = a.f32(0, "out", out_index + 1);
  out[out_index] = sum_squares(tp, a.f32(2, "x", n), n);
  return info.Env().Undefined();
}

namespace {

// Checks one gemm operand: a rows x cols matrix (as stored) with leading dimension ld, repeated `batch` times
// `stride` apart from `offset`; returns the elements it spans.
int64_t operand_extent(const Args& a, const char* name, int64_t rows, int64_t cols, int64_t ld, int64_t offset,
                       int64_t batch, int64_t stride) {
  const std::string ld_name = std::string("ld") + static_cast<char>(name[0] - 'A' + 'a');  // lda, ldb, ldc
  if (ld < (cols > 1 ? cols : 1)) {
    a.range_error(ld_name + " = " + std::to_string(ld) + " is less than the " + std::to_string(cols) + " columns " +
                  name + " has as stored");
  }
  if (ld > INT_MAX) a.range_error(ld_name + " exceeds the BLAS int range");
  const int64_t one = matrix_extent(rows, cols, ld);
  if (one == 0 || batch == 0) return offset;
  return offset + a.mul(batch - 1, stride) + one;
}

GemmShape parse_shape(const Args& a, size_t first) {
  GemmShape s{};
  s.trans_a = a.flag(first, "transA");
  s.trans_b = a.flag(first + 1, "transB");
  s.M = a.count(first + 2, "M");
  s.N = a.count(first + 3, "N");
  s.K = a.count(first + 4, "K");
  s.alpha = static_cast<float>(a.number(first + 5, "alpha"));
  if (s.M > INT_MAX || s.N > INT_MAX || s.K > INT_MAX) a.range_error("M, N and K must fit a BLAS int (< 2^31)");
  return s;
}

}  // namespace

// gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, offA, offB, offC)
Napi::Value CpuDevice::Gemm(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("gemm");
  Args a(info, "gemm", table_);
  GemmShape s = parse_shape(a, 0);
  s.lda = a.count(7, "lda");
  s.ldb = a.count(9, "ldb");
  s.beta = static_cast<float>(a.number(10, "beta"));
  s.ldc = a.count(12, "ldc");
  const int64_t off_a = a.count(13, "offA"), off_b = a.count(14, "offB"), off_c = a.count(15, "offC");
  const int64_t need_a = operand_extent(a, "A", s.trans_a ? s.K : s.M, s.trans_a ? s.M : s.K, s.lda, off_a, 1, 0);
  const int64_t need_b = operand_extent(a, "B", s.trans_b ? s.N : s.K, s.trans_b ? s.K : s.N, s.ldb, off_b, 1, 0);
  const int64_t need_c = operand_extent(a, "C", s.M, s.N, s.ldc, off_c, 1, 0);
  const float* A = a.f32(6, "A", need_a);
  const float* B = a.f32(8, "B", need_b);
  float* C = a.f32(11, "C", need_c);
  gemm(tp, s, A + off_a, B + off_b, C + off_c);
  return info.Env().Undefined();
}

// gemmBatched(batch, transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC)
Napi::Value CpuDevice::GemmBatched(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("gemmBatched");
  Args a(info, "gemmBatched", table_);
  const int64_t batch = a.count(0, "batch");
  GemmShape s = parse_shape(a, 1);
  s.lda = a.count(8, "lda");
  const int64_t stride_a = a.count(9, "strideA");
  s.ldb = a.count(11, "ldb");
  const int64_t stride_b = a.count(12, "strideB");
  s.beta = static_cast<float>(a.number(13, "beta"));
  s.ldc = a.count(15, "ldc");
  const int64_t stride_c = a.count(16, "strideC");
  const int64_t need_a = operand_extent(a, "A", s.trans_a ? s.K : s.M, s.trans_a ? s.M : s.K, s.lda, 0, batch, stride_a);
  const int64_t need_b = operand_extent(a, "B", s.trans_b ? s.N : s.K, s.trans_b ? s.K : s.N, s.ldb, 0, batch, stride_b);
  const int64_t one_c = matrix_extent(s.M, s.N, s.ldc);
  if (batch > 1 && one_c > 0 && stride_c < one_c) {
    // Batch items run on different threads; overlapping outputs would make the result depend on timing.
    a.range_error("strideC = " + std::to_string(stride_c) + " makes batch items overlap (each C spans " +
                  std::to_string(one_c) + " elements)");
  }
  const int64_t need_c = operand_extent(a, "C", s.M, s.N, s.ldc, 0, batch, stride_c);
  const float* A = a.f32(7, "A", need_a);
  const float* B = a.f32(10, "B", need_b);
  float* C = a.f32(14, "C", need_c);
  gemm_batched(tp, s, batch, A, stride_a, B, stride_b, C, stride_c);
  return info.Env().Undefined();
}

Napi::Value CpuDevice::AddBias(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("addBias");
  Args a(info, "addBias", table_);
  const int64_t rows = a.count(2, "rows"), cols = a.count(3, "cols");
  add_bias(tp, a.f32(0, "out", a.mul(rows, cols)), a.f32(1, "bias", cols), rows, cols);
  return info.Env().Undefined();
}

Napi::Value CpuDevice::BiasBackward(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("biasBackward");
  Args a(info, "biasBackward", table_);
  const int64_t rows = a.count(2, "rows"), cols = a.count(3, "cols");
  bias_backward(tp, a.f32(0, "dbias", cols), a.f32(1, "dout", a.mul(rows, cols)), rows, cols);
  return info.Env().Undefined();
}

namespace {
// The step's scalars: arguments 5..12 of adamw / adamwHost, 4..8 of sgd / sgdHost.
AdamWStep adamw_scalars(const Args& a) {
  return AdamWStep{a.number(5, "lr"), a.number(6, "beta1"), a.number(7, "beta2"), a.number(8, "eps"),
                   a.number(9, "weightDecay"), a.number(10, "gradScale"), a.number(11, "biasCorrection1"),
                   a.number(12, "biasCorrection2")};
}
SgdStep sgd_scalars(const Args& a) {
  return SgdStep{a.number(4, "lr"), a.number(5, "momentum"), a.number(6, "weightDecay"), a.number(8, "gradScale"),
                 a.flag(7, "nesterov")};
}
void check_momentum(const Args& a, const float* momentum, const SgdStep& h) {
  if (momentum == nullptr && h.momentum != 0) a.range_error("momentum is " + std::to_string(h.momentum) + " but momentumBuf is null");
}
}  // namespace

// adamw(param, grad, m, v, n, lr, beta1, beta2, eps, weightDecay, gradScale, biasCorrection1, biasCorrection2)
Napi::Value CpuDevice::Adamw(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("adamw");
  Args a(info, "adamw", table_);
  const int64_t n = a.count(4, "n");
  const AdamWStep h = adamw_scalars(a);
  adamw(tp, a.f32(0, "param", n), a.f32(1, "grad", n), a.f32(2, "m", n), a.f32(3, "v", n), n, h);
  return info.Env().Undefined();
}

// sgd(param, grad, momentumBuf | null, n, lr, momentum, weightDecay, nesterov, gradScale)
Napi::Value CpuDevice::Sgd(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("sgd");
  Args a(info, "sgd", table_);
  const int64_t n = a.count(3, "n");
  const SgdStep h = sgd_scalars(a);
  float* momentum = a.is_null(2) ? nullptr : a.f32(2, "momentumBuf", n);
  check_momentum(a, momentum, h);
  sgd(tp, a.f32(0, "param", n), a.f32(1, "grad", n), momentum, n, h);
  return info.Env().Undefined();
}

// adamwHost / sgdHost: the same steps on host Float32Arrays (the host tier), in place: for a cpu device the host is
// its own memory, so the optimizer needs no copies. Same kernels, so the same bits as adamw / sgd on device buffers.
Napi::Value CpuDevice::AdamwHost(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("adamwHost");
  Args a(info, "adamwHost", table_);
  const int64_t n = a.count(4, "n");
  const AdamWStep h = adamw_scalars(a);
  adamw(tp, a.host_f32(0, "param", n), a.host_f32(1, "grad", n), a.host_f32(2, "m", n), a.host_f32(3, "v", n), n, h);
  return info.Env().Undefined();
}

Napi::Value CpuDevice::SgdHost(const Napi::CallbackInfo& info) {
  ThreadPool& tp = pool("sgdHost");
  Args a(info, "sgdHost", table_);
  const int64_t n = a.count(3, "n");
  const SgdStep h = sgd_scalars(a);
  float* momentum = a.is_null(2) ? nullptr : a.host_f32(2, "momentumBuf", n);
  check_momentum(a, momentum, h);
  sgd(tp, a.host_f32(0, "param", n), a.host_f32(1, "grad", n), momentum, n, h);
  return info.Env().Undefined();
}

}  // namespace hydra
