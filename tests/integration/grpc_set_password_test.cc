// SetPassword over real gRPC: Hanko's S1–S6 (reference §8, §12).
#include "tests/integration/grpc_fixture.h"

namespace passgate::testing {
namespace {

using ::grpc::StatusCode;

class SetPasswordTest : public PassgateServerTest {
 protected:
  grpc::Status SetPassword(const std::string& token, const std::string& user_id,
                           const std::string& password,
                           passgate::v1::SetPasswordResponse* response) {
    passgate::v1::SetPasswordRequest request;
    request.set_user_id(user_id);
    request.set_password(password);
    return stub_->SetPassword(BearerContext(token).get(), request, response);
  }
};

TEST_F(SetPasswordTest, S1CreatesAPasswordForAUserWithoutOne) {
  passgate::v1::SetPasswordResponse response;
  const grpc::Status status =
      SetPassword(IssueToken(kNoPassword), kNoPassword, "verybadpassword", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(response.created());
  EXPECT_TRUE(Login(kNoPassword, "verybadpassword").ok());
}

TEST_F(SetPasswordTest, S2ReplacesAnExistingPassword) {
  passgate::v1::SetPasswordResponse response;
  const std::string token = TokenFor(kJohn, "SuperSecure");
  const grpc::Status status = SetPassword(token, kJohn, "verybadpassword", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.created());
  EXPECT_TRUE(Login(kJohn, "verybadpassword").ok());
  EXPECT_EQ(Login(kJohn, "SuperSecure").error_code(), StatusCode::UNAUTHENTICATED);
}

TEST_F(SetPasswordTest, S3TooShortPasswordIsRejected) {
  passgate::v1::SetPasswordResponse response;
  const grpc::Status status = SetPassword(IssueToken(kNoPassword), kNoPassword, "very", &response);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "password must be at least 8 characters long");
}

TEST_F(SetPasswordTest, S4TooLongPasswordIsRejected) {
  passgate::v1::SetPasswordResponse response;
  const grpc::Status status =
      SetPassword(IssueToken(kNoPassword), kNoPassword, std::string(82, 'p'), &response);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "password must not be longer than 72 bytes");
}

TEST_F(SetPasswordTest, S5TokenOfAUserThatNoLongerExistsIsUnauthorized) {
  const CommandResult created = RunPassgate(
      {"user", "create", "--id", kUnknown, "--email", "gone@example.com", "--config", config_});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = IssueToken(kUnknown);
  ASSERT_EQ(RunPassgate({"user", "delete", kUnknown, "--config", config_}).exit_code, 0);
  passgate::v1::SetPasswordResponse response;
  const grpc::Status status = SetPassword(token, kUnknown, "verybadpassword", &response);
  EXPECT_EQ(status.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "Unauthorized");
}

TEST_F(SetPasswordTest, S6ChangingAnotherUsersPasswordIsForbidden) {
  passgate::v1::SetPasswordResponse response;
  const grpc::Status status =
      SetPassword(TokenFor(kJohn, "SuperSecure"), kNoPassword, "verybadpassword", &response);
  EXPECT_EQ(status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "Forbidden");
  EXPECT_EQ(Login(kNoPassword, "verybadpassword").error_code(), StatusCode::UNAUTHENTICATED);
}

TEST_F(SetPasswordTest, MissingOrInvalidSessionIsUnauthorizedBeforeValidation) {
  passgate::v1::SetPasswordRequest request;  // empty body: would be a 400 with a session
  passgate::v1::SetPasswordResponse response;
  {
    grpc::ClientContext context;
    const grpc::Status status = stub_->SetPassword(&context, request, &response);
    EXPECT_EQ(status.error_code(), StatusCode::UNAUTHENTICATED);
  }
  for (const std::string& header : {std::string("Bearer garbage"), std::string("Basic abc"),
                                     std::string("Bearer")}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", header);
    EXPECT_EQ(stub_->SetPassword(&context, request, &response).error_code(),
              StatusCode::UNAUTHENTICATED)
        << header;
  }
  const grpc::Status status =
      SetPassword(IssueToken(kNoPassword), "", "", &response);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "user_id is a required field and password is a required field");
}

}  // namespace
}  // namespace passgate::testing
