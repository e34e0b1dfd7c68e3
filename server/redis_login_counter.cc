#include "server/redis_login_counter.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/log.h"

namespace passgate::server {
namespace {

using std::chrono::milliseconds;

// KEYS: the three windows. ARGV: tokens and interval in ms of each, in KEYS' order.
// Returns {allowed (0/1), remaining, PTTL in ms} per key. A window without an expiry or
// with a value that is not a count (neither should exist) starts afresh.
constexpr std::string_view kScript = R"lua(
local out = {}
for i = 1, 3 do
  local key = KEYS[i]
  local tokens = tonumber(ARGV[2 * i - 1])
  local interval = tonumber(ARGV[2 * i])
  local value = redis.call('GET', key)
  local count = value and tonumber(value)
  local ttl = redis.call('PTTL', key)
  if not count or ttl < 0 then
    count = 0
    redis.call('SET', key, 0, 'PX', interval)
    ttl = interval
  end
  if count >= tokens then
    out[#out + 1] = 0
    out[#out + 1] = 0
  else
    count = redis.call('INCR', key)
    out[#out + 1] = 1
    out[#out + 1] = tokens - count
  end
  out[#out + 1] = ttl
end
return out
)lua";

constexpr std::chrono::seconds kWarningEvery{1};

std::string Sha1Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    char pair[3];
    std::snprintf(pair, sizeof pair, "%02x", digest[i]);
    hex += pair;
  }
  return hex;
}

const std::string& ScriptSha() {
  static const std::string sha = Sha1Hex(kScript);
  return sha;
}

void AppendPart(std::string& key, std::string_view value) {
  absl::StrAppend(&key, ":", value.size(), ":", absl::string_view(value.data(), value.size()));
}

RateDecision DecisionFrom(const redisReply& allowed, const redisReply& remaining,
                          const redisReply& ttl, const RateLimit& limit) {
  RateDecision decision;
  decision.allowed = allowed.integer == 1;
  decision.limit = limit.tokens;
  decision.remaining = static_cast<int>(remaining.integer);
  decision.reset = WholeSecondsLeft(milliseconds(ttl.integer));
  return decision;
}

}  // namespace

RedisLoginCounter::RedisLoginCounter(Options options)
    : key_prefix_(std::move(options.key_prefix)), pool_(std::move(options.connection)) {}

std::array<std::string, 3> RedisLoginCounter::Keys(std::string_view prefix,
                                                   std::string_view user_id,
                                                   std::string_view client_ip) {
  std::array<std::string, 3> keys;
  keys[0] = absl::StrCat(absl::string_view(prefix.data(), prefix.size()), "user_ip");
  AppendPart(keys[0], user_id);
  AppendPart(keys[0], client_ip);
  keys[1] = absl::StrCat(absl::string_view(prefix.data(), prefix.size()), "ip");
  AppendPart(keys[1], client_ip);
  keys[2] = absl::StrCat(absl::string_view(prefix.data(), prefix.size()), "user");
  AppendPart(keys[2], user_id);
  return keys;
}

absl::StatusOr<LoginCounts> RedisLoginCounter::Count(std::string_view user_id,
                                                     std::string_view client_ip,
                                                     const LoginLimits& limits, TimePoint) {
  absl::StatusOr<LoginCounts> counts = CountOnce(user_id, client_ip, limits);
  if (counts.ok()) {
    NoteSuccess();
  } else {
    NoteFailure(counts.status());
  }
  return counts;
}

absl::StatusOr<LoginCounts> RedisLoginCounter::CountOnce(std::string_view user_id,
                                                         std::string_view client_ip,
                                                         const LoginLimits& limits) {
  const std::array<std::string, 3> keys = Keys(key_prefix_, user_id, client_ip);
  const RateLimit* const limit[3] = {&limits.per_user_and_ip, &limits.per_ip, &limits.per_user};
  std::string numbers[6];
  for (int i = 0; i < 3; ++i) {
    numbers[2 * i] = std::to_string(limit[i]->tokens);
    numbers[2 * i + 1] = std::to_string(milliseconds(limit[i]->interval).count());
  }
  std::vector<std::string_view> args = {"EVALSHA", ScriptSha(), "3", keys[0], keys[1], keys[2]};
  for (const std::string& number : numbers) args.push_back(number);

  const RedisConnectionPool::Deadline deadline = pool_.DeadlineFromNow();
  absl::StatusOr<RedisConnectionPool::Reply> reply = pool_.Command(args, deadline);
  if (reply.ok() && (*reply)->type == REDIS_REPLY_ERROR &&
      std::string_view((*reply)->str, (*reply)->len).substr(0, 8) == "NOSCRIPT") {
    // A new or restarted Redis has no scripts cached; EVAL runs and caches it.
    args[0] = "EVAL";
    args[1] = kScript;
    reply = pool_.Command(args, deadline);
  }
  if (!reply.ok()) return reply.status();
  const redisReply& r = **reply;
  if (r.type == REDIS_REPLY_ERROR) {
    const absl::string_view error(r.str, r.len);
    // Redis 7 answers a long command from a client without AUTH with a protocol error.
    const bool needs_password =
        absl::StartsWith(error, "NOAUTH") || absl::StrContains(error, "unauthenticated");
    return absl::UnavailableError(absl::StrCat(
        "redis ", pool_.address(), ": ", error,
        needs_password ? " (Redis requires a password: set rate_limiter.redis_config.password "
                         "or PASSGATE_REDIS_PASSWORD)"
                       : ""));
  }
  bool well_formed = r.type == REDIS_REPLY_ARRAY && r.elements == 9;
  for (std::size_t i = 0; well_formed && i < r.elements; ++i) {
    well_formed = r.element[i]->type == REDIS_REPLY_INTEGER;
  }
  if (!well_formed) {
    return absl::UnavailableError(
        absl::StrCat("redis ", pool_.address(), ": unexpected reply to the limiter script"));
  }
  LoginCounts counts;
  RateDecision* const out[3] = {&counts.per_user_and_ip, &counts.per_ip, &counts.per_user};
  for (int i = 0; i < 3; ++i) {
    *out[i] =
        DecisionFrom(*r.element[3 * i], *r.element[3 * i + 1], *r.element[3 * i + 2], *limit[i]);
  }
  return counts;
}

void RedisLoginCounter::NoteFailure(const absl::Status& status) {
  const auto now = std::chrono::steady_clock::now();
  long long not_logged = 0;
  {
    std::lock_guard<std::mutex> lock(log_mu_);
    failing_ = true;
    if (last_warning_ != std::chrono::steady_clock::time_point() &&
        now - last_warning_ < kWarningEvery) {
      ++failures_not_logged_;
      return;
    }
    last_warning_ = now;
    not_logged = failures_not_logged_;
    failures_not_logged_ = 0;
  }
  Log(LogLevel::kWarning, "rate limiter: redis unavailable; logins refused until it answers",
      {{"redis_address", pool_.address()},
       {"error", std::string(status.message())},
       {"failures_since_last_warning", not_logged}});
}

void RedisLoginCounter::NoteSuccess() {
  {
    std::lock_guard<std::mutex> lock(log_mu_);
    if (!failing_) return;
    failing_ = false;
    failures_not_logged_ = 0;
  }
  Log(LogLevel::kInfo, "rate limiter: redis answers again", {{"redis_address", pool_.address()}});
}

}  // namespace passgate::server
