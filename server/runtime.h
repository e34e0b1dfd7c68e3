#ifndef PASSGATE_SERVER_RUNTIME_H_
#define PASSGATE_SERVER_RUNTIME_H_

#include <memory>

#include "absl/status/statusor.h"
#include "server/clock.h"
#include "server/config.h"
#include "server/imported_hash.h"
#include "server/key_ring.h"
#include "server/password_hasher.h"
#include "server/session_tokens.h"
#include "storage/store.h"

namespace passgate::server {

// Runtime owns the long-lived pieces built from a Config: the store, the hasher and the key
// ring. Both `passgate serve` and the operator commands open one, so they agree on what the
// config means.
struct Runtime {
  Config config;
  SystemClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<Argon2idHasher> hasher;  // null unless requested
  std::unique_ptr<KeyRing> keys;           // null unless requested
};

struct RuntimeParts {
  bool hasher = true;
  bool keys = true;
};

// OpenRuntime opens (and migrates) the database of `config.database` and builds the
// requested parts. Errors name the config key at fault.
absl::StatusOr<std::unique_ptr<Runtime>> OpenRuntime(const Config& config,
                                                     RuntimeParts parts = {});

// OpenStore opens (and migrates) the store database.url selects: SQLite or PostgreSQL.
absl::StatusOr<std::unique_ptr<storage::Store>> OpenStore(const Config& config);

// MigrateStore applies pending migrations to database.url's store and returns a line for the
// operator naming the database (never a password) and the schema version now in place.
absl::StatusOr<std::string> MigrateStore(const Config& config);

// HashingWorkers / HashingQueue resolve the 0 = automatic defaults of password.hashing.
int HashingWorkers(const Config& config);
// HashingQueue: waiting logins beyond the workers (default 2 x workers).
int HashingQueue(const Config& config);

// KeyRingOptionsFrom / HashingParamsFrom translate the config sections.
absl::StatusOr<KeyRingOptions> KeyRingOptionsFrom(const Config& config);
Argon2idParams HashingParamsFrom(const Config& config);
HashLimits HashLimitsFrom(const Config& config);  // password.import.*
SessionPolicy SessionPolicyFrom(const Config& config);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_RUNTIME_H_
