// SQLite implementation of Store.
//
// Schema versions are recorded in a `schema_migrations(version, applied_at)` table, one row per
// applied migration, rather than in PRAGMA user_version: the table also says when each
// migration ran, which is what an operator wants to know after an upgrade. A database without
// the table is at version 0.
//
// Concurrency: one connection per store, serialized by a mutex, so statements can be prepared
// once and reused. Other processes (a second server, `passgate migrate`) are coordinated by
// SQLite's own locking: writes take the write lock up front (BEGIN IMMEDIATE) so they wait in
// busy_timeout instead of failing on a lock upgrade.

#include "storage/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Exception.h"
#include "SQLiteCpp/Statement.h"
#include "SQLiteCpp/Transaction.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "storage/records.h"
#include "storage/store.h"
#include "storage/user_page_sql.h"

namespace passgate::storage {
namespace {

struct Migration {
  int version;
  const char* sql;
};

// Migrations are append-only: a released migration is never edited, a change is a new entry.
//
// Email addresses are stored as given but are unique case-insensitively (COLLATE NOCASE, which
// folds ASCII only), so Alice@Example.com and alice@example.com cannot belong to two users.
// Timestamps are INTEGER microseconds since the Unix epoch (UTC). jwks.seq records insertion
// order, which rowid does not guarantee once rows have been deleted; it is computed as
// MAX(seq)+1 inside the insert, which is race-free here because SQLite runs one writer at a
// time (the PostgreSQL store uses an identity column instead).
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE users (
  id         TEXT    NOT NULL PRIMARY KEY,
  username   TEXT    UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE emails (
  address     TEXT    NOT NULL PRIMARY KEY COLLATE NOCASE,
  user_id     TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  is_primary  INTEGER NOT NULL CHECK (is_primary IN (0, 1)),
  is_verified INTEGER NOT NULL CHECK (is_verified IN (0, 1)),
  created_at  INTEGER NOT NULL
);
CREATE INDEX emails_by_user ON emails(user_id);
CREATE TABLE password_credentials (
  user_id    TEXT    NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  hash       TEXT    NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE sessions (
  id         TEXT    NOT NULL PRIMARY KEY,
  user_id    TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  ip         TEXT    NOT NULL,
  user_agent TEXT    NOT NULL
);
CREATE INDEX sessions_by_user_created ON sessions(user_id, created_at);
CREATE TABLE jwks (
  id         TEXT    NOT NULL PRIMARY KEY,
  algorithm  TEXT    NOT NULL,
  ciphertext BLOB    NOT NULL,
  created_at INTEGER NOT NULL,
  seq        INTEGER NOT NULL UNIQUE
);
)sql"},
    // A key is published before it signs (KeyRing): activates_at is when signing may start.
    {2, R"sql(
ALTER TABLE jwks ADD COLUMN activates_at INTEGER NOT NULL DEFAULT 0;
UPDATE jwks SET activates_at = created_at;
)sql"},
    // Admin listings and exports page through users in (created_at, id) order by keyset.
    {3, R"sql(
CREATE INDEX users_by_created ON users(created_at, id);
)sql"},
};

// Bulk-load settings (Store::BeginBulkLoad): a batch of an import touches pages all over the
// indexes keyed by random ids and addresses.
// - A 64 MiB page cache instead of SQLite's default 2 MiB keeps more of them instead of
//   re-reading them through the kernel (pages are allocated as used; the import's peak RSS
//   stays under 128 MiB).
// - A checkpoint every 50,000 WAL pages (200 MiB) instead of every 1,000: each checkpoint
//   copies a page once however many commits rewrote it since the last one. A batch of 10,000
//   users rewrites ~20,000 pages, most of them again a few batches later. 1M users: 12.6 ->
//   9.2 GB written, 65 -> 49 s.
// Durability is unchanged: every commit is fsynced (database.synchronous).
constexpr int64_t kBulkCacheKib = 65536;
constexpr int64_t kBulkWalAutocheckpointPages = 50000;

static_assert(std::size(kMigrations) == kSqliteSchemaVersion,
              "kSqliteSchemaVersion must equal the number of migrations");

int64_t ToMicros(TimePoint time) {
  return std::chrono::floor<std::chrono::microseconds>(time.time_since_epoch()).count();
}

TimePoint FromMicros(int64_t micros) { return TimePoint(std::chrono::microseconds(micros)); }

// StatusFromSqlite maps a SQLite failure to the Store error contract. The message carries the
// SQLite text for logs; it names tables and columns, never bound values.
absl::Status StatusFromSqlite(absl::string_view operation, const SQLite::Exception& e) {
  const std::string message = absl::StrCat(operation, ": ", e.what());
  if (e.getErrorCode() < 0) return absl::InternalError(message);  // a SQLiteCpp usage error
  switch (e.getErrorCode() & 0xff) {
    case SQLITE_CONSTRAINT:
      switch (e.getExtendedErrorCode()) {
        case SQLITE_CONSTRAINT_PRIMARYKEY:
        case SQLITE_CONSTRAINT_UNIQUE:
          return absl::AlreadyExistsError(message);
        case SQLITE_CONSTRAINT_FOREIGNKEY:
          // Only rows that reference users carry foreign keys, so the user is missing.
          return absl::NotFoundError(absl::StrCat(operation, ": no such user (", e.what(), ")"));
        default:
          return absl::InternalError(message);
      }
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

// ScopedStatement lends a prepared statement for one execution. Resetting on scope exit, also
// when an exception unwinds, releases the statement's read snapshot and readies it for reuse.
class ScopedStatement {
 public:
  explicit ScopedStatement(SQLite::Statement& statement) : statement_(statement) {
    statement_.clearBindings();
  }
  ~ScopedStatement() { statement_.tryReset(); }

  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;

  SQLite::Statement* operator->() { return &statement_; }

 private:
  SQLite::Statement& statement_;
};

void BindText(ScopedStatement& statement, int index, std::string_view text) {
  // std::string: SQLiteCpp binds a (pointer, size) pair as a BLOB, which never equals TEXT.
  statement->bind(index, std::string(text));
}

void BindBool(ScopedStatement& statement, int index, bool value) {
  statement->bind(index, static_cast<int32_t>(value ? 1 : 0));
}

std::string ColumnBlob(const SQLite::Column& column) {
  const void* data = column.getBlob();
  const int size = column.getBytes();
  if (data == nullptr || size <= 0) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

absl::Status ValidateOptions(const SqliteOptions& options, const char** synchronous) {
  if (options.path.empty()) return absl::InvalidArgumentError("sqlite: empty database path");
  if (options.busy_timeout_ms < 0) {
    return absl::InvalidArgumentError("sqlite: busy_timeout_ms must be >= 0");
  }
  const std::string mode = absl::AsciiStrToLower(options.synchronous);
  if (mode == "full") {
    *synchronous = "FULL";
  } else if (mode == "normal") {
    *synchronous = "NORMAL";
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "sqlite: synchronous must be \"full\" or \"normal\", got \"", options.synchronous, "\""));
  }
  return absl::OkStatus();
}

// SetWalMode switches the connection to WAL and returns the mode now in place. Converting a
// new file needs an exclusive lock, and SQLite answers SQLITE_BUSY at once, without its busy
// handler, while another process (a second replica starting on the same new file) is doing
// the same: retry for up to busy_timeout_ms.
std::string SetWalMode(SQLite::Database& db, int busy_timeout_ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  for (;;) {
    try {
      return db.execAndGet("PRAGMA journal_mode=WAL").getString();
    } catch (const SQLite::Exception& e) {
      const int code = e.getErrorCode() & 0xff;
      if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
          std::chrono::steady_clock::now() >= deadline) {
        throw;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

// CreatePrivateFile creates a missing database file with mode 0600 whatever the umask (SQLite
// would create it 0644 & ~umask): it holds password hashes and encrypted keys. SQLite gives the
// -wal and -shm files it creates later the database file's permissions. An existing file is
// left as it is; ":memory:" and "file:" URIs are not files to create.
absl::Status CreatePrivateFile(const std::string& path) {
  if (path == ":memory:" || path.starts_with("file:")) return absl::OkStatus();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return absl::OkStatus();
    return absl::UnavailableError(
        absl::StrCat("sqlite: cannot create ", path, ": ", std::strerror(errno)));
  }
  const bool private_mode = ::fchmod(fd, 0600) == 0;
  const int error = errno;
  ::close(fd);
  if (!private_mode) {
    return absl::UnavailableError(
        absl::StrCat("sqlite: cannot make ", path, " private: ", std::strerror(error)));
  }
  return absl::OkStatus();
}

// OpenConnection opens the file (creating it and its directories) and sets the per-connection
// PRAGMAs. It does not touch the schema.
absl::StatusOr<std::unique_ptr<SQLite::Database>> OpenConnection(const SqliteOptions& options) {
  const char* synchronous = nullptr;
  if (absl::Status status = ValidateOptions(options, &synchronous); !status.ok()) return status;

  const std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) {
    std::error_code error;
    std::filesystem::create_directories(parent, error);
    if (error) {
      return absl::UnavailableError(
          absl::StrCat("sqlite: cannot create directory ", parent.string(), ": ", error.message()));
    }
  }

  if (absl::Status created = CreatePrivateFile(options.path); !created.ok()) return created;
  try {
    auto db = std::make_unique<SQLite::Database>(
        options.path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE, options.busy_timeout_ms);
    // WAL lets readers in other processes run alongside the writer; the mode is persistent but
    // is asked for on every open so that a database created elsewhere is converted too.
    const std::string journal_mode = SetWalMode(*db, options.busy_timeout_ms);
    if (absl::AsciiStrToLower(journal_mode) != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat("sqlite: cannot enable WAL journal mode for ", options.path, " (got ",
                       journal_mode, ")"));
    }
    db->exec("PRAGMA foreign_keys=ON");
    if (db->execAndGet("PRAGMA foreign_keys").getInt() != 1) {
      return absl::FailedPreconditionError("sqlite: this SQLite build cannot enforce foreign keys");
    }
    db->exec(absl::StrCat("PRAGMA synchronous=", synchronous));
    return db;
  } catch (const SQLite::Exception& e) {
    return absl::UnavailableError(
        absl::StrCat("sqlite: cannot open ", options.path, ": ", e.what()));
  }
}

// ReadSchemaVersion returns the highest applied migration, 0 for a database never migrated.
int ReadSchemaVersion(SQLite::Database& db) {
  if (!db.tableExists("schema_migrations")) return 0;
  return db.execAndGet("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").getInt();
}

absl::Status NewerSchemaError(int version) {
  return absl::FailedPreconditionError(absl::StrCat("sqlite: database schema version ", version,
                                                    " is newer than version ", kSqliteSchemaVersion,
                                                    " supported by this binary; upgrade passgate"));
}

// ApplyMigrations brings the schema up to kSqliteSchemaVersion, one transaction per migration.
// The version is re-read under the write lock so two processes migrating at once apply each
// migration exactly once.
absl::StatusOr<int> ApplyMigrations(SQLite::Database& db) {
  try {
    if (int version = ReadSchemaVersion(db); version > kSqliteSchemaVersion) {
      return NewerSchemaError(version);
    }
    db.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    for (const Migration& migration : kMigrations) {
      SQLite::Transaction transaction(db, SQLite::TransactionBehavior::IMMEDIATE);
      const int version = ReadSchemaVersion(db);
      if (version > kSqliteSchemaVersion) return NewerSchemaError(version);
      if (version >= migration.version) continue;
      db.exec(migration.sql);
      SQLite::Statement record(db,
                               "INSERT INTO schema_migrations(version, applied_at) VALUES (?, ?)");
      record.bind(1, static_cast<int32_t>(migration.version));
      record.bind(2, ToMicros(std::chrono::system_clock::now()));
      record.exec();
      transaction.commit();
    }
    return ReadSchemaVersion(db);
  } catch (const SQLite::Exception& e) {
    return StatusFromSqlite("sqlite: migrate", e);
  }
}

class SqliteStore final : public Store {
 public:
  // Create prepares every statement. REQUIRES: `db` holds the current schema.
  static absl::StatusOr<std::unique_ptr<Store>> Create(std::unique_ptr<SQLite::Database> db) {
    try {
      return std::unique_ptr<Store>(new SqliteStore(std::move(db)));
    } catch (const SQLite::Exception& e) {
      return StatusFromSqlite("sqlite: prepare", e);
    }
  }

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  absl::Status CreateUser(const User& user,
                          const std::optional<PasswordCredential>& password) override {
    if (absl::Status owner = CheckPasswordOwner("CreateUser", user, password); !owner.ok()) {
      return owner;
    }
    return Guarded("CreateUser", [&]() -> absl::Status {
      SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
      InsertUser(user, password);
      transaction.commit();
      return absl::OkStatus();
    });
  }

  absl::Status BeginBulkLoad() override {
    return Guarded("BeginBulkLoad", [&]() -> absl::Status {
      saved_cache_size_ = db_->execAndGet("PRAGMA cache_size").getInt64();
      saved_wal_autocheckpoint_ = db_->execAndGet("PRAGMA wal_autocheckpoint").getInt64();
      db_->exec(absl::StrCat("PRAGMA cache_size = ", -kBulkCacheKib));
      db_->exec(absl::StrCat("PRAGMA wal_autocheckpoint = ", kBulkWalAutocheckpointPages));
      return absl::OkStatus();
    });
  }

  absl::Status EndBulkLoad() override {
    return Guarded("EndBulkLoad", [&]() -> absl::Status {
      db_->exec(absl::StrCat("PRAGMA cache_size = ", saved_cache_size_));
      db_->exec(absl::StrCat("PRAGMA wal_autocheckpoint = ", saved_wal_autocheckpoint_));
      // Copy the (up to 200 MiB) WAL into the database now rather than at the next write.
      // PASSIVE never waits for other connections' readers; what they still need stays in
      // the WAL for a later checkpoint.
      db_->exec("PRAGMA wal_checkpoint(PASSIVE)");
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::vector<absl::Status>> CreateUsers(std::span<const NewUser> users) override {
    return Guarded("CreateUsers", [&]() -> absl::StatusOr<std::vector<absl::Status>> {
      std::vector<absl::Status> results;
      results.reserve(users.size());
      // One write transaction for the batch and no savepoint per entry: a savepoint copies
      // every page it first modifies to a sub-journal temp file (~40 KiB per user, 4.1 GB of
      // writes for 100,000 users measured). An entry that hits a unique constraint is undone
      // by hand instead: SQLite aborts the failing INSERT alone, and the entry's own user row,
      // when already inserted, is deleted, which cascades to the emails inserted before it.
      SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
      for (const NewUser& entry : users) {
        if (absl::Status owner = CheckPasswordOwner("CreateUsers", entry.user, entry.password);
            !owner.ok()) {
          results.push_back(std::move(owner));
          continue;
        }
        absl::Status result;
        bool user_row_inserted = false;
        try {
          InsertUserRow(entry.user);
          user_row_inserted = true;
          InsertUserDetails(entry.user, entry.password);
        } catch (const SQLite::Exception& e) {
          result = StatusFromSqlite("sqlite: CreateUsers", e);
          if (!absl::IsAlreadyExists(result)) throw;  // the whole batch rolls back
          if (user_row_inserted) {
            ScopedStatement remove(delete_user_);
            BindText(remove, 1, entry.user.id);
            remove->exec();
          }
        }
        results.push_back(std::move(result));
      }
      transaction.commit();
      return results;
    });
  }

  absl::StatusOr<std::optional<User>> FindUser(std::string_view user_id) override {
    return Guarded("FindUser", [&]() -> absl::StatusOr<std::optional<User>> {
      // One read transaction so the user and its emails come from the same snapshot.
      SQLite::Transaction transaction(*db_);
      std::optional<User> user;
      {
        ScopedStatement select(select_user_);
        BindText(select, 1, user_id);
        if (!select->executeStep()) return std::optional<User>();
        user = UserFromRow(select);
      }
      {
        ScopedStatement select(select_user_emails_);
        BindText(select, 1, user_id);
        while (select->executeStep()) {
          user->emails.push_back(EmailFromRow(select, 0));
        }
      }
      transaction.commit();
      return user;
    });
  }

  absl::StatusOr<std::vector<User>> ListUsers() override {
    return Guarded("ListUsers", [&]() -> absl::StatusOr<std::vector<User>> {
      SQLite::Transaction transaction(*db_);
      std::vector<User> users;
      std::unordered_map<std::string, std::size_t> index_by_id;
      {
        ScopedStatement select(select_all_users_);
        while (select->executeStep()) {
          users.push_back(UserFromRow(select));
          index_by_id.emplace(users.back().id, users.size() - 1);
        }
      }
      {
        // Rows arrive grouped by user in FindUser's email order; appending keeps that order.
        ScopedStatement select(select_all_emails_);
        while (select->executeStep()) {
          auto it = index_by_id.find(select->getColumn(0).getString());
          if (it == index_by_id.end()) continue;  // unreachable: the foreign key forbids it
          users[it->second].emails.push_back(EmailFromRow(select, 1));
        }
      }
      transaction.commit();
      return users;
    });
  }

  absl::StatusOr<std::vector<UserListEntry>> ListUsersPage(const UserQuery& query) override {
    if (absl::Status valid = CheckUserQuery(query); !valid.ok()) return valid;
    return Guarded("ListUsersPage", [&]() -> absl::StatusOr<std::vector<UserListEntry>> {
      // Filters vary per call, so this statement is prepared each time (admin and export
      // pages, not the login path).
      const UserPageSql built = BuildUserPageSql(query, SqlDialect::kSqlite);
      SQLite::Statement statement(*db_, built.sql);
      ScopedStatement page(statement);
      BindUserPageSql(page, built);
      std::vector<UserListEntry> entries;
      while (page->executeStep()) {
        const std::string id = page->getColumn(0).getString();
        if (entries.empty() || entries.back().user.id != id) {
          UserListEntry entry;
          entry.user = UserFromRow(page);
          if (!page->getColumn(7).isNull()) {
            entry.password = PasswordCredential{id, page->getColumn(7).getString(),
                                                FromMicros(page->getColumn(8).getInt64()),
                                                FromMicros(page->getColumn(9).getInt64())};
          }
          entries.push_back(std::move(entry));
        }
        if (!page->getColumn(4).isNull()) {
          entries.back().user.emails.push_back(EmailFromRow(page, 4));
        }
      }
      return entries;
    });
  }

  absl::StatusOr<std::size_t> CountUsers(const UserQuery& query) override {
    if (absl::Status valid = CheckUserQuery(query); !valid.ok()) return valid;
    return Guarded("CountUsers", [&]() -> absl::StatusOr<std::size_t> {
      const UserPageSql built = BuildUserCountSql(query, SqlDialect::kSqlite);
      SQLite::Statement statement(*db_, built.sql);
      ScopedStatement count(statement);
      BindUserPageSql(count, built);
      count->executeStep();
      return static_cast<std::size_t>(count->getColumn(0).getInt64());
    });
  }

  absl::StatusOr<bool> DeleteUser(std::string_view user_id) override {
    return Guarded("DeleteUser", [&]() -> absl::StatusOr<bool> {
      // A single statement is atomic; ON DELETE CASCADE removes emails, password and sessions.
      ScopedStatement remove(delete_user_);
      BindText(remove, 1, user_id);
      return remove->exec() > 0;
    });
  }

  absl::StatusOr<std::optional<PasswordCredential>> FindPassword(
      std::string_view user_id) override {
    return Guarded("FindPassword", [&]() -> absl::StatusOr<std::optional<PasswordCredential>> {
      ScopedStatement select(select_password_);
      BindText(select, 1, user_id);
      if (!select->executeStep()) return std::optional<PasswordCredential>();
      PasswordCredential credential;
      credential.user_id = select->getColumn(0).getString();
      credential.hash = select->getColumn(1).getString();
      credential.created_at = FromMicros(select->getColumn(2).getInt64());
      credential.updated_at = FromMicros(select->getColumn(3).getInt64());
      return credential;
    });
  }

  absl::StatusOr<bool> SetPassword(std::string_view user_id, std::string_view hash,
                                   TimePoint now) override {
    return Guarded("SetPassword", [&]() -> absl::StatusOr<bool> {
      SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
      bool created = false;
      {
        ScopedStatement update(update_password_);
        BindText(update, 1, hash);
        update->bind(2, ToMicros(now));
        BindText(update, 3, user_id);
        created = update->exec() == 0;
      }
      if (created) {
        // An unknown user fails the foreign key, which maps to kNotFound.
        ScopedStatement insert(insert_password_);
        BindText(insert, 1, user_id);
        BindText(insert, 2, hash);
        insert->bind(3, ToMicros(now));
        insert->bind(4, ToMicros(now));
        insert->exec();
      }
      transaction.commit();
      return created;
    });
  }

  absl::StatusOr<bool> DeletePassword(std::string_view user_id) override {
    return Guarded("DeletePassword", [&]() -> absl::StatusOr<bool> {
      ScopedStatement remove(delete_password_);
      BindText(remove, 1, user_id);
      return remove->exec() > 0;
    });
  }

  absl::StatusOr<bool> ReplacePasswordIfUnchanged(std::string_view user_id,
                                                  std::string_view expected_hash,
                                                  std::string_view new_hash,
                                                  TimePoint now) override {
    return Guarded("ReplacePasswordIfUnchanged", [&]() -> absl::StatusOr<bool> {
      // The comparison lives in the UPDATE's WHERE clause, so check and write are one step.
      ScopedStatement update(compare_and_swap_password_);
      BindText(update, 1, new_hash);
      update->bind(2, ToMicros(now));
      BindText(update, 3, user_id);
      BindText(update, 4, expected_hash);
      return update->exec() > 0;
    });
  }

  absl::Status CreateSession(const Session& session, std::size_t limit, TimePoint now) override {
    if (limit == 0) return absl::InvalidArgumentError("CreateSession: limit must be >= 1");
    const int64_t keep = static_cast<int64_t>(std::min<std::size_t>(
        limit, static_cast<std::size_t>(std::numeric_limits<int64_t>::max())));
    return Guarded("CreateSession", [&]() -> absl::Status {
      SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
      {
        ScopedStatement insert(insert_session_);
        BindText(insert, 1, session.id);
        BindText(insert, 2, session.user_id);
        insert->bind(3, ToMicros(session.created_at));
        insert->bind(4, ToMicros(session.expires_at));
        BindText(insert, 5, session.ip);
        BindText(insert, 6, session.user_agent);
        insert->exec();
      }
      {
        ScopedStatement remove(delete_expired_sessions_);
        BindText(remove, 1, session.user_id);
        remove->bind(2, ToMicros(now));
        remove->exec();
      }
      {
        ScopedStatement remove(trim_sessions_);
        BindText(remove, 1, session.user_id);
        remove->bind(2, keep);
        remove->exec();
      }
      transaction.commit();
      return absl::OkStatus();
    });
  }

  absl::StatusOr<std::optional<Session>> FindSession(std::string_view session_id) override {
    return Guarded("FindSession", [&]() -> absl::StatusOr<std::optional<Session>> {
      ScopedStatement select(select_session_);
      BindText(select, 1, session_id);
      if (!select->executeStep()) return std::optional<Session>();
      return SessionFromRow(select);
    });
  }

  absl::StatusOr<std::vector<Session>> ListSessions(std::string_view user_id) override {
    return Guarded("ListSessions", [&]() -> absl::StatusOr<std::vector<Session>> {
      ScopedStatement select(select_user_sessions_);
      BindText(select, 1, user_id);
      std::vector<Session> sessions;
      while (select->executeStep()) sessions.push_back(SessionFromRow(select));
      return sessions;
    });
  }

  absl::StatusOr<bool> DeleteSession(std::string_view session_id) override {
    return Guarded("DeleteSession", [&]() -> absl::StatusOr<bool> {
      ScopedStatement remove(delete_session_);
      BindText(remove, 1, session_id);
      return remove->exec() > 0;
    });
  }

  absl::StatusOr<std::size_t> DeleteUserSessions(std::string_view user_id,
                                                 std::string_view keep_session_id) override {
    return Guarded("DeleteUserSessions", [&]() -> absl::StatusOr<std::size_t> {
      ScopedStatement remove(delete_user_sessions_);
      BindText(remove, 1, user_id);
      BindText(remove, 2, keep_session_id);
      return static_cast<std::size_t>(remove->exec());
    });
  }

  absl::Status AddKey(const StoredKey& key) override {
    if (absl::Status fits = CheckKeySize(key); !fits.ok()) return fits;
    return Guarded("AddKey", [&]() -> absl::Status {
      InsertKey(key);
      return absl::OkStatus();
    });
  }

  absl::StatusOr<bool> AddKeyIfFewer(const StoredKey& key, std::size_t count) override {
    if (absl::Status fits = CheckKeySize(key); !fits.ok()) return fits;
    return Guarded("AddKeyIfFewer", [&]() -> absl::StatusOr<bool> {
      // BEGIN IMMEDIATE takes SQLite's write lock before counting: another process counting
      // at the same time waits (busy_timeout) and then sees this key.
      SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
      int64_t stored = 0;
      {
        ScopedStatement select(count_keys_);
        if (select->executeStep()) stored = select->getColumn(0).getInt64();
      }
      if (static_cast<std::size_t>(stored) >= count) return false;
      InsertKey(key);
      transaction.commit();
      return true;
    });
  }

  absl::StatusOr<std::vector<StoredKey>> ListKeys() override {
    return Guarded("ListKeys", [&]() -> absl::StatusOr<std::vector<StoredKey>> {
      ScopedStatement select(select_keys_);
      std::vector<StoredKey> keys;
      while (select->executeStep()) {
        StoredKey key;
        key.id = select->getColumn(0).getString();
        key.algorithm = select->getColumn(1).getString();
        key.ciphertext = ColumnBlob(select->getColumn(2));
        key.created_at = FromMicros(select->getColumn(3).getInt64());
        key.activates_at = FromMicros(select->getColumn(4).getInt64());
        keys.push_back(std::move(key));
      }
      return keys;
    });
  }

 private:
  // Throws SQLite::Exception when a statement does not prepare (a schema mismatch).
  explicit SqliteStore(std::unique_ptr<SQLite::Database> db)
      : db_(std::move(db)),
        insert_user_(*db_,
                     "INSERT INTO users(id, username, created_at, updated_at) VALUES (?, ?, ?, ?)"),
        insert_email_(*db_,
                      "INSERT INTO emails(address, user_id, is_primary, is_verified, created_at) "
                      "VALUES (?, ?, ?, ?, ?)"),
        insert_password_(*db_,
                         "INSERT INTO password_credentials(user_id, hash, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?)"),
        select_user_(*db_, "SELECT id, username, created_at, updated_at FROM users WHERE id = ?"),
        select_user_emails_(*db_,
                            "SELECT address, is_primary, is_verified FROM emails "
                            "WHERE user_id = ? ORDER BY is_primary DESC, address"),
        select_all_users_(*db_,
                          "SELECT id, username, created_at, updated_at FROM users "
                          "ORDER BY created_at, id"),
        select_all_emails_(*db_,
                           "SELECT user_id, address, is_primary, is_verified FROM emails "
                           "ORDER BY user_id, is_primary DESC, address"),
        delete_user_(*db_, "DELETE FROM users WHERE id = ?"),
        select_password_(*db_,
                         "SELECT user_id, hash, created_at, updated_at "
                         "FROM password_credentials WHERE user_id = ?"),
        update_password_(*db_,
                         "UPDATE password_credentials SET hash = ?, updated_at = ? "
                         "WHERE user_id = ?"),
        delete_password_(*db_, "DELETE FROM password_credentials WHERE user_id = ?"),
        compare_and_swap_password_(*db_,
                                   "UPDATE password_credentials SET hash = ?, updated_at = ? "
                                   "WHERE user_id = ? AND hash = ?"),
        insert_session_(*db_,
                        "INSERT INTO sessions(id, user_id, created_at, expires_at, ip, user_agent) "
                        "VALUES (?, ?, ?, ?, ?, ?)"),
        delete_expired_sessions_(*db_,
                                 "DELETE FROM sessions WHERE user_id = ? AND expires_at <= ?"),
        trim_sessions_(*db_,
                       "DELETE FROM sessions WHERE user_id = ?1 AND id NOT IN ("
                       "SELECT id FROM sessions WHERE user_id = ?1 "
                       "ORDER BY created_at DESC, rowid DESC LIMIT ?2)"),
        select_session_(*db_,
                        "SELECT id, user_id, created_at, expires_at, ip, user_agent "
                        "FROM sessions WHERE id = ?"),
        select_user_sessions_(*db_,
                              "SELECT id, user_id, created_at, expires_at, ip, user_agent "
                              "FROM sessions WHERE user_id = ? ORDER BY created_at DESC, rowid DESC"),
        delete_session_(*db_, "DELETE FROM sessions WHERE id = ?"),
        delete_user_sessions_(*db_, "DELETE FROM sessions WHERE user_id = ? AND id <> ?"),
        insert_key_(*db_,
                    "INSERT INTO jwks(id, algorithm, ciphertext, created_at, activates_at, seq) "
                    "SELECT ?, ?, ?, ?, ?, COALESCE(MAX(seq), 0) + 1 FROM jwks"),
        count_keys_(*db_, "SELECT COUNT(*) FROM jwks"),
        select_keys_(*db_,
                     "SELECT id, algorithm, ciphertext, created_at, activates_at FROM jwks "
                     "ORDER BY created_at, seq") {}

  // InsertUser runs the user's, its emails' and its password's INSERTs. REQUIRES: mu_ held
  // (inside Guarded), a write transaction open. Throws SQLite::Exception.
  void InsertUser(const User& user, const std::optional<PasswordCredential>& password) {
    InsertUserRow(user);
    InsertUserDetails(user, password);
  }

  // InsertUserRow runs the users INSERT alone. REQUIRES: as InsertUser.
  void InsertUserRow(const User& user) {
    ScopedStatement insert(insert_user_);
    BindText(insert, 1, user.id);
    if (user.username.has_value()) {
      BindText(insert, 2, *user.username);
    }  // else left NULL by clearBindings
    insert->bind(3, ToMicros(user.created_at));
    insert->bind(4, ToMicros(user.updated_at));
    insert->exec();
  }

  // InsertUserDetails runs the emails' and the password's INSERTs of a user whose row is
  // inserted. REQUIRES: as InsertUser.
  void InsertUserDetails(const User& user, const std::optional<PasswordCredential>& password) {
    for (const Email& email : user.emails) {
      ScopedStatement insert(insert_email_);
      BindText(insert, 1, email.address);
      BindText(insert, 2, user.id);
      BindBool(insert, 3, email.is_primary);
      BindBool(insert, 4, email.is_verified);
      insert->bind(5, ToMicros(user.created_at));
      insert->exec();
    }
    if (password.has_value()) {
      ScopedStatement insert(insert_password_);
      BindText(insert, 1, user.id);
      BindText(insert, 2, password->hash);
      insert->bind(3, ToMicros(password->created_at));
      insert->bind(4, ToMicros(password->updated_at));
      insert->exec();
    }
  }

  static absl::Status CheckKeySize(const StoredKey& key) {
    if (key.ciphertext.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      return absl::InvalidArgumentError("AddKey: ciphertext too large");
    }
    return absl::OkStatus();
  }

  // InsertKey runs the key's INSERT. REQUIRES: mu_ held (inside Guarded); CheckKeySize passed.
  void InsertKey(const StoredKey& key) {
    ScopedStatement insert(insert_key_);
    BindText(insert, 1, key.id);
    BindText(insert, 2, key.algorithm);
    insert->bind(3, key.ciphertext.data(), static_cast<int>(key.ciphertext.size()));
    insert->bind(4, ToMicros(key.created_at));
    insert->bind(5, ToMicros(key.activates_at));
    insert->exec();
  }

  // Guarded runs `fn` under the connection lock and turns any exception into a Status, so none
  // escapes the Store API. RAII transactions roll back while the exception unwinds.
  template <typename Fn>
  auto Guarded(absl::string_view operation, Fn&& fn) -> decltype(fn()) {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      return fn();
    } catch (const SQLite::Exception& e) {
      return StatusFromSqlite(operation, e);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat(operation, ": ", e.what()));
    }
  }

  // BindUserPageSql binds the values of a built user-page statement in order.
  static void BindUserPageSql(ScopedStatement& statement, const UserPageSql& built) {
    for (std::size_t i = 0; i < built.params.size(); ++i) {
      const int index = static_cast<int>(i + 1);
      if (const auto* text = std::get_if<std::string>(&built.params[i])) {
        BindText(statement, index, *text);
      } else {
        statement->bind(index, std::get<int64_t>(built.params[i]));
      }
    }
  }

  static User UserFromRow(ScopedStatement& row) {
    User user;
    user.id = row->getColumn(0).getString();
    if (!row->isColumnNull(1)) user.username = row->getColumn(1).getString();
    user.created_at = FromMicros(row->getColumn(2).getInt64());
    user.updated_at = FromMicros(row->getColumn(3).getInt64());
    return user;
  }

  // EmailFromRow reads (address, is_primary, is_verified) starting at column `first`.
  static Email EmailFromRow(ScopedStatement& row, int first) {
    Email email;
    email.address = row->getColumn(first).getString();
    email.is_primary = row->getColumn(first + 1).getInt() != 0;
    email.is_verified = row->getColumn(first + 2).getInt() != 0;
    return email;
  }

  static Session SessionFromRow(ScopedStatement& row) {
    Session session;
    session.id = row->getColumn(0).getString();
    session.user_id = row->getColumn(1).getString();
    session.created_at = FromMicros(row->getColumn(2).getInt64());
    session.expires_at = FromMicros(row->getColumn(3).getInt64());
    session.ip = row->getColumn(4).getString();
    session.user_agent = row->getColumn(5).getString();
    return session;
  }

  std::mutex mu_;  // std::mutex: visible to ThreadSanitizer (Debian's Abseil is not)
  // Declared before the statements: members are destroyed in reverse order, and every statement
  // must be finalized before its connection closes.
  const std::unique_ptr<SQLite::Database> db_ ABSL_PT_GUARDED_BY(mu_);
  SQLite::Statement insert_user_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement insert_email_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement insert_password_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement select_user_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement select_user_emails_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement select_all_users_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement select_all_emails_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement delete_user_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement select_password_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement update_password_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement delete_password_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement compare_and_swap_password_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement insert_session_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement delete_expired_sessions_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement trim_sessions_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement select_session_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement select_user_sessions_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement delete_session_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement delete_user_sessions_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement insert_key_ ABSL_GUARDED_BY(mu_);
  SQLite::Statement count_keys_ ABSL_GUARDED_BY(mu_);
  // The settings BeginBulkLoad replaced, for EndBulkLoad.
  int64_t saved_cache_size_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t saved_wal_autocheckpoint_ ABSL_GUARDED_BY(mu_) = 0;
  SQLite::Statement select_keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  absl::StatusOr<std::unique_ptr<SQLite::Database>> db = OpenConnection(options);
  if (!db.ok()) return db.status();
  if (options.migrate) {
    if (absl::StatusOr<int> version = ApplyMigrations(**db); !version.ok()) {
      return version.status();
    }
  } else {
    int version = 0;
    try {
      version = ReadSchemaVersion(**db);
    } catch (const SQLite::Exception& e) {
      return StatusFromSqlite("sqlite: read schema version", e);
    }
    if (version > kSqliteSchemaVersion) return NewerSchemaError(version);
    if (version < kSqliteSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "sqlite: database schema is at version ", version, ", this binary needs version ",
          kSqliteSchemaVersion, "; run `passgate migrate` first"));
    }
  }
  return SqliteStore::Create(*std::move(db));
}

absl::StatusOr<int> MigrateSqlite(const std::string& path) {
  SqliteOptions options;
  options.path = path;
  absl::StatusOr<std::unique_ptr<SQLite::Database>> db = OpenConnection(options);
  if (!db.ok()) return db.status();
  return ApplyMigrations(**db);
}

}  // namespace passgate::storage
