#include "server/password_change.h"

#include <optional>
#include <string>

#include "server/login_flow.h"
#include "server/request_checks.h"

namespace passgate::server {

PasswordChange::PasswordChange(storage::Store& store, const PasswordHasher& hasher,
                               const Clock& clock, int min_length, AuditLog& audit,
                               bool revoke_other_sessions)
    : store_(store),
      hasher_(hasher),
      clock_(clock),
      min_length_(min_length),
      audit_(audit),
      revoke_other_sessions_(revoke_other_sessions) {}

absl::Status PasswordChange::CheckRequest(std::string_view user_id,
                                          std::string_view password) const {
  if (absl::Status fields = CheckUserIdAndPassword(user_id, password); !fields.ok()) {
    return fields;
  }
  if (absl::Status min = CheckPasswordMinLength(password, min_length_); !min.ok()) return min;
  return CheckPasswordNotTooLong(password);
}

absl::StatusOr<bool> PasswordChange::Apply(const SessionClaims& caller, std::string_view user_id,
                                           std::string_view password,
                                           const ClientInfo& client) const {
  absl::StatusOr<std::optional<storage::User>> user = store_.FindUser(user_id);
  if (!user.ok()) return ServerError("user lookup failed", user.status());
  const auto audit = [&](const char* type, const char* reason) {
    AuditEvent event{type, reason, client, std::string(user_id), "", ""};
    if (user->has_value()) {
      if (const storage::Email* email = (*user)->PrimaryEmail()) event.email = email->address;
    }
    audit_.Record(event);
  };
  if (!user->has_value()) {
    audit("password_set_failed", "unknown user");
    return absl::UnauthenticatedError("Unauthorized");
  }
  if (caller.subject != (*user)->id) {
    audit("password_set_failed", "forbidden");
    return absl::PermissionDeniedError("Forbidden");
  }

  absl::StatusOr<std::string> hash = hasher_.Hash(password);
  if (!hash.ok()) return ServerError("hashing password failed", hash.status());
  absl::StatusOr<bool> created = store_.SetPassword(user_id, *hash, clock_.Now());
  if (!created.ok()) {
    // The user was deleted between lookup and write: same answer as an unknown user.
    if (absl::IsNotFound(created.status())) return absl::UnauthenticatedError("Unauthorized");
    return ServerError("storing password failed", created.status());
  }
  audit("password_set_succeeded", "");
  if (revoke_other_sessions_) {
    // Whoever knew the old password may hold a session: end all but the caller's own. The
    // password is already changed, so a failure here is reported rather than hidden.
    absl::StatusOr<std::size_t> revoked = store_.DeleteUserSessions(user_id, caller.session_id);
    if (!revoked.ok()) return ServerError("revoking other sessions failed", revoked.status());
  }
  return created;
}

}  // namespace passgate::server
