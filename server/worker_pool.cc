#include "server/worker_pool.h"

#include <utility>

namespace passgate::server {

WorkerPool::WorkerPool(int threads, int queue_capacity)
    : queue_capacity_(queue_capacity), thread_count_(threads) {
  absl::MutexLock lock(&join_mu_);
  threads_.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::TrySubmit(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  // Accepted work = running + queued; free threads take queued tasks at once, so only the
  // excess over the thread count waits, and that is what queue_capacity bounds. Counting
  // busy threads (not idle ones) keeps a freshly started pool from refusing work before its
  // threads have reached their wait.
  const int accepted = busy_ + static_cast<int>(queue_.size());
  if (accepted >= thread_count_ + queue_capacity_) return false;
  queue_.push_back(std::move(task));
  return true;
}

void WorkerPool::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  absl::MutexLock lock(&join_mu_);
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void WorkerPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkerPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->stopping_ || !pool->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    task();
    absl::MutexLock lock(&mu_);
    --busy_;
  }
}

}  // namespace passgate::server
