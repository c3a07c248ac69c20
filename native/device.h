// One cpu backend instance as a JavaScript class: `new CpuDevice(threads, arenaBytes?)`. It owns its thread pool and
// its buffers (from an arena of `arenaBytes` when given: buffers.h); several instances (e.g. one per worker_thread)
// share nothing but the process-wide BLAS library.
#pragma once

#include <napi.h>

#include <memory>

#include "buffers.h"
#include "thread-pool.h"

namespace hydra {

class CpuDevice : public Napi::ObjectWrap<CpuDevice> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit CpuDevice(const Napi::CallbackInfo& info);
  ~CpuDevice() override;

  BufferTable& table() { return table_; }

 private:
  ThreadPool& pool(const char* op);

  // memory and transfers (device.cc, device-transfers.cc)
  Napi::Value Alloc(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value Upload(const Napi::CallbackInfo& info);
  Napi::Value Download(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value LiveBuffers(const Napi::CallbackInfo& info);
  Napi::Value MemoryStats(const Napi::CallbackInfo& info);

  // kernels (device-kernels.cc, device-kernels-nn.cc, device-kernels-llama.cc)
  Napi::Value Fill(const Napi::CallbackInfo& info);
  Napi::Value Copy(const Napi::CallbackInfo& info);
  Napi::Value Scale(const Napi::CallbackInfo& info);
  Napi::Value Add(const Napi::CallbackInfo& info);
  Napi::Value Axpy(const Napi::CallbackInfo& info);
  Napi::Value SumSquares(const Napi::CallbackInfo& info);
  Napi::Value Gemm(const Napi::CallbackInfo& info);
  Napi::Value GemmBatched(const Napi::CallbackInfo& info);
  Napi::Value AddBias(const Napi::CallbackInfo& info);
  Napi::Value BiasBackward(const Napi::CallbackInfo& info);
  Napi::Value Adamw(const Napi::CallbackInfo& info);
  Napi::Value Sgd(const Napi::CallbackInfo& info);
  Napi::Value AdamwHost(const Napi::CallbackInfo& info);
  Napi::Value SgdHost(const Napi::CallbackInfo& info);
  Napi::Value EmbeddingForward(const Napi::CallbackInfo& info);
  Napi::Value EmbeddingBackward(const Napi::CallbackInfo& info);
  Napi::Value LayernormForward(const Napi::CallbackInfo& info);
  Napi::Value LayernormBackward(const Napi::CallbackInfo& info);
  Napi::Value GeluForward(const Napi::CallbackInfo& info);
  Napi::Value GeluBackward(const Napi::CallbackInfo& info);
  Napi::Value SplitHeads(const Napi::CallbackInfo& info);
  Napi::Value SplitHeadsBackward(const Napi::CallbackInfo& info);
  Napi::Value MergeHeads(const Napi::CallbackInfo& info);
  Napi::Value MergeHeadsBackward(const Napi::CallbackInfo& info);
  Napi::Value CausalSoftmaxForward(const Napi::CallbackInfo& info);
  Napi::Value CausalSoftmaxBackward(const Napi::CallbackInfo& info);
  Napi::Value DropoutForward(const Napi::CallbackInfo& info);
  Napi::Value DropoutBackward(const Napi::CallbackInfo& info);
  Napi::Value CrossEntropyForward(const Napi::CallbackInfo& info);
  Napi::Value CrossEntropyBackward(const Napi::CallbackInfo& info);
  // Llama kernels (device-kernels-llama.cc)
  Napi::Value RmsnormForward(const Napi::CallbackInfo& info);
  Napi::Value RmsnormBackward(const Napi::CallbackInfo& info);
  Napi::Value RopeTable(const Napi::CallbackInfo& info);
  Napi::Value RopeForward(const Napi::CallbackInfo& info);
  Napi::Value RopeBackward(const Napi::CallbackInfo& info);
  Napi::Value SwigluForward(const Napi::CallbackInfo& info);
  Napi::Value SwigluBackward(const Napi::CallbackInfo& info);

  Napi::Value Transfer(const Napi::CallbackInfo& info, bool to_device);

  std::unique_ptr<ThreadPool> pool_;
  BufferTable table_;
};

}  // namespace hydra
