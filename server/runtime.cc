#include "server/runtime.h"

#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/database_url.h"
#include "storage/postgres_store.h"
#include "storage/sqlite_store.h"

namespace passgate::server {

absl::StatusOr<KeyRingOptions> KeyRingOptionsFrom(const Config& config) {
  absl::StatusOr<KeyAlgorithm> algorithm = ParseKeyAlgorithm(config.secrets.key_algorithm);
  if (!algorithm.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secrets.key_algorithm: ", algorithm.status().message()));
  }
  KeyRingOptions options;
  options.algorithm = *algorithm;
  options.rsa_bits = config.secrets.rsa_bits;
  options.secrets = config.secrets.keys;
  options.activation_delay = config.secrets.key_activation_delay;
  return options;
}

Argon2idParams HashingParamsFrom(const Config& config) {
  return Argon2idParams{config.password.hashing.memory_kib, config.password.hashing.iterations};
}

HashLimits HashLimitsFrom(const Config& config) {
  HashLimits limits;
  limits.bcrypt_max_cost = config.password.import.bcrypt_max_cost;
  limits.argon2_max_memory_kib = config.password.import.argon2_max_memory_kib;
  limits.argon2_max_iterations = config.password.import.argon2_max_iterations;
  limits.argon2_max_parallelism = config.password.import.argon2_max_parallelism;
  return limits;
}

SessionPolicy SessionPolicyFrom(const Config& config) {
  SessionPolicy policy;
  policy.lifespan = config.session.lifespan;
  policy.audience = config.session.audience;
  policy.issuer = config.session.issuer;
  policy.limit = static_cast<std::size_t>(config.session.limit);
  return policy;
}

int HashingWorkers(const Config& config) {
  if (config.password.hashing.workers > 0) return config.password.hashing.workers;
  const unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : static_cast<int>(cores);
}

int HashingQueue(const Config& config) {
  if (config.password.hashing.queue > 0) return config.password.hashing.queue;
  return 2 * HashingWorkers(config);
}

namespace {

storage::PostgresConnectOptions PostgresOptionsFrom(const Config& config) {
  storage::PostgresConnectOptions options;
  options.url = storage::PostgresConnectionUri(config.database.url);
  options.password = config.database.password;
  // Every hashing worker may hold one connection during a login, plus the inline calls
  // (ValidateSession, GetJwks reloads) and operator tasks.
  options.max_connections = config.database.max_connections > 0 ? config.database.max_connections
                                                                 : HashingWorkers(config) + 2;
  options.pool_timeout = config.database.pool_timeout;
  options.connect_timeout = config.database.connect_timeout;
  options.query_timeout = config.database.query_timeout;
  return options;
}

storage::SqliteOptions SqliteOptionsFrom(const Config& config, const std::string& path) {
  storage::SqliteOptions sqlite;
  sqlite.path = path;
  sqlite.synchronous = config.database.synchronous;
  sqlite.busy_timeout_ms = config.database.busy_timeout_ms;
  return sqlite;
}

absl::Status WithDatabase(const absl::Status& status, absl::string_view name) {
  return absl::Status(status.code(), absl::StrCat("database ", name, ": ", status.message()));
}

// DatabaseLocation is database.url read once: which store, and for SQLite its file.
struct DatabaseLocation {
  storage::DatabaseBackend backend;
  std::string sqlite_path;  // empty for PostgreSQL
};

absl::StatusOr<DatabaseLocation> LocateDatabase(const Config& config) {
  absl::StatusOr<storage::DatabaseBackend> backend =
      storage::DatabaseBackendFromUrl(config.database.url);
  if (!backend.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("database.url: ", backend.status().message()));
  }
  DatabaseLocation location{*backend, ""};
  if (*backend == storage::DatabaseBackend::kSqlite) {
    absl::StatusOr<std::string> path = storage::SqlitePathFromUrl(config.database.url);
    if (!path.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("database.url: ", path.status().message()));
    }
    location.sqlite_path = *std::move(path);
  }
  return location;
}

}  // namespace

absl::StatusOr<std::unique_ptr<storage::Store>> OpenStore(const Config& config) {
  absl::StatusOr<DatabaseLocation> database = LocateDatabase(config);
  if (!database.ok()) return database.status();
  if (database->backend == storage::DatabaseBackend::kPostgres) {
    storage::PostgresOptions options;
    options.connection = PostgresOptionsFrom(config);
    absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::OpenPostgresStore(options);
    if (!store.ok()) return WithDatabase(store.status(), "(postgres)");
    return store;
  }
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenSqliteStore(SqliteOptionsFrom(config, database->sqlite_path));
  if (!store.ok()) return WithDatabase(store.status(), database->sqlite_path);
  return store;
}

absl::StatusOr<std::string> MigrateStore(const Config& config) {
  absl::StatusOr<DatabaseLocation> database = LocateDatabase(config);
  if (!database.ok()) return database.status();
  if (database->backend == storage::DatabaseBackend::kPostgres) {
    absl::StatusOr<int> version = storage::MigratePostgres(PostgresOptionsFrom(config));
    if (!version.ok()) return WithDatabase(version.status(), "(postgres)");
    return absl::StrCat("postgres database at schema version ", *version);
  }
  absl::StatusOr<int> version = storage::MigrateSqlite(database->sqlite_path);
  if (!version.ok()) return WithDatabase(version.status(), database->sqlite_path);
  return absl::StrCat("database ", database->sqlite_path, " at schema version ", *version);
}

absl::StatusOr<std::unique_ptr<Runtime>> OpenRuntime(const Config& config, RuntimeParts parts) {
  auto runtime = std::make_unique<Runtime>();
  runtime->config = config;

  absl::StatusOr<std::unique_ptr<storage::Store>> store = OpenStore(config);
  if (!store.ok()) return store.status();
  runtime->store = *std::move(store);

  if (parts.hasher) runtime->hasher = std::make_unique<Argon2idHasher>(HashingParamsFrom(config));
  if (parts.keys) {
    absl::StatusOr<KeyRingOptions> options = KeyRingOptionsFrom(config);
    if (!options.ok()) return options.status();
    absl::StatusOr<std::unique_ptr<KeyRing>> keys =
        KeyRing::Load(*runtime->store, *options, runtime->clock);
    if (!keys.ok()) return keys.status();
    runtime->keys = *std::move(keys);
  }
  return runtime;
}

}  // namespace passgate::server
