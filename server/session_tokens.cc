#include "server/session_tokens.h"

#include "server/login_flow.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "server/log.h"
#include "server/uuid.h"

namespace passgate::server {
namespace {

using std::chrono::duration_cast;
using std::chrono::seconds;

absl::Status Unauthorized() { return absl::UnauthenticatedError("Unauthorized"); }

std::int64_t UnixSeconds(TimePoint t) {
  return duration_cast<seconds>(t.time_since_epoch()).count();
}

TimePoint FromUnixSeconds(std::int64_t s) { return TimePoint(seconds(s)); }

// ReadAudience accepts both forms RFC 7519 allows: a string or an array of strings.
std::optional<std::vector<std::string>> ReadAudience(const nlohmann::json& aud) {
  std::vector<std::string> out;
  if (aud.is_string()) {
    out.push_back(aud.get<std::string>());
  } else if (aud.is_array()) {
    for (const auto& item : aud) {
      if (!item.is_string()) return std::nullopt;
      out.push_back(item.get<std::string>());
    }
  } else {
    return std::nullopt;
  }
  return out;
}

}  // namespace

SessionTokens::SessionTokens(storage::Store& store, const KeyRing& keys, const Clock& clock,
                             SessionPolicy policy)
    : store_(store),
      keys_(keys),
      clock_(clock),
      policy_(std::move(policy)),
      verified_tokens_(policy_.verified_token_cache) {}

absl::StatusOr<IssuedSession> SessionTokens::Issue(const storage::User& user,
                                                   const ClientInfo& client) const {
  // JWT times are whole seconds; truncate once so the row and the token agree.
  const TimePoint now = FromUnixSeconds(UnixSeconds(clock_.Now()));
  IssuedSession issued;
  SessionClaims& claims = issued.claims;
  claims.subject = user.id;
  claims.issued_at = now;
  claims.expiration = now + policy_.lifespan;
  claims.audience = policy_.audience;
  claims.session_id = NewUuidV4();
  claims.issuer = policy_.issuer;
  if (const storage::Email* primary = user.PrimaryEmail()) claims.email = *primary;

  nlohmann::json payload = {
      {"sub", claims.subject},
      {"iat", UnixSeconds(claims.issued_at)},
      {"exp", UnixSeconds(claims.expiration)},
      {"aud", claims.audience},
      {"session_id", claims.session_id},
  };
  if (claims.email) {
    payload["email"] = {{"address", claims.email->address},
                        {"is_primary", claims.email->is_primary},
                        {"is_verified", claims.email->is_verified}};
  }
  if (!claims.issuer.empty()) payload["iss"] = claims.issuer;

  absl::StatusOr<std::string> token = keys_.SignJwt(payload);
  if (!token.ok()) return token.status();

  // The row keeps the precise creation time so the session limit drops the oldest one even
  // among logins within the same second.
  storage::Session row{claims.session_id, user.id,  clock_.Now(), claims.expiration,
                       client.ip,         client.user_agent};
  if (absl::Status stored = store_.CreateSession(row, policy_.limit, clock_.Now());
      !stored.ok()) {
    return stored;
  }
  issued.token = *std::move(token);
  return issued;
}

absl::StatusOr<SessionClaims> SessionTokens::Validate(std::string_view token) const {
  const TimePoint now = clock_.Now();
  std::optional<SessionClaims> cached = verified_tokens_.Find(token, now);
  const bool was_cached = cached.has_value();
  absl::StatusOr<SessionClaims> claims =
      was_cached ? absl::StatusOr<SessionClaims>(*std::move(cached)) : VerifyAndParse(token);
  if (!claims.ok()) return claims.status();
  // Only these two can change for a given token, so cached or not they are checked on every
  // call (Find has checked exp already; checking again keeps the invariant visible here).
  // The row is what makes revocation take effect at once.
  if (claims->expiration <= now) return Unauthorized();
  if (absl::Status row = CheckSessionRow(*claims, now); !row.ok()) return row;
  if (!was_cached) verified_tokens_.Insert(token, *claims);
  return claims;
}

absl::StatusOr<SessionClaims> SessionTokens::VerifyAndParse(std::string_view token) const {
  absl::StatusOr<nlohmann::json> payload = keys_.VerifyJwt(token);
  if (!payload.ok()) return Unauthorized();
  const nlohmann::json& p = *payload;

  const auto sub = p.find("sub");
  const auto iat = p.find("iat");
  const auto exp = p.find("exp");
  const auto sid = p.find("session_id");
  const auto aud = p.find("aud");
  if (sub == p.end() || !sub->is_string() || iat == p.end() || !iat->is_number_integer() ||
      exp == p.end() || !exp->is_number_integer() || sid == p.end() || !sid->is_string() ||
      aud == p.end()) {
    return Unauthorized();
  }
  SessionClaims claims;
  claims.subject = sub->get<std::string>();
  claims.issued_at = FromUnixSeconds(iat->get<std::int64_t>());
  claims.expiration = FromUnixSeconds(exp->get<std::int64_t>());
  claims.session_id = sid->get<std::string>();
  std::optional<std::vector<std::string>> audience = ReadAudience(*aud);
  if (!audience) return Unauthorized();
  claims.audience = *std::move(audience);

  const bool audience_matches = std::any_of(
      claims.audience.begin(), claims.audience.end(), [&](const std::string& a) {
        return std::find(policy_.audience.begin(), policy_.audience.end(), a) !=
               policy_.audience.end();
      });
  if (!audience_matches) return Unauthorized();

  if (const auto iss = p.find("iss"); iss != p.end()) {
    if (!iss->is_string()) return Unauthorized();
    claims.issuer = iss->get<std::string>();
  }
  if (claims.issuer != policy_.issuer) return Unauthorized();
  if (const auto email = p.find("email"); email != p.end()) {
    if (!email->is_object()) return Unauthorized();
    const auto address = email->find("address");
    const auto primary = email->find("is_primary");
    const auto verified = email->find("is_verified");
    if (address == email->end() || !address->is_string() || primary == email->end() ||
        !primary->is_boolean() || verified == email->end() || !verified->is_boolean()) {
      return Unauthorized();
    }
    claims.email = storage::Email{address->get<std::string>(), primary->get<bool>(),
                                  verified->get<bool>()};
  }
  return claims;
}

absl::Status SessionTokens::CheckSessionRow(const SessionClaims& claims, TimePoint now) const {
  // The row makes revocation work: a signed, unexpired token without its row is dead.
  absl::StatusOr<std::optional<storage::Session>> row = store_.FindSession(claims.session_id);
  if (!row.ok()) return ServerError("session lookup failed", row.status());
  if (!row->has_value() || (*row)->user_id != claims.subject || (*row)->expires_at <= now) {
    return Unauthorized();
  }
  return absl::OkStatus();
}

}  // namespace passgate::server
