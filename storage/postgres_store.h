#ifndef PASSGATE_STORAGE_POSTGRES_STORE_H_
#define PASSGATE_STORAGE_POSTGRES_STORE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "storage/postgres_connection_pool.h"
#include "storage/store.h"

namespace passgate::storage {

struct PostgresOptions {
  PostgresConnectOptions connection;
  // Apply pending schema migrations when opening. When false and the schema is behind, Open
  // fails with kFailedPrecondition naming `passgate migrate`. Default: true.
  bool migrate = true;
};

// OpenPostgresStore connects (failing fast when PostgreSQL cannot be reached), by default
// migrates, and returns a Store with the SQLite store's semantics: ids are text compared
// bytewise, e-mail addresses unique with ASCII case folded, timestamps bigint microseconds.
// Every statement is prepared on every pooled connection; writes are durable when they
// return (PostgreSQL's synchronous_commit). Errors: kInvalidArgument for bad options,
// kUnavailable when PostgreSQL cannot be reached, kFailedPrecondition for an unmigrated
// (migrate=false) or newer schema.
absl::StatusOr<std::unique_ptr<Store>> OpenPostgresStore(const PostgresOptions& options);

// MigratePostgres applies pending migrations and returns the schema version now in place.
absl::StatusOr<int> MigratePostgres(const PostgresConnectOptions& options);

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_POSTGRES_STORE_H_
