#include "gateway/client_ip.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "gateway/text.h"

namespace passgate::gateway {
namespace {

using IpBytes = std::array<unsigned char, 16>;  // ClientIpResolver::IpBytes

std::optional<IpBytes> ParseIp(std::string_view text) {
  const std::string s(text);
  IpBytes ip{};
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    ip[10] = ip[11] = 0xFF;
    std::memcpy(&ip[12], &v4, 4);
    return ip;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(ip.data(), &v6, 16);
    return ip;
  }
  return std::nullopt;
}

bool IsV4Mapped(const IpBytes& ip) {
  return std::all_of(ip.begin(), ip.begin() + 10, [](unsigned char b) { return b == 0; }) &&
         ip[10] == 0xFF && ip[11] == 0xFF;
}

std::string FormatIp(const IpBytes& ip) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (IsV4Mapped(ip)) {
    inet_ntop(AF_INET, &ip[12], buffer, sizeof buffer);
  } else {
    inet_ntop(AF_INET6, ip.data(), buffer, sizeof buffer);
  }
  return buffer;
}

// StripBrackets drops the "[...]" Go's IP extractors accept around IPv6 addresses.
std::string_view StripBrackets(std::string_view s) {
  if (s.starts_with('[')) s.remove_prefix(1);
  if (s.ends_with(']')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool ClientIpResolver::IpRange::Contains(const IpBytes& ip) const {
  int bits = prefix;
  for (std::size_t i = 0; i < ip.size() && bits > 0; ++i, bits -= 8) {
    const unsigned mask = bits >= 8 ? 0xFFu : (0xFFu << (8 - bits)) & 0xFFu;
    if ((ip[i] & mask) != (base[i] & mask)) return false;
  }
  return true;
}

std::optional<ClientIpResolver::IpRange> ClientIpResolver::ParseIpRange(std::string_view text) {
  text = TrimAsciiSpace(text);
  const std::size_t slash = text.find('/');
  const std::optional<IpBytes> base = ParseIp(text.substr(0, slash));
  if (!base) return std::nullopt;
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  IpRange range{*base, 128};
  if (slash != std::string_view::npos) {
    const std::string_view bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 ||
        !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    const int prefix = std::stoi(std::string(bits));
    if (prefix > (v4 ? 32 : 128)) return std::nullopt;
    range.prefix = v4 ? prefix + 96 : prefix;
  }
  return range;
}

ClientIpResolver::ClientIpResolver(const std::vector<std::string>& trusted_proxies) {
  for (const std::string& proxy : trusted_proxies) {
    if (std::optional<IpRange> range = ParseIpRange(proxy)) trusted_.push_back(*range);
  }
}

bool ClientIpResolver::Trusted(const IpBytes& ip) const {
  return std::any_of(trusted_.begin(), trusted_.end(),
                     [&](const IpRange& range) { return range.Contains(ip); });
}

std::string ClientIpResolver::Resolve(const HttpRequest& request) const {
  const std::optional<IpBytes> peer = ParseIp(request.peer_ip);
  if (!peer) return request.peer_ip;
  const std::string peer_text = FormatIp(*peer);
  if (!Trusted(*peer)) return peer_text;
  std::vector<std::string_view> hops;
  for (std::string_view header : HeaderValues(request, "x-forwarded-for")) {
    while (true) {
      const std::size_t comma = header.find(',');
      hops.push_back(header.substr(0, comma));
      if (comma == std::string_view::npos) break;
      header.remove_prefix(comma + 1);
    }
  }
  if (!hops.empty()) {
    std::optional<IpBytes> hop;
    for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
      hop = ParseIp(StripBrackets(TrimAsciiSpace(*it)));
      if (!hop) return peer_text;  // an unparsable hop makes the whole header untrustworthy
      if (!Trusted(*hop)) return FormatIp(*hop);
    }
    return FormatIp(*hop);  // all trusted: the farthest one
  }
  if (std::optional<std::string_view> real_ip = request.Header("x-real-ip")) {
    if (std::optional<IpBytes> ip = ParseIp(StripBrackets(TrimAsciiSpace(*real_ip)))) {
      return FormatIp(*ip);
    }
  }
  return peer_text;
}

}  // namespace passgate::gateway
