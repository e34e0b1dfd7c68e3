#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_STORE_COST_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_STORE_COST_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace passgate::bench {

struct StoreCostOptions {
  // database.url of the store to measure: sqlite://... or postgres://... (a scratch database:
  // users and sessions are written to it).
  std::string url;
  std::chrono::milliseconds duration{2000};  // per operation; REQUIRES: > 0
};

// MeasureStoreCost runs, on one thread against the store passgate itself would open for
// `url` (PostgreSQL: its connection pool; SQLite: synchronous=full), the store work of one
// login (FindUser + FindPassword + CreateSession with the default session limit, durable)
// and of one ValidateSession (FindSession), each in a loop, and returns wall-clock µs per
// operation: {"backend", "login_p50_us", "login_p99_us", "login_mean_us", "logins",
// "validate_p50_us", "validate_p99_us", "validates"}.
absl::StatusOr<nlohmann::json> MeasureStoreCost(const StoreCostOptions& options);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_STORE_COST_H_
