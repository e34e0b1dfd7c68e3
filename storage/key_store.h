#ifndef PASSGATE_STORAGE_KEY_STORE_H_
#define PASSGATE_STORAGE_KEY_STORE_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/records.h"

namespace passgate::storage {

// KeyStore keeps the encrypted signing keys: the part of the Store the key ring needs.
//
// Every method is thread-safe and safe across processes sharing one database (replicas).
class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // AddKey stores a signing key. kAlreadyExists for a duplicate id.
  virtual absl::Status AddKey(const StoredKey& key) = 0;

  // AddKeyIfFewer stores `key` only when fewer than `count` keys are stored. Count and insert
  // happen under one lock that every process sharing the database respects, so replicas
  // starting at once on an empty database store exactly `count` keys between them (the
  // others' candidates are refused). Returns whether `key` was stored.
  virtual absl::StatusOr<bool> AddKeyIfFewer(const StoredKey& key, std::size_t count) = 0;

  // ListKeys returns every stored key, oldest first (by created_at, then insertion order).
  virtual absl::StatusOr<std::vector<StoredKey>> ListKeys() = 0;
};

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_KEY_STORE_H_
