#include "thread-pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() { std::this_thread::yield(); }
#endif

namespace hydra {

// Kernels come in quick succession during a training step; spinning this long before sleeping avoids paying a
// futex wake-up per kernel while costing little when the device is idle.
static constexpr int kSpinIterations = 4000;

ThreadPool::ThreadPool(int threads) : threads_(threads < 1 ? 1 : threads) {
  for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run(int parts, const std::function<void(int)>& task) {
  if (parts > threads_) parts = threads_;
  if (parts <= 1 || threads_ == 1) {
    for (int p = 0; p < parts; ++p) task(p);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    task_ = &task;
    parts_ = parts;
    remaining_.store(threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_cv_.notify_all();
  std::exception_ptr mine;
  try {
    task(0);
  } catch (...) {
    mine = std::current_exception();
  }
  bool done = false;
  for (int spin = 0; spin < kSpinIterations && !done; ++spin) {
    done = remaining_.load(std::memory_order_acquire) == 0;
    if (!done) cpu_relax();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (!done) done_cv_.wait(lock, [this] { return remaining_.load(std::memory_order_acquire) == 0; });
  std::exception_ptr theirs = error_;
  error_ = nullptr;
  lock.unlock();
  if (mine) std::rethrow_exception(mine);
  if (theirs) std::rethrow_exception(theirs);
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
      cpu_relax();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    if (stop_.load()) return;
    seen = gen;
    const std::function<void(int)>* task;
    int parts;
    {
      // task_/parts_ were written under mu_ before the generation bump; reading them under mu_ is the simple,
      // obviously-correct publication (the cost is one uncontended lock per kernel).
      std::lock_guard<std::mutex> lock(mu_);
      task = task_;
      parts = parts_;
    }
    if (index < parts) {
      try {
        (*task)(index);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu_);
        if (!error_) error_ = std::current_exception();
      }
    }
    if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace hydra
