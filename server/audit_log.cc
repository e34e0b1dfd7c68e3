#include "server/audit_log.h"

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace passgate::server {

std::string MaskEmail(std::string_view email) {
  const std::size_t at = email.rfind('@');
  if (at == std::string_view::npos) return std::string(email.size(), '*');
  std::string masked;
  masked.reserve(email.size());
  if (at > 0) masked.push_back(email[0]);
  masked.append(at > 0 ? at - 1 : 0, '*');
  masked.append(email.substr(at));
  return masked;
}

void JsonLinesAuditLog::Record(const AuditEvent& event) {
  nlohmann::json line = {
      {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", absl::Now(), absl::UTCTimeZone())},
      {"audience", "audit"},
      {"type", event.type},
      {"request_id", event.client.request_id},
      {"source_ip", event.client.ip},
      {"user_agent", event.client.user_agent},
      {"user_id", event.user_id},
  };
  if (!event.reason.empty()) line["reason"] = event.reason;
  if (!event.email.empty()) line["email"] = MaskEmail(event.email);
  if (!event.actor.empty()) line["actor"] = event.actor;
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // One fwrite per line: stdio locks the stream, so concurrent events never interleave.
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

}  // namespace passgate::server
