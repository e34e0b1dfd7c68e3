#include "server/client_identity.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "server/uuid.h"

namespace passgate::server {
namespace {

constexpr std::size_t kMaxHeaderValue = 512;

bool PrintableToken(std::string_view value) {
  if (value.empty() || value.size() > 128) return false;
  return std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

}  // namespace

std::string_view MetadataValue(const grpc::ServerContextBase& context, std::string_view key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return std::string_view(it->second.data(), it->second.size());
}

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (absl::ascii_tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  std::string_view token = authorization.substr(kScheme.size());
  while (!token.empty() && absl::ascii_isspace(static_cast<unsigned char>(token.front()))) {
    token.remove_prefix(1);
  }
  while (!token.empty() && absl::ascii_isspace(static_cast<unsigned char>(token.back()))) {
    token.remove_suffix(1);
  }
  return token;
}

bool IsInProcessPeer(std::string_view peer) {
  for (const char* network : {"ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:"}) {
    if (peer.starts_with(network)) return false;
  }
  return true;
}

std::string PeerIp(std::string_view peer) {
  if (peer.starts_with("ipv4:")) {
    peer.remove_prefix(5);
    const auto colon = peer.rfind(':');
    return std::string(peer.substr(0, colon));
  }
  if (peer.starts_with("ipv6:")) {
    peer.remove_prefix(5);
    if (peer.starts_with("[")) {
      peer.remove_prefix(1);
      const auto close = peer.find(']');
      // Drop a zone id such as %25eth0: it is not part of the address.
      std::string_view ip = peer.substr(0, close);
      return std::string(ip.substr(0, ip.find('%')));
    }
    return std::string(peer);
  }
  return {};
}

ClientIdentity::ClientIdentity(std::vector<std::string> trusted_peers)
    : trusted_peers_(std::move(trusted_peers)) {}

bool ClientIdentity::Trusted(std::string_view peer) const {
  // In-process callers are this process; network peers only when listed.
  if (IsInProcessPeer(peer)) return true;
  const std::string ip = PeerIp(peer);
  return !ip.empty() &&
         std::find(trusted_peers_.begin(), trusted_peers_.end(), ip) != trusted_peers_.end();
}

ClientInfo ClientIdentity::Resolve(const grpc::ServerContextBase& context) const {
  const std::string peer = context.peer();
  ClientInfo client;
  client.ip = PeerIp(peer);
  client.user_agent = std::string(MetadataValue(context, "user-agent").substr(0, kMaxHeaderValue));
  if (Trusted(peer)) {
    if (std::string_view ip = MetadataValue(context, kClientIpMetadata); !ip.empty()) {
      client.ip = std::string(ip.substr(0, kMaxHeaderValue));
    }
    if (std::string_view ua = MetadataValue(context, kClientUserAgentMetadata); !ua.empty()) {
      client.user_agent = std::string(ua.substr(0, kMaxHeaderValue));
    }
  }
  const std::string_view request_id = MetadataValue(context, kRequestIdMetadata);
  client.request_id = PrintableToken(request_id) ? std::string(request_id) : NewUuidV4();
  return client;
}

}  // namespace passgate::server
