#include "server/session_tokens.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/jose.h"
#include "server/key_ring.h"
#include "server/uuid.h"
#include "storage/memory_store.h"
#include "tests/unit/fakes.h"

namespace passgate::server {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testing::FakeClock;

constexpr char kJohnId[] = "38bf5a00-d7ea-40a5-a5de-48722c148925";
constexpr char kNoPrimaryId[] = "b5dd5267-b462-48be-b70d-bcd6f1bbe7a5";
constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";  // 32 chars

bool IsUuidV4(const std::string& s) {
  static const std::regex kUuidV4(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  return std::regex_match(s, kUuidV4);
}

std::vector<std::string> SplitToken(const std::string& token) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = token.find('.', start);
    parts.push_back(token.substr(start, dot == std::string::npos ? dot : dot - start));
    if (dot == std::string::npos) return parts;
    start = dot + 1;
  }
}

// DecodePart returns the JSON of a token's header (0) or payload (1).
json DecodePart(const std::string& token, int index) {
  const std::vector<std::string> parts = SplitToken(token);
  EXPECT_EQ(parts.size(), 3u) << token;
  if (parts.size() != 3) return json();
  const std::optional<std::string> decoded = Base64UrlDecode(parts[index]);
  EXPECT_TRUE(decoded.has_value()) << parts[index];
  return json::parse(decoded.value_or("null"), nullptr, /*allow_exceptions=*/false);
}

std::set<std::string> Keys(const json& object) {
  std::set<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.insert(key);
  return keys;
}

class SessionTokensTest : public ::testing::Test {
 protected:
  // Sub-second start: tokens carry whole seconds and the row must agree with them.
  static constexpr auto kStart = FakeClock::kStart + std::chrono::milliseconds(250);

  SessionTokensTest() : clock_(TimePoint(kStart)) {
    KeyRingOptions options;
    options.algorithm = KeyAlgorithm::kES256;  // fast key generation
    options.secrets = {kSecret};
    absl::StatusOr<std::unique_ptr<KeyRing>> keys = KeyRing::Load(*store_, options, clock_);
    EXPECT_TRUE(keys.ok()) << keys.status();
    if (keys.ok()) keys_ = *std::move(keys);
  }

  void SetUp() override {
    ASSERT_NE(keys_, nullptr);
    john_.id = kJohnId;
    john_.emails = {{"john.doe+1@example.com", true, true},
                    {"john.other@example.com", false, false}};
    john_.created_at = john_.updated_at = clock_.Now();
    ASSERT_TRUE(store_->CreateUser(john_, std::nullopt).ok());

    no_primary_.id = kNoPrimaryId;
    no_primary_.emails = {{"john.doe@example.com", false, true}};
    no_primary_.created_at = no_primary_.updated_at = clock_.Now();
    ASSERT_TRUE(store_->CreateUser(no_primary_, std::nullopt).ok());
  }

  static SessionPolicy Policy(std::vector<std::string> audience = {"localhost"},
                              std::string issuer = "") {
    SessionPolicy policy;
    policy.lifespan = seconds(3600);
    policy.audience = std::move(audience);
    policy.issuer = std::move(issuer);
    policy.limit = 5;
    return policy;
  }

  SessionTokens Tokens(SessionPolicy policy = Policy()) {
    return SessionTokens(*store_, *keys_, clock_, std::move(policy));
  }

  IssuedSession MustIssue(const SessionTokens& tokens, const storage::User& user) {
    absl::StatusOr<IssuedSession> issued = tokens.Issue(user, client_);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return issued.ok() ? *std::move(issued) : IssuedSession{};
  }

  static void ExpectUnauthorized(const absl::StatusOr<SessionClaims>& result,
                                 const std::string& what) {
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << what;
    EXPECT_EQ(std::string(result.status().message()), "Unauthorized") << what;
  }

  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
  FakeClock clock_;
  std::unique_ptr<KeyRing> keys_;
  storage::User john_;
  storage::User no_primary_;
  ClientInfo client_{"203.0.113.7", "Mozilla/5.0 (test)", "req-1"};
};

TEST_F(SessionTokensTest, IssueStoresSessionRowWithClient) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);

  const absl::StatusOr<std::optional<storage::Session>> row =
      store_->FindSession(issued.claims.session_id);
  ASSERT_TRUE(row.ok()) << row.status();
  ASSERT_TRUE(row->has_value());
  const storage::Session& session = **row;
  EXPECT_EQ(session.id, issued.claims.session_id);
  EXPECT_EQ(session.user_id, kJohnId);
  EXPECT_EQ(session.ip, "203.0.113.7");
  EXPECT_EQ(session.user_agent, "Mozilla/5.0 (test)");
  // The row keeps the precise time (it orders sessions); the token has whole seconds.
  EXPECT_EQ(session.created_at, clock_.Now());
  EXPECT_EQ(issued.claims.issued_at, TimePoint(FakeClock::kStart));
  EXPECT_EQ(session.expires_at, TimePoint(FakeClock::kStart + seconds(3600)));
  EXPECT_EQ(issued.claims.expiration, session.expires_at);
  EXPECT_EQ(tokens.lifespan(), seconds(3600));
}

TEST_F(SessionTokensTest, TokenCarriesExactlyHankosClaims) {
  const IssuedSession issued = MustIssue(Tokens(), john_);

  const json header = DecodePart(issued.token, 0);
  EXPECT_EQ(header.value("alg", ""), "ES256") << header;
  EXPECT_EQ(header.value("typ", ""), "JWT") << header;
  EXPECT_TRUE(IsUuidV4(header.value("kid", ""))) << header;

  const json payload = DecodePart(issued.token, 1);
  ASSERT_TRUE(payload.is_object()) << payload;
  EXPECT_EQ(Keys(payload),
            (std::set<std::string>{"sub", "iat", "exp", "aud", "session_id", "email"}))
      << payload;
  EXPECT_EQ(payload["sub"], kJohnId);
  ASSERT_TRUE(payload["iat"].is_number_integer()) << payload;
  ASSERT_TRUE(payload["exp"].is_number_integer()) << payload;
  EXPECT_EQ(payload["iat"].get<std::int64_t>(), FakeClock::kStart.count());
  EXPECT_EQ(payload["exp"].get<std::int64_t>() - payload["iat"].get<std::int64_t>(), 3600);
  EXPECT_EQ(payload["aud"], json::array({"localhost"})) << "aud is always an array";
  EXPECT_EQ(payload["session_id"], issued.claims.session_id);
  EXPECT_TRUE(IsUuidV4(payload["session_id"].get<std::string>())) << payload;
  EXPECT_EQ(
      payload["email"],
      (json{{"address", "john.doe+1@example.com"}, {"is_primary", true}, {"is_verified", true}}))
      << "the primary email only";
  EXPECT_FALSE(payload.contains("iss"));
  EXPECT_FALSE(payload.contains("nbf"));
  EXPECT_FALSE(payload.contains("jti"));
}

TEST_F(SessionTokensTest, NoEmailClaimWithoutPrimaryEmail) {
  const IssuedSession issued = MustIssue(Tokens(), no_primary_);
  const json payload = DecodePart(issued.token, 1);
  EXPECT_EQ(Keys(payload), (std::set<std::string>{"sub", "iat", "exp", "aud", "session_id"}))
      << payload;
  EXPECT_FALSE(issued.claims.email.has_value());
}

TEST_F(SessionTokensTest, IssuerClaimOnlyWhenConfigured) {
  const SessionTokens tokens = Tokens(Policy({"localhost", "app.example"}, "https://id.example"));
  const IssuedSession issued = MustIssue(tokens, john_);
  const json payload = DecodePart(issued.token, 1);
  EXPECT_EQ(payload.value("iss", ""), "https://id.example") << payload;
  EXPECT_EQ(payload["aud"], json::array({"localhost", "app.example"}));

  const absl::StatusOr<SessionClaims> claims = tokens.Validate(issued.token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->issuer, "https://id.example");
}

TEST_F(SessionTokensTest, ValidateReturnsClaims) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  clock_.Advance(seconds(3599));  // one second before exp

  const absl::StatusOr<SessionClaims> claims = tokens.Validate(issued.token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, kJohnId);
  EXPECT_EQ(claims->issued_at, TimePoint(FakeClock::kStart));
  EXPECT_EQ(claims->expiration, TimePoint(FakeClock::kStart + seconds(3600)));
  EXPECT_EQ(claims->audience, std::vector<std::string>{"localhost"});
  EXPECT_EQ(claims->session_id, issued.claims.session_id);
  ASSERT_TRUE(claims->email.has_value());
  EXPECT_EQ(*claims->email, (storage::Email{"john.doe+1@example.com", true, true}));
  EXPECT_EQ(claims->issuer, "");
}

TEST_F(SessionTokensTest, ExpiredTokenIsUnauthenticated) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  clock_.Advance(seconds(3600));  // now >= exp (the start had 250 ms past the second)
  ExpectUnauthorized(tokens.Validate(issued.token), "at exp");
  clock_.Advance(seconds(86400));
  ExpectUnauthorized(tokens.Validate(issued.token), "a day later");
}

TEST_F(SessionTokensTest, RevokedSessionIsUnauthenticated) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  ASSERT_TRUE(tokens.Validate(issued.token).ok());

  const absl::StatusOr<bool> deleted = store_->DeleteSession(issued.claims.session_id);
  ASSERT_TRUE(deleted.ok() && *deleted);
  ExpectUnauthorized(tokens.Validate(issued.token), "session row deleted");
}

TEST_F(SessionTokensTest, DeletedUserIsUnauthenticated) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  ASSERT_TRUE(store_->DeleteUser(kJohnId).ok());
  ExpectUnauthorized(tokens.Validate(issued.token), "user deleted");
}

TEST_F(SessionTokensTest, WrongAudienceIsUnauthenticated) {
  const IssuedSession issued = MustIssue(Tokens(), john_);
  const SessionTokens other = Tokens(Policy({"other.example"}));
  ExpectUnauthorized(other.Validate(issued.token), "audience other.example");
}

TEST_F(SessionTokensTest, IssuerMismatchIsUnauthenticated) {
  const IssuedSession plain = MustIssue(Tokens(), john_);
  const SessionTokens with_issuer = Tokens(Policy({"localhost"}, "https://id.example"));
  ExpectUnauthorized(with_issuer.Validate(plain.token), "token without iss");

  const IssuedSession issued = MustIssue(with_issuer, john_);
  ExpectUnauthorized(Tokens().Validate(issued.token), "token with unexpected iss");
  ExpectUnauthorized(Tokens(Policy({"localhost"}, "https://other.example")).Validate(issued.token),
                     "token with another iss");
}

TEST_F(SessionTokensTest, SessionLimitDropsTheOldest) {
  const SessionTokens tokens = Tokens();
  std::vector<IssuedSession> issued;
  for (int i = 0; i < 6; ++i) {
    issued.push_back(MustIssue(tokens, john_));
    clock_.Advance(seconds(1));  // distinct created_at, so "oldest" is well defined
  }
  ExpectUnauthorized(tokens.Validate(issued[0].token), "session 0, beyond the limit of 5");
  for (int i = 1; i < 6; ++i) {
    EXPECT_TRUE(tokens.Validate(issued[i].token).ok()) << "session " << i;
  }
  const absl::StatusOr<std::vector<storage::Session>> rows = store_->ListSessions(kJohnId);
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 5u);
}

// Logins at the same instant (the fake clock stands still): the limit must still drop the
// oldest, never the session just issued. Ties once fell to the random session id.
TEST_F(SessionTokensTest, SessionLimitDropsTheOldestWithinOneSecond) {
  const SessionTokens tokens = Tokens();
  for (int round = 0; round < 20; ++round) {
    storage::User user = john_;
    user.id = NewUuidV4();
    user.emails = {{"round" + std::to_string(round) + "@example.com", true, true}};
    ASSERT_TRUE(store_->CreateUser(user, std::nullopt).ok());
    std::vector<IssuedSession> issued;
    for (int i = 0; i < 6; ++i) issued.push_back(MustIssue(tokens, user));
    ExpectUnauthorized(tokens.Validate(issued[0].token), "round " + std::to_string(round));
    EXPECT_TRUE(tokens.Validate(issued[5].token).ok())
        << "round " << round << ": the token just issued must be valid";
  }
}

TEST_F(SessionTokensTest, GarbageTokenIsUnauthenticated) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  const std::vector<std::string> parts = SplitToken(issued.token);
  ASSERT_EQ(parts.size(), 3u);

  // A token signed by a different key ring (another store and secret).
  std::unique_ptr<storage::Store> other_store = storage::NewMemoryStore();
  KeyRingOptions other_options;
  other_options.algorithm = KeyAlgorithm::kES256;
  other_options.secrets = {"another-secret-0123456789abcdef"};
  absl::StatusOr<std::unique_ptr<KeyRing>> other_keys =
      KeyRing::Load(*other_store, other_options, clock_);
  ASSERT_TRUE(other_keys.ok()) << other_keys.status();
  absl::StatusOr<std::string> foreign = (*other_keys)->SignJwt(DecodePart(issued.token, 1));
  ASSERT_TRUE(foreign.ok()) << foreign.status();

  json tampered_payload = DecodePart(issued.token, 1);
  tampered_payload["sub"] = kNoPrimaryId;
  const std::string tampered =
      parts[0] + "." + Base64UrlEncode(tampered_payload.dump()) + "." + parts[2];

  const std::string kTokens[] = {
      "",
      "garbage",
      "a.b.c",
      "..",
      parts[0] + "." + parts[1],
      parts[0] + "." + parts[1] + ".",
      issued.token + "x",
      tampered,
      *foreign,
  };
  for (const std::string& token : kTokens) {
    ExpectUnauthorized(tokens.Validate(token), "\"" + token + "\"");
  }
  EXPECT_TRUE(tokens.Validate(issued.token).ok()) << "the original still validates";
}

// The verified-token cache (verified_token_cache.h) skips the signature and parsing for a
// token seen before; these tests pin down what it must never skip.

TEST_F(SessionTokensTest, CachedTokenStaysValidAcrossCalls) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  EXPECT_EQ(tokens.verified_tokens_cached(), 0u);
  for (int call = 0; call < 5; ++call) {
    const absl::StatusOr<SessionClaims> claims = tokens.Validate(issued.token);
    ASSERT_TRUE(claims.ok()) << "call " << call << ": " << claims.status();
    EXPECT_EQ(claims->subject, kJohnId) << "call " << call;
    EXPECT_EQ(claims->session_id, issued.claims.session_id) << "call " << call;
    EXPECT_EQ(claims->expiration, issued.claims.expiration) << "call " << call;
    ASSERT_TRUE(claims->email.has_value()) << "call " << call;
    EXPECT_EQ(*claims->email, (storage::Email{"john.doe+1@example.com", true, true}));
    EXPECT_EQ(tokens.verified_tokens_cached(), 1u) << "call " << call;
  }
}

TEST_F(SessionTokensTest, CachedTokenIsRejectedOnceRevoked) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  ASSERT_TRUE(tokens.Validate(issued.token).ok());
  ASSERT_EQ(tokens.verified_tokens_cached(), 1u);

  const absl::StatusOr<bool> deleted = store_->DeleteSession(issued.claims.session_id);
  ASSERT_TRUE(deleted.ok() && *deleted);
  ExpectUnauthorized(tokens.Validate(issued.token), "cached, then its session row deleted");
  ExpectUnauthorized(tokens.Validate(issued.token), "and again");
}

TEST_F(SessionTokensTest, CachedTokenIsRejectedOnceExpired) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  // Keep the row alive past exp, so that only the token's own exp can refuse it.
  ASSERT_TRUE(store_->DeleteSession(issued.claims.session_id).ok());
  storage::Session row{issued.claims.session_id,
                       kJohnId,
                       clock_.Now(),
                       issued.claims.expiration + seconds(86400),
                       client_.ip,
                       client_.user_agent};
  ASSERT_TRUE(store_->CreateSession(row, 5, clock_.Now()).ok());
  ASSERT_TRUE(tokens.Validate(issued.token).ok());
  ASSERT_EQ(tokens.verified_tokens_cached(), 1u);

  clock_.Advance(seconds(3599));  // one second before exp
  EXPECT_TRUE(tokens.Validate(issued.token).ok()) << "cached and not yet expired";
  clock_.Advance(seconds(1));  // at exp (the start had 250 ms past the second)
  ExpectUnauthorized(tokens.Validate(issued.token), "cached, at exp, row still alive");
  EXPECT_EQ(tokens.verified_tokens_cached(), 0u) << "the expired entry is dropped";
}

TEST_F(SessionTokensTest, AlteredCachedTokenIsRejected) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  ASSERT_TRUE(tokens.Validate(issued.token).ok());
  ASSERT_EQ(tokens.verified_tokens_cached(), 1u);

  const std::vector<std::string> parts = SplitToken(issued.token);
  ASSERT_EQ(parts.size(), 3u);
  // One byte changed in the middle of the payload and of the signature (never the last
  // character, whose low bits base64url may ignore).
  for (const std::size_t at :
       {parts[0].size() + 1 + parts[1].size() / 2, issued.token.size() - parts[2].size() / 2}) {
    std::string altered = issued.token;
    altered[at] = altered[at] == 'A' ? 'B' : 'A';
    ExpectUnauthorized(tokens.Validate(altered), "byte " + std::to_string(at) + " altered");
  }
  EXPECT_EQ(tokens.verified_tokens_cached(), 1u) << "refused tokens are not cached";
  EXPECT_TRUE(tokens.Validate(issued.token).ok()) << "the original still validates";
}

TEST_F(SessionTokensTest, InvalidTokensAreNotCached) {
  const SessionTokens tokens = Tokens();
  const IssuedSession issued = MustIssue(tokens, john_);
  ExpectUnauthorized(tokens.Validate("garbage"), "garbage");
  ExpectUnauthorized(tokens.Validate(issued.token + "x"), "trailing byte");
  ExpectUnauthorized(Tokens(Policy({"other.example"})).Validate(issued.token), "audience");
  // Signed and well-formed, but its row is gone: verified, yet refused, so not cached either.
  const IssuedSession revoked = MustIssue(tokens, john_);
  ASSERT_TRUE(store_->DeleteSession(revoked.claims.session_id).ok());
  ExpectUnauthorized(tokens.Validate(revoked.token), "no session row");
  EXPECT_EQ(tokens.verified_tokens_cached(), 0u);
}

TEST_F(SessionTokensTest, CachedTokenSurvivesKeyRotation) {
  const SessionTokens tokens = Tokens();
  const IssuedSession before = MustIssue(tokens, john_);
  ASSERT_TRUE(tokens.Validate(before.token).ok());
  ASSERT_TRUE(keys_->Rotate().ok());

  const IssuedSession after = MustIssue(tokens, john_);
  EXPECT_NE(DecodePart(before.token, 0)["kid"], DecodePart(after.token, 0)["kid"]);
  EXPECT_TRUE(tokens.Validate(before.token).ok()) << "old keys keep verifying";
  EXPECT_TRUE(tokens.Validate(after.token).ok());
  EXPECT_EQ(tokens.verified_tokens_cached(), 2u);
}

TEST_F(SessionTokensTest, ZeroCacheCapacityValidatesEveryTime) {
  SessionPolicy policy = Policy();
  policy.verified_token_cache = 0;
  const SessionTokens tokens = Tokens(policy);
  const IssuedSession issued = MustIssue(tokens, john_);
  EXPECT_TRUE(tokens.Validate(issued.token).ok());
  EXPECT_TRUE(tokens.Validate(issued.token).ok());
  EXPECT_EQ(tokens.verified_tokens_cached(), 0u);
  ASSERT_TRUE(store_->DeleteSession(issued.claims.session_id).ok());
  ExpectUnauthorized(tokens.Validate(issued.token), "session row deleted");
}

}  // namespace
}  // namespace passgate::server
