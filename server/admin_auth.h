#ifndef PASSGATE_SERVER_ADMIN_AUTH_H_
#define PASSGATE_SERVER_ADMIN_AUTH_H_

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"

namespace passgate::server {

// Metadata the HTTP admin listener adds when it verified a TLS client certificate itself:
// the certificate's subject common name. Believed only from the in-process transport, which
// only this process can open.
inline constexpr char kAdminClientCertMetadata[] = "x-passgate-admin-client-cert";

// AdminAuthenticator decides who is calling the admin API (server.admin.auth.*), deny by
// default. A caller is either
//   - "cert:<common name>": a TLS client certificate that gRPC verified against
//     server.admin.tls.client_ca_file (or the HTTP listener did, see above), or
//   - "token:<name>": `authorization: Bearer <token>` equal to a configured token.
// Tokens are compared as keyed BLAKE2b digests in constant time, so neither a token's
// content nor its length leaks through timing. Thread-safe (immutable after construction).
class AdminAuthenticator {
 public:
  // tokens: caller name -> token.
  explicit AdminAuthenticator(const std::vector<std::pair<std::string, std::string>>& tokens);

  // Authenticate returns the caller's name, or kUnauthenticated "Unauthorized" (the same
  // answer for a missing, malformed or wrong credential).
  absl::StatusOr<std::string> Authenticate(const grpc::ServerContextBase& context) const;

  // CallerForToken returns "token:<name>" for a configured token, else kUnauthenticated.
  absl::StatusOr<std::string> CallerForToken(std::string_view token) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  Digest DigestOf(std::string_view token) const;

  std::array<unsigned char, 32> key_;  // random per process
  std::vector<std::pair<std::string, Digest>> tokens_;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_ADMIN_AUTH_H_
