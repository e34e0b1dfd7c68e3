#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_WRK_RUN_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_WRK_RUN_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace passgate::bench {

struct WrkOptions {
  std::string url;                  // e.g. http://127.0.0.1:8000/password/login
  std::string script;               // tools/passgate_bench/wrk/{report,login}.lua
  std::string users_file;           // for login.lua (PASSGATE_BENCH_USERS); "" = none
  int threads = 1;                  // wrk threads. REQUIRES: 1 <= threads <= connections
  int connections = 1;              // open connections, each with one request in flight
  int seconds = 5;                  // REQUIRES: >= 1 (wrk takes whole seconds)
  std::optional<pid_t> server_pid;  // to charge the server's CPU time per request
};

// RunWrk runs wrk (Debian's, on $PATH) with a script from tools/passgate_bench/wrk/, whose
// done() prints one JSON line, and returns that JSON plus connections and, with server_pid,
// server_cpu_us_per_request: the server's CPU time across the run divided by the requests
// wrk completed. wrk's other output goes to stderr. kInternal when wrk cannot run, fails,
// or prints no JSON line.
absl::StatusOr<nlohmann::json> RunWrk(const WrkOptions& options);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_WRK_RUN_H_
