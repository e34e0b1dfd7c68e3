#ifndef PASSGATE_SERVER_CLIENT_IDENTITY_H_
#define PASSGATE_SERVER_CLIENT_IDENTITY_H_

#include <string>
#include <string_view>
#include <vector>

#include "grpcpp/server_context.h"
#include "server/session_tokens.h"

namespace passgate::server {

// Metadata keys a trusted gateway sets to pass on the end client's identity.
inline constexpr std::string_view kClientIpMetadata = "x-passgate-client-ip";
inline constexpr std::string_view kClientUserAgentMetadata = "x-passgate-user-agent";
inline constexpr std::string_view kRequestIdMetadata = "x-request-id";

// PeerIp extracts the IP from a gRPC peer URI ("ipv4:1.2.3.4:5", "ipv6:[::1]:5"); empty for
// other transports (in-process, unix sockets).
std::string PeerIp(std::string_view peer);

// MetadataValue returns the first value of client metadata `key` (lowercase), or empty.
std::string_view MetadataValue(const grpc::ServerContextBase& context, std::string_view key);

// BearerToken extracts the token of an `authorization` value "Bearer <token>" (scheme
// case-insensitive), or returns an empty view.
std::string_view BearerToken(std::string_view authorization);

// IsInProcessPeer: the call came over gRPC's in-process transport, which has no network peer
// and only this process can open. Every network transport gRPC 1.51 knows names its scheme.
bool IsInProcessPeer(std::string_view peer);

// ClientIdentity decides whose word to take for the client's IP, user agent and request id.
// The x-passgate-* metadata is believed only from an in-process caller or a peer whose IP is
// in `trusted_peers`; anyone else could otherwise pick an IP and dodge per-IP limits.
class ClientIdentity {
 public:
  explicit ClientIdentity(std::vector<std::string> trusted_peers);

  // Resolve returns the client of this call. The request id is always taken from
  // `x-request-id` when it is a short printable token (it only correlates logs), otherwise a
  // new one is made.
  ClientInfo Resolve(const grpc::ServerContextBase& context) const;

 private:
  bool Trusted(std::string_view peer) const;

  std::vector<std::string> trusted_peers_;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_CLIENT_IDENTITY_H_
