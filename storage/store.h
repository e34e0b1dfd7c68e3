#ifndef PASSGATE_STORAGE_STORE_H_
#define PASSGATE_STORAGE_STORE_H_

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/key_store.h"
#include "storage/records.h"

namespace passgate::storage {

// Store is the one persistence interface of passgate: users with their emails, password
// credentials, sessions and (through KeyStore) signing keys.
//
// Every method is thread-safe. A method that returns OK has made its write durable
// (see SqliteStore for the exact guarantee). Errors: kAlreadyExists for a duplicate user id
// or email address, kNotFound where a method says so, kInternal/kUnavailable for database
// failures (the message is for logs, never for clients).
// CheckPasswordOwner: a credential given with a new user belongs to it (an empty user_id
// means "this user"). kInvalidArgument naming `operation` otherwise. Every store checks it
// before writing.
inline absl::Status CheckPasswordOwner(std::string_view operation, const User& user,
                                       const std::optional<PasswordCredential>& password) {
  if (password.has_value() && !password->user_id.empty() && password->user_id != user.id) {
    return absl::InvalidArgumentError(
        std::string(operation) + ": password.user_id differs from user.id");
  }
  return absl::OkStatus();
}

class Store : public KeyStore {
 public:

  // CreateUser inserts `user`, its emails and, when given, its password credential in one
  // transaction. kAlreadyExists when the id or any email address is taken (nothing written).
  virtual absl::Status CreateUser(const User& user,
                                  const std::optional<PasswordCredential>& password) = 0;

  // NewUser is one entry of CreateUsers: a user and, optionally, its password credential.
  struct NewUser {
    User user;
    std::optional<PasswordCredential> password;
  };

  // CreateUsers creates many users at once (bulk import): all in one transaction, so one
  // durable commit (one fsync on SQLite) for the batch. The result has one status per entry,
  // in order: OK when created, kAlreadyExists when its id, an email address or its username
  // is taken (by a stored user or an earlier entry of the batch) — that entry is left out,
  // the others are created — kInvalidArgument for an entry CreateUser would refuse. Any
  // other failure is the call's error and creates nothing.
  virtual absl::StatusOr<std::vector<absl::Status>> CreateUsers(std::span<const NewUser> users) = 0;

  // BeginBulkLoad tunes the store for a run of CreateUsers calls (an import) until
  // EndBulkLoad: more memory and fewer, larger writes, never weaker durability (each
  // CreateUsers commit stays durable). Every other method keeps working meanwhile. Calls do
  // not nest. The default does nothing, for stores with nothing to tune per connection (the
  // memory store does no I/O; PostgreSQL's checkpoint and buffer settings are the server's).
  virtual absl::Status BeginBulkLoad() { return absl::OkStatus(); }

  // EndBulkLoad restores what BeginBulkLoad changed. Call it also after a failed import.
  virtual absl::Status EndBulkLoad() { return absl::OkStatus(); }

  // FindUser returns the user with its emails (primary first), or nullopt.
  virtual absl::StatusOr<std::optional<User>> FindUser(std::string_view user_id) = 0;

  // ListUsers returns every user with emails, ordered by created_at then id. For small
  // stores and tests; admin listings and exports page with ListUsersPage.
  virtual absl::StatusOr<std::vector<User>> ListUsers() = 0;

  // ListUsersPage returns at most query.limit users (with emails, and passwords when asked)
  // matching the query's filters, in (created_at, id) order (descending if asked), starting
  // after query.after and skipping query.offset rows. One consistent snapshot per call; the
  // cost is proportional to the page (plus the offset), not to the number of users.
  // kInvalidArgument when limit is 0.
  virtual absl::StatusOr<std::vector<UserListEntry>> ListUsersPage(const UserQuery& query) = 0;

  // CountUsers counts the users matching query's filters (email, ids); paging fields are
  // ignored.
  virtual absl::StatusOr<std::size_t> CountUsers(const UserQuery& query) = 0;

  // DeleteUser removes the user and everything that belongs to it (emails, password,
  // sessions). Returns false when there was no such user.
  virtual absl::StatusOr<bool> DeleteUser(std::string_view user_id) = 0;

  // FindPassword returns the user's password credential, or nullopt.
  virtual absl::StatusOr<std::optional<PasswordCredential>> FindPassword(
      std::string_view user_id) = 0;

  // SetPassword creates or replaces the user's credential in one atomic step (two writers
  // never both "create"). Returns true when created, false when replaced. kNotFound when the
  // user does not exist.
  virtual absl::StatusOr<bool> SetPassword(std::string_view user_id, std::string_view hash,
                                           TimePoint now) = 0;

  // DeletePassword removes the user's password credential. Returns false when there was none
  // (or no such user).
  virtual absl::StatusOr<bool> DeletePassword(std::string_view user_id) = 0;

  // ReplacePasswordIfUnchanged stores `new_hash` only if the stored hash still equals
  // `expected_hash` (a compare-and-swap, so a rehash after login never overwrites a password
  // changed meanwhile). Returns whether it replaced.
  virtual absl::StatusOr<bool> ReplacePasswordIfUnchanged(std::string_view user_id,
                                                          std::string_view expected_hash,
                                                          std::string_view new_hash,
                                                          TimePoint now) = 0;

  // CreateSession inserts `session`, then deletes the user's expired sessions and, beyond
  // `limit` live ones, the oldest (by created_at, then insertion order). One transaction that
  // holds the user's row lock, so concurrent logins on several replicas never leave more than
  // `limit` sessions. kNotFound for an unknown user. REQUIRES: limit >= 1.
  virtual absl::Status CreateSession(const Session& session, std::size_t limit,
                                     TimePoint now) = 0;

  // FindSession returns the session row (expired or not), or nullopt.
  virtual absl::StatusOr<std::optional<Session>> FindSession(std::string_view session_id) = 0;

  // ListSessions returns the user's sessions, newest first (created_at, then insertion).
  virtual absl::StatusOr<std::vector<Session>> ListSessions(std::string_view user_id) = 0;

  // DeleteSession removes one session. Returns false when there was none.
  virtual absl::StatusOr<bool> DeleteSession(std::string_view session_id) = 0;

  // DeleteUserSessions removes every session of the user except `keep_session_id` (empty:
  // all of them) in one statement, and returns how many it removed (0 for an unknown user).
  virtual absl::StatusOr<std::size_t> DeleteUserSessions(std::string_view user_id,
                                                         std::string_view keep_session_id) = 0;
};

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_STORE_H_
