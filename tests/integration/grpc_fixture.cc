#include "tests/integration/grpc_fixture.h"

#include <chrono>

#include "absl/strings/str_split.h"
#include "server/jose.h"

namespace passgate::testing {

void PassgateServerTest::SetUp() {
  config_ = WriteTestConfig(dir_, ConfigExtras());
  const CommandResult imported =
      RunPassgate({"user", "import", "--config", config_,
                   std::string(PASSGATE_SOURCE_DIR) +
                       "/tests/integration/testdata/hanko_fixture_users.json"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  StartServer();
}

void PassgateServerTest::TearDown() {
  if (server_ != nullptr && HasFailure()) std::cerr << "server log:\n" << server_->Log();
}

void PassgateServerTest::StartServer() {
  server_ = ServerProcess::Start(config_, dir_.File("server-" + std::to_string(log_generation_++) + ".log"));
  ASSERT_NE(server_, nullptr);
  ConnectStub();
}

void PassgateServerTest::ConnectStub() {
  stub_ = passgate::v1::PasswordAuth::NewStub(
      grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
}

grpc::Status LoginWith(passgate::v1::PasswordAuth::Stub& stub, const std::string& user_id,
                       const std::string& password, passgate::v1::LoginResponse* response) {
  passgate::v1::LoginRequest request;
  request.set_user_id(user_id);
  request.set_password(password);
  passgate::v1::LoginResponse ignored;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return stub.Login(&context, request, response != nullptr ? response : &ignored);
}

grpc::Status PassgateServerTest::Login(const std::string& user_id, const std::string& password,
                                       passgate::v1::LoginResponse* response) {
  return LoginWith(*stub_, user_id, password, response);
}

std::string PassgateServerTest::TokenFor(const std::string& user_id, const std::string& password) {
  passgate::v1::LoginResponse response;
  const grpc::Status status = Login(user_id, password, &response);
  EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  return response.session_token();
}

std::string PassgateServerTest::IssueToken(const std::string& user_id) {
  const CommandResult issued = RunPassgate({"session", "issue", user_id, "--config", config_});
  EXPECT_EQ(issued.exit_code, 0) << issued.err;
  std::string token = issued.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  return token;
}

nlohmann::json DecodeJwtPart(const std::string& token, int part) {
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  if (parts.size() != 3) return nullptr;
  const std::optional<std::string> decoded =
      server::Base64UrlDecode(parts[static_cast<std::size_t>(part)]);
  if (!decoded) return nullptr;
  return nlohmann::json::parse(*decoded, nullptr, false);
}

std::unique_ptr<grpc::ClientContext> BearerContext(const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  return context;
}

}  // namespace passgate::testing
