#include "storage/postgres_connection_pool.h"

#include <poll.h>

#include <cerrno>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace passgate::storage {
namespace {

// FirstLine keeps libpq's connection-level message short; it names host and port at most.
std::string FirstLine(const char* message) {
  std::string text = message == nullptr ? "" : message;
  const std::string::size_type newline = text.find('\n');
  if (newline != std::string::npos) text.resize(newline);
  return text.empty() ? "unknown error" : text;
}

bool StartsWith(absl::string_view text, absl::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

namespace {

// AwaitResult waits at most `timeout` for the answer to what was just sent on `conn` and
// returns its last result, or the first failed one mapped to the Store contract.
absl::StatusOr<PgResult> AwaitResult(PGconn* conn, absl::string_view operation,
                                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  PgResult last;
  absl::Status failed;
  for (;;) {
    while (PQisBusy(conn) != 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return absl::UnavailableError(absl::StrCat("postgres: ", operation, ": no answer within ",
                                                   timeout.count(), " ms (database.query_timeout)"));
      }
      pollfd wait{PQsocket(conn), POLLIN, 0};
      if (::poll(&wait, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
        return StatusFromPostgres(operation, conn, nullptr);
      }
      if (PQconsumeInput(conn) != 1) return StatusFromPostgres(operation, conn, nullptr);
    }
    PGresult* next = PQgetResult(conn);
    if (next == nullptr) break;  // every result read
    PgResult result(next);
    const ExecStatusType status = PQresultStatus(result.get());
    if (failed.ok() && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      failed = StatusFromPostgres(operation, conn, result.get());
    }
    last = std::move(result);
  }
  if (!failed.ok()) return failed;
  if (last == nullptr) return StatusFromPostgres(operation, conn, nullptr);
  return last;
}

}  // namespace

absl::Status StatusFromPostgres(absl::string_view operation, PGconn* conn, const PGresult* result) {
  if (result == nullptr || PQstatus(conn) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("postgres: ", operation, ": connection lost: ",
                                               FirstLine(PQerrorMessage(conn))));
  }
  const char* sqlstate_field = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  const char* primary_field = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  const absl::string_view sqlstate = sqlstate_field == nullptr ? "" : sqlstate_field;
  const std::string message =
      absl::StrCat("postgres: ", operation, ": ",
                   primary_field == nullptr ? "error" : primary_field, " (SQLSTATE ", sqlstate, ")");
  if (sqlstate == "23505") return absl::AlreadyExistsError(message);
  if (sqlstate == "23503") {
    // Only rows that reference users carry foreign keys, so the user is missing.
    return absl::NotFoundError(absl::StrCat("postgres: ", operation, ": no such user"));
  }
  // 08: connection exception; 53: insufficient resources; 57P01-03: shutdown/cannot connect
  // now; 40001/40P01: serialization failure/deadlock (the caller may retry).
  if (StartsWith(sqlstate, "08") || StartsWith(sqlstate, "53") || StartsWith(sqlstate, "57P") ||
      sqlstate == "40001" || sqlstate == "40P01") {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

PostgresConnectionPool::PostgresConnectionPool(PostgresConnectOptions options,
                                               std::vector<PreparedStatement> statements)
    : options_(std::move(options)), statements_(std::move(statements)) {}

PostgresConnectionPool::~PostgresConnectionPool() {
  std::lock_guard<std::mutex> lock(mu_);
  for (PGconn* conn : idle_) PQfinish(conn);
  idle_.clear();
}

PostgresConnectionPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), conn_(std::exchange(other.conn_, nullptr)), reused_(other.reused_) {}

PostgresConnectionPool::Lease::~Lease() {
  if (conn_ != nullptr) pool_->Return(conn_);
}

absl::StatusOr<PostgresConnectionPool::Lease> PostgresConnectionPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const bool ready = returned_.wait_for(lock, options_.pool_timeout, [this] {
      return !idle_.empty() || open_ < options_.max_connections;
    });
    if (!ready) {
      return absl::UnavailableError(
          absl::StrCat("postgres: no free connection within ", options_.pool_timeout.count(),
                       " ms (database.max_connections: ", options_.max_connections, ")"));
    }
    if (!idle_.empty()) {
      PGconn* conn = idle_.back();
      idle_.pop_back();
      return Lease(this, conn, /*reused=*/true);
    }
    ++open_;  // reserve the slot; connect outside the lock
  }
  absl::StatusOr<PGconn*> conn = Connect();
  if (!conn.ok()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --open_;
    }
    returned_.notify_one();
    return conn.status();
  }
  return Lease(this, *conn, /*reused=*/false);
}

absl::StatusOr<PGconn*> PostgresConnectionPool::Connect() {
  const std::string timeout = std::to_string(options_.connect_timeout.count());
  // With expand_dbname the URI in `dbname` is expanded first; keywords after it override it.
  std::vector<const char*> keywords = {"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values = {options_.url.c_str(), timeout.c_str(), "passgate"};
  if (!options_.password.empty()) {
    keywords.push_back("password");
    values.push_back(options_.password.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  if (conn == nullptr) return absl::UnavailableError("postgres: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    absl::Status status = absl::UnavailableError(
        absl::StrCat("postgres: cannot connect: ", FirstLine(PQerrorMessage(conn))));
    PQfinish(conn);
    return status;
  }
  // libpq prints NOTICEs (e.g. "relation already exists, skipping") to stderr, which is the
  // server's JSON log: drop them; errors arrive as results.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  for (const PreparedStatement& statement : statements_) {
    PgResult result(PQprepare(conn, statement.name, statement.sql,
                              static_cast<int>(statement.parameter_types.size()),
                              statement.parameter_types.data()));
    if (result == nullptr || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      absl::Status status = StatusFromPostgres(
          absl::StrCat("prepare ", statement.name), conn, result.get());
      PQfinish(conn);
      return status;
    }
  }
  return conn;
}

void PostgresConnectionPool::Return(PGconn* conn) {
  // PQTRANS_ACTIVE: a statement is still running, so Execute gave up waiting for it (the
  // server hangs or is cut off): this connection cannot be reused, and neither can the idle
  // ones to the same server.
  bool keep = PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_ACTIVE;
  if (keep && PQtransactionStatus(conn) != PQTRANS_IDLE) {
    // An operation failed inside its transaction: roll back so the next lease starts clean.
    PgResult rollback(PQexec(conn, "ROLLBACK"));
    keep = rollback != nullptr && PQresultStatus(rollback.get()) == PGRES_COMMAND_OK &&
           PQtransactionStatus(conn) == PQTRANS_IDLE;
  }
  std::vector<PGconn*> stale;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (keep) {
      idle_.push_back(conn);
    } else {
      // The server went away or restarted: the idle connections predate that, so they are as
      // dead as this one. Closing them now spares the next callers a failed first attempt.
      stale.swap(idle_);
      stale.push_back(conn);
      open_ -= static_cast<int>(stale.size());
    }
  }
  for (PGconn* dead : stale) PQfinish(dead);
  returned_.notify_all();
}

int PostgresConnectionPool::Open() {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

namespace {

// WireParams holds libpq's parallel arrays for a parameter list (views into `params`).
struct WireParams {
  explicit WireParams(const std::vector<PgParam>& params) {
    values.reserve(params.size());
    lengths.reserve(params.size());
    formats.reserve(params.size());
    for (const PgParam& param : params) {
      values.push_back(param.value ? param.value->data() : nullptr);
      lengths.push_back(param.value ? static_cast<int>(param.value->size()) : 0);
      formats.push_back(param.binary ? 1 : 0);
    }
  }
  int size() const { return static_cast<int>(values.size()); }

  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<int> formats;
};

}  // namespace

absl::StatusOr<PgResult> PostgresConnectionPool::Execute(PGconn* conn, absl::string_view operation,
                                                         const char* statement,
                                                         const std::vector<PgParam>& params,
                                                         std::chrono::milliseconds timeout) {
  const WireParams wire(params);
  // Asynchronous send and a bounded wait instead of PQexecPrepared, which would wait for ever
  // on a server that stopped answering.
  if (PQsendQueryPrepared(conn, statement, wire.size(), wire.values.data(), wire.lengths.data(),
                          wire.formats.data(), /*resultFormat=*/0) != 1) {
    return StatusFromPostgres(operation, conn, nullptr);
  }
  return AwaitResult(conn, operation, timeout);
}

absl::StatusOr<PgResult> PostgresConnectionPool::ExecuteQuery(PGconn* conn,
                                                              absl::string_view operation,
                                                              const char* sql,
                                                              const std::vector<PgParam>& params,
                                                              std::chrono::milliseconds timeout) {
  const WireParams wire(params);
  // No parameter types: PostgreSQL infers each from its use (a column, LIMIT, OFFSET).
  if (PQsendQueryParams(conn, sql, wire.size(), /*paramTypes=*/nullptr, wire.values.data(),
                        wire.lengths.data(), wire.formats.data(), /*resultFormat=*/0) != 1) {
    return StatusFromPostgres(operation, conn, nullptr);
  }
  return AwaitResult(conn, operation, timeout);
}

absl::StatusOr<PgResult> PostgresConnectionPool::ExecuteSql(PGconn* conn,
                                                            absl::string_view operation,
                                                            const char* sql,
                                                            std::chrono::milliseconds timeout) {
  if (PQsendQuery(conn, sql) != 1) return StatusFromPostgres(operation, conn, nullptr);
  return AwaitResult(conn, operation, timeout);
}

}  // namespace passgate::storage
