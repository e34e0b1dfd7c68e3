#ifndef PASSGATE_STORAGE_POSTGRES_CONNECTION_POOL_H_
#define PASSGATE_STORAGE_POSTGRES_CONNECTION_POOL_H_

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace passgate::storage {

// PreparedStatement is prepared once on every connection the pool opens, under `name`.
struct PreparedStatement {
  const char* name;
  const char* sql;
  std::vector<Oid> parameter_types;  // one per $n; 0 lets PostgreSQL infer the type
};

// Parameter type OIDs (pg_type.h is a server header; these values are fixed by PostgreSQL).
inline constexpr Oid kBoolOid = 16;
inline constexpr Oid kByteaOid = 17;
inline constexpr Oid kInt8Oid = 20;
inline constexpr Oid kTextOid = 25;

// PgParam is one bound parameter: text format, or binary for bytea. nullopt binds NULL.
struct PgParam {
  std::optional<std::string> value;
  bool binary = false;
};

struct PgResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct PostgresConnectOptions {
  // libpq connection URI, postgres://user:pass@host:port/db?sslmode=... (or postgresql://).
  std::string url;
  // When non-empty, replaces the URI's password (so it can come from the environment).
  std::string password;
  // Connections open at most at once. REQUIRES: >= 1.
  int max_connections = 4;
  // How long Acquire waits for a free connection before kUnavailable. REQUIRES: >= 0.
  std::chrono::milliseconds pool_timeout{5000};
  // libpq connect_timeout: how long one connection attempt may take. REQUIRES: >= 2 s.
  std::chrono::seconds connect_timeout{5};
  // How long Execute waits for one statement's answer (a lock held elsewhere, a hung or
  // partitioned server); then the connection is dropped and the call is kUnavailable.
  // REQUIRES: > 0.
  std::chrono::milliseconds query_timeout{10000};
};

// PostgresConnectionPool lends libpq connections, at most max_connections at once, opened on
// demand with every statement prepared. A connection that broke (the server restarted or went
// away) is closed on return together with every idle one (opened before the failure, so as
// stale), and the next Acquire opens a fresh one: the pool recovers from a PostgreSQL restart
// by itself. Thread-safe.
class PostgresConnectionPool {
 public:
  PostgresConnectionPool(PostgresConnectOptions options, std::vector<PreparedStatement> statements);
  ~PostgresConnectionPool();
  PostgresConnectionPool(const PostgresConnectionPool&) = delete;
  PostgresConnectionPool& operator=(const PostgresConnectionPool&) = delete;

  // Lease is one borrowed connection, returned to the pool on destruction. A connection left
  // inside a transaction is rolled back first (closed if that fails).
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    PGconn* get() const { return conn_; }
    // reused: the connection served an earlier lease (it may have gone stale since).
    bool reused() const { return reused_; }

   private:
    friend class PostgresConnectionPool;
    Lease(PostgresConnectionPool* pool, PGconn* conn, bool reused)
        : pool_(pool), conn_(conn), reused_(reused) {}
    PostgresConnectionPool* pool_;
    PGconn* conn_;
    bool reused_;
  };

  // Acquire lends an idle connection or opens one. kUnavailable when none is free within
  // pool_timeout or PostgreSQL cannot be reached (the message names host and port from
  // libpq, never the password).
  absl::StatusOr<Lease> Acquire();

  // Execute runs a prepared statement and waits at most `timeout` for its answer. Returns the
  // result on success (command or rows); otherwise the error mapped to the Store contract
  // (see StatusFromPostgres), kUnavailable after the timeout (the connection, still busy, is
  // closed when its lease returns).
  static absl::StatusOr<PgResult> Execute(PGconn* conn, absl::string_view operation,
                                          const char* statement,
                                          const std::vector<PgParam>& params,
                                          std::chrono::milliseconds timeout);
  // ExecuteQuery runs one parameterized statement that is not prepared (SQL whose shape
  // varies per call, built from fixed fragments), waiting at most `timeout` like Execute.
  static absl::StatusOr<PgResult> ExecuteQuery(PGconn* conn, absl::string_view operation,
                                               const char* sql,
                                               const std::vector<PgParam>& params,
                                               std::chrono::milliseconds timeout);
  // ExecuteSql runs literal SQL (no parameters; several statements allowed), waiting at most
  // `timeout` (default: a day, for migrations) like Execute.
  static absl::StatusOr<PgResult> ExecuteSql(
      PGconn* conn, absl::string_view operation, const char* sql,
      std::chrono::milliseconds timeout = std::chrono::hours(24));

  // Open counts the connections open now, idle or lent (for tests and metrics).
  int Open();

  std::chrono::milliseconds query_timeout() const { return options_.query_timeout; }

 private:
  absl::StatusOr<PGconn*> Connect();
  void Return(PGconn* conn);

  const PostgresConnectOptions options_;
  const std::vector<PreparedStatement> statements_;
  std::mutex mu_;
  std::condition_variable returned_;
  std::vector<PGconn*> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

// StatusFromPostgres maps a failed result to the Store contract: unique violation
// kAlreadyExists, foreign-key violation kNotFound ("no such user"), a lost connection,
// shutdown, overload, serialization failure or deadlock kUnavailable, anything else
// kInternal. The message holds the operation, PostgreSQL's primary message and SQLSTATE
// only: never its DETAIL, which can quote bound values.
absl::Status StatusFromPostgres(absl::string_view operation, PGconn* conn, const PGresult* result);

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_POSTGRES_CONNECTION_POOL_H_
