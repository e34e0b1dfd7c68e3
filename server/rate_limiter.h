#ifndef PASSGATE_SERVER_RATE_LIMITER_H_
#define PASSGATE_SERVER_RATE_LIMITER_H_

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "server/clock.h"

namespace passgate::server {

// RateLimit: at most `tokens` requests per fixed window of `interval`, the window starting
// at a key's first request and resetting completely at its end (Hanko's limiter).
struct RateLimit {
  int tokens = 5;                       // REQUIRES: >= 1
  std::chrono::seconds interval{60};    // REQUIRES: >= 1s
};

// RateDecision: the outcome of counting one request, with what Hanko's X-RateLimit-*
// headers report.
struct RateDecision {
  bool allowed = true;
  int limit = 0;
  int remaining = 0;
  std::chrono::seconds reset{0};  // whole seconds until the window ends (>= 1)
};

// WholeSecondsLeft is what RateDecision::reset reports for a window with `left` to run:
// rounded up, so a client that waits that long finds a new window, and at least 1.
std::chrono::seconds WholeSecondsLeft(std::chrono::nanoseconds left);

// RateLimitStore keeps the fixed-window counters of one limit. Replicas share limits through
// LoginAttemptCounter instead (below), which counts all three limits of a login at once.
class RateLimitStore {
 public:
  virtual ~RateLimitStore() = default;
  // Take counts one request for `key` under `limit` at `now` and returns the decision.
  // Thread-safe.
  virtual RateDecision Take(std::string_view key, const RateLimit& limit, TimePoint now) = 0;
};

// MemoryRateLimitStore keeps counters in this process, in shards with their own locks.
// Memory is bounded: each shard holds at most max_keys / shards windows. Expired windows
// are dropped first; under a flood of distinct keys the oldest windows are dropped early
// (those keys start afresh), so memory stays bounded whatever an attacker sends.
// REQUIRES: every Take on one store uses the same interval (one store per limit), so that
// window start order is expiry order.
class MemoryRateLimitStore final : public RateLimitStore {
 public:
  explicit MemoryRateLimitStore(std::size_t max_keys, std::size_t shards = 16);
  RateDecision Take(std::string_view key, const RateLimit& limit, TimePoint now) override;

  // Size counts the windows held (for tests and metrics).
  std::size_t Size();

 private:
  struct Window {
    TimePoint start;
    int count = 0;
  };
  struct Shard {
    std::mutex mu;  // std::mutex: visible to ThreadSanitizer (see worker_pool.h)
    std::unordered_map<std::string, Window> windows ABSL_GUARDED_BY(mu);
    // Keys in window-start order: expiry order, since the interval is the same for all.
    std::deque<std::pair<std::string, TimePoint>> order ABSL_GUARDED_BY(mu);
  };

  const std::size_t max_keys_per_shard_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

// StoreUnavailableAnswer: how a login is refused when the counter's store cannot answer
// (rate_limiter.redis_config.on_unavailable). Either way the login fails closed.
enum class StoreUnavailableAnswer {
  kUnavailable,      // kUnavailable "Service Unavailable" (HTTP 503)
  kTooManyRequests,  // kResourceExhausted "Too Many Requests", retry after 1 s (HTTP 429)
};

// LoginLimits: the three limits a login attempt is counted against.
struct LoginLimits {
  bool enabled = true;
  // Hanko's rate_limiter.password_limits: per (user, client IP). Its window is the one the
  // X-RateLimit-* headers report.
  RateLimit per_user_and_ip{5, std::chrono::seconds(60)};
  // Per client IP across all users: slows credential stuffing from one address.
  RateLimit per_ip{100, std::chrono::seconds(60)};
  // Per user across all IPs: slows distributed guessing of one account.
  RateLimit per_user{30, std::chrono::seconds(60)};
  // Windows kept per limit at most (memory bound of the in-process counter).
  std::size_t max_keys = 1'000'000;
  StoreUnavailableAnswer on_unavailable = StoreUnavailableAnswer::kUnavailable;
};

// LoginCounts: one attempt's decision under each of the three limits.
struct LoginCounts {
  RateDecision per_user_and_ip;
  RateDecision per_ip;
  RateDecision per_user;
};

// LoginAttemptCounter counts one login attempt against the three limits of LoginLimits, with
// the semantics of MemoryRateLimitStore for each: a fixed window starting at the key's first
// attempt; a limit with no tokens left refuses the attempt and does not count it, while the
// other limits still count it. Implementations: MemoryLoginAttemptCounter (this process)
// and RedisLoginCounter (shared by replicas, server/redis_login_counter.h). Thread-safe.
class LoginAttemptCounter {
 public:
  virtual ~LoginAttemptCounter() = default;
  // Count counts the attempt of `user_id` from `client_ip` at `now` (a counter with its own
  // clock, such as Redis, may use that instead). An error (kUnavailable when the store cannot
  // be reached) means the attempt may or may not have been counted.
  virtual absl::StatusOr<LoginCounts> Count(std::string_view user_id, std::string_view client_ip,
                                            const LoginLimits& limits, TimePoint now) = 0;
};

// MemoryLoginAttemptCounter counts in three MemoryRateLimitStores of `max_keys` windows each;
// it never fails.
class MemoryLoginAttemptCounter final : public LoginAttemptCounter {
 public:
  explicit MemoryLoginAttemptCounter(std::size_t max_keys);
  absl::StatusOr<LoginCounts> Count(std::string_view user_id, std::string_view client_ip,
                                    const LoginLimits& limits, TimePoint now) override;

 private:
  MemoryRateLimitStore per_user_and_ip_;
  MemoryRateLimitStore per_ip_;
  MemoryRateLimitStore per_user_;
};

// LoginRateLimiter counts login attempts that passed validation against all three limits.
// An attempt is refused when any limit is exhausted; it still counts against the others,
// so spreading attempts cannot dodge one limit by tripping another.
//
//   LoginRateLimiter limiter(limits, clock);  // in-process counter
//   absl::StatusOr<RateDecision> d = limiter.Check(user_id, client_ip);
//   if (!d.ok()) refuse with d.status();       // fail closed
//   else if (!d->allowed) answer 429 with d->reset
class LoginRateLimiter {
 public:
  // LoginRateLimiter counts in this process (MemoryLoginAttemptCounter of limits.max_keys).
  LoginRateLimiter(LoginLimits limits, const Clock& clock);
  // LoginRateLimiter counts with `counter` (e.g. a RedisLoginCounter). REQUIRES: non-null.
  LoginRateLimiter(LoginLimits limits, const Clock& clock,
                   std::unique_ptr<LoginAttemptCounter> counter);

  // Check counts one attempt. The decision's limit/remaining/reset describe the
  // (user, IP) window; when another limit refused, `allowed` is false and `reset` is the
  // longest wait among the refusing limits.
  // When the counter fails the login must be refused (fail closed): kUnavailable "Service
  // Unavailable", or kResourceExhausted "Too Many Requests" (retry after
  // kStoreUnavailableRetryAfter), as limits.on_unavailable says.
  absl::StatusOr<RateDecision> Check(std::string_view user_id, std::string_view client_ip);

  bool enabled() const { return limits_.enabled; }

  static constexpr std::chrono::seconds kStoreUnavailableRetryAfter{1};

 private:
  const LoginLimits limits_;
  const Clock& clock_;
  const std::unique_ptr<LoginAttemptCounter> counter_;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_RATE_LIMITER_H_
