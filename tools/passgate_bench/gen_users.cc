#include "tools/passgate_bench/gen_users.h"

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"

namespace passgate::bench {
namespace {

// Made once with libxcrypt (crypt_gensalt "$2b$" cost 10) and libsodium (crypto_pwhash_str,
// opslimit 2, memlimit 19 MiB) for the passwords "bench-password-1" and "-2".
constexpr const char* kHashes[] = {
    "$2b$10$h7mS8IEopZj9bFU5F4mJwOa0RYAxlmYimf08iQCQmsfii9pw5Y2qS",
    "$argon2id$v=19$m=19456,t=2,p=1$YJPc6aP260yoBqqRpxo+Vw$9mcxrUIIEqoNPzzH3aXWAuEyCTwtmn+HRrrwTAKMm48",
    "$2b$10$0/qHx8vFgO9k2gHKUsgFfux3ukt7M5c6Fjnlvoevt3ybC1Ma24RJ.",
    "$argon2id$v=19$m=19456,t=2,p=1$l3IU1V/Lz4Gxaq7er0Orvw$M+Xqp1b8XhfbFmNcwt1xCBrQaJEW6U0wxOi9F6NJODM",
};

std::string NewUuid(std::mt19937_64& random) {
  const std::uint64_t high = (random() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  const std::uint64_t low = (random() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return absl::StrFormat("%08x-%04x-%04x-%04x-%012x", high >> 32, (high >> 16) & 0xffff,
                         high & 0xffff, low >> 48, low & 0xffffffffffffULL);
}

}  // namespace

bool WriteGeneratedUsers(std::FILE* out, std::uint64_t count, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  const absl::Time start = absl::FromCivil(absl::CivilSecond(2022, 1, 1, 0, 0, 0), absl::UTCTimeZone());
  std::string chunk = "[";
  for (std::uint64_t i = 0; i < count; ++i) {
    const absl::Time created = start + absl::Minutes(static_cast<double>(i)) +
                               absl::Microseconds(static_cast<std::int64_t>(random() % 1000000));
    const std::string time =
        absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", created, absl::UTCTimeZone());
    absl::StrAppendFormat(&chunk,
                          "%s\n  {\n    \"user_id\": \"%s\",\n    \"emails\": [\n      {\n"
                          "        \"address\": \"user%d@example.com\",\n"
                          "        \"is_primary\": true,\n        \"is_verified\": %s\n      }",
                          i == 0 ? "" : ",", NewUuid(random), i, i % 3 == 0 ? "false" : "true");
    if (i % 7 == 0) {
      absl::StrAppendFormat(&chunk,
                            ",\n      {\n        \"address\": \"second%d@example.org\",\n"
                            "        \"is_primary\": false,\n        \"is_verified\": false\n      }",
                            i);
    }
    chunk += "\n    ],\n";
    if (i % 5 == 0) absl::StrAppendFormat(&chunk, "    \"username\": \"user%d\",\n", i);
    if (i % 10 != 9) {
      absl::StrAppendFormat(&chunk,
                            "    \"password\": {\n      \"password\": \"%s\",\n"
                            "      \"created_at\": \"%s\",\n      \"updated_at\": \"%s\"\n    },\n",
                            kHashes[i % 4], time, time);
    }
    absl::StrAppendFormat(&chunk, "    \"created_at\": \"%s\",\n    \"updated_at\": \"%s\"\n  }",
                          time, time);
    if (chunk.size() > (1 << 20)) {
      if (std::fwrite(chunk.data(), 1, chunk.size(), out) != chunk.size()) return false;
      chunk.clear();
    }
  }
  chunk += count == 0 ? "]\n" : "\n]\n";
  if (std::fwrite(chunk.data(), 1, chunk.size(), out) != chunk.size()) return false;
  return std::fflush(out) == 0;
}

}  // namespace passgate::bench
