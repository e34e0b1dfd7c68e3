#include "server/rate_limiter.h"

#include <algorithm>
#include <functional>
#include <utility>

namespace passgate::server {
namespace {

// WholeSecondsUntil rounds up, so a client that waits `reset` seconds finds a new window.
std::chrono::seconds WholeSecondsUntil(TimePoint end, TimePoint now) {
  const auto left = std::chrono::ceil<std::chrono::seconds>(end - now);
  return std::max(left, std::chrono::seconds(1));
}

}  // namespace

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
  decision.reset = WholeSecondsUntil(window.start + limit.interval, now);
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

LoginRateLimiter::LoginRateLimiter(LoginLimits limits, const Clock& clock)
    : limits_(limits),
      clock_(clock),
      per_user_and_ip_(limits.max_keys),
      per_ip_(limits.max_keys),
      per_user_(limits.max_keys) {}

RateDecision LoginRateLimiter::Check(std::string_view user_id, std::string_view client_ip) {
  const TimePoint now = clock_.Now();
  std::string key;
  key.reserve(user_id.size() + client_ip.size() + 1);
  key.append(user_id).append("|").append(client_ip);
  RateDecision decision = per_user_and_ip_.Take(key, limits_.per_user_and_ip, now);
  for (const RateDecision& other : {per_ip_.Take(client_ip, limits_.per_ip, now),
                                    per_user_.Take(user_id, limits_.per_user, now)}) {
    if (!other.allowed) {
      if (decision.allowed) decision.reset = other.reset;
      decision.allowed = false;
      decision.reset = std::max(decision.reset, other.reset);
    }
  }
  return decision;
}

}  // namespace passgate::server
