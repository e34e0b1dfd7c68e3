#ifndef PASSGATE_STORAGE_SQLITE_STORE_H_
#define PASSGATE_STORAGE_SQLITE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/store.h"

namespace passgate::storage {

struct SqliteOptions {
  // Path of the database file; created (with missing parent directories) when absent.
  std::string path;
  // Apply pending schema migrations when opening. When false and the schema is behind,
  // Open fails with kFailedPrecondition naming `passgate migrate`. Default: true.
  bool migrate = true;
  // PRAGMA synchronous: "full" (default) fsyncs the WAL on every commit, so an acknowledged
  // write survives kill -9 and power loss; "normal" survives kill -9 only.
  std::string synchronous = "full";
  // PRAGMA busy_timeout in milliseconds. Default: 5000. REQUIRES: >= 0.
  int busy_timeout_ms = 5000;
};

// OpenSqliteStore opens (and by default migrates) a SQLite database in WAL mode with
// foreign keys on. Statements are prepared once and reused. Errors: kInvalidArgument for a
// bad option, kFailedPrecondition for an unmigrated schema (migrate=false) or a schema newer
// than this binary, kUnavailable when the file cannot be opened.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

// MigrateSqlite applies pending migrations to the database at `path` and returns the
// schema version now in place.
absl::StatusOr<int> MigrateSqlite(const std::string& path);

// kSqliteSchemaVersion is the schema version this binary writes.
inline constexpr int kSqliteSchemaVersion = 3;

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_SQLITE_STORE_H_
