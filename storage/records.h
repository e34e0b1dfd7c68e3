#ifndef PASSGATE_STORAGE_RECORDS_H_
#define PASSGATE_STORAGE_RECORDS_H_

#include <chrono>
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
