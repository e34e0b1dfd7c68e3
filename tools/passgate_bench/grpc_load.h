#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_GRPC_LOAD_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_GRPC_LOAD_H_

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/passgate_bench/credentials.h"

namespace passgate::bench {

enum class GrpcRpc { kLogin, kValidate };

struct GrpcLoadOptions {
  std::string target = "127.0.0.1:50051";  // host:port, plaintext
  GrpcRpc rpc = GrpcRpc::kLogin;
  int concurrency = 1;                       // outstanding calls. REQUIRES: >= 1
  int channels = 4;                          // connections (capped at concurrency). >= 1
  std::chrono::milliseconds duration{5000};  // the measured window. REQUIRES: > 0
  std::chrono::milliseconds warmup{1000};    // load before the window, not counted. >= 0
  std::chrono::seconds call_deadline{30};
  std::vector<Credential> users;    // login: slot i logs in as users[i % size];
                                    // validate: users[0] logs in once. Non-empty.
  std::optional<pid_t> server_pid;  // to charge the server's CPU time per call
};

// RunGrpcLoad keeps `concurrency` calls outstanding with the gRPC callback API (each slot
// starts its next call from the previous one's completion) over `channels` separate
// connections for warmup + duration, then waits for the calls in flight. Calls that
// complete inside the window count; latency percentiles are of the successful ones.
// Returns one JSON object: calls, ok, outcomes by status code name, ok_per_s, p50_ms,
// p99_ms, client_cpu_us_per_call and (with server_pid) server_cpu_us_per_call.
// kUnavailable when the target cannot be reached, kUnauthenticated when the validate
// phase's initial login fails.
absl::StatusOr<nlohmann::json> RunGrpcLoad(const GrpcLoadOptions& options);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_GRPC_LOAD_H_
