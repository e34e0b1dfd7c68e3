#ifndef PASSGATE_SERVER_HASHING_SLOTS_H_
#define PASSGATE_SERVER_HASHING_SLOTS_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace passgate::server {

// HashingSlots bounds how many password hashes run at once (password.hashing.workers), apart
// from how many login threads exist. A login holds a slot for its lookups and hash and gives
// it back before its session is committed, so while one login waits on the store (a durable
// PostgreSQL commit waits ~1 ms, docs/benchmarks.md) another can hash: CPU and hash memory
// still see at most `slots` hashes. Slots go to waiters in arrival order (a semaphore would
// let a waiter lose the race more than once, which showed as a longer p99). Thread-safe.
class HashingSlots {
 public:
  // REQUIRES: slots >= 1.
  explicit HashingSlots(int slots) : free_(slots) {}
  HashingSlots(const HashingSlots&) = delete;
  HashingSlots& operator=(const HashingSlots&) = delete;

  // Permit is one slot, held from Acquire until Release or destruction.
  class Permit {
   public:
    explicit Permit(HashingSlots& slots) : slots_(&slots) { slots_->Acquire(); }
    ~Permit() { Release(); }
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;

    // Release gives the slot back early. Idempotent.
    void Release() {
      if (slots_ != nullptr) slots_->Release();
      slots_ = nullptr;
    }

   private:
    HashingSlots* slots_;
  };

  // Waiting counts the callers waiting for a slot (for tests and metrics).
  int Waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(next_ticket_ - serving_);
  }

 private:
  void Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    const std::uint64_t ticket = next_ticket_++;
    changed_.wait(lock, [&] { return ticket == serving_ && free_ > 0; });
    ++serving_;
    --free_;
    lock.unlock();
    changed_.notify_all();  // the next ticket may find a slot free too
  }

  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++free_;
    }
    changed_.notify_all();
  }

  std::mutex mu_;  // std::mutex: visible to ThreadSanitizer (see worker_pool.h)
  std::condition_variable changed_;
  int free_;                      // guarded by mu_
  std::uint64_t next_ticket_ = 0;  // guarded by mu_: the next arrival's place in line
  std::uint64_t serving_ = 0;      // guarded by mu_: the ticket whose turn it is
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_HASHING_SLOTS_H_
