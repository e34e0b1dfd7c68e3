#ifndef PASSGATE_SERVER_SESSION_CLAIMS_H_
#define PASSGATE_SERVER_SESSION_CLAIMS_H_

#include <optional>
#include <string>
#include <vector>

#include "server/clock.h"
#include "storage/store.h"

namespace passgate::server {

// SessionClaims: the claims of a valid session token. Its own header so that both
// SessionTokens and the VerifiedTokenCache it owns can use it.
struct SessionClaims {
  std::string subject;
  TimePoint issued_at;
  TimePoint expiration;
  std::vector<std::string> audience;
  std::string session_id;
  std::optional<storage::Email> email;
  std::string issuer;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_SESSION_CLAIMS_H_
