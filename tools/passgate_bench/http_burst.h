#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_HTTP_BURST_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_HTTP_BURST_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/passgate_bench/credentials.h"

namespace passgate::bench {

struct HttpBurstOptions {
  std::string host = "127.0.0.1";  // IPv4 address of the gateway
  int port = 8000;
  int connections = 1000;            // REQUIRES: >= 1
  std::chrono::seconds timeout{60};  // for the whole burst
  std::vector<Credential> users;     // connection i logs in as users[i % size]
  std::optional<pid_t> server_pid;   // whose peak RSS to report
};

// RunHttpBurst opens `connections` connections at once (non-blocking sockets on one
// epoll), sends one POST /password/login on each and waits for every answer, then reports
// the server's peak RSS over the burst (its VmHWM, reset just before when the kernel lets
// us). Returns one JSON object: statuses (HTTP status -> count; "failed" for connections
// that got no answer), seconds, rss_before_kib, peak_rss_kib, peak_rss_scope ("burst" or
// "process" when the reset was refused). kInternal when the sockets cannot be set up.
absl::StatusOr<nlohmann::json> RunHttpBurst(const HttpBurstOptions& options);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_HTTP_BURST_H_
