#include "server/login_flow.h"

#include <optional>
#include <string>

#include "server/log.h"
#include "server/request_checks.h"

namespace passgate::server {

absl::Status ServerError(std::string_view what, const absl::Status& detail) {
  Log(LogLevel::kError, what, {{"error", detail.ToString()}});
  if (absl::IsUnavailable(detail)) return absl::UnavailableError("Service Unavailable");
  return absl::InternalError("Internal Server Error");
}

LoginFlow::LoginFlow(storage::Store& store, const PasswordHasher& hasher,
                     const SessionTokens& tokens, const Clock& clock, AuditLog& audit)
    : store_(store), hasher_(hasher), tokens_(tokens), clock_(clock), audit_(audit) {}

absl::Status LoginFlow::CheckRequest(std::string_view user_id, std::string_view password) {
  if (absl::Status fields = CheckUserIdAndPassword(user_id, password); !fields.ok()) {
    return fields;
  }
  return CheckPasswordNotTooLong(password);
}

absl::StatusOr<IssuedSession> LoginFlow::Authenticate(std::string_view user_id,
                                                      std::string_view password,
                                                      const ClientInfo& client) const {
  absl::StatusOr<storage::User> user = Verify(user_id, password, client);
  if (!user.ok()) return user.status();
  return Issue(*user, client);
}

absl::StatusOr<storage::User> LoginFlow::Verify(std::string_view user_id,
                                                std::string_view password,
                                                const ClientInfo& client) const {
  const absl::Status unauthorized = absl::UnauthenticatedError("Unauthorized");

  absl::StatusOr<std::optional<storage::User>> user = store_.FindUser(user_id);
  if (!user.ok()) return ServerError("user lookup failed", user.status());
  // Looked up even for an unknown user, so both paths do the same database work.
  absl::StatusOr<std::optional<storage::PasswordCredential>> credential =
      store_.FindPassword(user_id);
  if (!credential.ok()) return ServerError("password lookup failed", credential.status());

  const auto failed = [&](const char* reason) {
    AuditEvent event{"password_login_failed", reason, client, std::string(user_id), "", ""};
    if (user->has_value()) {
      if (const storage::Email* email = (*user)->PrimaryEmail()) event.email = email->address;
    }
    audit_.Record(event);
    return unauthorized;
  };
  if (!credential->has_value()) {
    // Same work as a wrong password, so timing does not tell whether the user exists.
    hasher_.DummyVerify(password);
    return failed(user->has_value() ? "no credential" : "unknown user");
  }
  const std::string& stored_hash = (*credential)->hash;
  if (!hasher_.Verify(password, stored_hash)) return failed("hash mismatch");

  if (hasher_.NeedsRehash(stored_hash)) UpgradeHash(user_id, stored_hash, password);
  return **std::move(user);
}

absl::StatusOr<IssuedSession> LoginFlow::Issue(const storage::User& user,
                                               const ClientInfo& client) const {
  absl::StatusOr<IssuedSession> session = tokens_.Issue(user, client);
  if (!session.ok()) return ServerError("issuing session failed", session.status());
  const storage::Email* email = user.PrimaryEmail();
  audit_.Record({"password_login_succeeded", "", client, user.id,
                 email != nullptr ? email->address : "", ""});
  return session;
}

void LoginFlow::UpgradeHash(std::string_view user_id, std::string_view old_hash,
                            std::string_view password) const {
  // A failed upgrade must not fail the login: the old hash still works next time.
  absl::StatusOr<std::string> fresh = hasher_.Hash(password);
  if (!fresh.ok()) {
    Log(LogLevel::kWarning, "password rehash failed", {{"user_id", user_id}});
    return;
  }
  absl::StatusOr<bool> replaced =
      store_.ReplacePasswordIfUnchanged(user_id, old_hash, *fresh, clock_.Now());
  if (!replaced.ok()) {
    Log(LogLevel::kWarning, "storing rehashed password failed",
        {{"user_id", user_id}, {"error", replaced.status().ToString()}});
  } else if (*replaced) {
    Log(LogLevel::kInfo, "password hash upgraded to argon2id", {{"user_id", user_id}});
  }
}

}  // namespace passgate::server
