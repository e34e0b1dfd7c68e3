// Hardening: secrets stay secret. Logins over HTTP (cookie and header mode) and gRPC, failed
// logins and password changes with known passwords; then no password, no issued token (nor its
// signature), and not the configured secret may appear in the server's log, in the output of the
// CLI commands used, or in the SQLite files; and the database holds no private key in the clear.
// Secrets can also come from the environment (PASSGATE_SECRETS_KEYS, PASSGATE_SECRETS_KEYS_FILE).
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/grpc_fixture.h"
#include "tests/integration/http_client.h"

namespace passgate::testing {
namespace {

using nlohmann::json;

constexpr char kConfigSecret[] = "test-secret-0123456789abcdef";  // WriteTestConfig's
constexpr char kNewPassword[] = "Zebra-Quantum-4471";
constexpr char kWrongPassword[] = "Mango-Wrong-8832";
constexpr char kCliPassword[] = "Kiwi-Orbit-5520";
constexpr char kHeaderModePassword[] = "Quokka-Lattice-6093";
constexpr char kRateLimiterOff[] = "rate_limiter:\n  enabled: false\n";

std::string LoginBody(const std::string& user_id, const std::string& password) {
  return json{{"user_id", user_id}, {"password", password}}.dump();
}

HeaderList JsonHeaders(HeaderList more = {}) {
  HeaderList headers = {{"Content-Type", "application/json"},
                        {"User-Agent", "passgate-secrets-test/1.0"}};
  headers.insert(headers.end(), more.begin(), more.end());
  return headers;
}

std::string CookieToken(const HttpReply& reply) {
  for (const std::string& cookie : reply.HeaderValues("Set-Cookie")) {
    if (cookie.starts_with("hanko=")) return cookie.substr(6, cookie.find(';') - 6);
  }
  return "";
}

std::string Signature(const std::string& token) {
  const std::size_t dot = token.rfind('.');
  return dot == std::string::npos ? "" : token.substr(dot + 1);
}

const std::string& RsaPkcs8Oid() {
  // rsaEncryption (1.2.840.113549.1.1.1), as it appears in a PKCS#8 (or PKCS#1-wrapping) DER key.
  static const std::string oid("\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 9);
  return oid;
}

// Needles are the values that must not leak, each with a label for failure messages.
using Needles = std::map<std::string, std::string>;  // label -> value

// ExpectNoLeak checks that no needle occurs in `haystack` (named `where`).
void ExpectNoLeak(const std::string& where, const std::string& haystack, const Needles& needles) {
  for (const auto& [label, value] : needles) {
    if (value.empty()) continue;
    const std::size_t at = haystack.find(value);
    EXPECT_EQ(at, std::string::npos)
        << label << " appears in " << where << " at byte " << at << ": ..."
        << haystack.substr(at == std::string::npos ? 0 : (at > 80 ? at - 80 : 0), 200) << "...";
  }
}

void ExpectNoPrivateKeyMaterial(const std::string& where, const std::string& bytes) {
  EXPECT_EQ(bytes.find("PRIVATE KEY"), std::string::npos) << where;
  EXPECT_EQ(bytes.find(RsaPkcs8Oid()), std::string::npos)
      << where << ": PKCS#8 rsaEncryption OID in the clear";
}

// DatabaseBytes is the SQLite file plus its write-ahead log, as they are on disk now.
std::string DatabaseBytes(const TempDir& dir) {
  return ReadFile(dir.File("passgate.db")) + ReadFile(dir.File("passgate.db-wal"));
}

class SecretsTest : public PassgateServerTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.extra_sections = kRateLimiterOff;
    return extras;
  }

  // Cli runs a passgate command with this test's config and keeps its output for the checks.
  CommandResult Cli(std::vector<std::string> args, const std::string& stdin_text = "") {
    const std::string label = "`passgate " + ::testing::PrintToString(args) + "`";
    args.push_back("--config");
    args.push_back(config_);
    CommandResult result = RunPassgate(args, stdin_text);
    cli_outputs_.emplace_back(label + " stdout", result.out);
    cli_outputs_.emplace_back(label + " stderr", result.err);
    return result;
  }

  HttpReply HttpLogin(const std::string& user_id, const std::string& password) {
    return HttpCall(server_->http_port(), "POST", "/password/login", JsonHeaders(),
                    LoginBody(user_id, password));
  }

  void Token(const std::string& label, const std::string& token) {
    EXPECT_FALSE(token.empty()) << label;
    if (token.empty()) return;
    needles_["token " + label] = token;
    needles_["signature of token " + label] = Signature(token);
  }

  void Password(const std::string& value) { needles_["password " + value] = value; }

  // StopServer stops the server cleanly and keeps its whole log (shutdown lines included).
  void StopServer() {
    // Without a connected client channel the stop takes milliseconds instead of seconds.
    stub_.reset();
    EXPECT_EQ(server_->Terminate(), 0) << server_->Log();
    logs_.push_back(server_->Log());
  }

  std::vector<std::pair<std::string, std::string>> cli_outputs_;  // label, text
  std::vector<std::string> logs_;                                 // logs of stopped servers
  Needles needles_;
};

TEST_F(SecretsTest, PasswordsTokensAndTheSecretNeverLeak) {
  ASSERT_NE(server_, nullptr);
  for (const char* password :
       {"SuperSecure", kNewPassword, kWrongPassword, kCliPassword, kHeaderModePassword}) {
    Password(password);
  }
  needles_["secrets.keys[0]"] = kConfigSecret;

  // --- cookie mode ------------------------------------------------------------------------
  const HttpReply login = HttpLogin(kJohn, "SuperSecure");
  ASSERT_EQ(login.status, 200) << login.status_line << login.body << login.error;
  const std::string cookie_token = CookieToken(login);
  Token("cookie (SuperSecure)", cookie_token);

  const HttpReply failed = HttpLogin(kJohn, kWrongPassword);
  EXPECT_EQ(failed.status, 401) << failed.body;

  // PUT /password with the cookie session: John's password becomes kNewPassword.
  const HttpReply changed =
      HttpCall(server_->http_port(), "PUT", "/password",
               JsonHeaders({{"Cookie", "hanko=" + cookie_token}}), LoginBody(kJohn, kNewPassword));
  EXPECT_EQ(changed.status, 200) << changed.status_line << changed.body;
  const HttpReply new_login = HttpLogin(kJohn, kNewPassword);
  EXPECT_EQ(new_login.status, 200) << new_login.body;
  Token("cookie (new password)", CookieToken(new_login));
  EXPECT_EQ(HttpLogin(kJohn, "SuperSecure").status, 401) << "old password still works";

  // The user without a password gets one through the CLI (stdin), then logs in over gRPC and
  // changes it over HTTP with a Bearer token.
  const CommandResult set =
      Cli({"user", "set-password", kNoPassword, "--password-stdin"}, std::string(kCliPassword) + "\n");
  EXPECT_EQ(set.exit_code, 0) << set.err;
  passgate::v1::LoginResponse grpc_login;
  const grpc::Status grpc_status = Login(kNoPassword, kCliPassword, &grpc_login);
  EXPECT_TRUE(grpc_status.ok()) << grpc_status.error_message();
  Token("gRPC session_token", grpc_login.session_token());
  const grpc::Status grpc_failed = Login(kNoPassword, kWrongPassword);
  EXPECT_EQ(grpc_failed.error_code(), grpc::StatusCode::UNAUTHENTICATED)
      << grpc_failed.error_message();
  ExpectNoLeak("the gRPC error message", grpc_failed.error_message(), needles_);
  const HttpReply bearer_change =
      HttpCall(server_->http_port(), "PUT", "/password",
               JsonHeaders({{"Authorization", "Bearer " + grpc_login.session_token()}}),
               LoginBody(kNoPassword, kNewPassword));
  EXPECT_EQ(bearer_change.status, 200) << bearer_change.body;

  // The database, while the server runs and after the logins.
  ExpectNoPrivateKeyMaterial("database while serving", DatabaseBytes(dir_));
  ExpectNoLeak("database while serving", DatabaseBytes(dir_), needles_);

  // --- header mode (X-Auth-Token), same database ------------------------------------------
  {
    std::string text = ReadFile(config_);
    const std::size_t at = text.find("session:\n");
    ASSERT_NE(at, std::string::npos) << text;
    text.insert(at + 9, "  enable_auth_token_header: true\n");
    WriteFile(config_, text);
  }
  StopServer();
  StartServer();
  ASSERT_NE(server_, nullptr);
  const HttpReply header_login = HttpLogin(kJohn, kNewPassword);
  EXPECT_EQ(header_login.status, 200) << header_login.body;
  const std::string header_token = header_login.Header("X-Auth-Token").value_or("");
  Token("X-Auth-Token", header_token);
  const HttpReply header_change =
      HttpCall(server_->http_port(), "PUT", "/password",
               JsonHeaders({{"Authorization", "Bearer " + header_token}}),
               LoginBody(kJohn, kHeaderModePassword));
  EXPECT_EQ(header_change.status, 200) << header_change.body;
  Token("gRPC session_token (header mode)", TokenFor(kJohn, kHeaderModePassword));

  // Operator commands that read what the logins wrote.
  EXPECT_EQ(Cli({"session", "list", kJohn}).exit_code, 0);
  EXPECT_EQ(Cli({"session", "list", kNoPassword}).exit_code, 0);
  EXPECT_EQ(Cli({"jwk", "list"}).exit_code, 0);
  EXPECT_EQ(Cli({"user", "export"}).exit_code, 0);

  ExpectNoPrivateKeyMaterial("database after header-mode logins", DatabaseBytes(dir_));
  StopServer();  // a clean stop checkpoints the WAL into the main file
  const std::string db = DatabaseBytes(dir_);
  ExpectNoPrivateKeyMaterial("database after shutdown", db);
  ExpectNoLeak("database after shutdown", db, needles_);

  // --- the checks --------------------------------------------------------------------------
  ASSERT_GE(needles_.size(), 5u + 1 + 2 * 5);
  for (std::size_t i = 0; i < logs_.size(); ++i) {
    EXPECT_FALSE(logs_[i].empty()) << "server log " << i;
    ExpectNoLeak("server log " + std::to_string(i), logs_[i], needles_);
  }
  for (const auto& [label, text] : cli_outputs_) ExpectNoLeak(label, text, needles_);
}

// --- secrets from the environment ----------------------------------------------------------

constexpr char kEnvSecret[] = "env-secret-Quasar-7f3a9c1e5b20d846";

// ConfigWithoutSecrets writes the test config without its secrets section.
std::string ConfigWithoutSecrets(const TempDir& dir) {
  TestConfigExtras extras;
  extras.extra_sections = kRateLimiterOff;
  const std::string path = WriteTestConfig(dir, extras);
  std::string text = ReadFile(path);
  const std::string secrets = std::string("secrets:\n  keys: [\"") + kConfigSecret + "\"]\n";
  const std::size_t at = text.find(secrets);
  EXPECT_NE(at, std::string::npos) << text;
  if (at != std::string::npos) text.erase(at, secrets.size());
  WriteFile(path, text);
  return path;
}

// LoginOverBoth logs John in over HTTP and gRPC and returns the HTTP token.
std::string LoginOverBoth(const ServerProcess& server, const std::string& context) {
  const HttpReply reply = HttpCall(server.http_port(), "POST", "/password/login", JsonHeaders(),
                                   LoginBody(kJohn, "SuperSecure"));
  EXPECT_EQ(reply.status, 200) << context << ": " << reply.status_line << reply.body << reply.error;
  const std::string token = CookieToken(reply);
  EXPECT_FALSE(token.empty()) << context;

  auto stub = passgate::v1::PasswordAuth::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
  passgate::v1::LoginRequest request;
  request.set_user_id(kJohn);
  request.set_password("SuperSecure");
  passgate::v1::LoginResponse response;
  grpc::ClientContext call;
  call.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  const grpc::Status status = stub->Login(&call, request, &response);
  EXPECT_TRUE(status.ok()) << context << ": " << status.error_message();
  EXPECT_FALSE(response.session_token().empty()) << context;
  return token;
}

TEST(SecretsFromEnvironmentTest, EnvVariableAndKeysFileBothServeLogins) {
  TempDir dir;
  const std::string config = ConfigWithoutSecrets(dir);
  std::vector<std::pair<std::string, std::string>> outputs;  // label, text
  const auto cli = [&](const std::string& label, const std::vector<std::string>& args,
                       const std::vector<std::string>& env) {
    CommandResult result = RunPassgate(args, "", env);
    outputs.emplace_back(label + " stdout", result.out);
    outputs.emplace_back(label + " stderr", result.err);
    return result;
  };

  // Without a secret anywhere the config is refused: the YAML really has none.
  const CommandResult refused = cli("jwk list without secrets", {"jwk", "list", "--config", config}, {});
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_NE(refused.err.find("secrets.keys"), std::string::npos) << refused.err;

  // PASSGATE_SECRETS_KEYS.
  const std::vector<std::string> env_keys = {std::string("PASSGATE_SECRETS_KEYS=") + kEnvSecret};
  const CommandResult imported = cli(
      "user import",
      {"user", "import", "--config", config,
       std::string(PASSGATE_SOURCE_DIR) + "/tests/integration/testdata/hanko_fixture_users.json"},
      env_keys);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  std::vector<std::string> logs;
  std::string kid;
  {
    std::unique_ptr<ServerProcess> server =
        ServerProcess::Start(config, dir.File("env.log"), env_keys);
    ASSERT_NE(server, nullptr);
    const std::string token = LoginOverBoth(*server, "PASSGATE_SECRETS_KEYS");
    kid = DecodeJwtPart(token, 0).value("kid", "");
    EXPECT_FALSE(kid.empty()) << token;
    EXPECT_EQ(server->Terminate(), 0);
    logs.push_back(server->Log());
  }

  // PASSGATE_SECRETS_KEYS_FILE: a 0600 file with the same secret opens the same keys.
  const std::string keys_file = dir.File("secrets.txt");
  WriteFile(keys_file, std::string(kEnvSecret) + "\n");
  ASSERT_EQ(chmod(keys_file.c_str(), 0600), 0);
  struct stat info {};
  ASSERT_EQ(stat(keys_file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  const std::vector<std::string> env_file = {"PASSGATE_SECRETS_KEYS_FILE=" + keys_file};
  {
    std::unique_ptr<ServerProcess> server =
        ServerProcess::Start(config, dir.File("env-file.log"), env_file);
    ASSERT_NE(server, nullptr);
    const std::string token = LoginOverBoth(*server, "PASSGATE_SECRETS_KEYS_FILE");
    EXPECT_EQ(DecodeJwtPart(token, 0).value("kid", ""), kid)
        << "the file's secret must decrypt the signing key the env secret created";
    EXPECT_EQ(server->Terminate(), 0);
    logs.push_back(server->Log());
  }
  const CommandResult listed = cli("jwk list (keys file)", {"jwk", "list", "--config", config}, env_file);
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(kid), std::string::npos) << listed.out;

  // Rejected secrets are not echoed either.
  const std::string short_secret = "Tiny-Secret-91";  // under the 16-byte minimum
  const CommandResult short_env = cli("jwk list (short env secret)", {"jwk", "list", "--config", config},
                                      {"PASSGATE_SECRETS_KEYS=" + short_secret});
  EXPECT_NE(short_env.exit_code, 0);
  WriteFile(keys_file, short_secret + "\n");
  const CommandResult short_file =
      cli("jwk list (short secret in file)", {"jwk", "list", "--config", config}, env_file);
  EXPECT_NE(short_file.exit_code, 0);

  const Needles needles = {{"PASSGATE_SECRETS_KEYS value", kEnvSecret},
                           {"rejected short secret", short_secret},
                           {"password SuperSecure", "SuperSecure"}};
  for (std::size_t i = 0; i < logs.size(); ++i) {
    EXPECT_FALSE(logs[i].empty()) << "server log " << i;
    ExpectNoLeak("server log " + std::to_string(i), logs[i], needles);
  }
  for (const auto& [label, text] : outputs) ExpectNoLeak(label, text, needles);
  const std::string db = DatabaseBytes(dir);
  ExpectNoPrivateKeyMaterial("database (env secrets)", db);
  ExpectNoLeak("database (env secrets)", db, needles);
}

}  // namespace
}  // namespace passgate::testing
