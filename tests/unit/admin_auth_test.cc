#include "server/admin_auth.h"

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/client_identity.h"

namespace passgate::server {
namespace {

constexpr char kSignup[] = "signup-token-0123456789abcdef0123456789";
constexpr char kSupport[] = "support-token-0123456789abcdef012345678";

using Tokens = std::vector<std::pair<std::string, std::string>>;

TEST(BearerTokenTest, TakesTheTokenOfABearerAuthorizationOnly) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc") << "the scheme is case-insensitive (RFC 7235)";
  EXPECT_EQ(BearerToken("BEARER   abc  "), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), "");
  EXPECT_EQ(BearerToken("Bearer"), "");
  EXPECT_EQ(BearerToken("Bearer "), "");
  EXPECT_EQ(BearerToken("Bearerabc"), "");
  EXPECT_EQ(BearerToken(""), "");
}

TEST(AdminAuthenticatorTest, NamesTheCallerOfAConfiguredToken) {
  const AdminAuthenticator auth(Tokens{{"signup", kSignup}, {"support", kSupport}});
  EXPECT_EQ(auth.CallerForToken(kSignup).value_or(""), "token:signup");
  EXPECT_EQ(auth.CallerForToken(kSupport).value_or(""), "token:support");
}

TEST(AdminAuthenticatorTest, RefusesEverythingElseAlike) {
  const AdminAuthenticator auth(Tokens{{"signup", kSignup}});
  const std::string token(kSignup);
  for (const std::string& wrong :
       {std::string(), token.substr(0, token.size() - 1), token + "x", std::string("SIGNUP") +
                                                                            token.substr(6),
        std::string(kSupport)}) {
    const absl::StatusOr<std::string> caller = auth.CallerForToken(wrong);
    ASSERT_FALSE(caller.ok()) << wrong;
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_EQ(caller.status().message(), "Unauthorized");
  }
}

TEST(AdminAuthenticatorTest, WithoutTokensNothingGetsIn) {
  const AdminAuthenticator auth(Tokens{});
  EXPECT_FALSE(auth.CallerForToken(kSignup).ok());
  EXPECT_FALSE(auth.CallerForToken("").ok());
}

}  // namespace
}  // namespace passgate::server
