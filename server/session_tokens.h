#ifndef PASSGATE_SERVER_SESSION_TOKENS_H_
#define PASSGATE_SERVER_SESSION_TOKENS_H_

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/clock.h"
#include "server/key_ring.h"
#include "server/session_claims.h"
#include "server/verified_token_cache.h"
#include "storage/store.h"

namespace passgate::server {

// ClientInfo: who is calling, as far as the service can tell (see client_identity.h).
struct ClientInfo {
  std::string ip;
  std::string user_agent;
  std::string request_id;
};

// SessionPolicy: the session.* settings that shape tokens.
struct SessionPolicy {
  std::chrono::seconds lifespan{12 * 3600};  // REQUIRES: >= 1s
  std::vector<std::string> audience{"localhost"};  // REQUIRES: non-empty
  std::string issuer;  // empty: no `iss` claim
  std::size_t limit = 5;  // live sessions per user; REQUIRES: >= 1
  // Tokens whose signature and static claims Validate remembers (see verified_token_cache.h),
  // about 0.5 KiB each: the default holds a busy service's working set in ~2 MiB.
  std::size_t verified_token_cache = 4096;  // entries; 0 disables
};

struct IssuedSession {
  std::string token;  // compact JWS; never log it
  SessionClaims claims;
};

// SessionTokens issues session tokens (a JWT plus a session row) and validates them.
// Thread-safe.
class SessionTokens {
 public:
  SessionTokens(storage::Store& store, const KeyRing& keys, const Clock& clock,
                SessionPolicy policy);

  // Issue stores a session row for `user` and returns its signed token with Hanko's claims:
  // sub, iat, exp = iat + lifespan, aud (array), session_id, email (primary only), iss (if
  // set). kInternal when signing or storing fails.
  absl::StatusOr<IssuedSession> Issue(const storage::User& user, const ClientInfo& client) const;

  // Validate returns the claims of a token whose signature (pinned algorithm and kid),
  // exp, aud and session row (present, same user, not expired) all check out; otherwise
  // kUnauthenticated "Unauthorized". kInternal only for a storage failure. A token seen
  // before skips the signature and parsing (VerifiedTokenCache); exp and the session row
  // are checked on every call, so expiry and revocation take effect at once.
  absl::StatusOr<SessionClaims> Validate(std::string_view token) const;

  std::chrono::seconds lifespan() const { return policy_.lifespan; }

  // verified_tokens_cached counts the tokens Validate currently skips verifying (for tests
  // and metrics).
  std::size_t verified_tokens_cached() const { return verified_tokens_.size(); }

 private:
  // VerifyAndParse checks the signature and every claim that cannot change over time (all
  // but exp and the session row) and returns the claims; kUnauthenticated otherwise.
  absl::StatusOr<SessionClaims> VerifyAndParse(std::string_view token) const;
  // CheckSessionRow: the row of `claims` exists, belongs to its subject and is not expired.
  absl::Status CheckSessionRow(const SessionClaims& claims, TimePoint now) const;

  storage::Store& store_;
  const KeyRing& keys_;
  const Clock& clock_;
  const SessionPolicy policy_;
  mutable VerifiedTokenCache verified_tokens_;  // a cache: Validate stays logically const
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_SESSION_TOKENS_H_
