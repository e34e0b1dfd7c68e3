#ifndef PASSGATE_SERVER_IMPORTED_HASH_H_
#define PASSGATE_SERVER_IMPORTED_HASH_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"

namespace passgate::server {

// HashLimits bounds what one stored hash may cost a hashing worker at login. A hash over a
// limit is refused when it enters the store (import, admin API), because verifying it would
// hold a worker (and, for Argon2id, its memory) for as long as the hash demands, on every
// attempt, including an attacker's.
struct HashLimits {
  // Highest bcrypt cost (log2 rounds). Default: 14 (about 1.2 s on one core here; cost 16 is
  // about 6 s). REQUIRES: 4..31.
  int bcrypt_max_cost = 14;
  // Highest Argon2id memory in KiB. Default: 262144 (256 MiB: 13 x the OWASP default this
  // service hashes with, 4 x RFC 9106's 64 MiB profile). REQUIRES: 8..4194304.
  std::uint32_t argon2_max_memory_kib = 262144;
  // Highest Argon2id time cost (passes). Default: 10. REQUIRES: 1..1024.
  std::uint32_t argon2_max_iterations = 10;
  // Highest Argon2id parallelism (lanes; libsodium computes them one after the other, so the
  // cost is memory x passes whatever the lanes). Default: 16. REQUIRES: 1..255.
  std::uint32_t argon2_max_parallelism = 16;
};

// CheckImportableHash accepts a password hash that passgate can verify, within `limits`:
//   - bcrypt: "$2a$" / "$2b$" / "$2y$", a two-digit cost 04..31 and at most
//     limits.bcrypt_max_cost, "$", then exactly 53 characters of bcrypt's base64 alphabet
//     ("./A-Za-z0-9"): a 22-character salt and a 31-character hash, each ending on a
//     character whose unused low bits are zero (as every bcrypt implementation writes them;
//     any other ending never verifies);
//   - Argon2id PHC strings "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH": decimal parameters
//     without leading zeros, 1 <= P <= max parallelism, 8*P <= M <= max memory,
//     1 <= T <= max iterations; SALT and HASH canonical base64 without padding (standard
//     alphabet), decoding to 8..64 and 16..64 bytes.
// Anything else is kInvalidArgument with a message naming what is wrong. The message never
// contains the hash or any part of it (import reports go to terminals and logs).
absl::Status CheckImportableHash(std::string_view hash, const HashLimits& limits);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_IMPORTED_HASH_H_
