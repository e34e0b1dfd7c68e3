#ifndef PASSGATE_STORAGE_RECORDS_H_
#define PASSGATE_STORAGE_RECORDS_H_

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace passgate::storage {

// All timestamps are wall-clock UTC; SQLite stores them as integer microseconds since the epoch.
using TimePoint = std::chrono::system_clock::time_point;

struct Email {
  std::string address;
  bool is_primary = false;
  bool is_verified = false;

  bool operator==(const Email&) const = default;
};

struct User {
  std::string id;  // canonical lowercase UUID
  std::vector<Email> emails;
  std::optional<std::string> username;
  TimePoint created_at;
  TimePoint updated_at;

  // PrimaryEmail returns the email marked primary, or nullptr.
  const Email* PrimaryEmail() const {
    for (const Email& email : emails) {
      if (email.is_primary) return &email;
    }
    return nullptr;
  }
};

struct PasswordCredential {
  std::string user_id;
  std::string hash;  // PHC string: $argon2id$... or an imported bcrypt $2a$/$2b$/$2y$
  TimePoint created_at;
  TimePoint updated_at;
};

struct Session {
  std::string id;  // UUID v4, also the JWT's session_id claim
  std::string user_id;
  TimePoint created_at;
  TimePoint expires_at;
  std::string ip;
  std::string user_agent;
};

// UserCursor names a position in the user listing order (created_at, then id): a page that
// starts `after` a cursor holds only users strictly beyond it in the listing's direction.
struct UserCursor {
  TimePoint created_at;
  std::string id;
};

// UserQuery selects a page of users for Store::ListUsersPage / Store::CountUsers.
struct UserQuery {
  // Filters; both empty = every user. `email` matches any of a user's addresses, ASCII
  // case-insensitively (as the unique index compares them). `ids` keeps only those users.
  std::optional<std::string> email;
  std::vector<std::string> ids;
  bool descending = false;  // newest first (Hanko's admin default) instead of oldest first
  std::optional<UserCursor> after;  // keyset paging (gRPC page tokens, streaming export)
  std::size_t offset = 0;           // rows skipped after `after` (Hanko's page/per_page)
  std::size_t limit = 100;          // REQUIRES: >= 1
  bool with_passwords = false;      // fill UserListEntry::password
};

struct UserListEntry {
  User user;
  std::optional<PasswordCredential> password;  // only when UserQuery::with_passwords
};

// A signing key as stored: the private key is only ever kept encrypted (AEAD) at rest.
struct StoredKey {
  std::string id;          // the JWK `kid`, UUID v4
  std::string algorithm;   // "RS256", "ES256" or "EdDSA"
  std::string ciphertext;  // nonce || AEAD(private key PKCS#8 DER), binary
  TimePoint created_at;
  // Signing with the key starts at this time; until then it is only published and verifies.
  // A rotated key activates later than it is created, so every replica and JWKS consumer has
  // it before the first token it signs (see KeyRing). Keys stored before this field existed
  // activate at created_at.
  TimePoint activates_at;
};

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_RECORDS_H_
