#ifndef PASSGATE_SERVER_AUDIT_LOG_H_
#define PASSGATE_SERVER_AUDIT_LOG_H_

#include <cstdio>
#include <string>
#include <string_view>

#include "server/session_tokens.h"

namespace passgate::server {

// AuditEvent is one security-relevant outcome (reference §11). Events exist only for
// requests that reached the account: none for malformed (400) or rate-limited (429) ones.
struct AuditEvent {
  // password_login_succeeded, password_login_failed, password_set_succeeded,
  // password_set_failed; from the admin API: admin_user_created, admin_user_deleted,
// admin_password_set, admin_password_deleted, admin_sessions_revoked, admin_auth_failed.
  std::string type;
  // For failures: "unknown user", "no credential", "hash mismatch", "forbidden".
  std::string reason;
  ClientInfo client;
  std::string user_id;
  std::string email;  // the user's primary email in the clear; masked when written
  // Admin API events: who acted ("token:<name>" or "cert:<common name>"); empty otherwise.
  std::string actor;
};

// AuditLog records events. Implementations are thread-safe and never see passwords or
// tokens.
class AuditLog {
 public:
  virtual ~AuditLog() = default;
  virtual void Record(const AuditEvent& event) = 0;
};

// JsonLinesAuditLog writes one compact JSON line per event to `out` (stdout by default):
// {"time","audience":"audit","type","reason"?,"request_id","source_ip","user_agent",
//  "user_id","email"?,"actor"?} with the email masked.
class JsonLinesAuditLog final : public AuditLog {
 public:
  explicit JsonLinesAuditLog(std::FILE* out = stdout) : out_(out) {}
  void Record(const AuditEvent& event) override;

 private:
  std::FILE* out_;
};

// NullAuditLog drops events (audit_log.console_output.enabled: false).
class NullAuditLog final : public AuditLog {
 public:
  void Record(const AuditEvent&) override {}
};

// MaskEmail keeps the first character of the local part and the domain:
// "john.doe+1@example.com" -> "j*********@example.com". Without '@' everything is masked.
std::string MaskEmail(std::string_view email);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_AUDIT_LOG_H_
