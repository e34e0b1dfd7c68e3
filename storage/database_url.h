#ifndef PASSGATE_STORAGE_DATABASE_URL_H_
#define PASSGATE_STORAGE_DATABASE_URL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace passgate::storage {

// DatabaseBackend is the store a database.url selects.
enum class DatabaseBackend { kSqlite, kPostgres };

// DatabaseBackendFromUrl selects the backend by scheme (case-insensitive): sqlite:// (the path
// checked as SqlitePathFromUrl does) or postgres:// / postgresql:// (checked by libpq's own
// URI parser). kInvalidArgument otherwise; the message names a well-formed scheme at most,
// never the URL (it may hold a password).
absl::StatusOr<DatabaseBackend> DatabaseBackendFromUrl(std::string_view url);

// PostgresConnectionUri returns a postgres:// or postgresql:// URL with its scheme in lower
// case, the only spelling libpq accepts. REQUIRES: DatabaseBackendFromUrl(url) is kPostgres.
std::string PostgresConnectionUri(std::string_view url);

// SqlitePathFromUrl turns `sqlite:///absolute/path.db` into `/absolute/path.db` and
// `sqlite://relative/path.db` into `relative/path.db`. Other schemes and an empty path give
// kInvalidArgument with a message naming the URL's scheme,
// never the whole URL (it may hold a password).
absl::StatusOr<std::string> SqlitePathFromUrl(std::string_view url);

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_DATABASE_URL_H_
