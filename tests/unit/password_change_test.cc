#include "server/password_change.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
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

class PasswordChangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddUser(kJohnId, "john.doe+1@example.com", kBcryptHash);
    AddUser(kNoPasswordId, "john.doe@example.com", std::nullopt);
    clock_.Advance(seconds(600));  // changes happen later than the fixture was created
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

  // Caller builds the claims of a valid session of `subject`, as Validate would return them.
  SessionClaims Caller(const std::string& subject) {
    SessionClaims claims;
    claims.subject = subject;
    claims.issued_at = clock_.Now();
    claims.expiration = clock_.Now() + seconds(3600);
    claims.audience = {"localhost"};
    claims.session_id = "9a8f3b4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    return claims;
  }

  std::optional<storage::PasswordCredential> StoredPassword(const std::string& id) {
    absl::StatusOr<std::optional<storage::PasswordCredential>> found = store_->FindPassword(id);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() ? *found : std::nullopt;
  }

  const TimePoint kCreated = TimePoint(FakeClock::kStart);
  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
  FakeHasher hasher_;
  FakeClock clock_;
  RecordingAuditLog audit_;
  PasswordChange change_{*store_, hasher_, clock_, /*min_length=*/8, audit_};
};

// S1: PUT as b5dd…, body b5dd… / verybadpassword → 201 (created).
TEST_F(PasswordChangeTest, S1_CreatesPassword) {
  ASSERT_TRUE(change_.CheckRequest(kNoPasswordId, "verybadpassword").ok());
  const absl::StatusOr<bool> created =
      change_.Apply(Caller(kNoPasswordId), kNoPasswordId, "verybadpassword");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_TRUE(*created);

  const std::optional<storage::PasswordCredential> stored = StoredPassword(kNoPasswordId);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->hash, "fake$verybadpassword");
  EXPECT_EQ(stored->created_at, clock_.Now());
  EXPECT_EQ(stored->updated_at, clock_.Now());
  EXPECT_EQ(hasher_.hash_calls(), 1);
}

// S2: PUT as 38bf…, body 38bf… / verybadpassword → 200 (replaced).
TEST_F(PasswordChangeTest, S2_ReplacesPassword) {
  ASSERT_TRUE(change_.CheckRequest(kJohnId, "verybadpassword").ok());
  const absl::StatusOr<bool> created = change_.Apply(Caller(kJohnId), kJohnId, "verybadpassword");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_FALSE(*created);

  const std::optional<storage::PasswordCredential> stored = StoredPassword(kJohnId);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->hash, "fake$verybadpassword") << "the bcrypt hash is gone";
  EXPECT_EQ(stored->created_at, kCreated);
  EXPECT_EQ(stored->updated_at, clock_.Now());
}

// S3: password "very" → 400.
TEST_F(PasswordChangeTest, S3_TooShortPassword) {
  const absl::Status status = change_.CheckRequest(kNoPasswordId, "very");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()), "password must be at least 8 characters long");
}

// S4: 82-byte password → 400.
TEST_F(PasswordChangeTest, S4_TooLongPassword) {
  const std::string password(82, 'a');
  const absl::Status status = change_.CheckRequest(kNoPasswordId, password);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()), "password must not be longer than 72 bytes");
}

// S5: a valid session of a user that does not exist → 401.
TEST_F(PasswordChangeTest, S5_UnknownUserIsUnauthenticated) {
  const absl::StatusOr<bool> result =
      change_.Apply(Caller(kUnknownId), kUnknownId, "verybadpassword");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(std::string(result.status().message()), "Unauthorized");
  EXPECT_EQ(hasher_.hash_calls(), 0);
}

// S6: PUT as 38bf…, body b5dd… → 403.
TEST_F(PasswordChangeTest, S6_OtherUsersPasswordIsForbidden) {
  const absl::StatusOr<bool> result =
      change_.Apply(Caller(kJohnId), kNoPasswordId, "verybadpassword");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(result.status().message()), "Forbidden");
  EXPECT_FALSE(StoredPassword(kNoPasswordId).has_value()) << "nothing written";
  EXPECT_EQ(StoredPassword(kJohnId)->hash, kBcryptHash) << "the caller's own password untouched";
  EXPECT_EQ(hasher_.hash_calls(), 0);
}

TEST_F(PasswordChangeTest, CheckRequestTexts) {
  struct Case {
    std::string user_id;
    std::string password;
    std::string want;  // empty: OK
  };
  std::string umlauts36;
  for (int i = 0; i < 36; ++i) umlauts36 += "ä";
  const Case kCases[] = {
      {"", "", "user_id is a required field and password is a required field"},
      {"NOT-A-UUID", "", "user_id must be a valid uuid and password is a required field"},
      {"not-a-uuid", "verybadpassword", "user_id must be a valid uuid"},
      {"", "very", "user_id is a required field"},  // fields first, then length
      {kJohnId, "1234567", "password must be at least 8 characters long"},
      {kJohnId, "äöüäöüä", "password must be at least 8 characters long"},  // 7 runes, 14 bytes
      {kJohnId, "äöüäöüäö", ""},                                            // 8 runes, 16 bytes
      {kJohnId, "12345678", ""},
      {kJohnId, std::string(72, 'a'), ""},
      {kJohnId, std::string(73, 'a'), "password must not be longer than 72 bytes"},
      {kJohnId, umlauts36, ""},                                                 // 72 bytes
      {kJohnId, umlauts36 + "a", "password must not be longer than 72 bytes"},  // 73 bytes
      // The limit does not depend on the user existing.
      {kUnknownId, std::string(73, 'a'), "password must not be longer than 72 bytes"},
  };
  for (const Case& c : kCases) {
    const absl::Status status = change_.CheckRequest(c.user_id, c.password);
    const std::string input = "user_id=\"" + c.user_id + "\" password=\"" + c.password + "\"";
    if (c.want.empty()) {
      EXPECT_TRUE(status.ok()) << input << ": " << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << input;
      EXPECT_EQ(std::string(status.message()), c.want) << input;
    }
  }
}

TEST_F(PasswordChangeTest, MinLengthIsConfigurable) {
  const PasswordChange strict(*store_, hasher_, clock_, /*min_length=*/12, audit_);
  const absl::Status status = strict.CheckRequest(kJohnId, "verybadpass");  // 11
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(status.message()), "password must be at least 12 characters long");
  EXPECT_TRUE(strict.CheckRequest(kJohnId, "verybadpasswd").ok());
}

TEST_F(PasswordChangeTest, UnknownUserWinsOverForbidden) {
  // Hanko looks the body's user up before comparing it with the session's.
  const absl::StatusOr<bool> result = change_.Apply(Caller(kJohnId), kUnknownId, "verybadpassword");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(std::string(result.status().message()), "Unauthorized");
}

TEST_F(PasswordChangeTest, NewPasswordIsUsedNextTime) {
  ASSERT_TRUE(change_.Apply(Caller(kJohnId), kJohnId, "verybadpassword").ok());
  const std::optional<storage::PasswordCredential> stored = StoredPassword(kJohnId);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(hasher_.Verify("verybadpassword", stored->hash));
  EXPECT_FALSE(hasher_.Verify("SuperSecure", stored->hash));
}

// AddSession stores a live session of `user_id`.
void AddSession(storage::Store& store, const std::string& session_id, const std::string& user_id,
                TimePoint now) {
  storage::Session session;
  session.id = session_id;
  session.user_id = user_id;
  session.created_at = now;
  session.expires_at = now + seconds(3600);
  ASSERT_TRUE(store.CreateSession(session, 10, now).ok());
}

std::vector<std::string> SessionIds(storage::Store& store, const std::string& user_id) {
  std::vector<std::string> ids;
  absl::StatusOr<std::vector<storage::Session>> sessions = store.ListSessions(user_id);
  EXPECT_TRUE(sessions.ok()) << sessions.status();
  if (sessions.ok()) {
    for (const storage::Session& session : *sessions) ids.push_back(session.id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

TEST_F(PasswordChangeTest, ChangeEndsEveryOtherSessionOfTheUserButKeepsTheCallers) {
  const SessionClaims caller = Caller(kJohnId);
  AddSession(*store_, caller.session_id, kJohnId, clock_.Now());
  AddSession(*store_, "11111111-1111-4111-8111-111111111111", kJohnId, clock_.Now());
  AddSession(*store_, "22222222-2222-4222-8222-222222222222", kJohnId, clock_.Now());
  AddSession(*store_, "33333333-3333-4333-8333-333333333333", kNoPasswordId, clock_.Now());

  ASSERT_TRUE(change_.Apply(caller, kJohnId, "verybadpassword").ok());
  EXPECT_EQ(SessionIds(*store_, kJohnId), std::vector<std::string>{caller.session_id});
  EXPECT_EQ(SessionIds(*store_, kNoPasswordId),
            std::vector<std::string>{"33333333-3333-4333-8333-333333333333"})
      << "other users' sessions stay";
}

TEST_F(PasswordChangeTest, RevocationCanBeTurnedOff) {
  PasswordChange keep{*store_, hasher_, clock_, /*min_length=*/8, audit_,
                      /*revoke_other_sessions=*/false};
  const SessionClaims caller = Caller(kJohnId);
  AddSession(*store_, caller.session_id, kJohnId, clock_.Now());
  AddSession(*store_, "11111111-1111-4111-8111-111111111111", kJohnId, clock_.Now());

  ASSERT_TRUE(keep.Apply(caller, kJohnId, "verybadpassword").ok());
  EXPECT_EQ(SessionIds(*store_, kJohnId).size(), 2u);
}

TEST_F(PasswordChangeTest, RefusedChangeEndsNoSession) {
  AddSession(*store_, "11111111-1111-4111-8111-111111111111", kJohnId, clock_.Now());
  ASSERT_FALSE(change_.Apply(Caller(kNoPasswordId), kJohnId, "verybadpassword").ok());
  EXPECT_EQ(SessionIds(*store_, kJohnId).size(), 1u);
}

}  // namespace
}  // namespace passgate::server
