#ifndef PASSGATE_SERVER_WORKER_POOL_H_
#define PASSGATE_SERVER_WORKER_POOL_H_

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"

namespace passgate::server {

// WorkerPool runs CPU-heavy tasks (password hashing) on a fixed number of threads with a
// short bounded queue. When every thread is busy and `queue_capacity` tasks already wait,
// TrySubmit refuses at once instead of queueing without bound: each Argon2id verify holds
// its whole memory cost, so an unbounded queue would turn a flood into an out-of-memory kill.
//
// `overlap_threads` adds threads that do not add capacity (tasks accepted at once stay at
// most threads + queue_capacity): they let a task's I/O (a database round trip) overlap
// another task's hashing when the hashes themselves are gated (GatedHasher).
//
//   WorkerPool pool(4, 8);
//   if (!pool.TrySubmit([&] { Verify(...); })) return ResourceExhausted();
class WorkerPool {
 public:
  // REQUIRES: threads >= 1, queue_capacity >= 0, overlap_threads >= 0.
  WorkerPool(int threads, int queue_capacity, int overlap_threads = 0);
  // The destructor runs every task already accepted, then joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // TrySubmit queues `task` and returns true, or returns false when the queue is full or
  // the pool is shutting down. `then` (optional) runs on the same thread right after `task`,
  // once its slot is free again: a task that answers a client should answer there, or the
  // client's next request, sent the moment the answer arrives, can find the pool still full
  // of its own finished call. Neither may throw.
  bool TrySubmit(std::function<void()> task, std::function<void()> then = nullptr);

  // Shutdown stops accepting tasks, runs those already accepted and joins the threads.
  // Idempotent.
  void Shutdown();

  int threads() const { return thread_count_; }  // without the overlap threads
  int queue_capacity() const { return queue_capacity_; }

 private:
  void Run();

  const int queue_capacity_;
  // std::mutex rather than absl::Mutex: ThreadSanitizer sees pthread mutexes, while Debian's
  // Abseil is built without its TSan annotations, so every absl::Mutex-guarded access would
  // be reported as a race and the TSan build could check nothing here.
  std::mutex mu_;
  std::condition_variable work_or_stop_;  // signalled on a new task and on Shutdown
  struct Work {
    std::function<void()> task;
    std::function<void()> then;
  };
  std::deque<Work> queue_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;  // threads running a task
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::mutex join_mu_;  // serializes Shutdown callers
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);
  const int thread_count_;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_WORKER_POOL_H_
