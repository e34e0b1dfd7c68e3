#ifndef PASSGATE_SERVER_PASSWORD_CHANGE_H_
#define PASSGATE_SERVER_PASSWORD_CHANGE_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/audit_log.h"
#include "server/clock.h"
#include "server/password_hasher.h"
#include "server/session_tokens.h"
#include "storage/store.h"

namespace passgate::server {

// PasswordChange is Hanko's PUT /password (reference §8) for a caller with a session:
// 401 without a valid session, 400 for the body, 401 for an unknown user, 403 when the
// session belongs to someone else; otherwise a new Argon2id hash is stored and, when
// revoke_other_sessions (password.revoke_sessions_on_change, default true), every other
// session of the user ends: their tokens stop validating at once, the caller's stays.
class PasswordChange {
 public:
  // REQUIRES: 1 <= min_length <= 72.
  PasswordChange(storage::Store& store, const PasswordHasher& hasher, const Clock& clock,
                 int min_length, AuditLog& audit, bool revoke_other_sessions = true);

  // CheckRequest: Hanko's field texts, then "password must be at least N characters long"
  // (code points), then the 72-byte limit. kInvalidArgument.
  absl::Status CheckRequest(std::string_view user_id, std::string_view password) const;

  // Apply stores a fresh hash of `password` for `user_id` on behalf of `caller` and returns
  // true when the credential was created, false when replaced. kUnauthenticated
  // "Unauthorized" for an unknown user, kPermissionDenied "Forbidden" when caller.subject
  // differs, kInternal otherwise. Hashes once: call it on a hashing worker.
  absl::StatusOr<bool> Apply(const SessionClaims& caller, std::string_view user_id,
                             std::string_view password, const ClientInfo& client = {}) const;

 private:
  storage::Store& store_;
  const PasswordHasher& hasher_;
  const Clock& clock_;
  const int min_length_;
  AuditLog& audit_;
  const bool revoke_other_sessions_;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_PASSWORD_CHANGE_H_
