#include "memory-advice.h"
#include "view-bytes.h"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace hydra {

namespace {
constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
}  // namespace

// adviseHugePages(bytes: Uint8Array): number — asks for transparent huge pages (MADV_HUGEPAGE) on the whole 2 MiB
// pages inside the array, before its first touch, and returns how many bytes that covered (0 where the kernel has no
// THP or refuses). Why: the host tier's arrays are fresh zero pages from mmap, first touched by the weight
// initialisation, the gradient copy-out and the first optimizer step. At 4 KiB a 58 MB optimizer state costs 14k
// page faults (~15 µs each in a VM: ~0.2 s of system time per model), at 2 MiB 28. The device buffers already get
// this (buffers.cc); without it the host tier paid what a resident trainer does not. Contents are unchanged.
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  const ViewBytes v = view_bytes(info, 0, "adviseHugePages(bytes: Uint8Array)");
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(v.data) + kHugePage - 1) / kHugePage * kHugePage;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(v.data) + v.bytes) / kHugePage * kHugePage;
  double advised = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (end > begin && madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) == 0) advised = static_cast<double>(end - begin);
#endif
  return Napi::Number::New(info.Env(), advised);
}

}  // namespace hydra
