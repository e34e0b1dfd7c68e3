// Hanko's login rate limit (reference §6) and passgate's extra limits, end to end: the
// service counts, the gateway reports X-RateLimit-* and Retry-After.
#include <string>

#include "tests/integration/grpc_fixture.h"
#include "tests/integration/http_client.h"

namespace passgate::testing {
namespace {

class RateLimitTest : public PassgateServerTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.extra_sections =
        "rate_limiter:\n"
        "  enabled: true\n"
        "  password_limits: {tokens: 5, interval: 1m}\n"
        "  ip_limits: {tokens: 9, interval: 1m}\n"
        "  user_limits: {tokens: 100, interval: 1m}\n";
    extras.public_lines = PublicLines();
    return extras;
  }
  virtual std::string PublicLines() const { return ""; }

  HttpReply PostLogin(const std::string& user_id, const std::string& password,
                      const HeaderList& extra = {}) {
    return testing::PostLogin(server_->http_port(), user_id, password, extra);
  }
};

TEST_F(RateLimitTest, FiveCountedAttemptsThen429WithRetryAfter) {
  // Requests that fail validation are not counted and carry no limiter headers.
  for (int i = 0; i < 3; ++i) {
    const HttpReply invalid = PostLogin("not-a-uuid", "x");
    EXPECT_EQ(invalid.status, 400);
    EXPECT_FALSE(invalid.Header("X-RateLimit-Limit").has_value());
  }
  for (int i = 0; i < 5; ++i) {
    const HttpReply reply = PostLogin(kJohn, "verybadpassword");
    EXPECT_EQ(reply.status, 401) << i;
    EXPECT_EQ(reply.Header("X-RateLimit-Limit"), "5") << i;
    EXPECT_EQ(reply.Header("X-RateLimit-Remaining"), std::to_string(4 - i)) << i;
    const int reset = std::stoi(reply.Header("X-RateLimit-Reset").value_or("0"));
    EXPECT_GE(reset, 1) << i;
    EXPECT_LE(reset, 60) << i;
  }
  // The sixth is refused before the password is even checked: the right one too.
  const HttpReply refused = PostLogin(kJohn, "SuperSecure");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.body, "{\"code\":429,\"message\":\"Too Many Requests\"}\n");
  EXPECT_EQ(refused.Header("X-RateLimit-Remaining"), "0");
  ASSERT_TRUE(refused.Header("Retry-After").has_value());
  EXPECT_EQ(refused.Header("Retry-After"), refused.Header("X-RateLimit-Reset"));
  EXPECT_FALSE(refused.Header("Set-Cookie").has_value());

  // Over gRPC the same limit answers RESOURCE_EXHAUSTED with the metadata.
  grpc::ClientContext context;
  passgate::v1::LoginRequest request;
  request.set_user_id(kJohn);
  request.set_password("SuperSecure");
  passgate::v1::LoginResponse response;
  const grpc::Status status = stub_->Login(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(), "Too Many Requests");
}

TEST_F(RateLimitTest, ForgedForwardedForDoesNotResetTheBucket) {
  // Hanko believed any X-Forwarded-For; passgate only believes trusted proxies.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(PostLogin(kJohn, "verybadpassword",
                        {{"X-Forwarded-For", "198.51.100." + std::to_string(i)}})
                  .status,
              401);
  }
  EXPECT_EQ(PostLogin(kJohn, "verybadpassword", {{"X-Forwarded-For", "198.51.100.99"}}).status,
            429);
}

TEST_F(RateLimitTest, PerIpLimitSpansUsers) {
  // ip_limits: 9 per minute from one address, whatever the user.
  int refused = 0;
  for (int i = 0; i < 12; ++i) {
    char user[37];
    std::snprintf(user, sizeof user, "%08d-0000-4000-8000-000000000000", i);
    if (PostLogin(user, "verybadpassword").status == 429) ++refused;
  }
  EXPECT_EQ(refused, 3);
}

class TrustedProxyRateLimitTest : public RateLimitTest {
 protected:
  std::string PublicLines() const override { return "    trusted_proxies: [127.0.0.1]\n"; }
};

TEST_F(TrustedProxyRateLimitTest, ClientsBehindATrustedProxyHaveTheirOwnBuckets) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(PostLogin(kJohn, "verybadpassword", {{"X-Forwarded-For", "198.51.100.1"}}).status,
              401);
  }
  EXPECT_EQ(PostLogin(kJohn, "verybadpassword", {{"X-Forwarded-For", "198.51.100.1"}}).status,
            429);
  const HttpReply other = PostLogin(kJohn, "SuperSecure", {{"X-Forwarded-For", "198.51.100.2"}});
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.Header("X-RateLimit-Remaining"), "4");
}

}  // namespace
}  // namespace passgate::testing
