// Two real `passgate serve` processes on one PostgreSQL database behave as one node: shared
// keys from an empty database, tokens and revocations across replicas, one session limit,
// key rotation without restarts, and a PostgreSQL outage answered with UNAVAILABLE/503 and
// recovered from without a restart. (The shared Redis rate limit has its own test.)
#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "storage/postgres_schema.h"
#include "tests/integration/grpc_fixture.h"
#include "tests/integration/http_client.h"
#include "tests/scaleout/test_servers.h"

namespace passgate::testing {
namespace {

using passgate::v1::PasswordAuth;

constexpr char kFixtureUsers[] = PASSGATE_SOURCE_DIR
    "/tests/integration/testdata/hanko_fixture_users.json";

std::unique_ptr<grpc::ClientContext> Context(int deadline_seconds = 30) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(deadline_seconds));
  return context;
}

std::set<std::string> JwksKids(PasswordAuth::Stub& stub) {
  passgate::v1::Jwks jwks;
  const grpc::Status status = stub.GetJwks(Context().get(), {}, &jwks);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::set<std::string> kids;
  for (const auto& key : jwks.keys()) kids.insert(key.kid());
  return kids;
}

// Validate returns the gRPC status and, when OK, whether the token is valid.
grpc::Status Validate(PasswordAuth::Stub& stub, const std::string& token, bool* valid) {
  passgate::v1::ValidateSessionRequest request;
  request.set_session_token(token);
  passgate::v1::ValidateSessionResponse response;
  const grpc::Status status = stub.ValidateSession(Context().get(), request, &response);
  *valid = response.is_valid();
  return status;
}

bool IsValidOn(PasswordAuth::Stub& stub, const std::string& token) {
  bool valid = false;
  const grpc::Status status = Validate(stub, token, &valid);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return valid;
}

class ReplicasTest : public ::testing::Test {
 protected:
  // StartReplicas starts A and B at the same moment on `database_url` (empty database: they
  // race to migrate it and create its signing key), then imports Hanko's fixture users.
  void StartReplicas(const std::string& database_url) {
    TestConfigExtras extras;
    extras.database_url = database_url;
    extras.secrets_lines = "  key_refresh_interval: 1s\n  key_activation_delay: 2s\n";
    extras.session_lines = "  limit: 3\n";
    config_ = WriteTestConfig(dir_, extras);
    std::thread start_a([&] { a_ = ServerProcess::Start(config_, dir_.File("a.log")); });
    std::thread start_b([&] { b_ = ServerProcess::Start(config_, dir_.File("b.log")); });
    start_a.join();
    start_b.join();
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
    stub_a_ = PasswordAuth::NewStub(
        grpc::CreateChannel(a_->address(), grpc::InsecureChannelCredentials()));
    stub_b_ = PasswordAuth::NewStub(
        grpc::CreateChannel(b_->address(), grpc::InsecureChannelCredentials()));
    const CommandResult imported = RunPassgate({"user", "import", "--config", config_, kFixtureUsers});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
  }

  void TearDown() override {
    if (HasFailure()) {
      if (a_ != nullptr) std::cerr << "replica A log:\n" << a_->Log();
      if (b_ != nullptr) std::cerr << "replica B log:\n" << b_->Log();
    }
  }

  std::string TokenFrom(PasswordAuth::Stub& stub) {
    passgate::v1::LoginResponse response;
    const grpc::Status status = LoginWith(stub, kJohn, "SuperSecure", &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.session_token();
  }

  TempDir dir_;
  std::string config_;
  std::unique_ptr<ServerProcess> a_;
  std::unique_ptr<ServerProcess> b_;
  std::unique_ptr<PasswordAuth::Stub> stub_a_;
  std::unique_ptr<PasswordAuth::Stub> stub_b_;
};

TEST_F(ReplicasTest, StartTogetherOnAnEmptyDatabaseAndShareOneKey) {
  ScratchPostgresDatabase database;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(database.url()));
  const std::set<std::string> kids_a = JwksKids(*stub_a_);
  EXPECT_EQ(kids_a.size(), 1u);
  EXPECT_EQ(JwksKids(*stub_b_), kids_a);
  // A token of either verifies on the other.
  EXPECT_TRUE(IsValidOn(*stub_b_, TokenFrom(*stub_a_)));
  EXPECT_TRUE(IsValidOn(*stub_a_, TokenFrom(*stub_b_)));
}

TEST_F(ReplicasTest, RevocationOnOneIsRefusedOnTheOtherAtOnceEvenWithItsCacheWarm) {
  ScratchPostgresDatabase database;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(database.url()));
  passgate::v1::LoginResponse login;
  ASSERT_TRUE(LoginWith(*stub_a_, kJohn, "SuperSecure", &login).ok());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(IsValidOn(*stub_b_, login.session_token())) << i;

  passgate::v1::RevokeSessionRequest revoke;
  revoke.set_session_id(login.session_id());
  passgate::v1::RevokeSessionResponse revoked;
  const grpc::Status status =
      stub_a_->RevokeSession(BearerContext(login.session_token()).get(), revoke, &revoked);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(IsValidOn(*stub_b_, login.session_token()));
  EXPECT_FALSE(IsValidOn(*stub_a_, login.session_token()));
}

TEST_F(ReplicasTest, ConcurrentLoginsOnBothKeepTheSessionLimit) {
  ScratchPostgresDatabase database;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(database.url()));
  constexpr int kLogins = 8;
  std::vector<std::string> tokens(kLogins);
  std::vector<std::thread> threads;
  for (int i = 0; i < kLogins; ++i) {
    threads.emplace_back([&, i] { tokens[i] = TokenFrom(i % 2 == 0 ? *stub_a_ : *stub_b_); });
  }
  for (std::thread& thread : threads) thread.join();
  const CommandResult listed = RunPassgate({"session", "list", kJohn, "--config", config_});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 3) << listed.out;
  int valid = 0;
  for (const std::string& token : tokens) valid += IsValidOn(*stub_a_, token) ? 1 : 0;
  EXPECT_EQ(valid, 3) << "session.limit is 3 across both replicas";
}

TEST_F(ReplicasTest, RotationReachesBothWithinTheRefreshIntervalAndSignsOnlyOnceEverywhere) {
  ScratchPostgresDatabase database;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(database.url()));
  const std::set<std::string> before = JwksKids(*stub_a_);
  const CommandResult rotated = RunPassgate({"jwk", "rotate", "--config", config_});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  const std::string kid = rotated.out.substr(0, 36);

  // Published by both within the 1 s refresh interval (allow for a slow machine).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline &&
         !(JwksKids(*stub_a_).count(kid) == 1 && JwksKids(*stub_b_).count(kid) == 1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(JwksKids(*stub_a_).count(kid), 1u);
  EXPECT_EQ(JwksKids(*stub_b_).count(kid), 1u);
  EXPECT_EQ(JwksKids(*stub_b_).size(), before.size() + 1);

  // Until and after its activation (2 s), every token either replica issues verifies on the
  // other; the new key starts signing on both.
  bool signed_with_new_key = false;
  while (std::chrono::steady_clock::now() < deadline && !signed_with_new_key) {
    for (PasswordAuth::Stub* issuer : {stub_a_.get(), stub_b_.get()}) {
      const std::string token = TokenFrom(*issuer);
      PasswordAuth::Stub& other = issuer == stub_a_.get() ? *stub_b_ : *stub_a_;
      EXPECT_TRUE(IsValidOn(other, token));
      signed_with_new_key = signed_with_new_key || DecodeJwtPart(token, 0)["kid"] == kid;
    }
  }
  EXPECT_TRUE(signed_with_new_key);
}

TEST_F(ReplicasTest, PostgresOutageAnswersUnavailableAndServiceResumesByItself) {
  PrivatePostgres postgres;
  ASSERT_NO_FATAL_FAILURE(StartReplicas(postgres.url()));
  passgate::v1::LoginResponse before;
  ASSERT_TRUE(LoginWith(*stub_a_, kJohn, "SuperSecure", &before).ok());

  postgres.Kill();
  {
    // Clean answers well within the deadline: UNAVAILABLE, never a hang or an INTERNAL.
    passgate::v1::LoginRequest request;
    request.set_user_id(kJohn);
    request.set_password("SuperSecure");
    passgate::v1::LoginResponse response;
    const grpc::Status login = stub_a_->Login(Context(15).get(), request, &response);
    EXPECT_EQ(login.error_code(), grpc::StatusCode::UNAVAILABLE) << login.error_message();
    bool valid = true;
    const grpc::Status validate = Validate(*stub_b_, before.session_token(), &valid);
    EXPECT_EQ(validate.error_code(), grpc::StatusCode::UNAVAILABLE) << validate.error_message();
    const HttpReply http = PostLogin(b_->http_port(), kJohn, "SuperSecure");
    EXPECT_EQ(http.status, 503) << http.body;
    EXPECT_EQ(http.body, "{\"code\":503,\"message\":\"Service Unavailable\"}\n");
  }

  postgres.Restart();
  // Service resumes without restarting passgate.
  grpc::Status after;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    after = LoginWith(*stub_b_, kJohn, "SuperSecure", nullptr);
    if (!after.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  } while (!after.ok() && std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(after.ok()) << after.error_message();
  EXPECT_TRUE(LoginWith(*stub_a_, kJohn, "SuperSecure", nullptr).ok());
  // Nothing acknowledged before the crash was lost: the session still validates on both.
  EXPECT_TRUE(IsValidOn(*stub_a_, before.session_token()));
  EXPECT_TRUE(IsValidOn(*stub_b_, before.session_token()));
}

TEST(PostgresCliTest, OperatorCommandsWorkOnPostgres) {
  ScratchPostgresDatabase database;
  TempDir dir;
  TestConfigExtras extras;
  extras.database_url = database.url();
  const std::string config = WriteTestConfig(dir, extras);
  for (int run = 0; run < 2; ++run) {  // idempotent
    const CommandResult migrated = RunPassgate({"migrate", "--config", config});
    ASSERT_EQ(migrated.exit_code, 0) << migrated.err;
    EXPECT_EQ(migrated.out, absl::StrCat("postgres database at schema version ",
                                         storage::kPostgresSchemaVersion, "\n"));
  }
  const CommandResult created = RunPassgate(
      {"user", "create", "--email", "ops@example.com", "--password-stdin", "--config", config},
      "correct horse battery\n");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = created.out.substr(0, 36);
  const CommandResult issued = RunPassgate({"session", "issue", id, "--config", config});
  ASSERT_EQ(issued.exit_code, 0) << issued.err;
  const CommandResult listed = RunPassgate({"session", "list", id, "--config", config});
  EXPECT_EQ(std::count(listed.out.begin(), listed.out.end(), '\n'), 1) << listed.out;
  const CommandResult keys = RunPassgate({"jwk", "list", "--config", config});
  EXPECT_EQ(std::count(keys.out.begin(), keys.out.end(), '\n'), 2) << keys.out;
  const CommandResult exported = RunPassgate({"user", "export", "--config", config});
  EXPECT_NE(exported.out.find("ops@example.com"), std::string::npos) << exported.out;
  // A bad URL names the key and never echoes the password.
  TempDir bad_dir;
  TestConfigExtras bad;
  bad.database_url = "postgres://passgate:hunter2-secret@127.0.0.1:1/x";
  const CommandResult refused =
      RunPassgate({"migrate", "--config", WriteTestConfig(bad_dir, bad)});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("postgres"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find("hunter2"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace passgate::testing
