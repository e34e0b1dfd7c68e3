#include "server/rate_limiter.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/unit/fakes.h"

namespace passgate::server {
namespace {

using std::chrono::seconds;
using passgate::testing::FakeClock;

TEST(MemoryRateLimitStoreTest, FixedWindowCountsDownThenRefusesThenResets) {
  MemoryRateLimitStore store(1000);
  const RateLimit limit{5, seconds(60)};
  const TimePoint start = TimePoint(seconds(1'700'000'000));
  for (int i = 0; i < 5; ++i) {
    const RateDecision d = store.Take("k", limit, start + seconds(i));
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.limit, 5);
    EXPECT_EQ(d.remaining, 4 - i) << i;
    EXPECT_EQ(d.reset, seconds(60 - i)) << "whole seconds until the window ends";
  }
  const RateDecision sixth = store.Take("k", limit, start + seconds(10));
  EXPECT_FALSE(sixth.allowed);
  EXPECT_EQ(sixth.remaining, 0);
  EXPECT_EQ(sixth.reset, seconds(50));
  // The window started at the key's first request and resets completely at its end.
  const RateDecision next = store.Take("k", limit, start + seconds(60));
  EXPECT_TRUE(next.allowed);
  EXPECT_EQ(next.remaining, 4);
  // Other keys are independent.
  EXPECT_TRUE(store.Take("other", limit, start + seconds(10)).allowed);
}

TEST(MemoryRateLimitStoreTest, ResetRoundsUpToAtLeastOneSecond) {
  MemoryRateLimitStore store(1000);
  const TimePoint start = TimePoint(seconds(1'700'000'000));
  store.Take("k", {1, seconds(60)}, start);
  const RateDecision d =
      store.Take("k", {1, seconds(60)}, start + seconds(59) + std::chrono::milliseconds(500));
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.reset, seconds(1));
}

TEST(MemoryRateLimitStoreTest, MemoryStaysBoundedUnderAFloodOfDistinctKeys) {
  MemoryRateLimitStore store(/*max_keys=*/1600, /*shards=*/16);
  const TimePoint now = TimePoint(seconds(1'700'000'000));
  for (int i = 0; i < 200'000; ++i) {
    store.Take("flood-" + std::to_string(i), {5, seconds(60)}, now);
  }
  EXPECT_LE(store.Size(), 1600u);
  EXPECT_GT(store.Size(), 0u);
}

TEST(MemoryRateLimitStoreTest, ExpiredWindowsAreDropped) {
  MemoryRateLimitStore store(1000, 1);
  const TimePoint start = TimePoint(seconds(1'700'000'000));
  for (int i = 0; i < 100; ++i) store.Take("k" + std::to_string(i), {5, seconds(60)}, start);
  EXPECT_EQ(store.Size(), 100u);
  store.Take("late", {5, seconds(60)}, start + seconds(61));
  EXPECT_EQ(store.Size(), 1u);
}

TEST(MemoryRateLimitStoreTest, ConcurrentTakesNeverOvercount) {
  MemoryRateLimitStore store(1000);
  const TimePoint now = TimePoint(seconds(1'700'000'000));
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (store.Take("shared", {100, seconds(60)}, now).allowed) ++allowed;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 100);
}

class LoginRateLimiterTest : public ::testing::Test {
 protected:
  LoginLimits Limits() {
    LoginLimits limits;
    limits.per_user_and_ip = {5, seconds(60)};
    limits.per_ip = {8, seconds(60)};
    limits.per_user = {12, seconds(120)};
    limits.max_keys = 10'000;
    return limits;
  }
  FakeClock clock_;
};

TEST_F(LoginRateLimiterTest, PerUserAndIpIsHankosLimit) {
  LoginRateLimiter limiter(Limits(), clock_);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Check("alice", "10.0.0.1").allowed) << i;
  const RateDecision refused = limiter.Check("alice", "10.0.0.1");
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limit, 5);
  EXPECT_EQ(refused.remaining, 0);
  // The same user from another address is another window.
  EXPECT_TRUE(limiter.Check("alice", "10.0.0.2").allowed);
}

TEST_F(LoginRateLimiterTest, PerIpLimitStopsCredentialStuffingAcrossUsers) {
  LoginRateLimiter limiter(Limits(), clock_);
  int allowed = 0;
  for (int i = 0; i < 20; ++i) {
    if (limiter.Check("user-" + std::to_string(i), "203.0.113.9").allowed) ++allowed;
  }
  EXPECT_EQ(allowed, 8);
  EXPECT_TRUE(limiter.Check("user-0", "203.0.113.10").allowed) << "other addresses unaffected";
}

TEST_F(LoginRateLimiterTest, PerUserLimitStopsDistributedGuessing) {
  LoginRateLimiter limiter(Limits(), clock_);
  int allowed = 0;
  RateDecision last;
  for (int i = 0; i < 30; ++i) {
    last = limiter.Check("bob", "198.51.100." + std::to_string(i));
    if (last.allowed) ++allowed;
  }
  EXPECT_EQ(allowed, 12);
  EXPECT_FALSE(last.allowed);
  EXPECT_EQ(last.reset, seconds(120)) << "the refusing limit's wait is reported";
}

}  // namespace
}  // namespace passgate::server
