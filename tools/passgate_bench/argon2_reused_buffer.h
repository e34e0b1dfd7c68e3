#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_ARGON2_REUSED_BUFFER_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_ARGON2_REUSED_BUFFER_H_

#include <array>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace passgate::bench {

// Argon2idReusedBuffer is the candidate issue #5 asked to measure before adopting: Argon2id
// through libargon2 (Debian's libargon2-1) with its allocation callbacks handing every
// computation on a thread the same, already-faulted memory block, instead of libsodium's
// mmap + populate + munmap of the whole memory cost per verify. Bench only: it exists to put
// the two side by side in one run (see docs/benchmarks.md for why the server keeps libsodium).
class Argon2idReusedBuffer {
 public:
  Argon2idReusedBuffer(std::uint32_t memory_kib, std::uint32_t iterations);

  // Hash returns the raw 32-byte Argon2id tag of `password` under a fixed salt.
  absl::StatusOr<std::array<std::uint8_t, 32>> Hash(std::string_view password) const;

  // Verify recomputes the tag and compares it with `expected` in constant time.
  bool Verify(std::string_view password, const std::array<std::uint8_t, 32>& expected) const;

 private:
  const std::uint32_t memory_kib_;
  const std::uint32_t iterations_;
};

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_ARGON2_REUSED_BUFFER_H_
