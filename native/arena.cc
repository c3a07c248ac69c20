#include "arena.h"

#include <cstdint>

#if defined(__linux__) || defined(__APPLE__)
#include <sys/mman.h>
#endif

namespace hydra {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
}  // namespace

Arena::Arena(size_t bytes) {
#if defined(__linux__) || defined(__APPLE__)
  if (bytes == 0) return;
  size_ = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // One extra huge page of address space, so that a 2 MiB aligned start exists inside the mapping.
  mapped_ = size_ + kHugePage;
  int flags = MAP_PRIVATE | MAP_ANONYMOUS;
#if defined(MAP_NORESERVE)
  flags |= MAP_NORESERVE;
#endif
  void* m = mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, flags, -1, 0);
  if (m == MAP_FAILED) {
    size_ = mapped_ = 0;
    return;
  }
  mapping_ = m;
  const uintptr_t aligned = (reinterpret_cast<uintptr_t>(m) + kHugePage - 1) / kHugePage * kHugePage;
  base_ = reinterpret_cast<char*>(aligned);
#if defined(MADV_HUGEPAGE)
  madvise(base_, size_, MADV_HUGEPAGE);
#endif
  add_free(0, size_);
#else
  (void)bytes;
#endif
}

Arena::~Arena() {
#if defined(__linux__) || defined(__APPLE__)
  if (mapping_ != nullptr) munmap(mapping_, mapped_);
#endif
}

void* Arena::take(size_t bytes) {
  if (base_ == nullptr || bytes == 0) return nullptr;
  auto fit = free_by_size_.lower_bound({bytes, 0});
  if (fit == free_by_size_.end()) return nullptr;
  const size_t offset = fit->second, length = fit->first;
  remove_free(free_by_offset_.find(offset));
  if (length > bytes) add_free(offset + bytes, length - bytes);
  return base_ + offset;
}

void Arena::give(void* p, size_t bytes) {
  size_t offset = static_cast<size_t>(static_cast<char*>(p) - base_), length = bytes;
  auto next = free_by_offset_.lower_bound(offset);
  if (next != free_by_offset_.end() && next->first == offset + length) {
    length += next->second;
    next = std::next(next);
    remove_free(std::prev(next));
  }
  if (next != free_by_offset_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      offset = prev->first;
      length += prev->second;
      remove_free(prev);
    }
  }
  add_free(offset, length);
}

void Arena::add_free(size_t offset, size_t length) {
  free_by_offset_.emplace(offset, length);
  free_by_size_.emplace(length, offset);
}

void Arena::remove_free(std::map<size_t, size_t>::iterator it) {
  free_by_size_.erase({it->second, it->first});
  free_by_offset_.erase(it);
}

}  // namespace hydra
