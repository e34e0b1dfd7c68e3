#include "tools/passgate_bench/hasher_rate.h"

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/password_hasher.h"
#include "tools/passgate_bench/argon2_reused_buffer.h"
#include "tools/passgate_bench/process_stats.h"

namespace passgate::bench {

namespace {

constexpr std::string_view kPassword = "passgate bench password";

// VerifyOnce returns a thread-safe callable that verifies kPassword against a hash computed
// once up front with the chosen engine.
absl::StatusOr<std::function<bool()>> VerifyOnce(const HasherRateOptions& options) {
  if (options.engine == HasherEngine::kLibargon2ReusedBuffer) {
    auto engine = std::make_shared<Argon2idReusedBuffer>(options.memory_kib, options.iterations);
    absl::StatusOr<std::array<std::uint8_t, 32>> tag = engine->Hash(kPassword);
    if (!tag.ok()) return tag.status();
    return [engine, tag = *tag] { return engine->Verify(kPassword, tag); };
  }
  auto hasher = std::make_shared<server::Argon2idHasher>(
      server::Argon2idParams{.memory_kib = options.memory_kib, .iterations = options.iterations});
  absl::StatusOr<std::string> hash = hasher->Hash(kPassword);
  if (!hash.ok()) return hash.status();
  return [hasher, hash = *hash] { return hasher->Verify(kPassword, hash); };
}

}  // namespace

absl::StatusOr<nlohmann::json> MeasureHasherRate(const HasherRateOptions& options) {
  absl::StatusOr<std::function<bool()>> verify = VerifyOnce(options);
  if (!verify.ok()) return verify.status();

  std::vector<std::uint64_t> verifies(options.threads, 0);
  std::vector<std::chrono::steady_clock::time_point> finished(options.threads);
  std::atomic<bool> mismatch = false;
  const auto cpu_start = SelfCpuTime();
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + options.duration;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < options.threads; ++t) {
      threads.emplace_back([&, t] {
        // The last verify may end after the deadline; the rate divides by the time the
        // last one actually finished, so that overshoot is counted, not lost.
        auto now = std::chrono::steady_clock::now();
        while (now < deadline) {
          if (!(*verify)()) mismatch = true;
          ++verifies[t];
          now = std::chrono::steady_clock::now();
        }
        finished[t] = now;
      });
    }
  }
  const auto cpu = SelfCpuTime() - cpu_start;
  if (mismatch) return absl::InternalError("hasher: a verify of the precomputed hash failed");

  std::uint64_t total = 0;
  auto last = start;
  for (int t = 0; t < options.threads; ++t) {
    total += verifies[t];
    last = std::max(last, finished[t]);
  }
  const double seconds = std::chrono::duration<double>(last - start).count();
  return nlohmann::json{
      {"engine", options.engine == HasherEngine::kServer ? "server" : "libargon2-reused-buffer"},
      {"threads", options.threads},
      {"memory_kib", options.memory_kib},
      {"iterations", options.iterations},
      {"parallelism", 1},
      {"verifies", total},
      {"seconds", seconds},
      {"verifies_per_s", total / seconds},
      {"ms_per_verify", total == 0 ? 0.0 : seconds * 1000.0 * options.threads / total},
      // CPU time well below ms_per_verify means the threads waited for a core: the machine
      // is busy with something else and the limit measured is the share it left us.
      {"cpu_ms_per_verify", total == 0 ? 0.0 : cpu.count() / 1000.0 / total},
  };
}

}  // namespace passgate::bench
