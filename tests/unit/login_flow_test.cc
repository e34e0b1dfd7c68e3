#include "server/login_flow.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/key_ring.h"
#include "server/session_tokens.h"
#include "storage/memory_store.h"
#include "tests/unit/fakes.h"

namespace passgate::server {
namespace {

using std::chrono::seconds;
using testing::FakeClock;
using testing::FakeHasher;
using testing::RecordingAuditLog;

// Hanko's fixture users (reference §12).
constexpr char kJohnId[] = "38bf5a00-d7ea-40a5-a5de-48722c148925";        // has a password
constexpr char kNoPasswordId[] = "b5dd5267-b462-48be-b70d-bcd6f1bbe7a5";  // no password
constexpr char kUnknownId[] = "6a565180-2366-45b1-8785-39f7902c7f2e";
constexpr char kBcryptHash[] = "$2a$12$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVli";
constexpr char kPassword[] = "SuperSecure";

class LoginFlowTest : public ::testing::Test {
 protected:
  LoginFlowTest() {
    KeyRingOptions options;
    options.algorithm = KeyAlgorithm::kES256;  // fast key generation
    options.secrets = {"0123456789abcdef0123456789abcdef"};
    absl::StatusOr<std::unique_ptr<KeyRing>> keys = KeyRing::Load(*store_, options, clock_);
    EXPECT_TRUE(keys.ok()) << keys.status();
    if (keys.ok()) keys_ = *std::move(keys);
    SessionPolicy policy;
    policy.lifespan = seconds(3600);
    if (keys_ != nullptr) {
      tokens_ = std::make_unique<SessionTokens>(*store_, *keys_, clock_, policy);
      flow_ = std::make_unique<LoginFlow>(*store_, hasher_, *tokens_, clock_, audit_);
    }
  }

  void SetUp() override {
    ASSERT_NE(flow_, nullptr);
    AddUser(kJohnId, "john.doe+1@example.com", "fake$" + std::string(kPassword));
    AddUser(kNoPasswordId, "john.doe@example.com", std::nullopt);
  }

  void AddUser(const std::string& id, const std::string& email,
               const std::optional<std::string>& hash) {
    storage::User user;
    user.id = id;
    user.emails = {{email, true, true}};
    user.created_at = user.updated_at = kCreated;
    std::optional<storage::PasswordCredential> credential;
    if (hash) credential = storage::PasswordCredential{id, *hash, kCreated, kCreated};
    const absl::Status created = store_->CreateUser(user, credential);
    ASSERT_TRUE(created.ok()) << created;
  }

  void ReplaceHash(const std::string& id, const std::string& hash) {
    const absl::StatusOr<bool> set = store_->SetPassword(id, hash, kCreated);
    ASSERT_TRUE(set.ok()) << set.status();
  }

  storage::PasswordCredential StoredPassword(const std::string& id) {
    absl::StatusOr<std::optional<storage::PasswordCredential>> found = store_->FindPassword(id);
    EXPECT_TRUE(found.ok() && found->has_value()) << id;
    return found.ok() && found->has_value() ? **found : storage::PasswordCredential{};
  }

  std::size_t SessionCount(const std::string& id) {
    absl::StatusOr<std::vector<storage::Session>> rows = store_->ListSessions(id);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? rows->size() : 0;
  }

  static void ExpectUnauthorized(const absl::StatusOr<IssuedSession>& result,
                                 const std::string& what) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << what;
    EXPECT_EQ(std::string(result.status().message()), "Unauthorized") << what;
  }

  const TimePoint kCreated = TimePoint(FakeClock::kStart);
  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
  FakeHasher hasher_;
  FakeClock clock_;
  std::unique_ptr<KeyRing> keys_;
  std::unique_ptr<SessionTokens> tokens_;
  RecordingAuditLog audit_;
  std::unique_ptr<LoginFlow> flow_;
  const ClientInfo client_{"198.51.100.4", "hanko-frontend-sdk/0.12.0", "req-7"};
};

TEST_F(LoginFlowTest, CheckRequestGivesHankosBadRequestTexts) {
  struct Case {
    std::string user_id;
    std::string password;
    std::string want;  // empty: OK
  };
  const Case kCases[] = {
      {"", "", "user_id is a required field and password is a required field"},
      {"", kPassword, "user_id is a required field"},
      {kJohnId, "", "password is a required field"},
      {"38BF5A00-D7EA-40A5-A5DE-48722C148925", kPassword, "user_id must be a valid uuid"},
      {"nope", "", "user_id must be a valid uuid and password is a required field"},
      // Field errors come before the length check.
      {"nope", std::string(73, 'a'), "user_id must be a valid uuid"},
      // passgate deviates from Hanko: the 72-byte limit does not depend on the user existing.
      {kUnknownId, std::string(73, 'a'), "password must not be longer than 72 bytes"},
      {kJohnId, std::string(73, 'a'), "password must not be longer than 72 bytes"},
      {kNoPasswordId, std::string(73, 'a'), "password must not be longer than 72 bytes"},
      {kJohnId, std::string(72, 'a'), ""},
      // No minimum length at login.
      {kJohnId, "very", ""},
      {kUnknownId, "x", ""},
  };
  for (const Case& c : kCases) {
    const absl::Status status = LoginFlow::CheckRequest(c.user_id, c.password);
    const std::string input =
        "user_id=\"" + c.user_id + "\" password=" + std::to_string(c.password.size()) + " bytes";
    if (c.want.empty()) {
      EXPECT_TRUE(status.ok()) << input << ": " << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << input;
      EXPECT_EQ(std::string(status.message()), c.want) << input;
    }
  }
}

TEST_F(LoginFlowTest, CorrectPasswordIssuesSession) {
  const absl::StatusOr<IssuedSession> session = flow_->Authenticate(kJohnId, kPassword, client_);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_FALSE(session->token.empty());
  EXPECT_EQ(session->claims.subject, kJohnId);
  ASSERT_TRUE(session->claims.email.has_value());
  EXPECT_EQ(session->claims.email->address, "john.doe+1@example.com");

  const absl::StatusOr<std::optional<storage::Session>> row =
      store_->FindSession(session->claims.session_id);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->user_id, kJohnId);
  EXPECT_EQ((*row)->ip, "198.51.100.4");
  EXPECT_EQ((*row)->user_agent, "hanko-frontend-sdk/0.12.0");
  EXPECT_TRUE(tokens_->Validate(session->token).ok());

  EXPECT_EQ(hasher_.verify_calls(), 1);
  EXPECT_EQ(hasher_.dummy_verify_calls(), 0);
}

TEST_F(LoginFlowTest, WrongPasswordIsUnauthorizedWithoutSession) {
  ExpectUnauthorized(flow_->Authenticate(kJohnId, "verybadpassword", client_), "wrong password");
  EXPECT_EQ(SessionCount(kJohnId), 0u);
  EXPECT_EQ(hasher_.verify_calls(), 1);
  EXPECT_EQ(hasher_.dummy_verify_calls(), 0);
  EXPECT_EQ(hasher_.hash_calls(), 0);
}

TEST_F(LoginFlowTest, UnknownUserLooksLikeWrongPassword) {
  ExpectUnauthorized(flow_->Authenticate(kUnknownId, "verybadpassword", client_), "unknown user");
  EXPECT_EQ(SessionCount(kUnknownId), 0u);
  EXPECT_EQ(hasher_.dummy_verify_calls(), 1) << "a full dummy verification hides the timing";
  EXPECT_EQ(hasher_.verify_calls(), 0);
}

TEST_F(LoginFlowTest, UserWithoutPasswordLooksLikeWrongPassword) {
  ExpectUnauthorized(flow_->Authenticate(kNoPasswordId, kPassword, client_), "no password");
  EXPECT_EQ(SessionCount(kNoPasswordId), 0u);
  EXPECT_EQ(hasher_.dummy_verify_calls(), 1) << "a full dummy verification hides the timing";
  EXPECT_EQ(hasher_.verify_calls(), 0);
}

TEST_F(LoginFlowTest, FailuresAreIndistinguishable) {
  struct Case {
    const char* user_id;
    const char* password;
  };
  const Case kCases[] = {
      {kJohnId, "verybadpassword"},
      {kUnknownId, "verybadpassword"},
      {kNoPasswordId, "verybadpassword"},
      {kUnknownId, kPassword},
  };
  const absl::Status reference = flow_->Authenticate(kJohnId, "x", client_).status();
  for (const Case& c : kCases) {
    const absl::Status status = flow_->Authenticate(c.user_id, c.password, client_).status();
    // Code, message and payloads: nothing tells the cases apart.
    EXPECT_EQ(status, reference) << c.user_id << " / " << c.password;
  }
  EXPECT_EQ(hasher_.verify_calls() + hasher_.dummy_verify_calls(), 5)
      << "every failure does exactly one verification";
}

TEST_F(LoginFlowTest, EveryOutcomeIsAuditedWithItsReason) {
  ASSERT_TRUE(flow_->Authenticate(kJohnId, kPassword, client_).ok());
  (void)flow_->Authenticate(kJohnId, "verybadpassword", client_);
  (void)flow_->Authenticate(kNoPasswordId, "verybadpassword", client_);
  (void)flow_->Authenticate(kUnknownId, "verybadpassword", client_);
  const std::vector<AuditEvent> events = audit_.events();
  ASSERT_EQ(events.size(), 4u);
  const struct {
    const char* type;
    const char* reason;
    const char* user_id;
    const char* email;
  } want[] = {
      {"password_login_succeeded", "", kJohnId, "john.doe+1@example.com"},
      {"password_login_failed", "hash mismatch", kJohnId, "john.doe+1@example.com"},
      {"password_login_failed", "no credential", kNoPasswordId, "john.doe@example.com"},
      {"password_login_failed", "unknown user", kUnknownId, ""},
  };
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].type, want[i].type) << i;
    EXPECT_EQ(events[i].reason, want[i].reason) << i;
    EXPECT_EQ(events[i].user_id, want[i].user_id) << i;
    EXPECT_EQ(events[i].email, want[i].email) << i;
    EXPECT_EQ(events[i].client.ip, "198.51.100.4") << i;
  }
}

TEST_F(LoginFlowTest, BcryptHashIsUpgradedAfterLogin) {
  ReplaceHash(kJohnId, kBcryptHash);
  hasher_.AcceptLegacy(kBcryptHash, kPassword);
  clock_.Advance(seconds(60));

  const absl::StatusOr<IssuedSession> session = flow_->Authenticate(kJohnId, kPassword, client_);
  ASSERT_TRUE(session.ok()) << session.status();
  const storage::PasswordCredential stored = StoredPassword(kJohnId);
  EXPECT_EQ(stored.hash, "fake$SuperSecure") << "rehashed with the configured hasher";
  EXPECT_EQ(stored.updated_at, clock_.Now());
  EXPECT_EQ(hasher_.hash_calls(), 1);

  // The next login verifies the new hash and does not rehash again.
  ASSERT_TRUE(flow_->Authenticate(kJohnId, kPassword, client_).ok());
  EXPECT_EQ(hasher_.hash_calls(), 1);
  EXPECT_EQ(StoredPassword(kJohnId).hash, "fake$SuperSecure");
}

TEST_F(LoginFlowTest, BcryptHashIsKeptAfterWrongPassword) {
  ReplaceHash(kJohnId, kBcryptHash);
  hasher_.AcceptLegacy(kBcryptHash, kPassword);
  ExpectUnauthorized(flow_->Authenticate(kJohnId, "verybadpassword", client_), "wrong password");
  EXPECT_EQ(StoredPassword(kJohnId).hash, kBcryptHash);
  EXPECT_EQ(hasher_.hash_calls(), 0);
}

TEST_F(LoginFlowTest, UpToDateHashIsNotRewritten) {
  clock_.Advance(seconds(60));
  ASSERT_TRUE(flow_->Authenticate(kJohnId, kPassword, client_).ok());
  const storage::PasswordCredential stored = StoredPassword(kJohnId);
  EXPECT_EQ(stored.hash, "fake$SuperSecure");
  EXPECT_EQ(stored.updated_at, kCreated) << "no write at all";
  EXPECT_EQ(hasher_.hash_calls(), 0);
}

TEST_F(LoginFlowTest, ShortCorrectPasswordLogsIn) {
  // There is no minimum length at login, only when setting a password.
  ReplaceHash(kJohnId, "fake$abc");
  ASSERT_TRUE(LoginFlow::CheckRequest(kJohnId, "abc").ok());
  const absl::StatusOr<IssuedSession> session = flow_->Authenticate(kJohnId, "abc", client_);
  ASSERT_TRUE(session.ok()) << session.status();
  EXPECT_EQ(session->claims.subject, kJohnId);
  ExpectUnauthorized(flow_->Authenticate(kJohnId, "abd", client_), "short wrong password");
}

}  // namespace
}  // namespace passgate::server

namespace passgate::server {
namespace {

TEST(MaskEmailTest, KeepsFirstCharacterAndDomain) {
  EXPECT_EQ(MaskEmail("john.doe+1@example.com"), "j*********@example.com");
  EXPECT_EQ(MaskEmail("a@example.com"), "a@example.com");
  EXPECT_EQ(MaskEmail("@example.com"), "@example.com");
  EXPECT_EQ(MaskEmail("no-at-sign"), "**********");
}

}  // namespace
}  // namespace passgate::server
