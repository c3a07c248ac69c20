// Device memory of one backend instance: 64-byte aligned native allocations addressed by id, plus the per-buffer
// transfer fence. Byte budgets are enforced by the TypeScript wrapper (MemoryAccountant), not here.
//
// Freed memory is kept in a small cache and handed to the next buffer of the same size (tinygrad's allocator: an LRU
// cache of freed allocations, freed for good when room is needed). Why: a shard task allocates the same buffers every
// time it runs (parameters copied in, activations, logits chunks), and fresh memory costs the kernel a page fault and
// a page clear on first touch (page clears, these and the host tier's, were a quarter of all CPU time on the
// 12-model grid; README, Limitations). The cache never makes the table hold more than its own high-water mark of
// live bytes (live + cached <= peak live), so the memory the process holds stays within what the device budget and
// the host-RAM preflight already count. A reused buffer is not zeroed, as an allocation from the heap never was:
// kernels write every element they later read.
//
// With an arena (arena.h: one region the size of the device budget, reserved by the backend that knows its budget),
// buffers come from it first, best fit, and go back to it when freed; the cache above serves only what the arena
// cannot place (fragmentation, or a budget raised past it).
//
// Transfers run on libuv's thread pool. Each buffer numbers its transfers in issue order (`issued`, JS thread only)
// and counts finished ones (`completed`). A transfer waits for its predecessors on the same buffer before copying,
// so transfers on one buffer take effect in call order; a kernel or free() touching a buffer waits until
// completed == issued. libuv starts queued work in FIFO order, so a transfer only ever waits for work that has
// already started: no deadlock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "arena.h"

namespace hydra {

enum class DType : int { F32 = 0, I32 = 1 };

struct DeviceBuffer {
  uint64_t id = 0;
  void* data = nullptr;  // null when length == 0
  int64_t length = 0;    // elements, 4 bytes each
  DType dtype = DType::F32;
  size_t bytes = 0;  // allocated (rounded up to the alignment)
  bool in_arena = false;
  uint64_t issued = 0;
  std::atomic<uint64_t> completed{0};
};

class BufferTable {
 public:
  BufferTable() = default;
  ~BufferTable();
  BufferTable(const BufferTable&) = delete;
  BufferTable& operator=(const BufferTable&) = delete;

  // Serve buffers from one region of `bytes` from now on (once, before the first allocation); false when the system
  // refused the reservation (the table then allocates as before).
  bool reserve_arena(size_t bytes);
  // Throws std::bad_alloc when the host cannot provide the memory.
  DeviceBuffer* create(int64_t length, DType dtype);
  // Waits for the buffer's transfers, then frees it. Returns false for an unknown id.
  bool destroy(uint64_t id);
  // nullptr when absent.
  DeviceBuffer* find(uint64_t id) const;
  // Blocks until every transfer issued on the buffer has finished.
  void wait_idle(DeviceBuffer* b);
  // Waits for all transfers, then frees every buffer.
  void clear();
  size_t size() const { return buffers_.size(); }

  struct MemoryStats {
    size_t live_bytes, cached_bytes, live_high_water;
    uint64_t reused, allocated;
    size_t arena_bytes;     // the arena's size (0 without one)
    uint64_t arena_served;  // allocations the arena placed
  };
  MemoryStats stats() const { return {live_bytes_, cached_bytes_, live_high_water_, reused_, allocated_, arena_ ? arena_->capacity() : 0, arena_served_}; }

  // JS thread: number a new transfer on b.
  uint64_t begin_transfer(DeviceBuffer* b) { return ++b->issued; }
  // Transfer thread: wait until the transfers issued before `ticket` on b have finished.
  void wait_turn(DeviceBuffer* b, uint64_t ticket);
  // Transfer thread: mark transfer `ticket` on b finished.
  void end_transfer(DeviceBuffer* b, uint64_t ticket);

 private:
  struct Cached {
    size_t bytes;
    void* data;
  };
  // A freed allocation of `bytes`, most recently freed first; nullptr when none.
  void* take_cached(size_t bytes);
  // Outside the arena: a cached allocation of the rounded size, else fresh memory; sets buf->data and buf->bytes.
  void allocate(DeviceBuffer* buf, size_t bytes);
  // Frees the least recently freed cached allocation (the cache is not empty).
  void drop_oldest();
  // Frees cached allocations, least recently freed first, until live + cached <= limit.
  void evict_to(size_t limit);

  std::unordered_map<uint64_t, std::unique_ptr<DeviceBuffer>> buffers_;
  std::list<Cached> cache_;  // front: most recently freed
  size_t live_bytes_ = 0, cached_bytes_ = 0, live_high_water_ = 0;
  uint64_t reused_ = 0, allocated_ = 0, arena_served_ = 0;
  std::unique_ptr<Arena> arena_;
  uint64_t next_id_ = 1;
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace hydra
