#include "server/client_identity.h"

#include <string>

#include "gtest/gtest.h"

namespace passgate::server {
namespace {

TEST(PeerIpTest, ExtractsIpFromGrpcPeerUri) {
  struct Case {
    std::string peer;
    std::string want;
  };
  const Case kCases[] = {
      {"ipv4:127.0.0.1:5000", "127.0.0.1"},
      {"ipv4:203.0.113.7:65535", "203.0.113.7"},
      {"ipv6:[::1]:5000", "::1"},
      {"ipv6:[2001:db8::42]:443", "2001:db8::42"},
      {"ipv6:[fe80::1%25eth0]:1", "fe80::1"},  // zone id dropped
      {"unix:/tmp/s", ""},
      {"unix-abstract:passgate", ""},
      {"inproc", ""},
      {"", ""},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(PeerIp(c.peer), c.want) << "\"" << c.peer << "\"";
  }
}

}  // namespace
}  // namespace passgate::server
