// Browser-side clients of the REST gateway (`passgate serve` runs gRPC and HTTP in one
// process): Hanko's own frontend SDK (@teamhanko/hanko-frontend-sdk 0.12.0) under jsdom, and
// a real page in Debian's Chromium driven by playwright-core. The clients live in
// tests/integration/js (package.json + package-lock.json); `npm ci` installs them on the
// first run. Each script prints one JSON line and exits 0 when its checks hold.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/grpc_fixture.h"

namespace passgate::testing {
namespace {

// The page origin sdk_login.mjs gives its jsdom window (PAGE_ORIGIN there).
constexpr char kJsdomOrigin[] = "http://app.localhost.test";
constexpr char kChromium[] = "/usr/bin/chromium";

std::string JsDir() { return std::string(PASSGATE_SOURCE_DIR) + "/tests/integration/js"; }

// MissingModules lists the dependencies of js/package.json that node_modules lacks, or holds
// at another version than the one pinned there (empty: nothing to install).
std::vector<std::string> MissingModules() {
  const nlohmann::json manifest =
      nlohmann::json::parse(ReadFile(JsDir() + "/package.json"), nullptr, false);
  std::vector<std::string> missing;
  if (!manifest.is_object() || !manifest.contains("dependencies")) {
    missing.push_back("(tests/integration/js/package.json unreadable)");
    return missing;
  }
  for (const auto& [name, version] : manifest["dependencies"].items()) {
    const nlohmann::json installed = nlohmann::json::parse(
        ReadFile(JsDir() + "/node_modules/" + name + "/package.json"), nullptr, false);
    if (!installed.is_object() || installed.value("version", "") != version.get<std::string>()) {
      missing.push_back(name + "@" + version.get<std::string>());
    }
  }
  return missing;
}

struct NodeSetup {
  bool ok = false;
  std::string message;
};

// EnsureNodeModules runs `npm ci` once per test binary run when node_modules lacks a pinned
// dependency. ctest runs each test in its own process, possibly two at once, so the check
// and the install hold an exclusive lock in the build directory.
const NodeSetup& EnsureNodeModules() {
  static const NodeSetup setup = [] {
    NodeSetup result;
    const std::string lock_path = std::string(PASSGATE_BINARY_DIR) + "/browser_clients_npm.lock";
    const int lock = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock >= 0) flock(lock, LOCK_EX);
    const std::vector<std::string> missing = MissingModules();
    if (missing.empty()) {
      result.ok = true;
    } else {
      const CommandResult npm =
          RunCommand({"npm", "ci", "--prefix", JsDir(), "--no-audit", "--no-fund",
                      "--prefer-offline", "--no-update-notifier"});
      const std::vector<std::string> still_missing = MissingModules();
      result.ok = npm.exit_code == 0 && still_missing.empty();
      if (!result.ok) {
        std::ostringstream message;
        message << "`npm ci --prefix tests/integration/js` failed (exit " << npm.exit_code
                << ") while installing";
        for (const std::string& name : missing) message << " " << name;
        message << ". It needs the npm registry, or an npm cache that already holds these "
                   "packages (offline machines: run it once where the registry is reachable, "
                   "or copy node_modules). npm said:\n"
                << npm.out << npm.err;
        result.message = message.str();
      }
    }
    if (lock >= 0) close(lock);  // releases the lock
    return result;
  }();
  return setup;
}

// FreeLoopbackPort binds 127.0.0.1:0, reads the port the kernel chose, and closes it again.
int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

bool RunningUnderCi() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr) return false;
  const std::string value = ci;
  return !value.empty() && value != "0" && value != "false";
}

// ScriptReport is a client script's result: its exit status and its last JSON line.
struct ScriptReport {
  int exit_code = -1;
  nlohmann::json report;
  std::string output;  // everything it printed, for failure messages
};

ScriptReport RunNodeScript(const std::string& script, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"node", JsDir() + "/" + script};
  argv.insert(argv.end(), args.begin(), args.end());
  const CommandResult run = RunCommand(argv);
  ScriptReport result;
  result.exit_code = run.exit_code;
  result.output = "stdout:\n" + run.out + "stderr:\n" + run.err;
  std::istringstream lines(run.out);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_object()) result.report = std::move(parsed);
  }
  return result;
}

// BrowserGatewayTest: PassgateServerTest with the gateway open to a browser origin, and
// optionally other session settings (the base config already has a `session:` section, and
// passgate rejects a repeated key, so these are edited into it and the server restarted).
class BrowserGatewayTest : public PassgateServerTest {
 protected:
  virtual std::vector<std::string> AllowedOrigins() const { return {kJsdomOrigin}; }
  // Replaces the base config's `  cookie: {...}` line inside `session:` when non-empty.
  virtual std::string CookieLine() const { return ""; }
  // Added inside `session:` (indent 2).
  virtual std::string SessionLines() const { return ""; }
  virtual std::string MorePublicLines() const { return ""; }
  virtual std::string ExtraSections() const { return ""; }

  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.public_lines = "    cors:\n      allow_origins: [";
    const std::vector<std::string> origins = AllowedOrigins();
    for (std::size_t i = 0; i < origins.size(); ++i) {
      extras.public_lines += (i > 0 ? ", \"" : "\"") + origins[i] + "\"";
    }
    extras.public_lines += "]\n" + MorePublicLines();
    extras.extra_sections = ExtraSections();
    return extras;
  }

  void SetUp() override {
    const NodeSetup& node = EnsureNodeModules();
    ASSERT_TRUE(node.ok) << node.message;
    PassgateServerTest::SetUp();
    if (HasFatalFailure()) return;
    if (!CookieLine().empty() || !SessionLines().empty()) {
      server_.reset();  // SIGKILL: it has served nothing yet
      std::string config = ReadFile(config_);
      if (!CookieLine().empty()) {
        const std::string::size_type at = config.find("\n  cookie: ");
        ASSERT_NE(at, std::string::npos) << "no session.cookie line to replace in:\n" << config;
        const std::string::size_type end = config.find('\n', at + 1);
        config.replace(at + 1, end - at, CookieLine() + "\n");
      }
      if (!SessionLines().empty()) {
        const std::string::size_type at = config.find("\nsession:\n");
        ASSERT_NE(at, std::string::npos) << "no session section in:\n" << config;
        config.insert(at + std::string("\nsession:\n").size(), SessionLines());
      }
      WriteFile(config_, config);
      StartServer();
      if (HasFatalFailure()) return;
    }
    ASSERT_NE(server_->http_port(), 0) << "no \"http listening\" line; log:\n" << server_->Log();
  }

  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(server_->http_port()); }

  // ExpectSdk runs sdk_login.mjs and expects it to meet `expect`.
  void ExpectSdk(const std::string& user_id, const std::string& password,
                 const std::string& expect) {
    const ScriptReport run = RunNodeScript("sdk_login.mjs", {BaseUrl(), user_id, password, expect});
    EXPECT_EQ(run.exit_code, 0) << "sdk_login.mjs " << expect << " against " << BaseUrl() << ":\n"
                                << run.output;
    EXPECT_EQ(run.report.value("ok", false), true) << run.output;
    last_report_ = run.report;
  }

  nlohmann::json last_report_;
};

// Cookie mode (the default): the server sets the session cookie; the SDK only reads
// X-Session-Lifetime, which CORS must expose.
class SdkCookieModeTest : public BrowserGatewayTest {};

TEST_F(SdkCookieModeTest, LoginResolvesAndTheServersCookieValidates) {
  ExpectSdk(kJohn, "SuperSecure", "ok-cookie");
  if (HasFailure()) return;
  EXPECT_EQ(last_report_["sdk_session"]["userID"], kJohn);
  EXPECT_EQ(last_report_["sdk_session"]["jwt_present"], false);
  EXPECT_EQ(last_report_["validate"]["body"]["user_id"], kJohn);
}

TEST_F(SdkCookieModeTest, WrongPasswordRejectsWithInvalidPasswordError) {
  ExpectSdk(kJohn, "verybadpassword", "invalid-password");
  if (HasFailure()) return;
  EXPECT_EQ(last_report_["login"]["rejected"]["sdk_class"], "InvalidPasswordError");
}

TEST_F(SdkCookieModeTest, UnknownUserRejectsWithInvalidPasswordError) {
  ExpectSdk(kUnknown, "verybadpassword", "invalid-password");
}

// Header mode: the token comes in X-Auth-Token (exposed through CORS) and the SDK keeps it
// in a cookie of its own on the page's origin.
class SdkHeaderModeTest : public BrowserGatewayTest {
 protected:
  std::string SessionLines() const override { return "  enable_auth_token_header: true\n"; }
};

TEST_F(SdkHeaderModeTest, LoginResolvesAndTheSdkStoresTheToken) {
  ExpectSdk(kJohn, "SuperSecure", "ok-header");
  if (HasFailure()) return;
  EXPECT_EQ(last_report_["sdk_session"]["jwt_present"], true);
  EXPECT_EQ(last_report_["api_cookies"], nlohmann::json::array());
}

// One slow hashing worker and one queue slot: of eight concurrent logins at most two are
// served and the service refuses the rest with RESOURCE_EXHAUSTED, which the gateway answers
// with 429. The long upstream deadline keeps the served ones from timing out on a slow host.
class SdkSaturatedPoolTest : public BrowserGatewayTest {
 protected:
  std::string MorePublicLines() const override { return "    upstream_deadline: 300s\n"; }
  std::string ExtraSections() const override {
    return "password:\n"
           "  hashing: {memory_kib: 65536, iterations: 16, workers: 1, queue: 1}\n";
  }
};

TEST_F(SdkSaturatedPoolTest, ConcurrentLoginsRejectWithTooManyRequestsError) {
  ExpectSdk(kJohn, "SuperSecure", "too-many-requests");
  if (HasFailure()) return;
  EXPECT_GE(last_report_["outcomes"]["too_many_requests"].get<int>(), 1);
}

// A real browser: the page on http://127.0.0.1:<page_port> (same site as the API, another
// origin) logs in with fetch(credentials: "include"); the HttpOnly cookie must be stored and
// sent cross-origin, and stay invisible to the page.
class ChromiumTest : public BrowserGatewayTest {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kChromium)) {
      if (RunningUnderCi()) {
        FAIL() << kChromium << " is missing (tools/install-deps --test installs chromium)";
      }
      GTEST_SKIP() << kChromium << " is missing; tools/install-deps --test installs it";
    }
    page_port_ = FreeLoopbackPort();
    ASSERT_NE(page_port_, 0);
    BrowserGatewayTest::SetUp();
  }
  std::vector<std::string> AllowedOrigins() const override {
    return {"http://127.0.0.1:" + std::to_string(page_port_)};
  }
  std::string CookieLine() const override {
    return "  cookie: {same_site: lax, secure: false, http_only: true}";
  }

  int page_port_ = 0;
};

TEST_F(ChromiumTest, CrossOriginLoginStoresAnHttpOnlyCookieThatValidates) {
  const ScriptReport run = RunNodeScript(
      "browser_login.mjs", {BaseUrl(), std::to_string(page_port_), kJohn, "SuperSecure"});
  ASSERT_EQ(run.exit_code, 0) << "browser_login.mjs against " << BaseUrl() << ":\n" << run.output;
  ASSERT_EQ(run.report.value("ok", false), true) << run.output;
  const nlohmann::json& page = run.report["page"];
  EXPECT_EQ(page["login"]["status"], 200);
  EXPECT_EQ(page["validate"]["body"]["is_valid"], true);
  EXPECT_EQ(page["validate"]["body"]["user_id"], kJohn);
  bool http_only_cookie = false;
  for (const nlohmann::json& cookie : run.report["api_cookies"]) {
    if (cookie["name"] == "hanko" && cookie["httpOnly"] == true) http_only_cookie = true;
  }
  EXPECT_TRUE(http_only_cookie) << run.output;
}

}  // namespace
}  // namespace passgate::testing
