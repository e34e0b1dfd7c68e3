// PostgreSQL schema and its migrations. Same semantics as the SQLite schema
// (storage/sqlite_store.cc):
//  - ids and other keys are text with COLLATE "C", compared bytewise like SQLite's BINARY;
//  - e-mail addresses are stored as given and unique with ASCII case folded: lower() under
//    the "C" collation folds A-Z only, exactly SQLite's NOCASE;
//  - timestamps are bigint microseconds since the Unix epoch (UTC), blobs bytea;
//  - insertion order (the tie-breaker of sessions and keys created in the same microsecond)
//    comes from identity columns, never from MAX(seq)+1, which two writers would both read.

#include "storage/postgres_schema.h"

#include <cstdlib>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "storage/postgres_connection_pool.h"

namespace passgate::storage {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// Migrations are append-only: a released migration is never edited, a change is a new entry.
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE users (
  id         text COLLATE "C" NOT NULL PRIMARY KEY,
  username   text COLLATE "C" UNIQUE,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE TABLE emails (
  address     text COLLATE "C" NOT NULL,
  user_id     text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  is_primary  boolean NOT NULL,
  is_verified boolean NOT NULL,
  created_at  bigint NOT NULL
);
CREATE UNIQUE INDEX emails_address_folded ON emails (lower(address COLLATE "C"));
CREATE INDEX emails_by_user ON emails (user_id);
CREATE TABLE password_credentials (
  user_id    text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  hash       text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  updated_at bigint NOT NULL
);
CREATE TABLE sessions (
  id         text COLLATE "C" NOT NULL PRIMARY KEY,
  user_id    text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  ip         text NOT NULL,
  user_agent text NOT NULL,
  seq        bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX sessions_by_user_created ON sessions (user_id, created_at);
CREATE TABLE jwks (
  id           text COLLATE "C" NOT NULL PRIMARY KEY,
  algorithm    text NOT NULL,
  ciphertext   bytea NOT NULL,
  created_at   bigint NOT NULL,
  activates_at bigint NOT NULL,
  seq          bigint GENERATED ALWAYS AS IDENTITY UNIQUE
);
)sql"},
    // Admin listings and exports page through users in (created_at, id) order by keyset.
    {2, R"sql(
CREATE INDEX users_by_created ON users (created_at, id);
)sql"},
    // Bulk import in one round trip per batch: each entry inside its own exception block (a
    // subtransaction), so a taken id, address or username skips that entry alone. Answers
    // one row per entry, in order: 'ok' or 'exists'. Any other error aborts the call.
    {3, R"sql(
CREATE FUNCTION passgate_create_users(batch jsonb) RETURNS SETOF text
LANGUAGE plpgsql AS $fn$
DECLARE
  entry jsonb;
  email jsonb;
BEGIN
  FOR entry IN SELECT value FROM jsonb_array_elements(batch) LOOP
    BEGIN
      INSERT INTO users(id, username, created_at, updated_at)
        VALUES (entry->>'id', entry->>'username', (entry->>'created_at')::bigint,
                (entry->>'updated_at')::bigint);
      FOR email IN SELECT value FROM jsonb_array_elements(entry->'emails') LOOP
        INSERT INTO emails(address, user_id, is_primary, is_verified, created_at)
          VALUES (email->>'address', entry->>'id', (email->>'is_primary')::boolean,
                  (email->>'is_verified')::boolean, (entry->>'created_at')::bigint);
      END LOOP;
      IF entry ? 'hash' THEN
        INSERT INTO password_credentials(user_id, hash, created_at, updated_at)
          VALUES (entry->>'id', entry->>'hash', (entry->>'password_created_at')::bigint,
                  (entry->>'password_updated_at')::bigint);
      END IF;
      RETURN NEXT 'ok';
    EXCEPTION WHEN unique_violation THEN
      RETURN NEXT 'exists';
    END;
  END LOOP;
END
$fn$;
)sql"},
};

static_assert(std::size(kMigrations) == kPostgresSchemaVersion,
              "kPostgresSchemaVersion must equal the number of migrations");

// Advisory lock key of schema migrations ("pgmigrat" as a big-endian integer).
constexpr char kLockSql[] = "SELECT pg_advisory_xact_lock(8100907504391300212)";

absl::Status NewerSchemaError(int version) {
  return absl::FailedPreconditionError(
      absl::StrCat("postgres: database schema version ", version, " is newer than version ",
                   kPostgresSchemaVersion, " supported by this binary; upgrade passgate"));
}

absl::StatusOr<int> ReadVersion(PGconn* conn) {
  absl::StatusOr<PgResult> exists = PostgresConnectionPool::ExecuteSql(
      conn, "read schema version", "SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists.ok()) return exists.status();
  if (std::string(PQgetvalue(exists->get(), 0, 0)) != "t") return 0;
  absl::StatusOr<PgResult> version = PostgresConnectionPool::ExecuteSql(
      conn, "read schema version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (!version.ok()) return version.status();
  return std::atoi(PQgetvalue(version->get(), 0, 0));
}

}  // namespace

absl::StatusOr<int> ReadPostgresSchemaVersion(PGconn* conn) { return ReadVersion(conn); }

absl::Status CheckPostgresSchemaVersion(int version) {
  if (version > kPostgresSchemaVersion) return NewerSchemaError(version);
  if (version < kPostgresSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "postgres: database schema is at version ", version, ", this binary needs version ",
        kPostgresSchemaVersion, "; run `passgate migrate` first"));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ApplyPostgresMigrations(PGconn* conn) {
  constexpr absl::string_view kOperation = "migrate";
  for (const char* sql : {"BEGIN", kLockSql,
                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
                          "version integer PRIMARY KEY, applied_at bigint NOT NULL)"}) {
    if (absl::StatusOr<PgResult> done = PostgresConnectionPool::ExecuteSql(conn, kOperation, sql);
        !done.ok()) {
      return done.status();
    }
  }
  // Read under the lock: a replica that waited sees what the first one applied.
  absl::StatusOr<int> version = ReadVersion(conn);
  if (!version.ok()) return version.status();
  if (*version > kPostgresSchemaVersion) return NewerSchemaError(*version);
  for (const Migration& migration : kMigrations) {
    if (migration.version <= *version) continue;
    if (absl::StatusOr<PgResult> done =
            PostgresConnectionPool::ExecuteSql(conn, kOperation, migration.sql);
        !done.ok()) {
      return done.status();
    }
    const std::string record = absl::StrCat(
        "INSERT INTO schema_migrations(version, applied_at) VALUES (", migration.version,
        ", (extract(epoch from clock_timestamp()) * 1000000)::bigint)");
    if (absl::StatusOr<PgResult> done =
            PostgresConnectionPool::ExecuteSql(conn, kOperation, record.c_str());
        !done.ok()) {
      return done.status();
    }
  }
  if (absl::StatusOr<PgResult> done = PostgresConnectionPool::ExecuteSql(conn, kOperation, "COMMIT");
      !done.ok()) {
    return done.status();
  }
  return kPostgresSchemaVersion;
}

}  // namespace passgate::storage
