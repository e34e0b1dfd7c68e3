// Independent clients: Python grpcio through server reflection only, and jwcrypto verifying
// the token against the published JWKS.
#include <cstdio>

#include "tests/integration/grpc_fixture.h"

namespace passgate::testing {
namespace {

class PythonClientTest : public PassgateServerTest {
 protected:
  CommandResult RunReflectionClient(const std::string& token) {
    const std::string token_file = dir_.File("token.txt");
    WriteFile(token_file, token);
    const std::string command = "/usr/bin/python3 " + std::string(PASSGATE_SOURCE_DIR) +
                                "/tests/integration/reflection_client.py " + server_->address() +
                                " " + token_file + " 2>&1";
    CommandResult result;
    FILE* pipe = popen(command.c_str(), "r");
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
    const int status = pclose(pipe);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return result;
  }
};

TEST_F(PythonClientTest, ReflectionDescribesAndCallsTheServiceAndJwcryptoVerifiesTheToken) {
  const std::string token = TokenFor(kJohn, "SuperSecure");
  const CommandResult result = RunReflectionClient(token);
  ASSERT_EQ(result.exit_code, 0) << result.out;
  const nlohmann::json report = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << result.out;
  EXPECT_EQ(report["claims"]["sub"], kJohn);
  EXPECT_EQ(report["header"]["alg"], "RS256");
}

class Es256Test : public PythonClientTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.secrets_lines = "  key_algorithm: ES256\n";
    return extras;
  }
};

TEST_F(Es256Test, Es256TokensVerifyIndependently) {
  const std::string token = TokenFor(kJohn, "SuperSecure");
  EXPECT_EQ(DecodeJwtPart(token, 0)["alg"], "ES256");
  const CommandResult result = RunReflectionClient(token);
  EXPECT_EQ(result.exit_code, 0) << result.out;
}

}  // namespace
}  // namespace passgate::testing
