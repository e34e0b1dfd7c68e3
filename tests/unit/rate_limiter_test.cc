#include "server/rate_limiter.h"

#include <memory>
#include <string>
#include <utility>
#include <thread>
#include <vector>

#include "absl/status/status.h"
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
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Check("alice", "10.0.0.1")->allowed) << i;
  const RateDecision refused = limiter.Check("alice", "10.0.0.1").value();
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.limit, 5);
  EXPECT_EQ(refused.remaining, 0);
  // The same user from another address is another window.
  EXPECT_TRUE(limiter.Check("alice", "10.0.0.2")->allowed);
}

TEST_F(LoginRateLimiterTest, PerIpLimitStopsCredentialStuffingAcrossUsers) {
  LoginRateLimiter limiter(Limits(), clock_);
  int allowed = 0;
  for (int i = 0; i < 20; ++i) {
    if (limiter.Check("user-" + std::to_string(i), "203.0.113.9")->allowed) ++allowed;
  }
  EXPECT_EQ(allowed, 8);
  EXPECT_TRUE(limiter.Check("user-0", "203.0.113.10")->allowed) << "other addresses unaffected";
}

TEST_F(LoginRateLimiterTest, PerUserLimitStopsDistributedGuessing) {
  LoginRateLimiter limiter(Limits(), clock_);
  int allowed = 0;
  RateDecision last;
  for (int i = 0; i < 30; ++i) {
    last = limiter.Check("bob", "198.51.100." + std::to_string(i)).value();
    if (last.allowed) ++allowed;
  }
  EXPECT_EQ(allowed, 12);
  EXPECT_FALSE(last.allowed);
  EXPECT_EQ(last.reset, seconds(120)) << "the refusing limit's wait is reported";
}

TEST(WholeSecondsLeftTest, RoundsUpToAtLeastOneSecond) {
  using std::chrono::milliseconds;
  EXPECT_EQ(WholeSecondsLeft(seconds(60)), seconds(60));
  EXPECT_EQ(WholeSecondsLeft(milliseconds(59'001)), seconds(60));
  EXPECT_EQ(WholeSecondsLeft(milliseconds(1)), seconds(1));
  EXPECT_EQ(WholeSecondsLeft(milliseconds(0)), seconds(1));
  EXPECT_EQ(WholeSecondsLeft(milliseconds(-5)), seconds(1));
}

// ScriptedCounter answers every Count with the same result and records what it was asked.
class ScriptedCounter final : public LoginAttemptCounter {
 public:
  explicit ScriptedCounter(absl::StatusOr<LoginCounts> answer) : answer_(std::move(answer)) {}
  absl::StatusOr<LoginCounts> Count(std::string_view user_id, std::string_view client_ip,
                                    const LoginLimits&, TimePoint) override {
    last_user_ = std::string(user_id);
    last_ip_ = std::string(client_ip);
    return answer_;
  }
  std::string last_user_, last_ip_;

 private:
  absl::StatusOr<LoginCounts> answer_;
};

RateDecision Decision(bool allowed, int limit, int remaining, int reset) {
  return RateDecision{allowed, limit, remaining, seconds(reset)};
}

TEST_F(LoginRateLimiterTest, ReportsThePerUserAndIpWindowOfAnyCounter) {
  auto counter = std::make_unique<ScriptedCounter>(
      LoginCounts{Decision(true, 5, 3, 42), Decision(true, 8, 1, 7), Decision(true, 12, 0, 9)});
  ScriptedCounter& seen = *counter;
  LoginRateLimiter limiter(Limits(), clock_, std::move(counter));
  const absl::StatusOr<RateDecision> d = limiter.Check("carol", "192.0.2.1");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(d->limit, 5);
  EXPECT_EQ(d->remaining, 3);
  EXPECT_EQ(d->reset, seconds(42));
  EXPECT_EQ(seen.last_user_, "carol");
  EXPECT_EQ(seen.last_ip_, "192.0.2.1");
}

TEST_F(LoginRateLimiterTest, AnyRefusingLimitRefusesWithTheLongestWait) {
  LoginRateLimiter limiter(
      Limits(), clock_,
      std::make_unique<ScriptedCounter>(LoginCounts{
          Decision(true, 5, 3, 10), Decision(false, 8, 0, 30), Decision(false, 12, 0, 90)}));
  const absl::StatusOr<RateDecision> d = limiter.Check("carol", "192.0.2.1");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->allowed);
  EXPECT_EQ(d->remaining, 3) << "the headers still describe the (user, IP) window";
  EXPECT_EQ(d->reset, seconds(90));
}

TEST_F(LoginRateLimiterTest, FailsClosedWhenTheCounterFails) {
  struct Case {
    StoreUnavailableAnswer answer;
    absl::StatusCode code;
    const char* message;
  };
  for (const Case& c : {Case{StoreUnavailableAnswer::kUnavailable,
                             absl::StatusCode::kUnavailable, "Service Unavailable"},
                        Case{StoreUnavailableAnswer::kTooManyRequests,
                             absl::StatusCode::kResourceExhausted, "Too Many Requests"}}) {
    LoginLimits limits = Limits();
    limits.on_unavailable = c.answer;
    LoginRateLimiter limiter(limits, clock_,
                             std::make_unique<ScriptedCounter>(
                                 absl::UnavailableError("redis 127.0.0.1:1: Connection refused")));
    const absl::StatusOr<RateDecision> d = limiter.Check("carol", "192.0.2.1");
    EXPECT_EQ(d.status().code(), c.code) << c.message;
    EXPECT_EQ(d.status().message(), c.message) << "the store's error stays in the log";
  }
}

}  // namespace
}  // namespace passgate::server
