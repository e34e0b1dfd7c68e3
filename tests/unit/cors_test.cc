#include "gateway/cors.h"

#include <string>
#include <utility>
#include <vector>

#include "gateway/http_message.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passgate::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

using Headers = std::vector<std::pair<std::string, std::string>>;

HttpRequest RequestWithOrigin(std::string origin, Headers more = {}) {
  HttpRequest request;
  request.method = "OPTIONS";
  request.path = "/password/login";
  if (!origin.empty()) request.headers.emplace_back("origin", std::move(origin));
  for (auto& header : more) request.headers.push_back(std::move(header));
  return request;
}

TEST(CorsPolicyTest, AllowedOriginTable) {
  const struct {
    std::vector<std::string> allow_origins;
    bool unsafe_wildcard;
    std::string origin;
    std::string expected;
  } kCases[] = {
      {{}, false, "https://app.example", ""},
      {{"https://app.example"}, false, "https://app.example", "https://app.example"},
      {{"https://app.example"}, false, "https://evil.example", ""},
      {{"https://app.example"}, false, "", ""},
      {{"*"}, false, "https://app.example", ""},
      {{"*"}, true, "https://app.example", "https://app.example"},
      {{"https://*.example"}, false, "https://a.b.example", "https://a.b.example"},
      {{"https://*.example"}, false, "https://a.example.org", ""},
      {{"http://localhost:300?"}, false, "http://localhost:3001", "http://localhost:3001"},
      {{"http://localhost:300?"}, false, "http://localhost:30011", ""},
      {{"*example"}, false, "example", ""},  // patterns only apply to origins with "://"
      {{"https://*"},
       false,
       "https://" + std::string(253, 'a'),
       "https://" + std::string(253, 'a')},
      {{"https://*"}, false, "https://" + std::string(254, 'a'), ""},  // longer than 261 bytes
  };
  for (const auto& c : kCases) {
    const CorsPolicy cors(
        {.allow_origins = c.allow_origins, .unsafe_wildcard_origin_allowed = c.unsafe_wildcard});
    EXPECT_EQ(cors.AllowedOrigin(RequestWithOrigin(c.origin)), c.expected) << c.origin;
  }
}

TEST(CorsPolicyTest, DisabledAddsNothing) {
  const CorsPolicy cors({});
  EXPECT_FALSE(cors.enabled());
  Headers headers;
  cors.AddResponseHeaders("", /*preflight=*/false, headers);
  EXPECT_THAT(headers, IsEmpty());
}

TEST(CorsPolicyTest, ResponseHeadersForAnAllowedOrigin) {
  const CorsPolicy cors({.allow_origins = {"https://app.example"}, .expose_auth_token = true});
  Headers headers;
  cors.AddResponseHeaders("https://app.example", /*preflight=*/false, headers);
  EXPECT_THAT(headers, ElementsAre(Pair("Vary", "Origin"),
                                   Pair("Access-Control-Allow-Origin", "https://app.example"),
                                   Pair("Access-Control-Allow-Credentials", "true"),
                                   Pair("Access-Control-Expose-Headers",
                                        "Retry-After,X-RateLimit-Limit,X-RateLimit-Remaining,"
                                        "X-RateLimit-Reset,X-Session-Lifetime,X-Session-Retention,"
                                        "X-Auth-Token")));
  headers.clear();
  cors.AddResponseHeaders("", /*preflight=*/false, headers);
  EXPECT_THAT(headers, ElementsAre(Pair("Vary", "Origin")));
  headers.clear();
  cors.AddResponseHeaders("https://app.example", /*preflight=*/true, headers);
  EXPECT_THAT(headers, ElementsAre(Pair("Vary", "Origin")));
}

TEST(CorsPolicyTest, PreflightHeaders) {
  const CorsPolicy cors({.allow_origins = {"https://app.example"}});
  Headers headers;
  const HttpRequest request = RequestWithOrigin(
      "https://app.example", {{"access-control-request-headers", "content-type"}});
  cors.AddPreflightHeaders(request, "https://app.example", "OPTIONS, POST", headers);
  EXPECT_THAT(headers, ElementsAre(Pair("Access-Control-Allow-Origin", "https://app.example"),
                                   Pair("Access-Control-Allow-Credentials", "true"),
                                   Pair("Vary", "Access-Control-Request-Method"),
                                   Pair("Vary", "Access-Control-Request-Headers"),
                                   Pair("Access-Control-Allow-Methods", "OPTIONS, POST"),
                                   Pair("Access-Control-Allow-Headers", "content-type"),
                                   Pair("Access-Control-Max-Age", "7200")));
  headers.clear();
  cors.AddPreflightHeaders(request, "", "OPTIONS, POST", headers);
  EXPECT_THAT(headers, IsEmpty());
}

}  // namespace
}  // namespace passgate::gateway
