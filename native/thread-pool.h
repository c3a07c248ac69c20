// A fixed-size pool of compute threads owned by one backend instance. The calling (JavaScript) thread is worker 0,
// so `threads = 1` means no extra threads at all. Work is split statically (part p of P always covers the same
// range), which is what makes every kernel a pure function of its inputs for a given thread count.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace hydra {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  // Calls task(p) for every p in [0, parts), parts <= threads(); part 0 runs on the caller. Returns when all are done;
  // an exception from any part is rethrown here after all parts finished.
  void run(int parts, const std::function<void(int)>& task);

 private:
  void worker_loop(int index);

  const int threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int)>* task_ = nullptr;
  int parts_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> remaining_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;  // first exception a worker's part threw (e.g. bad_alloc), rethrown by run()
};

// Splits [0, n) into at most threads() contiguous ranges of at least `min_per_part` items (fewer parts for small n)
// and calls body(begin, end) for each. The split depends only on n, min_per_part and the thread count.
template <class Body>
void parallel_for(ThreadPool& pool, int64_t n, int64_t min_per_part, Body&& body) {
  if (n <= 0) return;
  if (min_per_part < 1) min_per_part = 1;
  int64_t parts = n / min_per_part;
  if (parts > pool.threads()) parts = pool.threads();
  if (parts <= 1) {
    body(int64_t{0}, n);
    return;
  }
  const int64_t P = parts;
  pool.run(static_cast<int>(P), [&](int p) { body(n * p / P, n * (p + 1) / P); });
}

}  // namespace hydra
