#include "device.h"

#include <new>
#include <string>

#include "args.h"

namespace hydra {

Napi::Function CpuDevice::Define(Napi::Env env) {
  return DefineClass(
      env, "CpuDevice",
      {
          InstanceMethod<&CpuDevice::Alloc>("alloc"),
          InstanceMethod<&CpuDevice::Free>("free"),
          InstanceMethod<&CpuDevice::Upload>("upload"),
          InstanceMethod<&CpuDevice::Download>("download"),
          InstanceMethod<&CpuDevice::Dispose>("dispose"),
          InstanceMethod<&CpuDevice::LiveBuffers>("liveBuffers"),
          InstanceMethod<&CpuDevice::MemoryStats>("memoryStats"),
          InstanceMethod<&CpuDevice::Fill>("fill"),
          InstanceMethod<&CpuDevice::Copy>("copy"),
          InstanceMethod<&CpuDevice::Scale>("scale"),
          InstanceMethod<&CpuDevice::Add>("add"),
          InstanceMethod<&CpuDevice::Axpy>("axpy"),
          InstanceMethod<&CpuDevice::SumSquares>("sumSquares"),
          InstanceMethod<&CpuDevice::Gemm>("gemm"),
          InstanceMethod<&CpuDevice::GemmBatched>("gemmBatched"),
          InstanceMethod<&CpuDevice::AddBias>("addBias"),
          InstanceMethod<&CpuDevice::BiasBackward>("biasBackward"),
          InstanceMethod<&CpuDevice::Adamw>("adamw"),
          InstanceMethod<&CpuDevice::Sgd>("sgd"),
          InstanceMethod<&CpuDevice::AdamwHost>("adamwHost"),
          InstanceMethod<&CpuDevice::SgdHost>("sgdHost"),
          InstanceMethod<&CpuDevice::EmbeddingForward>("embeddingForward"),
          InstanceMethod<&CpuDevice::EmbeddingBackward>("embeddingBackward"),
          InstanceMethod<&CpuDevice::LayernormForward>("layernormForward"),
          InstanceMethod<&CpuDevice::LayernormBackward>("layernormBackward"),
          InstanceMethod<&CpuDevice::GeluForward>("geluForward"),
          InstanceMethod<&CpuDevice::GeluBackward>("geluBackward"),
          InstanceMethod<&CpuDevice::SplitHeads>("splitHeads"),
          InstanceMethod<&CpuDevice::SplitHeadsBackward>("splitHeadsBackward"),
          InstanceMethod<&CpuDevice::MergeHeads>("mergeHeads"),
          InstanceMethod<&CpuDevice::MergeHeadsBackward>("mergeHeadsBackward"),
          InstanceMethod<&CpuDevice::CausalSoftmaxForward>("causalSoftmaxForward"),
          InstanceMethod<&CpuDevice::CausalSoftmaxBackward>("causalSoftmaxBackward"),
          InstanceMethod<&CpuDevice::DropoutForward>("dropoutForward"),
          InstanceMethod<&CpuDevice::DropoutBackward>("dropoutBackward"),
          InstanceMethod<&CpuDevice::CrossEntropyForward>("crossEntropyForward"),
          InstanceMethod<&CpuDevice::CrossEntropyBackward>("crossEntropyBackward"),
          InstanceMethod<&CpuDevice::RmsnormForward>("rmsnormForward"),
          InstanceMethod<&CpuDevice::RmsnormBackward>("rmsnormBackward"),
          InstanceMethod<&CpuDevice::RopeTable>("ropeTable"),
          InstanceMethod<&CpuDevice::RopeForward>("ropeForward"),
          InstanceMethod<&CpuDevice::RopeBackward>("ropeBackward"),
          InstanceMethod<&CpuDevice::SwigluForward>("swigluForward"),
          InstanceMethod<&CpuDevice::SwigluBackward>("swigluBackward"),
      });
}

CpuDevice::CpuDevice(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CpuDevice>(info) {
  Args args(info, "create", table_);
  const int64_t threads = args.count(0, "threads");
  if (threads < 1 || threads > 1024) args.range_error("threads must be an integer in [1, 1024], got " + std::to_string(threads));
  pool_ = std::make_unique<ThreadPool>(static_cast<int>(threads));
  // Optional: the device budget in bytes, to serve buffers from one region of that size (buffers.h, arena.h).
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    const int64_t arena = args.count(1, "arenaBytes");
    if (arena > 0) table_.reserve_arena(static_cast<size_t>(arena));
  }
}

CpuDevice::~CpuDevice() { table_.clear(); }

ThreadPool& CpuDevice::pool(const char* op) {
  if (!pool_) throw Napi::Error::New(Env(), std::string("cpu.") + op + ": the backend was disposed");
  return *pool_;
}

// alloc(length, dtype: 0 = f32, 1 = i32) -> id
Napi::Value CpuDevice::Alloc(const Napi::CallbackInfo& info) {
  pool("alloc");
  Args args(info, "alloc", table_);
  const int64_t length = args.count(0, "length");
  const int64_t dtype = args.count(1, "dtype");
  if (dtype > 1) args.range_error("dtype must be 0 (f32) or 1 (i32)");
  args.mul(length, 4);
  try {
    DeviceBuffer* b = table_.create(length, dtype == 0 ? DType::F32 : DType::I32);
    return Napi::Number::New(info.Env(), static_cast<double>(b->id));
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "cpu.alloc: the host could not provide " + std::to_string(length * 4) +
                                           " bytes (the device budget allowed it; the machine is out of memory)");
  }
}

Napi::Value CpuDevice::Free(const Napi::CallbackInfo& info) {
  Args args(info, "free", table_);
  const double id = args.number(0, "id");
  if (!table_.destroy(static_cast<uint64_t>(id))) {
    args.range_error("no live buffer with id " + std::to_string(static_cast<int64_t>(id)) + " (double free?)");
  }
  return info.Env().Undefined();
}

Napi::Value CpuDevice::Dispose(const Napi::CallbackInfo& info) {
  table_.clear();
  pool_.reset();
  return info.Env().Undefined();
}

Napi::Value CpuDevice::LiveBuffers(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(table_.size()));
}

// memoryStats() -> { liveBytes, cachedBytes, liveHighWater, reused, allocated, arenaBytes, arenaServed }: the buffer
// table's memory (buffers.h).
Napi::Value CpuDevice::MemoryStats(const Napi::CallbackInfo& info) {
  const BufferTable::MemoryStats s = table_.stats();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("liveBytes", Napi::Number::New(info.Env(), static_cast<double>(s.live_bytes)));
  o.Set("cachedBytes", Napi::Number::New(info.Env(), static_cast<double>(s.cached_bytes)));
  o.Set("liveHighWater", Napi::Number::New(info.Env(), static_cast<double>(s.live_high_water)));
  o.Set("reused", Napi::Number::New(info.Env(), static_cast<double>(s.reused)));
  o.Set("allocated", Napi::Number::New(info.Env(), static_cast<double>(s.allocated)));
  o.Set("arenaBytes", Napi::Number::New(info.Env(), static_cast<double>(s.arena_bytes)));
  o.Set("arenaServed", Napi::Number::New(info.Env(), static_cast<double>(s.arena_served)));
  return o;
}

Napi::Value CpuDevice::Upload(const Napi::CallbackInfo& info) { return Transfer(info, true); }
Napi::Value CpuDevice::Download(const Napi::CallbackInfo& info) { return Transfer(info, false); }

}  // namespace hydra
