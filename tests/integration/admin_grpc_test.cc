// UserAdmin over real gRPC on its own admin listener: access control, every RPC's happy path
// and errors, and that sessions end when an admin changes a password or deletes a user.
#include <chrono>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "nlohmann/json.hpp"
#include "passgate/v1/user_admin.grpc.pb.h"
#include "tests/integration/grpc_fixture.h"
#include "tests/integration/test_pki.h"

namespace passgate::testing {
namespace {

using ::grpc::StatusCode;
using passgate::v1::UserAdmin;

constexpr char kAdminToken[] = "admin-token-0123456789abcdef0123456789";
// Hanko's fixture hash of John's password "SuperSecure" (bcrypt cost 12).
constexpr char kJohnBcrypt[] = "$2a$12$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVli";

class AdminGrpcTest : public PassgateServerTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.admin_lines = std::string("    grpc_address: 127.0.0.1:0\n"
                                     "    auth:\n"
                                     "      tokens:\n"
                                     "        support-tool: ") +
                         kAdminToken + "\n";
    return extras;
  }

  void SetUp() override {
    PassgateServerTest::SetUp();
    ASSERT_NE(server_, nullptr);
    const int port = server_->LoggedPort("admin grpc listening");
    ASSERT_NE(port, 0);
    admin_ = UserAdmin::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                                    grpc::InsecureChannelCredentials()));
  }

  std::unique_ptr<grpc::ClientContext> Admin() { return BearerContext(kAdminToken); }

  // CreateUser creates a user with one primary address and, when given, a password.
  passgate::v1::User CreateUser(const std::string& email, const std::string& password = "") {
    passgate::v1::CreateUserRequest request;
    auto* address = request.add_emails();
    address->set_address(email);
    address->set_is_primary(true);
    if (!password.empty()) request.set_password(password);
    passgate::v1::User user;
    const grpc::Status status = admin_->CreateUser(Admin().get(), request, &user);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return user;
  }

  bool TokenValid(const std::string& token) {
    grpc::ClientContext context;
    passgate::v1::ValidateSessionRequest request;
    request.set_session_token(token);
    passgate::v1::ValidateSessionResponse response;
    EXPECT_TRUE(stub_->ValidateSession(&context, request, &response).ok());
    return response.is_valid();
  }

  std::vector<nlohmann::json> AuditEvents() {
    std::vector<nlohmann::json> events;
    std::istringstream lines(server_->Log());
    for (std::string line; std::getline(lines, line);) {
      const nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
      if (event.is_object() && event.value("audience", "") == "audit") events.push_back(event);
    }
    return events;
  }

  std::unique_ptr<UserAdmin::Stub> admin_;
};

TEST_F(AdminGrpcTest, CallersWithoutAValidTokenAreRefusedAndAudited) {
  passgate::v1::GetUserRequest request;
  request.set_user_id(kJohn);
  passgate::v1::User user;
  {
    grpc::ClientContext none;
    const grpc::Status status = admin_->GetUser(&none, request, &user);
    EXPECT_EQ(status.error_code(), StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(status.error_message(), "Unauthorized");
  }
  for (const std::string& header :
       {std::string("Bearer wrong-token-0123456789abcdef0123456789"),
        std::string("Basic ") + kAdminToken, std::string(kAdminToken)}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", header);
    EXPECT_EQ(admin_->GetUser(&context, request, &user).error_code(), StatusCode::UNAUTHENTICATED)
        << header;
  }
  // A session token of a user is no admin credential either.
  EXPECT_EQ(admin_->GetUser(BearerContext(TokenFor(kJohn, "SuperSecure")).get(), request, &user)
                .error_code(),
            StatusCode::UNAUTHENTICATED);
  const std::vector<nlohmann::json> events = AuditEvents();
  int refused = 0;
  for (const nlohmann::json& event : events) refused += event["type"] == "admin_auth_failed";
  EXPECT_EQ(refused, 5);
  EXPECT_EQ(server_->Log().find(kAdminToken), std::string::npos) << "the token is never logged";
}

TEST_F(AdminGrpcTest, ThePublicListenerDoesNotServeUserAdmin) {
  std::unique_ptr<UserAdmin::Stub> on_public = UserAdmin::NewStub(
      grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  passgate::v1::GetUserRequest request;
  request.set_user_id(kJohn);
  passgate::v1::User user;
  EXPECT_EQ(on_public->GetUser(Admin().get(), request, &user).error_code(),
            StatusCode::UNIMPLEMENTED);
}

TEST_F(AdminGrpcTest, TheAdminListenerAnswersHealthChecks) {
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", server_->LoggedPort("admin grpc listening")),
      grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, grpc::health::v1::HealthCheckRequest(), &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(AdminGrpcTest, CreateUserWithAPasswordLogsInAndGetUserShowsIt) {
  const passgate::v1::User created = CreateUser("New.User@Example.com", "correct horse");
  ASSERT_FALSE(created.id().empty());
  ASSERT_EQ(created.emails_size(), 1);
  EXPECT_EQ(created.emails(0).address(), "new.user@example.com") << "Hanko stores lower case";
  EXPECT_TRUE(created.emails(0).is_primary());
  EXPECT_TRUE(created.has_password());
  EXPECT_TRUE(Login(created.id(), "correct horse").ok());

  passgate::v1::GetUserRequest get;
  get.set_user_id(created.id());
  passgate::v1::User fetched;
  ASSERT_TRUE(admin_->GetUser(Admin().get(), get, &fetched).ok());
  EXPECT_EQ(fetched.id(), created.id());
  EXPECT_EQ(fetched.created_at().seconds(), created.created_at().seconds());

  const std::vector<nlohmann::json> events = AuditEvents();
  ASSERT_FALSE(events.empty());
  bool audited = false;
  for (const nlohmann::json& event : events) {
    if (event["type"] == "admin_user_created") {
      audited = true;
      EXPECT_EQ(event["actor"], "token:support-tool");
      EXPECT_EQ(event["user_id"], created.id());
    }
  }
  EXPECT_TRUE(audited);
  EXPECT_EQ(server_->Log().find("correct horse"), std::string::npos);
}

TEST_F(AdminGrpcTest, CreateUserWithAnExistingHashKeepsThePassword) {
  passgate::v1::CreateUserRequest request;
  request.set_user_id("0b41f4b3-4e2a-4a7e-9b1c-5d6e7f8a9b0c");
  request.set_username("migrated");
  request.set_password_hash(kJohnBcrypt);
  passgate::v1::User user;
  const grpc::Status status = admin_->CreateUser(Admin().get(), request, &user);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(user.id(), request.user_id());
  EXPECT_EQ(user.username(), "migrated");
  EXPECT_TRUE(Login(user.id(), "SuperSecure").ok());
}

TEST_F(AdminGrpcTest, CreateUserErrorsNameTheField) {
  struct Case {
    const char* name;
    passgate::v1::CreateUserRequest request;
    StatusCode code;
    std::string message;
  };
  auto with_email = [](const std::string& address, bool primary) {
    passgate::v1::CreateUserRequest request;
    auto* email = request.add_emails();
    email->set_address(address);
    email->set_is_primary(primary);
    return request;
  };
  std::vector<Case> cases;
  cases.push_back({"nothing", {}, StatusCode::INVALID_ARGUMENT,
                   "at least one of emails, username must be set"});
  cases.push_back({"bad id", with_email("a@example.com", true), StatusCode::INVALID_ARGUMENT,
                   "user_id must be a canonical lowercase UUID"});
  cases.back().request.set_user_id("38BF5A00-D7EA-40A5-A5DE-48722C148925");
  cases.push_back({"no primary", with_email("a@example.com", false),
                   StatusCode::INVALID_ARGUMENT, "at least one primary email must be provided"});
  cases.push_back({"two primaries", with_email("a@example.com", true),
                   StatusCode::INVALID_ARGUMENT, "only one primary email is allowed"});
  {
    auto* second = cases.back().request.add_emails();
    second->set_address("b@example.com");
    second->set_is_primary(true);
  }
  cases.push_back({"bad address", with_email("not an address", true),
                   StatusCode::INVALID_ARGUMENT, "emails[0].address is not a valid email address"});
  cases.push_back({"short password", with_email("c@example.com", true),
                   StatusCode::INVALID_ARGUMENT, "password must be at least 8 characters long"});
  cases.back().request.set_password("short");
  cases.push_back({"broken hash", with_email("d@example.com", true), StatusCode::INVALID_ARGUMENT,
                   ""});
  cases.back().request.set_password_hash("$2a$12$tooshort");
  cases.push_back({"expensive hash", with_email("e@example.com", true),
                   StatusCode::INVALID_ARGUMENT, ""});
  cases.back().request.set_password_hash(
      "$2a$16$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVli");
  cases.push_back({"taken id", with_email("f@example.com", true), StatusCode::ALREADY_EXISTS,
                   "user id already exists"});
  cases.back().request.set_user_id(kJohn);
  // Hanko's fixture: John owns john.doe+1@example.com; case is folded.
  cases.push_back({"taken email", with_email("JOHN.DOE+1@example.com", true),
                   StatusCode::ALREADY_EXISTS, "emails[0].address already exists"});

  for (const Case& c : cases) {
    passgate::v1::User user;
    const grpc::Status status = admin_->CreateUser(Admin().get(), c.request, &user);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    if (!c.message.empty()) {
      EXPECT_EQ(status.error_message(), c.message) << c.name;
    }
    if (c.name == std::string("broken hash") || c.name == std::string("expensive hash")) {
      EXPECT_TRUE(status.error_message().starts_with("password_hash: ")) << status.error_message();
      EXPECT_EQ(status.error_message().find("Cf7k"), std::string::npos) << "no part of the hash";
    }
  }
}

TEST_F(AdminGrpcTest, ListUsersPagesWithTokensAndCounts) {
  for (int i = 0; i < 5; ++i) CreateUser(absl::StrCat("page", i, "@example.com"));
  // Hanko's fixture has users too: count them all.
  std::set<std::string> seen;
  passgate::v1::ListUsersRequest request;
  request.set_page_size(2);
  int64_t total = -1;
  for (int pages = 0; pages < 20; ++pages) {
    passgate::v1::ListUsersResponse response;
    const grpc::Status status = admin_->ListUsers(Admin().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_LE(response.users_size(), 2);
    for (const passgate::v1::User& user : response.users()) {
      EXPECT_TRUE(seen.insert(user.id()).second) << "no user twice: " << user.id();
    }
    total = response.total_size();
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), total);
  EXPECT_GE(total, 7);

  passgate::v1::ListUsersRequest by_email;
  by_email.set_email("PAGE3@example.com");
  passgate::v1::ListUsersResponse found;
  ASSERT_TRUE(admin_->ListUsers(Admin().get(), by_email, &found).ok());
  ASSERT_EQ(found.users_size(), 1);
  EXPECT_EQ(found.users(0).emails(0).address(), "page3@example.com");
  EXPECT_EQ(found.total_size(), 1);

  for (const char* token : {"garbage", "dTE6MTox", ""}) {
    passgate::v1::ListUsersRequest bad;
    bad.set_page_token(token);
    bad.set_page_size(token[0] == '\0' ? 5000 : 1);
    passgate::v1::ListUsersResponse response;
    EXPECT_EQ(admin_->ListUsers(Admin().get(), bad, &response).error_code(),
              StatusCode::INVALID_ARGUMENT)
        << token;
  }
}

TEST_F(AdminGrpcTest, AdminSetPasswordEndsEverySessionUnlessToldNotTo) {
  const std::string first = TokenFor(kJohn, "SuperSecure");
  const std::string second = TokenFor(kJohn, "SuperSecure");
  ASSERT_TRUE(TokenValid(first));

  passgate::v1::AdminSetPasswordRequest request;
  request.set_user_id(kJohn);
  request.set_password("a new password");
  passgate::v1::AdminSetPasswordResponse response;
  ASSERT_TRUE(admin_->SetPassword(Admin().get(), request, &response).ok());
  EXPECT_FALSE(response.created());
  EXPECT_EQ(response.revoked_sessions(), 2);
  EXPECT_FALSE(TokenValid(first)) << "revoked at once";
  EXPECT_FALSE(TokenValid(second));
  EXPECT_EQ(Login(kJohn, "SuperSecure").error_code(), StatusCode::UNAUTHENTICATED);

  const std::string kept = TokenFor(kJohn, "a new password");
  request.set_password("another password");
  request.set_keep_sessions(true);
  ASSERT_TRUE(admin_->SetPassword(Admin().get(), request, &response).ok());
  EXPECT_EQ(response.revoked_sessions(), 0);
  EXPECT_TRUE(TokenValid(kept));

  request.set_user_id(kUnknown);
  EXPECT_EQ(admin_->SetPassword(Admin().get(), request, &response).error_code(),
            StatusCode::NOT_FOUND);
  request.set_user_id(kJohn);
  request.clear_credential();
  EXPECT_EQ(admin_->SetPassword(Admin().get(), request, &response).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminGrpcTest, AUserChangingItsOwnPasswordEndsItsOtherSessions) {
  const std::string other = TokenFor(kJohn, "SuperSecure");
  const std::string mine = TokenFor(kJohn, "SuperSecure");
  passgate::v1::SetPasswordRequest request;
  request.set_user_id(kJohn);
  request.set_password("verybadpassword");
  passgate::v1::SetPasswordResponse response;
  ASSERT_TRUE(stub_->SetPassword(BearerContext(mine).get(), request, &response).ok());
  EXPECT_TRUE(TokenValid(mine));
  EXPECT_FALSE(TokenValid(other));
}

TEST_F(AdminGrpcTest, SessionsAreListedAndRevoked) {
  const std::string token = TokenFor(kJohn, "SuperSecure");
  passgate::v1::ListSessionsRequest list;
  list.set_user_id(kJohn);
  passgate::v1::ListSessionsResponse sessions;
  ASSERT_TRUE(admin_->ListSessions(Admin().get(), list, &sessions).ok());
  ASSERT_EQ(sessions.sessions_size(), 1);
  EXPECT_EQ(sessions.sessions(0).id(), DecodeJwtPart(token, 1)["session_id"]);
  EXPECT_GT(sessions.sessions(0).expires_at().seconds(), sessions.sessions(0).created_at().seconds());

  passgate::v1::RevokeSessionsRequest revoke;
  revoke.set_user_id(kJohn);
  passgate::v1::RevokeSessionsResponse revoked;
  ASSERT_TRUE(admin_->RevokeSessions(Admin().get(), revoke, &revoked).ok());
  EXPECT_EQ(revoked.revoked_sessions(), 1);
  EXPECT_FALSE(TokenValid(token));

  list.set_user_id(kUnknown);
  EXPECT_EQ(admin_->ListSessions(Admin().get(), list, &sessions).error_code(),
            StatusCode::NOT_FOUND);
  revoke.set_user_id("not-a-uuid");
  EXPECT_EQ(admin_->RevokeSessions(Admin().get(), revoke, &revoked).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST_F(AdminGrpcTest, DeletePasswordAndDeleteUser) {
  const std::string token = TokenFor(kJohn, "SuperSecure");
  passgate::v1::DeletePasswordRequest no_password;
  no_password.set_user_id(kJohn);
  passgate::v1::DeletePasswordResponse empty;
  ASSERT_TRUE(admin_->DeletePassword(Admin().get(), no_password, &empty).ok());
  EXPECT_EQ(Login(kJohn, "SuperSecure").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(admin_->DeletePassword(Admin().get(), no_password, &empty).error_code(),
            StatusCode::NOT_FOUND);

  passgate::v1::DeleteUserRequest remove;
  remove.set_user_id(kJohn);
  passgate::v1::DeleteUserResponse removed;
  ASSERT_TRUE(admin_->DeleteUser(Admin().get(), remove, &removed).ok());
  EXPECT_FALSE(TokenValid(token)) << "its sessions end with it";
  passgate::v1::GetUserRequest get;
  get.set_user_id(kJohn);
  passgate::v1::User user;
  EXPECT_EQ(admin_->GetUser(Admin().get(), get, &user).error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(admin_->DeleteUser(Admin().get(), remove, &removed).error_code(),
            StatusCode::NOT_FOUND);
}

// AdminMtlsTest: the admin listener over TLS with client certificates from a test CA, and no
// tokens at all: a verified certificate is the only way in.
class AdminMtlsTest : public PassgateServerTest {
 protected:
  AdminMtlsTest() { MakeTestPki(dir_, pki_); }

  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.admin_lines = "    grpc_address: 127.0.0.1:0\n"
                         "    tls: {cert_file: \"" + pki_.server_cert + "\", key_file: \"" +
                         pki_.server_key + "\", client_ca_file: \"" + pki_.ca + "\"}\n";
    return extras;
  }

  // AdminOverTls connects to the admin listener over TLS with the given client certificate
  // (empty: none).
  std::unique_ptr<UserAdmin::Stub> AdminOverTls(const std::string& cert, const std::string& key) {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = ReadFile(pki_.ca);
    if (!cert.empty()) {
      options.pem_cert_chain = ReadFile(cert);
      options.pem_private_key = ReadFile(key);
    }
    const int port = server_->LoggedPort("admin grpc listening");
    return UserAdmin::NewStub(
        grpc::CreateChannel(absl::StrCat("localhost:", port), grpc::SslCredentials(options)));
  }

  // RevokeJohns calls RevokeSessions (an audited call) over TLS.
  grpc::Status RevokeJohns(const std::string& cert, const std::string& key,
                           const std::string& token = "") {
    std::unique_ptr<grpc::ClientContext> context =
        token.empty() ? std::make_unique<grpc::ClientContext>() : BearerContext(token);
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    passgate::v1::RevokeSessionsRequest request;
    request.set_user_id(kJohn);
    passgate::v1::RevokeSessionsResponse response;
    return AdminOverTls(cert, key)->RevokeSessions(context.get(), request, &response);
  }

  TestPki pki_;
};

TEST_F(AdminMtlsTest, AVerifiedClientCertificateIsTheCaller) {
  const grpc::Status status = RevokeJohns(pki_.client_cert, pki_.client_key);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The audit names the certificate's subject (the test CA's client is "passgate-gateway").
  EXPECT_NE(server_->Log().find("\"actor\":\"cert:passgate-gateway\""), std::string::npos)
      << server_->Log();
}

TEST_F(AdminMtlsTest, WithoutACertificateOrFromAnotherCaTheCallIsRefused) {
  EXPECT_EQ(RevokeJohns("", "").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(RevokeJohns("", "", "any-token-0123456789abcdef0123456789").error_code(),
            StatusCode::UNAUTHENTICATED)
      << "no tokens are configured";
  TempDir other_dir;
  TestPki other;
  MakeTestPki(other_dir, other);
  // A certificate the configured CA did not sign fails the TLS handshake.
  EXPECT_EQ(RevokeJohns(other.client_cert, other.client_key).error_code(),
            StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace passgate::testing
