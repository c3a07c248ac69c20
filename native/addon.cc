// Module entry point of the native cpu backend (build/Release/hydra_cpu.node). Node-API modules are context-aware:
// every worker_thread that loads this gets its own CpuDevice class; the only process-wide state is the BLAS
// library, pinned to one thread here because each backend instance parallelises gemm over its own threads.
#include <napi.h>

#include "device.h"
#include "direct-io.h"
#include "gemm-peak.h"
#include "init-normal.h"
#include "memory-advice.h"
#include "sgemm.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  hydra::blas_init();
  exports.Set("CpuDevice", hydra::CpuDevice::Define(env));
  exports.Set("measureSgemmGflops", Napi::Function::New<hydra::MeasureSgemmGflops>(env, "measureSgemmGflops"));
  exports.Set("initNormal", Napi::Function::New<hydra::InitNormal>(env, "initNormal"));
  exports.Set("normalLogCos", Napi::Function::New<hydra::NormalLogCos>(env, "normalLogCos"));
  exports.Set("directOpen", Napi::Function::New<hydra::DirectOpen>(env, "directOpen"));
  exports.Set("directClose", Napi::Function::New<hydra::DirectClose>(env, "directClose"));
  exports.Set("directTransfer", Napi::Function::New<hydra::DirectTransfer>(env, "directTransfer"));
  exports.Set("directAddressMod", Napi::Function::New<hydra::DirectAddressMod>(env, "directAddressMod"));
  exports.Set("directStats", Napi::Function::New<hydra::DirectStats>(env, "directStats"));
  exports.Set("adviseHugePages", Napi::Function::New<hydra::AdviseHugePages>(env, "adviseHugePages"));
  exports.Set("blas", Napi::String::New(env, hydra::blas_name()));
  return exports;
}

}  // namespace

NODE_API_MODULE(hydra_cpu, Init)
