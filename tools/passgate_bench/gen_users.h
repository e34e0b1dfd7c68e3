#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_GEN_USERS_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_GEN_USERS_H_

#include <cstdint>
#include <cstdio>

namespace passgate::bench {

// WriteGeneratedUsers writes a Hanko-format export of `count` users to `out`, as an export
// of a real Hanko looks: random UUID v4 ids (from `seed`, so a file can be made again),
// ordered by created_at (one user a minute from 2022-01-01), a primary address each, a second
// address on every 7th, a username on every 5th, and on 9 users in 10 a password hash: one of
// a few precomputed valid bcrypt (cost 10) and Argon2id (m=19456, t=2) hashes, reused (a real
// export has distinct ones; their cost is not the importer's). Returns false when writing
// fails.
bool WriteGeneratedUsers(std::FILE* out, std::uint64_t count, std::uint64_t seed);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_GEN_USERS_H_
