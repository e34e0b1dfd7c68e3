#ifndef PASSGATE_SERVER_LOGIN_FLOW_H_
#define PASSGATE_SERVER_LOGIN_FLOW_H_

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/audit_log.h"
#include "server/clock.h"
#include "server/password_hasher.h"
#include "server/session_tokens.h"
#include "storage/store.h"

namespace passgate::server {

// LoginFlow is the password login of Hanko's POST /password/login (reference §2), split in
// the cheap checks a transport runs inline and the hashing part it runs on a worker.
//
// Unknown user, user without a password and wrong password are indistinguishable: the same
// kUnauthenticated "Unauthorized", after one full verification with the configured
// parameters (a dummy one when there is no stored hash to check).
class LoginFlow {
 public:
  LoginFlow(storage::Store& store, const PasswordHasher& hasher, const SessionTokens& tokens,
            const Clock& clock, AuditLog& audit);

  // CheckRequest runs steps 2 and 3: field validation and the 72-byte limit, for every
  // user alike (so the limit cannot reveal who exists). kInvalidArgument with Hanko's text.
  static absl::Status CheckRequest(std::string_view user_id, std::string_view password);

  // Authenticate runs steps 5 to 8 on a request that passed CheckRequest: Verify, then
  // Issue. Blocks for one or two password hashes: call it on a hashing worker.
  absl::StatusOr<IssuedSession> Authenticate(std::string_view user_id, std::string_view password,
                                             const ClientInfo& client) const;

  // Verify runs steps 5 to 7: look up the user and credential, verify (a dummy verification
  // when there is nothing to verify), upgrade an outdated hash to Argon2id. Returns the user
  // whose password matched; kUnauthenticated "Unauthorized" (audited), or ServerError's
  // kInternal/kUnavailable. The part that hashes: run it holding a hashing slot.
  absl::StatusOr<storage::User> Verify(std::string_view user_id, std::string_view password,
                                       const ClientInfo& client) const;

  // Issue runs step 8 for a user Verify accepted: stores the session (durably) and signs its
  // token, then audits the login. No hashing: it needs no hashing slot.
  absl::StatusOr<IssuedSession> Issue(const storage::User& user, const ClientInfo& client) const;

 private:
  void UpgradeHash(std::string_view user_id, std::string_view old_hash,
                   std::string_view password) const;

  storage::Store& store_;
  const PasswordHasher& hasher_;
  const SessionTokens& tokens_;
  const Clock& clock_;
  AuditLog& audit_;
};

// ServerError is what clients see of a server-side failure; `detail` goes to the log only.
// kUnavailable "Service Unavailable" when `detail` is kUnavailable (the database is
// restarting or out of pooled connections: worth a retry, HTTP 503), else kInternal
// "Internal Server Error".
absl::Status ServerError(std::string_view what, const absl::Status& detail);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_LOGIN_FLOW_H_
