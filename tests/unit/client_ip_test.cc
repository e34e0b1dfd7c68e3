#include "gateway/client_ip.h"

#include <string>
#include <utility>
#include <vector>

#include "gateway/http_message.h"
#include "gtest/gtest.h"

namespace passgate::gateway {
namespace {

HttpRequest RequestFrom(std::string peer,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest request;
  request.method = "POST";
  request.path = "/password/login";
  request.peer_ip = std::move(peer);
  request.headers = std::move(headers);
  return request;
}

TEST(ClientIpResolverTest, TrustedProxiesTable) {
  const ClientIpResolver resolver({"10.0.0.0/8", " 192.168.1.1 ", "fd00::/8"});
  const struct {
    const char* peer;
    std::vector<std::pair<std::string, std::string>> headers;
    const char* expected;
  } kCases[] = {
      {"not-an-ip", {{"x-forwarded-for", "203.0.113.9"}}, "not-an-ip"},
      {"::ffff:198.51.100.7", {}, "198.51.100.7"},
      {"2001:DB8:0:0::1", {{"x-forwarded-for", "203.0.113.9"}}, "2001:db8::1"},
      {"192.168.1.1", {{"x-forwarded-for", "203.0.113.9"}}, "203.0.113.9"},
      {"192.168.1.2", {{"x-forwarded-for", "203.0.113.9"}}, "192.168.1.2"},
      {"::ffff:10.0.0.1", {{"x-forwarded-for", "203.0.113.9"}}, "203.0.113.9"},
      {"fd00::5", {{"x-forwarded-for", " [2001:db8::1] "}}, "2001:db8::1"},
      {"10.9.9.9", {{"x-forwarded-for", "10.1.1.1, 10.2.2.2"}}, "10.1.1.1"},
      {"10.9.9.9", {{"x-forwarded-for", "203.0.113.1, 198.51.100.2, 10.2.2.2"}}, "198.51.100.2"},
      {"10.9.9.9", {{"x-forwarded-for", "junk, 198.51.100.2"}}, "198.51.100.2"},
      {"10.9.9.9", {{"x-forwarded-for", "198.51.100.2, junk"}}, "10.9.9.9"},
      {"10.9.9.9", {{"x-forwarded-for", ""}}, "10.9.9.9"},
      {"10.9.9.9", {{"x-real-ip", "[2001:db8::2]"}}, "2001:db8::2"},
      {"10.9.9.9", {{"x-real-ip", "junk"}}, "10.9.9.9"},
      {"10.9.9.9",
       {{"x-real-ip", "203.0.113.2"}, {"x-forwarded-for", "203.0.113.1"}},
       "203.0.113.1"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(resolver.Resolve(RequestFrom(c.peer, c.headers)), c.expected) << c.peer;
  }
}

TEST(ClientIpResolverTest, UnparsableProxyEntriesAreIgnored) {
  const ClientIpResolver resolver({"bogus", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::/129"});
  EXPECT_EQ(resolver.Resolve(RequestFrom("10.0.0.1", {{"x-forwarded-for", "203.0.113.9"}})),
            "10.0.0.1");
}

TEST(ClientIpResolverTest, WithoutTrustedProxiesThePeerIsTheClient) {
  const ClientIpResolver resolver({});
  EXPECT_EQ(resolver.Resolve(RequestFrom(
                "127.0.0.1", {{"x-forwarded-for", "203.0.113.9"}, {"x-real-ip", "203.0.113.8"}})),
            "127.0.0.1");
}

}  // namespace
}  // namespace passgate::gateway
