#ifndef PASSGATE_SERVER_VERIFIED_TOKEN_CACHE_H_
#define PASSGATE_SERVER_VERIFIED_TOKEN_CACHE_H_

#include <array>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "server/clock.h"
#include "server/session_claims.h"

namespace passgate::server {

// VerifiedTokenCache remembers the claims of session tokens whose signature and static
// claims (aud, iss, claim types) were fully checked, so that SessionTokens::Validate can skip
// the signature check, base64url decoding and JSON parsing the next time it sees the
// byte-identical token. Bounded: at most `capacity` entries, the least recently used
// dropped first. Thread-safe.
//
// Why skipping the checks is safe: keys are only ever added at runtime (KeyRing::Rotate adds
// one and old keys keep verifying, see key_ring.h), and the audience and issuer policy is
// fixed for the life of the process, so a byte-identical token that verified once would
// verify again. What can change, exp against the clock and the session row (revocation), is
// not cached: Find re-checks exp and SessionTokens re-checks the row on every call. Callers
// insert only fully verified tokens, so invalid tokens cannot fill or churn the cache.
//
// Entries are keyed by a BLAKE2b-256 of the token under a random per-instance key; the token
// itself is never stored. A token is a credential, so a memory dump of the cache yields no
// usable tokens; and since lookups compare keyed digests the caller cannot predict, the
// timing of a lookup for a forged token reveals nothing about the cached tokens.
//
//   VerifiedTokenCache cache(4096);
//   if (std::optional<SessionClaims> claims = cache.Find(token, clock.Now())) { ... }
//   else if (/* fully verified */) cache.Insert(token, verified_claims);
class VerifiedTokenCache {
 public:
  // capacity: entries kept; 0 disables the cache (Find always misses, Insert does nothing).
  explicit VerifiedTokenCache(std::size_t capacity);
  ~VerifiedTokenCache();
  VerifiedTokenCache(const VerifiedTokenCache&) = delete;
  VerifiedTokenCache& operator=(const VerifiedTokenCache&) = delete;

  // Find returns a copy of the claims `token` was inserted with and marks it most recently
  // used; std::nullopt when it is absent or expired (claims.expiration <= now), an expired
  // entry being erased.
  std::optional<SessionClaims> Find(std::string_view token, TimePoint now);

  // Insert stores (or refreshes) `claims` for `token` as the most recently used entry,
  // evicting the least recently used one when full. REQUIRES: `token` was fully verified
  // and yielded `claims`.
  void Insert(std::string_view token, const SessionClaims& claims);

  // size counts the entries held (for tests and metrics).
  std::size_t size() const;

 private:
  // BLAKE2b-256 with a 256-bit key: libsodium's crypto_generichash defaults (checked in the .cc).
  using Digest = std::array<unsigned char, 32>;
  struct DigestHash {
    // The digest is already uniformly random, so any 8 of its bytes make a good hash.
    std::size_t operator()(const Digest& digest) const;
  };
  struct Entry {
    Digest digest;
    SessionClaims claims;
  };
  using Lru = std::list<Entry>;  // most recently used first

  Digest DigestOf(std::string_view token) const;

  const std::size_t capacity_;
  std::array<unsigned char, 32> hash_key_;  // random per instance; never changes
  // std::mutex: visible to ThreadSanitizer (see worker_pool.h).
  mutable std::mutex mu_;
  Lru lru_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<Digest, Lru::iterator, DigestHash> index_ ABSL_GUARDED_BY(mu_);
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_VERIFIED_TOKEN_CACHE_H_
