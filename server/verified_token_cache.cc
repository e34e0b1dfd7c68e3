#include "server/verified_token_cache.h"

#include <sodium.h>

#include <cstdint>
#include <cstring>

#include "server/sodium_init.h"

namespace passgate::server {

std::size_t VerifiedTokenCache::DigestHash::operator()(const Digest& digest) const {
  std::uint64_t prefix;
  static_assert(sizeof(prefix) <= sizeof(Digest));
  std::memcpy(&prefix, digest.data(), sizeof(prefix));
  return static_cast<std::size_t>(prefix);
}

VerifiedTokenCache::VerifiedTokenCache(std::size_t capacity) : capacity_(capacity) {
  static_assert(std::tuple_size_v<Digest> == crypto_generichash_BYTES);
  static_assert(std::tuple_size_v<decltype(hash_key_)> == crypto_generichash_KEYBYTES);
  EnsureSodium();
  randombytes_buf(hash_key_.data(), hash_key_.size());
}

VerifiedTokenCache::~VerifiedTokenCache() { sodium_memzero(hash_key_.data(), hash_key_.size()); }

VerifiedTokenCache::Digest VerifiedTokenCache::DigestOf(std::string_view token) const {
  Digest digest;
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     hash_key_.data(), hash_key_.size());
  return digest;
}

std::optional<SessionClaims> VerifiedTokenCache::Find(std::string_view token, TimePoint now) {
  if (capacity_ == 0) return std::nullopt;
  const Digest digest = DigestOf(token);  // outside the lock: it needs no shared state
  std::lock_guard<std::mutex> lock(mu_);
  const auto found = index_.find(digest);
  if (found == index_.end()) return std::nullopt;
  const Lru::iterator entry = found->second;
  if (entry->claims.expiration <= now) {
    // An expired token never becomes valid again; free its slot for live ones.
    lru_.erase(entry);
    index_.erase(found);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, entry);
  return entry->claims;
}

void VerifiedTokenCache::Insert(std::string_view token, const SessionClaims& claims) {
  if (capacity_ == 0) return;
  const Digest digest = DigestOf(token);
  std::lock_guard<std::mutex> lock(mu_);
  if (const auto found = index_.find(digest); found != index_.end()) {
    // Two threads may verify the same token at once; the second insert just refreshes it.
    found->second->claims = claims;
    lru_.splice(lru_.begin(), lru_, found->second);
    return;
  }
  if (lru_.size() >= capacity_) {
    index_.erase(lru_.back().digest);
    lru_.pop_back();
  }
  lru_.push_front(Entry{digest, claims});
  index_.emplace(digest, lru_.begin());
}

std::size_t VerifiedTokenCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace passgate::server
