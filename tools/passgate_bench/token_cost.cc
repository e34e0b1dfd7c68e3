#include "tools/passgate_bench/token_cost.h"

#include <memory>
#include <string>

#include "server/clock.h"
#include "storage/memory_store.h"
#include "tools/passgate_bench/process_stats.h"

namespace passgate::bench {
namespace {

// CpuMicrosPerOp runs `op` until `duration` has passed and returns the CPU µs per call and
// the number of calls; false from `op` is an error.
template <typename Op>
absl::StatusOr<std::pair<double, long>> CpuMicrosPerOp(std::chrono::milliseconds duration,
                                                      Op op) {
  const auto cpu_start = SelfCpuTime();
  const auto deadline = std::chrono::steady_clock::now() + duration;
  long calls = 0;
  do {
    if (!op()) return absl::InternalError("token cost: an operation failed");
    ++calls;
  } while (std::chrono::steady_clock::now() < deadline);
  const double cpu_us = static_cast<double>((SelfCpuTime() - cpu_start).count());
  return std::make_pair(cpu_us / static_cast<double>(calls), calls);
}

}  // namespace

absl::StatusOr<nlohmann::json> MeasureTokenCost(const TokenCostOptions& options) {
  const std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  const server::SystemClock clock;
  server::KeyRingOptions ring_options;
  ring_options.algorithm = options.algorithm;
  ring_options.rsa_bits = options.rsa_bits;
  ring_options.secrets = {"passgate bench secret, not a real one"};
  absl::StatusOr<std::unique_ptr<server::KeyRing>> ring =
      server::KeyRing::Load(*store, ring_options, clock);
  if (!ring.ok()) return ring.status();

  // The shape of a session token's claims (server/session_tokens.cc).
  const long now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const nlohmann::json claims = {{"sub", "38bf5a00-d7ea-40a5-a5de-48722c148925"},
                                 {"iat", now},
                                 {"exp", now + 43200},
                                 {"aud", {"localhost"}},
                                 {"session_id", "7c6b0e46-6f07-4b5c-9a35-36c5b0b1f2a1"}};
  std::string token;
  auto sign = CpuMicrosPerOp(options.duration, [&] {
    absl::StatusOr<std::string> signed_token = (*ring)->SignJwt(claims);
    if (!signed_token.ok()) return false;
    token = *std::move(signed_token);
    return true;
  });
  if (!sign.ok()) return sign.status();
  auto verify = CpuMicrosPerOp(options.duration, [&] { return (*ring)->VerifyJwt(token).ok(); });
  if (!verify.ok()) return verify.status();
  return nlohmann::json{
      {"algorithm", std::string(server::KeyAlgorithmName(options.algorithm))},
      {"rsa_bits", options.algorithm == server::KeyAlgorithm::kRS256 ? options.rsa_bits : 0},
      {"sign_us", sign->first},
      {"signs", sign->second},
      {"verify_us", verify->first},
      {"verifies", verify->second},
  };
}

}  // namespace passgate::bench
