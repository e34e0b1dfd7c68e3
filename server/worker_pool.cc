#include "server/worker_pool.h"

#include <utility>

namespace passgate::server {

WorkerPool::WorkerPool(int threads, int queue_capacity, int overlap_threads)
    : queue_capacity_(queue_capacity), thread_count_(threads) {
  std::lock_guard<std::mutex> lock(join_mu_);
  threads_.reserve(static_cast<std::size_t>(threads + overlap_threads));
  for (int i = 0; i < threads + overlap_threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::TrySubmit(std::function<void()> task, std::function<void()> then) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return false;
  // Accepted work = running + queued; free threads take queued tasks at once, so only the
  // excess over the thread count waits, and that is what queue_capacity bounds. Counting
  // busy threads (not idle ones) keeps a freshly started pool from refusing work before its
  // threads have reached their wait.
  const int accepted = busy_ + static_cast<int>(queue_.size());
  if (accepted >= thread_count_ + queue_capacity_) return false;
  queue_.push_back({std::move(task), std::move(then)});
  lock.unlock();
  work_or_stop_.notify_one();
  return true;
}

void WorkerPool::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  work_or_stop_.notify_all();
  std::lock_guard<std::mutex> lock(join_mu_);
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void WorkerPool::Run() {
  for (;;) {
    Work work;
    {
      std::unique_lock<std::mutex> lock(mu_);
      work_or_stop_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      work = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    work.task();
    {
      std::lock_guard<std::mutex> lock(mu_);
      --busy_;
    }
    if (work.then) work.then();
  }
}

}  // namespace passgate::server
