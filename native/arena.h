// A device-sized region of host memory, reserved once and handed out best-fit, with neighbouring free blocks merged
// when a buffer is freed: the cpu device's memory, as a GPU's caching allocator keeps its device's.
//
// Why: a shard task's buffers differ from the next task's (a block's activations, then a 50 MiB head weight and its
// gradient, then a block's stash), so a cache of freed buffers matched by exact size (buffers.cc) gave memory back to
// the system and took fresh memory from it every few tasks: GPT-mini in 4 shards at 200 MiB took ~400 MiB of fresh
// pages per step, and the kernel's page clears were ≈ 4 % of the run's CPU samples. An arena the size of the device
// budget is touched once and reused for any mix of sizes. The partitioner already keeps live bytes within the
// budget, so the arena only runs out through fragmentation or 64-byte rounding; the table then falls back to its own
// allocations.
//
// The region is reserved with MAP_NORESERVE: only pages a buffer touches are backed, so a large budget costs address
// space, not memory. Offsets are multiples of 64 bytes and the base is 2 MiB aligned (huge pages where the kernel
// allows them): every buffer keeps the alignment the table's own allocations give it.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <utility>

namespace hydra {

class Arena {
 public:
  // Reserves `bytes` (rounded up to 2 MiB); reserved() is false when the system refused.
  explicit Arena(size_t bytes);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  bool reserved() const { return base_ != nullptr; }
  size_t capacity() const { return size_; }
  // A block of `bytes` (a multiple of 64), the smallest free block that fits (lowest address among equals); nullptr
  // when none does.
  void* take(size_t bytes);
  // Returns a block taken with `bytes`, merging it with free neighbours.
  void give(void* p, size_t bytes);

 private:
  void add_free(size_t offset, size_t length);
  void remove_free(std::map<size_t, size_t>::iterator it);

  char* base_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // what munmap must release
  void* mapping_ = nullptr;
  std::map<size_t, size_t> free_by_offset_;          // offset -> length
  std::set<std::pair<size_t, size_t>> free_by_size_;  // (length, offset): best fit, lowest address among equals
};

}  // namespace hydra
