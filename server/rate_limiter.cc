#include "server/rate_limiter.h"

#include <algorithm>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/status.h"

namespace passgate::server {

std::chrono::seconds WholeSecondsLeft(std::chrono::nanoseconds left) {
  return std::max(std::chrono::ceil<std::chrono::seconds>(left), std::chrono::seconds(1));
}

MemoryRateLimitStore::MemoryRateLimitStore(std::size_t max_keys, std::size_t shards)
    : max_keys_per_shard_(std::max<std::size_t>(1, max_keys / std::max<std::size_t>(1, shards))) {
  for (std::size_t i = 0; i < std::max<std::size_t>(1, shards); ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
}

RateDecision MemoryRateLimitStore::Take(std::string_view key, const RateLimit& limit,
                                        TimePoint now) {
  Shard& shard = *shards_[std::hash<std::string_view>{}(key) % shards_.size()];
  std::lock_guard<std::mutex> lock(shard.mu);

  // Drop windows that ended; then, if a flood of keys filled the shard, the oldest ones.
  while (!shard.order.empty() &&
         (shard.order.front().second + limit.interval <= now ||
          shard.windows.size() >= max_keys_per_shard_)) {
    auto& [old_key, old_start] = shard.order.front();
    auto it = shard.windows.find(old_key);
    // A key that started a newer window has a newer entry further back; keep that one.
    if (it != shard.windows.end() && it->second.start == old_start) shard.windows.erase(it);
    shard.order.pop_front();
  }

  auto [it, inserted] = shard.windows.try_emplace(std::string(key));
  Window& window = it->second;
  if (inserted || window.start + limit.interval <= now) {
    window = Window{now, 0};
    shard.order.emplace_back(it->first, now);
  }
  RateDecision decision;
  decision.limit = limit.tokens;
  decision.reset = WholeSecondsLeft(window.start + limit.interval - now);
  if (window.count >= limit.tokens) {
    decision.allowed = false;
    decision.remaining = 0;
    return decision;
  }
  ++window.count;
  decision.remaining = limit.tokens - window.count;
  return decision;
}

std::size_t MemoryRateLimitStore::Size() {
  std::size_t total = 0;
  for (auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mu);
    total += shard->windows.size();
  }
  return total;
}

MemoryLoginAttemptCounter::MemoryLoginAttemptCounter(std::size_t max_keys)
    : per_user_and_ip_(max_keys), per_ip_(max_keys), per_user_(max_keys) {}

absl::StatusOr<LoginCounts> MemoryLoginAttemptCounter::Count(std::string_view user_id,
                                                             std::string_view client_ip,
                                                             const LoginLimits& limits,
                                                             TimePoint now) {
  std::string key;
  key.reserve(user_id.size() + client_ip.size() + 1);
  key.append(user_id).append("|").append(client_ip);
  LoginCounts counts;
  counts.per_user_and_ip = per_user_and_ip_.Take(key, limits.per_user_and_ip, now);
  counts.per_ip = per_ip_.Take(client_ip, limits.per_ip, now);
  counts.per_user = per_user_.Take(user_id, limits.per_user, now);
  return counts;
}

LoginRateLimiter::LoginRateLimiter(LoginLimits limits, const Clock& clock)
    : LoginRateLimiter(limits, clock, std::make_unique<MemoryLoginAttemptCounter>(limits.max_keys)) {
}

LoginRateLimiter::LoginRateLimiter(LoginLimits limits, const Clock& clock,
                                   std::unique_ptr<LoginAttemptCounter> counter)
    : limits_(limits), clock_(clock), counter_(std::move(counter)) {}

absl::StatusOr<RateDecision> LoginRateLimiter::Check(std::string_view user_id,
                                                     std::string_view client_ip) {
  absl::StatusOr<LoginCounts> counts = counter_->Count(user_id, client_ip, limits_, clock_.Now());
  if (!counts.ok()) {
    // The counter logs why (rate-limited); the caller only learns how to refuse.
    if (limits_.on_unavailable == StoreUnavailableAnswer::kTooManyRequests) {
      return absl::ResourceExhaustedError("Too Many Requests");
    }
    return absl::UnavailableError("Service Unavailable");
  }
  RateDecision decision = counts->per_user_and_ip;
  for (const RateDecision& other : {counts->per_ip, counts->per_user}) {
    if (!other.allowed) {
      if (decision.allowed) decision.reset = other.reset;
      decision.allowed = false;
      decision.reset = std::max(decision.reset, other.reset);
    }
  }
  return decision;
}

}  // namespace passgate::server
