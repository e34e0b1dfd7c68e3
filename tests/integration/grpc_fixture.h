#ifndef PASSGATE_TESTS_INTEGRATION_GRPC_FIXTURE_H_
#define PASSGATE_TESTS_INTEGRATION_GRPC_FIXTURE_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "passgate/v1/password_auth.grpc.pb.h"
#include "tests/integration/passgate_process.h"

namespace passgate::testing {

// Hanko's fixture users (reference §12).
inline constexpr char kJohn[] = "38bf5a00-d7ea-40a5-a5de-48722c148925";  // password SuperSecure
inline constexpr char kNoPassword[] = "b5dd5267-b462-48be-b70d-bcd6f1bbe7a5";
inline constexpr char kUnknown[] = "6a565180-2366-45b1-8785-39f7902c7f2e";

// LoginWith calls Login on `stub` with a 60 s deadline; `response` may be null.
grpc::Status LoginWith(passgate::v1::PasswordAuth::Stub& stub, const std::string& user_id,
                       const std::string& password, passgate::v1::LoginResponse* response);

// PassgateServerTest: a temp dir, a config, Hanko's fixture users imported through
// `passgate user import`, and `passgate serve` running with a gRPC stub connected to it.
class PassgateServerTest : public ::testing::Test {
 protected:
  // ConfigExtras adds settings to the test config (override to change them).
  virtual TestConfigExtras ConfigExtras() const { return {}; }

  void SetUp() override;
  void TearDown() override;

  // StartServer (re)starts the server on the same config and database.
  void StartServer();
  void ConnectStub();

  grpc::Status Login(const std::string& user_id, const std::string& password,
                     passgate::v1::LoginResponse* response = nullptr);
  // TokenFor logs in and returns the token (fails the test otherwise).
  std::string TokenFor(const std::string& user_id, const std::string& password);
  // IssueToken opens a session with `passgate session issue` (no password needed).
  std::string IssueToken(const std::string& user_id);

  TempDir dir_;
  std::string config_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<passgate::v1::PasswordAuth::Stub> stub_;
  int log_generation_ = 0;
};

// DecodeJwtPart decodes the header (0) or payload (1) of a compact JWS.
nlohmann::json DecodeJwtPart(const std::string& token, int part);

// BearerContext makes a ClientContext with `authorization: Bearer <token>`.
std::unique_ptr<grpc::ClientContext> BearerContext(const std::string& token);

}  // namespace passgate::testing

#endif  // PASSGATE_TESTS_INTEGRATION_GRPC_FIXTURE_H_
