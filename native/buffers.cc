#include "buffers.h"

#include <algorithm>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace hydra {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kHugeThreshold = size_t{16} << 20;
// Lookups scan the cache: bound its length (a shard task frees a few dozen buffers).
constexpr size_t kMaxCached = 256;

void* fresh(size_t bytes, size_t align) {
  void* data = std::aligned_alloc(align, bytes);
  if (data == nullptr) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (align == kHugePage) madvise(data, bytes, MADV_HUGEPAGE);
#endif
  return data;
}
}  // namespace

BufferTable::~BufferTable() { clear(); }

void* BufferTable::take_cached(size_t bytes) {
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (it->bytes != bytes) continue;
    void* data = it->data;
    cached_bytes_ -= bytes;
    cache_.erase(it);
    return data;
  }
  return nullptr;
}

void BufferTable::drop_oldest() {
  cached_bytes_ -= cache_.back().bytes;
  std::free(cache_.back().data);
  cache_.pop_back();
}

void BufferTable::evict_to(size_t limit) {
  while (!cache_.empty() && live_bytes_ + cached_bytes_ > limit) drop_oldest();
}

bool BufferTable::reserve_arena(size_t bytes) {
  if (arena_ || !buffers_.empty()) return false;
  auto a = std::make_unique<Arena>(bytes);
  if (!a->reserved()) return false;
  arena_ = std::move(a);
  return true;
}

void BufferTable::allocate(DeviceBuffer* buf, size_t bytes) {
  // Large buffers (activations, logits, weights) go on 2 MiB-aligned transparent huge pages where the kernel allows
  // it: 512x fewer page faults on first touch and fewer TLB misses in gemm. At most one partly used huge page per
  // buffer, i.e. under 12.5% for the >= 16 MiB buffers this applies to.
  const size_t align = bytes >= kHugeThreshold ? kHugePage : 64;
  buf->bytes = (bytes + align - 1) / align * align;  // aligned_alloc wants a multiple of the alignment
  buf->data = take_cached(buf->bytes);
  if (buf->data != nullptr) {
    ++reused_;
    return;
  }
  // Room first: the cache gives back what would lift live + cached above the high-water mark this buffer sets.
  evict_to(std::max(live_high_water_, live_bytes_ + buf->bytes) - buf->bytes);
  buf->data = fresh(buf->bytes, align);
  if (buf->data == nullptr) {  // free-and-retry: the whole cache back to the system, then once more
    evict_to(live_bytes_);
    buf->data = fresh(buf->bytes, align);
  }
  if (buf->data == nullptr) throw std::bad_alloc();
  ++allocated_;
}

DeviceBuffer* BufferTable::create(int64_t length, DType dtype) {
  auto buf = std::make_unique<DeviceBuffer>();
  buf->id = next_id_++;
  buf->length = length;
  buf->dtype = dtype;
  if (length > 0) {
    const size_t bytes = static_cast<size_t>(length) * 4;
    // The arena first: 64-byte multiples there (the whole region is on huge pages already).
    const size_t arena_bytes = (bytes + 63) / 64 * 64;
    buf->data = arena_ ? arena_->take(arena_bytes) : nullptr;
    if (buf->data != nullptr) {
      buf->bytes = arena_bytes;
      buf->in_arena = true;
      ++arena_served_;
    } else {
      allocate(buf.get(), bytes);
    }
    live_bytes_ += buf->bytes;
    live_high_water_ = std::max(live_high_water_, live_bytes_);
  }
  DeviceBuffer* raw = buf.get();
  buffers_.emplace(raw->id, std::move(buf));
  return raw;
}

bool BufferTable::destroy(uint64_t id) {
  auto it = buffers_.find(id);
  if (it == buffers_.end()) return false;
  DeviceBuffer* b = it->second.get();
  wait_idle(b);
  if (b->data != nullptr) {
    live_bytes_ -= b->bytes;
    if (b->in_arena) {
      arena_->give(b->data, b->bytes);
      buffers_.erase(it);
      return true;
    }
    // Kept while the table then holds no more than its peak live bytes (always true right after a free) and the
    // cache is short enough to scan.
    cache_.push_front({b->bytes, b->data});
    cached_bytes_ += b->bytes;
    if (cache_.size() > kMaxCached) drop_oldest();
  }
  buffers_.erase(it);
  return true;
}

DeviceBuffer* BufferTable::find(uint64_t id) const {
  auto it = buffers_.find(id);
  return it == buffers_.end() ? nullptr : it->second.get();
}

void BufferTable::wait_idle(DeviceBuffer* b) {
  const uint64_t target = b->issued;
  if (b->completed.load(std::memory_order_acquire) == target) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return b->completed.load(std::memory_order_acquire) == target; });
}

void BufferTable::clear() {
  for (auto& entry : buffers_) wait_idle(entry.second.get());
  for (auto& entry : buffers_) {
    if (!entry.second->in_arena) std::free(entry.second->data);
  }
  buffers_.clear();
  arena_.reset();
  live_bytes_ = 0;
  evict_to(0);
}

void BufferTable::wait_turn(DeviceBuffer* b, uint64_t ticket) {
  if (b->completed.load(std::memory_order_acquire) == ticket - 1) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return b->completed.load(std::memory_order_acquire) == ticket - 1; });
}

void BufferTable::end_transfer(DeviceBuffer* b, uint64_t ticket) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    b->completed.store(ticket, std::memory_order_release);
  }
  cv_.notify_all();
}

}  // namespace hydra
