#include "server/worker_pool.h"

#include "server/hashing_slots.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <vector>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "gtest/gtest.h"

namespace passgate::server {
namespace {

// Generous bound for "the worker picks the task up": only ever reached when something is
// broken, so it fails the test instead of hanging it. Never used to wait for something to
// *not* happen.
constexpr std::chrono::seconds kBound(60);

// Gate is a one-shot event a task can wait on and the test opens. It opens itself when
// destroyed, so a failed assertion never leaves a worker blocked (declare it after the pool).
// std::mutex, like the pool itself, so the TSan build checks these handshakes too.
class Gate {
 public:
  ~Gate() { Open(); }
  // Notifying under the lock: once a waiter can see the change it may destroy this object,
  // so the condition variable must not be touched after the mutex is released.
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    opened_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    opened_.wait(lock, [this] { return open_; });
  }
  // WaitWithBound returns false if the gate is still closed after kBound.
  bool WaitWithBound() {
    std::unique_lock<std::mutex> lock(mu_);
    return opened_.wait_for(lock, kBound, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable opened_;
  bool open_ = false;
};

// Countdown waits for n tasks to finish, with the same bound.
class Countdown {
 public:
  explicit Countdown(int n) : left_(n) {}
  void Done() {  // notifies under the lock, like Gate::Open
    std::lock_guard<std::mutex> lock(mu_);
    --left_;
    changed_.notify_all();
  }
  bool WaitWithBound() {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, kBound, [this] { return left_ <= 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int left_;
};

class WorkerPoolTest : public ::testing::Test {
 protected:
  // SubmitBlocker submits a task that signals `started_` and then waits for `release_`,
  // and waits (bounded) until a worker is running it.
  void SubmitBlocker(WorkerPool& pool) {
    ASSERT_TRUE(pool.TrySubmit([this] {
      started_.Open();
      release_.Wait();
    }));
    ASSERT_TRUE(started_.WaitWithBound()) << "worker never picked up the blocking task";
  }

  std::atomic<int> ran_{0};
  Gate started_;
  Gate release_;
};

TEST_F(WorkerPoolTest, ReportsItsShape) {
  WorkerPool pool(3, 7);
  EXPECT_EQ(pool.threads(), 3);
  EXPECT_EQ(pool.queue_capacity(), 7);
}

TEST_F(WorkerPoolTest, RunsEveryTaskOnPoolThreads) {
  constexpr int kTasks = 200;
  WorkerPool pool(2, kTasks);
  Countdown done(kTasks);
  std::mutex mu;
  std::set<std::thread::id> thread_ids;
  for (int i = 0; i < kTasks; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&] {
      {
        std::lock_guard<std::mutex> lock(mu);
        thread_ids.insert(std::this_thread::get_id());
      }
      ++ran_;
      done.Done();
    })) << "task "
        << i;
  }
  ASSERT_TRUE(done.WaitWithBound());
  EXPECT_EQ(ran_.load(), kTasks);
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_FALSE(thread_ids.contains(std::this_thread::get_id()));
  EXPECT_LE(thread_ids.size(), 2u);
}

TEST_F(WorkerPoolTest, ThenRunsAfterTheSlotIsFree) {
  // A client that sends its next request the moment an answer arrives must find the slot of
  // its finished call free: `then` (where answers are sent) runs after the slot is released.
  WorkerPool pool(1, 0);
  Countdown done(2);
  bool next_accepted = false;
  ASSERT_TRUE(pool.TrySubmit([] {},
                             [&] {
                               next_accepted = pool.TrySubmit([&] { done.Done(); });
                               done.Done();
                             }));
  ASSERT_TRUE(done.WaitWithBound());
  EXPECT_TRUE(next_accepted);
}

TEST_F(WorkerPoolTest, ThenRunsForTasksDrainedAtShutdown) {
  WorkerPool pool(1, 1);
  SubmitBlocker(pool);
  std::atomic<int> then_ran{0};
  ASSERT_TRUE(pool.TrySubmit([this] { ++ran_; }, [&] { ++then_ran; }));
  release_.Open();
  pool.Shutdown();
  EXPECT_EQ(ran_.load(), 1);
  EXPECT_EQ(then_ran.load(), 1);
}

TEST_F(WorkerPoolTest, RefusesWhenThreadBusyAndQueueFull) {
  WorkerPool pool(1, 1);
  SubmitBlocker(pool);
  if (HasFatalFailure()) return;

  Countdown queued_done(1);
  EXPECT_TRUE(pool.TrySubmit([&] {
    ++ran_;
    queued_done.Done();
  })) << "one task fits in the queue";
  EXPECT_FALSE(pool.TrySubmit([&] { ran_ += 100; })) << "the queue is full";
  EXPECT_FALSE(pool.TrySubmit([&] { ran_ += 100; })) << "still full";
  EXPECT_EQ(ran_.load(), 0);

  release_.Open();
  ASSERT_TRUE(queued_done.WaitWithBound());
  EXPECT_EQ(ran_.load(), 1) << "the queued task ran, the refused ones never do";

  // With the worker free again the pool accepts work.
  Countdown later(1);
  EXPECT_TRUE(pool.TrySubmit([&] {
    ++ran_;
    later.Done();
  }));
  ASSERT_TRUE(later.WaitWithBound());
  pool.Shutdown();
  EXPECT_EQ(ran_.load(), 2);
}

TEST_F(WorkerPoolTest, ShutdownRunsAcceptedTasksThenRefuses) {
  // Large capacity: TrySubmit can then only fail because the pool is stopping.
  WorkerPool pool(1, 1 << 20);
  SubmitBlocker(pool);
  if (HasFatalFailure()) return;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.TrySubmit([this] { ++ran_; }));

  // Shutdown blocks on the busy worker, so run it on another thread and wait until it has
  // started refusing. Every probe it accepted before that is an accepted task as well.
  std::thread stopper([&pool] { pool.Shutdown(); });
  int probes_accepted = 0;
  while (probes_accepted < (1 << 19) && pool.TrySubmit([this] { ++ran_; })) {
    ++probes_accepted;
    std::this_thread::yield();
  }
  EXPECT_LT(probes_accepted, 1 << 19) << "Shutdown never started refusing";
  EXPECT_EQ(ran_.load(), 0) << "the worker is still blocked";

  release_.Open();
  stopper.join();
  EXPECT_EQ(ran_.load(), 3 + probes_accepted) << "every accepted task ran before Shutdown returned";
  EXPECT_FALSE(pool.TrySubmit([this] { ++ran_; }));
  pool.Shutdown();  // idempotent
  EXPECT_EQ(ran_.load(), 3 + probes_accepted);
}

TEST_F(WorkerPoolTest, DestructorRunsAcceptedTasks) {
  {
    WorkerPool pool(1, 8);
    SubmitBlocker(pool);
    if (HasFatalFailure()) return;
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(pool.TrySubmit([this] { ++ran_; }));
    EXPECT_EQ(ran_.load(), 0);
    release_.Open();
  }
  EXPECT_EQ(ran_.load(), 5);
}

TEST_F(WorkerPoolTest, CapacityCountsOnlyWaitingTasks) {
  // Two workers and room for one waiting task: two running plus one queued fit, the fourth
  // is refused. Block the workers one at a time so each is known to be busy.
  WorkerPool pool(2, 1);
  Gate second_started;
  SubmitBlocker(pool);
  if (HasFatalFailure()) return;
  ASSERT_TRUE(pool.TrySubmit([&] {
    second_started.Open();
    release_.Wait();
  }));
  ASSERT_TRUE(second_started.WaitWithBound());
  EXPECT_TRUE(pool.TrySubmit([this] { ++ran_; }));
  EXPECT_FALSE(pool.TrySubmit([this] { ran_ += 100; }));
  release_.Open();
  pool.Shutdown();
  EXPECT_EQ(ran_.load(), 1);
}

TEST_F(WorkerPoolTest, OverlapThreadsRunTasksAtOnceWithoutAddingCapacity) {
  // One worker, room for two waiting tasks, two overlap threads: the three accepted tasks all
  // run at once (in passgate they would wait on the store or a hashing slot), and a fourth
  // is refused, as it would be without overlap threads.
  WorkerPool pool(1, 2, /*overlap_threads=*/2);
  EXPECT_EQ(pool.threads(), 1);
  Gate all_started;
  std::atomic<int> running{0};
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(pool.TrySubmit([&] {
      if (running.fetch_add(1) + 1 == 3) all_started.Open();
      release_.Wait();
    })) << i;
  }
  EXPECT_TRUE(all_started.WaitWithBound()) << "the overlap threads ran tasks at once";
  EXPECT_FALSE(pool.TrySubmit([this] { ++ran_; })) << "capacity is still 1 worker + 2 queued";
  release_.Open();
  pool.Shutdown();
  EXPECT_EQ(ran_.load(), 0);
}

TEST(HashingSlotsTest, AtMostTheSlotsAreHeldAndWaitersGetThemInArrivalOrder) {
  HashingSlots slots(2);
  std::optional<HashingSlots::Permit> first(std::in_place, slots);
  std::optional<HashingSlots::Permit> second(std::in_place, slots);
  std::mutex mu;
  std::vector<int> order;  // who holds a slot, in the order they got it
  Gate finish;             // waiters keep their slot until then
  std::vector<std::thread> waiters;
  for (int i = 0; i < 3; ++i) {
    // Start the waiters one after the other, each in line before the next starts.
    waiters.emplace_back([&, i] {
      HashingSlots::Permit permit(slots);
      {
        std::lock_guard<std::mutex> lock(mu);
        order.push_back(i);
      }
      finish.Wait();
    });
    while (slots.Waiting() != i + 1) std::this_thread::yield();
  }
  const auto holders = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return order;
  };
  const auto wait_for_holders = [&](std::size_t n) {
    while (holders().size() < n) std::this_thread::yield();
  };
  EXPECT_TRUE(holders().empty()) << "both slots are held: nobody may pass";
  first->Release();
  first->Release();  // idempotent: gives back one slot only
  wait_for_holders(1);
  EXPECT_EQ(slots.Waiting(), 2);
  EXPECT_EQ(holders(), (std::vector<int>{0}));
  second.reset();
  wait_for_holders(2);
  EXPECT_EQ(holders(), (std::vector<int>{0, 1}));
  EXPECT_EQ(slots.Waiting(), 1) << "no third slot appeared";
  finish.Open();
  for (std::thread& waiter : waiters) waiter.join();
  EXPECT_EQ(holders(), (std::vector<int>{0, 1, 2}));
}

}  // namespace
}  // namespace passgate::server
