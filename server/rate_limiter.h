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

// RateLimitStore keeps fixed-window counters. An interface, so that several replicas can
// later share one store (e.g. Redis) instead of the in-process one.
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
  // Windows kept per limit at most (memory bound).
  std::size_t max_keys = 1'000'000;
};

// LoginRateLimiter counts login attempts that passed validation against all three limits.
// An attempt is refused when any limit is exhausted; it still counts against the others,
// so spreading attempts cannot dodge one limit by tripping another.
class LoginRateLimiter {
 public:
  LoginRateLimiter(LoginLimits limits, const Clock& clock);

  // Check counts one attempt. The decision's limit/remaining/reset describe the
  // (user, IP) window; when another limit refused, `allowed` is false and `reset` is the
  // longest wait among the refusing limits.
  RateDecision Check(std::string_view user_id, std::string_view client_ip);

  bool enabled() const { return limits_.enabled; }

 private:
  const LoginLimits limits_;
  const Clock& clock_;
  MemoryRateLimitStore per_user_and_ip_;
  MemoryRateLimitStore per_ip_;
  MemoryRateLimitStore per_user_;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_RATE_LIMITER_H_
