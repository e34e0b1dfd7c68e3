// The login rate limit in Redis (rate_limiter.store: redis), end to end: a Redis that cannot
// be reached refuses logins (fail closed) as rate_limiter.redis_config.on_unavailable says,
// and two `passgate serve` replicas on one Redis count down one limit.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <string>

#include "gmock/gmock.h"
#include "tests/integration/grpc_fixture.h"
#include "tests/integration/http_client.h"
#include "tests/scaleout/test_servers.h"

namespace passgate::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kRedisPassword[] = "redis-pw-must-never-be-logged-7c1e";


std::string UniquePrefix() {
  std::random_device device;
  return "passgate-itest:" + std::to_string(device()) + ":";
}

// RedisDownTest: passgate serve with its Redis address on a closed port.
class RedisDownTest : public PassgateServerTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.extra_sections =
        "rate_limiter:\n"
        "  store: redis\n"
        "  redis_config:\n"
        "    address: " +
        redis_address_ +
        "\n"
        "    password: " +
        kRedisPassword +
        "\n"
        "    timeout_ms: 2000\n"
        "    on_unavailable: " +
        OnUnavailable() + "\n";
    return extras;
  }
  virtual std::string OnUnavailable() const { return "unavailable"; }

  void ExpectWarningLogged() {
    const std::string log = server_->Log();
    EXPECT_THAT(log, HasSubstr("rate limiter: redis unavailable; logins refused"));
    EXPECT_THAT(log, HasSubstr("\"redis_address\":\"" + redis_address_ + "\""));
    EXPECT_THAT(log, HasSubstr("Connection refused"));
    EXPECT_THAT(log, Not(HasSubstr(kRedisPassword)));
  }

  const std::string redis_address_ = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
};

TEST_F(RedisDownTest, LoginsFailClosedWith503AndTheServiceKeepsRunning) {
  // The server started although Redis was down; each login is refused, right password too.
  for (const char* password : {"verybadpassword", "SuperSecure"}) {
    const HttpReply reply = PostLogin(server_->http_port(), kJohn, password);
    EXPECT_EQ(reply.status, 503) << password;
    EXPECT_EQ(reply.body, "{\"code\":503,\"message\":\"Service Unavailable\"}\n");
    EXPECT_FALSE(reply.Header("X-RateLimit-Limit").has_value());
    EXPECT_FALSE(reply.Header("Retry-After").has_value());
    EXPECT_FALSE(reply.Header("Set-Cookie").has_value());
  }
  const grpc::Status status = Login(kJohn, "SuperSecure");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "Service Unavailable");
  // Requests that fail validation are answered as before, without asking Redis.
  EXPECT_EQ(PostLogin(server_->http_port(), "not-a-uuid", "x").status, 400);
  ExpectWarningLogged();
}

class RedisDownTooManyRequestsTest : public RedisDownTest {
 protected:
  std::string OnUnavailable() const override { return "too_many_requests"; }
};

TEST_F(RedisDownTooManyRequestsTest, LoginsFailClosedWith429AndRetryAfterOne) {
  const HttpReply reply = PostLogin(server_->http_port(), kJohn, "SuperSecure");
  EXPECT_EQ(reply.status, 429);
  EXPECT_EQ(reply.body, "{\"code\":429,\"message\":\"Too Many Requests\"}\n");
  EXPECT_EQ(reply.Header("Retry-After"), "1");
  EXPECT_FALSE(reply.Header("X-RateLimit-Limit").has_value());
  EXPECT_FALSE(reply.Header("Set-Cookie").has_value());

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  passgate::v1::LoginRequest request;
  request.set_user_id(kJohn);
  request.set_password("SuperSecure");
  passgate::v1::LoginResponse response;
  const grpc::Status status = stub_->Login(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(status.error_message(), "Too Many Requests");
  const auto& trailers = context.GetServerTrailingMetadata();
  const auto retry_after = trailers.find("retry-after");
  ASSERT_NE(retry_after, trailers.end());
  EXPECT_EQ(std::string(retry_after->second.data(), retry_after->second.size()), "1");
  ExpectWarningLogged();
}

// Two replicas on one PostgreSQL database and one Redis (the test_servers fixture's; its
// password comes from PASSGATE_REDIS_PASSWORD): the scale-out deployment.
TEST(RedisReplicasTest, AlternatingWrongLoginsOnTwoReplicasCountDownOneLimit) {
  const TestServers& redis = SharedTestServers();
  TempDir dir;
  const std::string section =
      "rate_limiter:\n"
      "  store: redis\n"
      "  password_limits: {tokens: 5, interval: 1m}\n"
      "  redis_config:\n"
      "    address: " +
      redis.redis_address +
      "\n"
      "    timeout_ms: 5000\n"
      "    key_prefix: '" +
      UniquePrefix() + "'\n";
  ScratchPostgresDatabase database;
  TestConfigExtras extras;
  extras.database_url = database.url();
  extras.extra_sections = section;
  const std::string config = WriteTestConfig(dir, extras);
  const CommandResult imported = RunPassgate(
      {"user", "import", "--config", config,
       std::string(PASSGATE_SOURCE_DIR) + "/tests/integration/testdata/hanko_fixture_users.json"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  const std::vector<std::string> env = {"PASSGATE_REDIS_PASSWORD=" + redis.redis_password};
  std::unique_ptr<ServerProcess> replicas[2] = {
      ServerProcess::Start(config, dir.File("replica-a.log"), env),
      ServerProcess::Start(config, dir.File("replica-b.log"), env)};
  ASSERT_NE(replicas[0], nullptr);
  ASSERT_NE(replicas[1], nullptr);

  for (int i = 0; i < 5; ++i) {
    const HttpReply reply = PostLogin(replicas[i % 2]->http_port(), kJohn, "verybadpassword");
    EXPECT_EQ(reply.status, 401) << i;
    EXPECT_EQ(reply.Header("X-RateLimit-Limit"), "5") << i;
    EXPECT_EQ(reply.Header("X-RateLimit-Remaining"), std::to_string(4 - i)) << i;
  }
  // The sixth attempt, on the replica that has seen only two of the five, is refused.
  const HttpReply refused = PostLogin(replicas[1]->http_port(), kJohn, "SuperSecure");
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.Header("X-RateLimit-Remaining"), "0");
  ASSERT_TRUE(refused.Header("Retry-After").has_value());
  EXPECT_EQ(refused.Header("Retry-After"), refused.Header("X-RateLimit-Reset"));
  const int reset = std::stoi(refused.Header("Retry-After").value_or("0"));
  EXPECT_GE(reset, 1);
  EXPECT_LE(reset, 60);
  EXPECT_EQ(PostLogin(replicas[0]->http_port(), kJohn, "SuperSecure").status, 429);

  for (auto& replica : replicas) {
    EXPECT_THAT(replica->Log(), Not(HasSubstr(redis.redis_password)));
    EXPECT_THAT(replica->Log(), Not(HasSubstr("redis unavailable")));
    if (::testing::Test::HasFailure()) std::cerr << "replica log:\n" << replica->Log();
  }
}

}  // namespace
}  // namespace passgate::testing
