#ifndef PASSGATE_GATEWAY_CLIENT_IP_H_
#define PASSGATE_GATEWAY_CLIENT_IP_H_

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/http_message.h"

namespace passgate::gateway {

// ClientIpResolver answers "which address did this request come from?" the way Hanko's Echo
// setup does with trusted proxies (Echo's ExtractIPFromXFFHeader plus X-Real-IP). It is built
// once from the configuration and immutable afterwards, so one instance may serve every
// thread.
//
//   const ClientIpResolver resolver({"10.0.0.2", "10.1.0.0/16", "::1"});
//   call.client_ip = resolver.Resolve(request);
class ClientIpResolver {
 public:
  // `trusted_proxies` holds single addresses ("10.0.0.2", "::1") and CIDR ranges
  // ("10.0.0.0/8", "fd00::/8"), each optionally surrounded by white space. Entries that do not
  // parse are ignored. An IPv4 entry also covers the IPv4-mapped IPv6 form of its addresses.
  explicit ClientIpResolver(const std::vector<std::string>& trusted_proxies);

  // Resolve returns the client's address in canonical text form (IPv4 dotted, IPv6 as
  // inet_ntop writes it, IPv4-mapped IPv6 as IPv4):
  //   - the TCP peer (request.peer_ip) when it is not a trusted proxy;
  //   - otherwise the right-most address of X-Forwarded-For (all its fields, in order, split
  //     at commas; "[v6]" brackets allowed) that is not a trusted proxy, or the left-most one
  //     if all are trusted; if any address scanned this way does not parse, the peer;
  //   - without X-Forwarded-For, a parsable X-Real-IP;
  //   - else the peer.
  // A peer_ip that is not an IP address is returned unchanged.
  std::string Resolve(const HttpRequest& request) const;

 private:
  using IpBytes = std::array<unsigned char, 16>;  // IPv4 as IPv4-mapped IPv6
  struct IpRange {
    IpBytes base{};
    int prefix = 128;  // leading bits of `base` that must match (IPv4 /n is 96 + n)

    bool Contains(const IpBytes& ip) const;
  };

  // ParseIpRange accepts "10.0.0.2", "::1", "10.0.0.0/8" and "fd00::/8"; nullopt otherwise.
  static std::optional<IpRange> ParseIpRange(std::string_view text);

  bool Trusted(const IpBytes& ip) const;

  std::vector<IpRange> trusted_;
};

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_CLIENT_IP_H_
