#ifndef PASSGATE_STORAGE_POSTGRES_SCHEMA_H_
#define PASSGATE_STORAGE_POSTGRES_SCHEMA_H_

#include <libpq-fe.h>

#include "absl/status/statusor.h"

namespace passgate::storage {

// kPostgresSchemaVersion is the schema version this binary writes.
inline constexpr int kPostgresSchemaVersion = 3;

// ApplyPostgresMigrations brings the schema up to kPostgresSchemaVersion in one transaction
// holding a transaction-scoped advisory lock, so replicas starting at once on an empty
// database apply each migration exactly once (the others wait, then find nothing to do).
// Returns the version now in place; kFailedPrecondition when the database is newer.
absl::StatusOr<int> ApplyPostgresMigrations(PGconn* conn);

// ReadPostgresSchemaVersion returns the highest applied migration (0 for a fresh database).
absl::StatusOr<int> ReadPostgresSchemaVersion(PGconn* conn);

// CheckPostgresSchemaVersion is OK when `version` is the one this binary writes, else
// kFailedPrecondition: newer (upgrade passgate) or behind (run `passgate migrate`).
absl::Status CheckPostgresSchemaVersion(int version);

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_POSTGRES_SCHEMA_H_
