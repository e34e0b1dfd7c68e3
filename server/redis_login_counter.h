#ifndef PASSGATE_SERVER_REDIS_LOGIN_COUNTER_H_
#define PASSGATE_SERVER_REDIS_LOGIN_COUNTER_H_

#include <array>
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "server/rate_limiter.h"
#include "server/redis_connection_pool.h"

namespace passgate::server {

// RedisLoginCounter counts login attempts in a Redis that several passgate replicas share
// (rate_limiter.store: redis), so the three limits hold across all of them. One attempt is
// one round trip: a Lua script (EVALSHA, EVAL after a NOSCRIPT) that applies
// MemoryRateLimitStore's semantics to the attempt's three keys atomically: a missing window
// starts at count 0 and expires after the limit's interval (PEXPIRE, so Redis drops it); a
// window at its limit refuses and is not incremented; otherwise it is incremented. `reset`
// is the window's PTTL rounded up to whole seconds (WholeSecondsLeft). Windows follow Redis'
// clock; Count's `now` is not used.
//
// Keys: key_prefix + limit name + length-prefixed values, e.g.
// "passgate:ratelimit:user_ip:36:<user id>:9:127.0.0.1", so no user id or address can
// produce another one's key. A single Redis (or a primary) is assumed: in Redis Cluster the
// three keys of one script would usually live in different slots.
//
// A failed count (Redis down, timed out, AUTH refused, a script error) is kUnavailable naming
// the address and the cause, and is logged as a warning at most once per second (with the
// number of failures not logged); the first success afterwards is logged once. The password
// is never logged or returned. Thread-safe.
class RedisLoginCounter final : public LoginAttemptCounter {
 public:
  struct Options {
    RedisConnectionPool::Options connection;
    std::string key_prefix = "passgate:ratelimit:";  // REQUIRES: non-empty
  };

  // RedisLoginCounter does not connect: the first Count does.
  explicit RedisLoginCounter(Options options);

  absl::StatusOr<LoginCounts> Count(std::string_view user_id, std::string_view client_ip,
                                    const LoginLimits& limits, TimePoint now) override;

  // Keys returns the (user, IP), IP and user keys of one attempt.
  static std::array<std::string, 3> Keys(std::string_view prefix, std::string_view user_id,
                                         std::string_view client_ip);

 private:
  absl::StatusOr<LoginCounts> CountOnce(std::string_view user_id, std::string_view client_ip,
                                        const LoginLimits& limits);
  void NoteFailure(const absl::Status& status);
  void NoteSuccess();

  const std::string key_prefix_;
  RedisConnectionPool pool_;
  std::mutex log_mu_;
  std::chrono::steady_clock::time_point last_warning_ ABSL_GUARDED_BY(log_mu_);
  long long failures_not_logged_ ABSL_GUARDED_BY(log_mu_) = 0;
  bool failing_ ABSL_GUARDED_BY(log_mu_) = false;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_REDIS_LOGIN_COUNTER_H_
