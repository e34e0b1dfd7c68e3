#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_HASHER_RATE_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_HASHER_RATE_H_

#include <chrono>
#include <cstdint>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace passgate::bench {

// Which Argon2id implementation the loop runs.
enum class HasherEngine {
  kServer,                // the server's own Argon2idHasher (libsodium): the limit
  kLibargon2ReusedBuffer  // the rejected candidate, for comparison (argon2_reused_buffer.h)
};

struct HasherRateOptions {
  HasherEngine engine = HasherEngine::kServer;
  int threads = 1;                           // REQUIRES: >= 1
  std::chrono::milliseconds duration{5000};  // REQUIRES: > 0
  std::uint32_t memory_kib = 19456;          // the server's password.hashing.memory_kib
  std::uint32_t iterations = 2;              // the server's password.hashing.iterations
};

// MeasureHasherRate runs the server's own Argon2idHasher::Verify (or the engine chosen) on a
// precomputed hash in a loop on `threads` threads for `duration`: the rate no login path can
// beat on this machine.
// Returns one JSON object (verifies, seconds, verifies_per_s, ms_per_verify per thread,
// cpu_ms_per_verify);
// kInternal when hashing fails or a verify does not match.
absl::StatusOr<nlohmann::json> MeasureHasherRate(const HasherRateOptions& options);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_HASHER_RATE_H_
