#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_TOKEN_COST_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_TOKEN_COST_H_

#include <chrono>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "server/key_ring.h"

namespace passgate::bench {

struct TokenCostOptions {
  server::KeyAlgorithm algorithm = server::KeyAlgorithm::kRS256;  // the default
  int rsa_bits = 2048;                                            // the default
  std::chrono::milliseconds duration{2000};  // per operation; REQUIRES: > 0
};

// MeasureTokenCost signs session-like claims with the server's own KeyRing (on an in-memory
// store) in a loop on one thread, then verifies the token in a loop, and returns the CPU µs
// per signature and per verification (sign_us, verify_us, with counts). Every login pays one
// signature, every ValidateSession one verification.
absl::StatusOr<nlohmann::json> MeasureTokenCost(const TokenCostOptions& options);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_TOKEN_COST_H_
