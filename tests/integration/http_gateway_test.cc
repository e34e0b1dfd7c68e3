// The real `passgate serve` on loopback, driven over HTTP/1.1 like Hanko's frontend SDK drives
// Hanko: the public password API of reference §1–§8 with exact statuses, bodies and headers,
// Hanko's own cases (§12: L1–L4, S1–S6), CORS, client identity, keep-alive, the gateway as a
// separate process, HTTPS, and gRPC mTLS between gateway and service.
#include <cctype>
#include <cstdlib>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/grpc_fixture.h"
#include "tests/integration/http_client.h"
#include "tests/integration/test_pki.h"

namespace passgate::testing {
namespace {

using nlohmann::json;

constexpr char kJwt[] = R"([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)";
constexpr char kUserAgent[] = "passgate-http-test/1.0 (integration)";
constexpr char kAllowedOrigin[] = "https://app.example.com";
constexpr char kExposeHeaders[] =
    "Retry-After,X-RateLimit-Limit,X-RateLimit-Remaining,X-RateLimit-Reset,X-Session-Lifetime,"
    "X-Session-Retention";
constexpr char kBothRequired[] = "user_id is a required field and password is a required field";
constexpr char kTooLong[] = "password must not be longer than 72 bytes";
constexpr char kTestCookieLine[] = "  cookie: {same_site: none, secure: false, http_only: false}\n";

std::string LoginBody(const std::string& user_id, const std::string& password) {
  return json{{"user_id", user_id}, {"password", password}}.dump();
}

// ErrorBody is Hanko's error body, byte for byte.
std::string ErrorBody(int status, const std::string& message) {
  return "{\"code\":" + std::to_string(status) + ",\"message\":\"" + message + "\"}\n";
}

HeaderList JsonHeaders(HeaderList more = {}) {
  HeaderList headers = {{"Content-Type", "application/json"}, {"User-Agent", kUserAgent}};
  headers.insert(headers.end(), more.begin(), more.end());
  return headers;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string Lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// ListContains: `needle` is one of the comma-separated tokens of `list` (case-insensitive).
bool ListContains(const std::string& list, const std::string& needle) {
  std::stringstream tokens(list);
  for (std::string token; std::getline(tokens, token, ',');) {
    const auto first = token.find_first_not_of(" \t");
    const auto last = token.find_last_not_of(" \t");
    if (first == std::string::npos) continue;
    if (Lowercase(token.substr(first, last - first + 1)) == Lowercase(needle)) return true;
  }
  return false;
}

// ExpectError checks Hanko's exact error answer.
void ExpectError(const HttpReply& reply, int status, const std::string& message,
                 const std::string& context = "") {
  EXPECT_EQ(reply.status, status) << context << "\n" << Describe(reply);
  EXPECT_EQ(reply.body, ErrorBody(status, message)) << context;
  EXPECT_EQ(reply.Header("Content-Type").value_or("<none>"), "application/json") << context;
  EXPECT_FALSE(reply.Header("X-Request-Id").value_or("").empty()) << context;
}

// ExpectErrorPrefix checks an error whose message Hanko takes from Go's JSON decoder.
void ExpectErrorPrefix(const HttpReply& reply, int status, const std::string& prefix,
                       const std::string& context = "") {
  EXPECT_EQ(reply.status, status) << context << "\n" << Describe(reply);
  EXPECT_TRUE(reply.body.ends_with("}\n")) << context << ": " << reply.body;
  const json body = json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << context << ": " << reply.body;
  EXPECT_EQ(body.size(), 2u) << context << ": " << reply.body;
  EXPECT_EQ(body.value("code", 0), status) << context;
  EXPECT_TRUE(body.value("message", "").starts_with(prefix)) << context << ": " << reply.body;
  EXPECT_EQ(reply.Header("Content-Type").value_or("<none>"), "application/json") << context;
}

// CookieToken returns the JWT of the `hanko` Set-Cookie, or "".
std::string CookieToken(const HttpReply& reply) {
  for (const std::string& cookie : reply.HeaderValues("Set-Cookie")) {
    if (cookie.starts_with("hanko=")) return cookie.substr(6, cookie.find(';') - 6);
  }
  return "";
}

// SessionRow is one line of `passgate session list`.
struct SessionRow {
  std::string id, created, expires, ip, user_agent;
};

std::optional<SessionRow> FindSession(const std::string& listing, const std::string& id) {
  std::istringstream lines(listing);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> fields;
    std::stringstream parts(line);
    for (std::string field; std::getline(parts, field, '\t');) fields.push_back(field);
    while (fields.size() < 5) fields.emplace_back();
    if (fields[0] == id) return SessionRow{fields[0], fields[1], fields[2], fields[3], fields[4]};
  }
  return std::nullopt;
}

std::string InsertAfter(std::string text, const std::string& anchor, const std::string& lines) {
  const std::size_t at = text.find(anchor);
  if (at == std::string::npos) {
    ADD_FAILURE() << "config anchor not found: " << anchor << "\n" << text;
    return text;
  }
  text.insert(at + anchor.size(), lines);
  return text;
}

// HttpGatewayTest: PassgateServerTest (fixture users imported, `passgate serve` running) plus
// the HTTP side. Subclasses change the config through ConfigExtras, SessionLines and
// CookieLine, run another serve mode through ServeCommand, and make files (TLS material)
// before the config is written through PrepareFiles.
class HttpGatewayTest : public PassgateServerTest {
 protected:
  // SessionLines are added inside `session:` (indent 2).
  virtual std::string SessionLines() const { return {}; }
  // CookieLine replaces the test config's `session.cookie` line (indent 2); empty keeps it.
  virtual std::string CookieLine() const { return {}; }
  virtual std::vector<std::string> ServeCommand() const { return {"serve"}; }
  virtual void PrepareFiles() {}

  void SetUp() override {
    PrepareFiles();
    if (HasFatalFailure()) return;
    config_ = WriteTestConfig(dir_, ConfigExtras());
    std::string text = ReadFile(config_);
    if (!CookieLine().empty()) {
      const std::size_t at = text.find(kTestCookieLine);
      ASSERT_NE(at, std::string::npos) << text;
      text.replace(at, std::string(kTestCookieLine).size(), CookieLine());
    }
    text = InsertAfter(text, "session:\n", SessionLines());
    WriteFile(config_, text);
    const CommandResult imported =
        RunPassgate({"user", "import", "--config", config_,
                     std::string(PASSGATE_SOURCE_DIR) +
                         "/tests/integration/testdata/hanko_fixture_users.json"});
    ASSERT_EQ(imported.exit_code, 0) << imported.err;
    if (ServeCommand() == std::vector<std::string>{"serve"}) {
      StartServer();
    } else {
      server_ = ServerProcess::Start(config_, dir_.File("server-split.log"), {}, ServeCommand());
      ASSERT_NE(server_, nullptr);
      ConnectStub();
    }
  }

  void TearDown() override {
    PassgateServerTest::TearDown();
    if (HasFailure()) {
      for (const std::string& log : extra_logs_) std::cerr << log << ":\n" << ReadFile(log);
    }
  }

  int http_port() const { return server_->http_port(); }

  HttpReply Post(const std::string& target, const std::string& body, HeaderList more = {},
                 int port = 0) {
    return HttpCall(port != 0 ? port : http_port(), "POST", target, JsonHeaders(std::move(more)),
                    body);
  }

  HttpReply LoginHttp(const std::string& user_id, const std::string& password, HeaderList more = {},
                      int port = 0) {
    return Post("/password/login", LoginBody(user_id, password), std::move(more), port);
  }

  // CookieLogin logs in over HTTP and returns the cookie's token (fails the test otherwise).
  std::string CookieLogin(const std::string& user_id, const std::string& password) {
    const HttpReply reply = LoginHttp(user_id, password);
    EXPECT_EQ(reply.status, 200) << Describe(reply);
    const std::string token = CookieToken(reply);
    EXPECT_FALSE(token.empty()) << Describe(reply);
    return token;
  }

  HttpReply PutPassword(const HeaderList& auth, const std::string& user_id,
                        const std::string& password) {
    return HttpCall(http_port(), "PUT", "/password", JsonHeaders(auth),
                    LoginBody(user_id, password));
  }

  std::string SessionList(const std::string& user_id) {
    const CommandResult listed = RunPassgate({"session", "list", user_id, "--config", config_});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    return listed.out;
  }

  // StartGatewayProcess runs `passgate serve gateway` with the fixture config plus `public_lines`
  // inside server.public; `name` names its config and log files.
  std::unique_ptr<ServerProcess> StartGatewayProcess(const std::string& public_lines,
                                                     const std::string& name = "gateway") {
    const std::string gateway_config = dir_.File(name + ".yaml");
    WriteFile(gateway_config, InsertAfter(ReadFile(config_),
                                          "  public:\n    address: 127.0.0.1:0\n", public_lines));
    extra_logs_.push_back(dir_.File(name + ".log"));
    return ServerProcess::Start(gateway_config, extra_logs_.back(), {}, {"serve", "gateway"});
  }

  std::vector<std::string> extra_logs_;  // logs of processes a test started itself
};

// ExpectCookieLogin checks the 200 of L1 in cookie mode with the test cookie policy and
// returns the token.
std::string ExpectCookieLogin(const HttpReply& reply) {
  EXPECT_EQ(reply.status, 200) << Describe(reply);
  EXPECT_EQ(reply.body, "null\n");
  EXPECT_EQ(reply.Header("Content-Type").value_or("<none>"), "application/json");
  const std::vector<std::string> cookies = reply.HeaderValues("Set-Cookie");
  EXPECT_EQ(cookies.size(), 1u) << Describe(reply);
  const std::string cookie = cookies.empty() ? "" : cookies[0];
  std::smatch match;
  EXPECT_TRUE(std::regex_match(
      cookie, match,
      std::regex(std::string("hanko=(") + kJwt + "); Path=/; Max-Age=3600; SameSite=None")))
      << cookie;
  EXPECT_EQ(reply.Header("X-Session-Lifetime").value_or("<none>"), "3600");
  EXPECT_FALSE(reply.HasHeader("X-Auth-Token")) << Describe(reply);
  EXPECT_FALSE(reply.Header("X-Request-Id").value_or("").empty()) << Describe(reply);
  return match.empty() ? "" : match[1].str();
}

// --- POST /password/login ------------------------------------------------------------------

TEST_F(HttpGatewayTest, LoginSetsHankosSessionCookie) {  // Hanko L1
  const HttpReply reply = LoginHttp(kJohn, "SuperSecure");
  const std::string token = ExpectCookieLogin(reply);
  ASSERT_FALSE(token.empty());
  json header = DecodeJwtPart(token, 0);
  json claims = DecodeJwtPart(token, 1);
  ASSERT_TRUE(header.is_object() && claims.is_object()) << token;
  EXPECT_EQ(header["alg"], "RS256");
  EXPECT_EQ(claims["sub"], kJohn);
  EXPECT_EQ(claims["aud"], json::array({"localhost"}));
  EXPECT_EQ(claims["exp"].get<long>() - claims["iat"].get<long>(), 3600);

  // The token is a live session of the service.
  passgate::v1::ValidateSessionRequest request;
  passgate::v1::ValidateSessionResponse response;
  request.set_session_token(token);
  grpc::ClientContext context;
  ASSERT_TRUE(stub_->ValidateSession(&context, request, &response).ok());
  EXPECT_TRUE(response.is_valid());
  EXPECT_EQ(response.user_id(), kJohn);
}

TEST_F(HttpGatewayTest, WrongPasswordUnknownUserAndNoPasswordAreIdentical401s) {  // L3, L4
  std::vector<std::string> bodies;
  for (const char* user : {kJohn, kUnknown, kNoPassword}) {
    const HttpReply reply = LoginHttp(user, "verybadpassword");
    ExpectError(reply, 401, "Unauthorized", user);
    EXPECT_FALSE(reply.HasHeader("Set-Cookie")) << user;
    EXPECT_FALSE(reply.HasHeader("X-Session-Lifetime")) << user;
    EXPECT_FALSE(reply.HasHeader("X-Auth-Token")) << user;
    EXPECT_FALSE(Contains(reply.body, "verybadpassword")) << user;
    bodies.push_back(reply.body);
  }
  EXPECT_EQ(bodies[0], bodies[1]);
  EXPECT_EQ(bodies[0], bodies[2]);
  // A 72-byte wrong password is a normal failed login, not a validation error.
  ExpectError(LoginHttp(kJohn, std::string(72, 'w')), 401, "Unauthorized", "72 bytes");
}

// The binding and validation table of reference §2, in the order the checks run.
TEST_F(HttpGatewayTest, InvalidLoginRequestsGetHankosExactAnswers) {
  struct Case {
    std::string name;
    std::optional<std::string> content_type;  // nullopt: no Content-Type header
    std::optional<std::string> body;          // nullopt: no Content-Length either
    int status;
    std::string message;
    bool prefix;           // message is a prefix (Go's decoder text follows)
    std::string password;  // must never appear in the answer
  };
  const std::string json_type = "application/json";
  const std::string upper_john = "38BF5A00-D7EA-40A5-A5DE-48722C148925";
  std::string euros25;  // 25 characters, 75 bytes: the limit counts bytes
  for (int i = 0; i < 25; ++i) euros25 += "\xE2\x82\xAC";
  const std::vector<Case> cases = {
      {"Content-Length 0", json_type, "", 400, kBothRequired, false, ""},
      {"no body at all", json_type, std::nullopt, 400, kBothRequired, false, ""},
      {"empty body without Content-Type", std::nullopt, "", 400, kBothRequired, false, ""},
      {"empty body as text/plain", "text/plain", "", 400, kBothRequired, false, ""},
      {"{}", json_type, "{}", 400, kBothRequired, false, ""},
      {"null", json_type, "null", 400, kBothRequired, false, ""},
      {"text/plain with a body", "text/plain", LoginBody(kJohn, "Pw-plain-text-1"), 415,
       "Unsupported Media Type", false, "Pw-plain-text-1"},
      {"no Content-Type with a body", std::nullopt, LoginBody(kJohn, "Pw-no-type-2"), 415,
       "Unsupported Media Type", false, "Pw-no-type-2"},
      {"form body", "application/x-www-form-urlencoded",
       std::string("user_id=") + kJohn + "&password=Pw-form-3", 415, "Unsupported Media Type",
       false, "Pw-form-3"},
      {"malformed JSON", json_type,
       std::string(R"({"user_id":")") + kJohn + R"(","password":Pw-unquoted-4})", 400,
       "Syntax error:", true, "Pw-unquoted-4"},
      {"malformed JSON after the password", json_type,
       std::string(R"({"user_id":")") + kJohn + R"(","password":"Pw-comma-5",,})", 400,
       "Syntax error:", true, "Pw-comma-5"},
      {"number for user_id", json_type, R"({"user_id":123,"password":"Pw-type-6"})", 400,
       "Unmarshal type error:", true, "Pw-type-6"},
      {"number for password", json_type,
       std::string(R"({"user_id":")") + kJohn + R"(","password":12345678})", 400,
       "Unmarshal type error:", true, "12345678"},
      {"array body", json_type, "[]", 400, "Unmarshal type error:", true, ""},
      {"truncated", json_type, R"({"user_id":"38bf)", 400, "unexpected EOF", false, ""},
      {"missing password", json_type, json{{"user_id", kJohn}}.dump(), 400,
       "password is a required field", false, ""},
      {"empty password", json_type, LoginBody(kJohn, ""), 400, "password is a required field",
       false, ""},
      {"missing user_id", json_type, json{{"password", "Pw-no-user-7"}}.dump(), 400,
       "user_id is a required field", false, "Pw-no-user-7"},
      {"non-uuid", json_type, LoginBody("not-a-uuid", "Pw-not-uuid-8"), 400,
       "user_id must be a valid uuid", false, "Pw-not-uuid-8"},
      {"uppercase uuid", json_type, LoginBody(upper_john, "SuperSecure"), 400,
       "user_id must be a valid uuid", false, "SuperSecure"},
      {"non-uuid and no password", json_type, json{{"user_id", "not-a-uuid"}}.dump(), 400,
       "user_id must be a valid uuid and password is a required field", false, ""},
      {"73 bytes, known user", json_type, LoginBody(kJohn, std::string(73, 'q')), 400, kTooLong,
       false, std::string(73, 'q')},
      {"73 bytes, unknown user", json_type, LoginBody(kUnknown, std::string(73, 'q')), 400,
       kTooLong, false, std::string(73, 'q')},
      {"73 bytes, user without password", json_type, LoginBody(kNoPassword, std::string(73, 'q')),
       400, kTooLong, false, std::string(73, 'q')},
      {"75 bytes in 25 characters", json_type, LoginBody(kJohn, euros25), 400, kTooLong, false,
       euros25},
  };
  for (const Case& c : cases) {
    HeaderList headers = {{"User-Agent", kUserAgent}};
    if (c.content_type) headers.emplace_back("Content-Type", *c.content_type);
    const HttpReply reply = HttpCall(http_port(), "POST", "/password/login", headers, c.body);
    if (c.prefix) {
      ExpectErrorPrefix(reply, c.status, c.message, c.name);
    } else {
      ExpectError(reply, c.status, c.message, c.name);
    }
    EXPECT_FALSE(reply.HasHeader("Set-Cookie")) << c.name;
    if (!c.password.empty()) {
      EXPECT_FALSE(Contains(reply.body, c.password)) << c.name << ": " << reply.body;
      for (const auto& [name, value] : reply.headers) {
        EXPECT_FALSE(Contains(value, c.password)) << c.name << ": " << name << ": " << value;
      }
    }
  }
}

TEST_F(HttpGatewayTest, JsonWithCharsetAndUnknownKeysLogsIn) {
  ExpectCookieLogin(HttpCall(http_port(), "POST", "/password/login",
                             {{"Content-Type", "application/json; charset=utf-8"}},
                             LoginBody(kJohn, "SuperSecure")));
  ExpectCookieLogin(Post("/password/login", json{{"user_id", kJohn},
                                                 {"password", "SuperSecure"},
                                                 {"remember_me", true},
                                                 {"extra", {{"nested", json::array({1, 2})}}}}
                                                .dump()));
}

// --- routing and transport limits ----------------------------------------------------------

TEST_F(HttpGatewayTest, UnknownPathIs404AndWrongMethodIs405) {
  ExpectError(HttpCall(http_port(), "GET", "/nope"), 404, "Not Found", "GET /nope");
  ExpectError(Post("/password/loginx", LoginBody(kJohn, "SuperSecure")), 404, "Not Found",
              "POST /password/loginx");

  const HttpReply get_login = HttpCall(http_port(), "GET", "/password/login");
  ExpectError(get_login, 405, "Method Not Allowed", "GET /password/login");
  const std::string allow = get_login.Header("Allow").value_or("");
  EXPECT_TRUE(ListContains(allow, "POST")) << allow;
  EXPECT_TRUE(ListContains(allow, "OPTIONS")) << allow;
  EXPECT_FALSE(ListContains(allow, "GET")) << allow;

  const HttpReply get_password = HttpCall(http_port(), "GET", "/password");
  ExpectError(get_password, 405, "Method Not Allowed", "GET /password");
  EXPECT_TRUE(ListContains(get_password.Header("Allow").value_or(""), "PUT"))
      << Describe(get_password);
}

TEST_F(HttpGatewayTest, OversizedBodyIs413AndOversizedHeadIs431) {
  const std::string huge = LoginBody(kJohn, std::string(20'000, 'z'));
  const HttpReply body = Post("/password/login", huge);
  EXPECT_EQ(body.status, 413) << Describe(body);
  EXPECT_EQ(body.body, ErrorBody(413, "Request Entity Too Large"));
  EXPECT_FALSE(Contains(body.body, "zzzz"));

  const HttpReply head = HttpCall(http_port(), "GET", "/.well-known/jwks.json",
                                  {{"X-Padding", std::string(10'000, 'p')}});
  EXPECT_EQ(head.status, 431) << Describe(head);
  EXPECT_EQ(head.body, ErrorBody(431, "Request Header Fields Too Large"));

  // The server is still fine afterwards.
  EXPECT_EQ(HttpCall(http_port(), "GET", "/.well-known/jwks.json").status, 200);
}

// Reference §1: every response carries X-Request-Id, also the transport's own errors.
TEST_F(HttpGatewayTest, ProtocolErrorsCarryARequestId) {
  const HttpReply too_large = Post("/password/login", LoginBody(kJohn, std::string(20'000, 'z')));
  EXPECT_EQ(too_large.status, 413);
  EXPECT_FALSE(too_large.Header("X-Request-Id").value_or("").empty()) << Describe(too_large);
  const HttpReply head_too_large = HttpCall(http_port(), "GET", "/.well-known/jwks.json",
                                            {{"X-Padding", std::string(10'000, 'p')}});
  EXPECT_EQ(head_too_large.status, 431);
  EXPECT_FALSE(head_too_large.Header("X-Request-Id").value_or("").empty())
      << Describe(head_too_large);
  const HttpReply bad = ParseReply(SendRaw(http_port(), "HELLO\r\n\r\n"));
  EXPECT_EQ(bad.status, 400) << Describe(bad);
  EXPECT_EQ(bad.body, ErrorBody(400, "Bad Request"));
  EXPECT_FALSE(bad.Header("X-Request-Id").value_or("").empty()) << Describe(bad);
}

TEST_F(HttpGatewayTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  std::string error;
  std::unique_ptr<HttpConnection> connection = HttpConnection::Open(http_port(), &error);
  ASSERT_NE(connection, nullptr) << error;
  const HttpReply first = connection->Call("GET", "/.well-known/jwks.json", {}, {}, false);
  EXPECT_EQ(first.status, 200) << Describe(first);
  EXPECT_NE(Lowercase(first.Header("Connection").value_or("")), "close");
  const HttpReply second = connection->Call("POST", "/password/login", JsonHeaders(),
                                            LoginBody(kJohn, "SuperSecure"), false);
  ExpectCookieLogin(second);
  const HttpReply third = connection->Call("GET", "/nope", {}, {}, true);
  ExpectError(third, 404, "Not Found", "third request");
}

TEST_F(HttpGatewayTest, TerminateWithAnIdleKeepAliveConnectionExitsCleanly) {
  std::string error;
  std::unique_ptr<HttpConnection> connection = HttpConnection::Open(http_port(), &error);
  ASSERT_NE(connection, nullptr) << error;
  EXPECT_EQ(connection->Call("GET", "/.well-known/jwks.json", {}, {}, false).status, 200);
  // The connection stays open and idle while the server is asked to stop.
  EXPECT_EQ(server_->Terminate(), 0) << server_->Log();
  EXPECT_EQ(connection->ReadUntilClose(std::chrono::seconds(5)), "");
}

// --- PUT /password (reference §8, Hanko S1–S6) ---------------------------------------------

HeaderList Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }
HeaderList Cookie(const std::string& token) { return {{"Cookie", "hanko=" + token}}; }

TEST_F(HttpGatewayTest, SetPasswordCreatesThenLogsIn) {  // S1
  const std::string token = IssueToken(kNoPassword);
  const HttpReply created = PutPassword(Bearer(token), kNoPassword, "verybadpassword");
  EXPECT_EQ(created.status, 201) << Describe(created);
  EXPECT_EQ(created.body, "null\n");
  EXPECT_EQ(created.Header("Content-Type").value_or("<none>"), "application/json");
  ExpectCookieLogin(LoginHttp(kNoPassword, "verybadpassword"));
}

TEST_F(HttpGatewayTest, SetPasswordUpdatesWithTheCookieSession) {  // S2
  const std::string token = CookieLogin(kJohn, "SuperSecure");
  const HttpReply updated = PutPassword(Cookie(token), kJohn, "verybadpassword");
  EXPECT_EQ(updated.status, 200) << Describe(updated);
  EXPECT_EQ(updated.body, "null\n");
  ExpectCookieLogin(LoginHttp(kJohn, "verybadpassword"));
  ExpectError(LoginHttp(kJohn, "SuperSecure"), 401, "Unauthorized", "old password");
}

TEST_F(HttpGatewayTest, SetPasswordChecksLengthInCharactersAndBytes) {  // S3, S4
  const std::string token = IssueToken(kNoPassword);
  ExpectError(PutPassword(Bearer(token), kNoPassword, "very"), 400,
              "password must be at least 8 characters long", "S3");
  // 7 characters in 21 bytes is still too short: the minimum counts characters.
  ExpectError(PutPassword(Bearer(token), kNoPassword,
                          "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2"
                          "\x82\xAC\xE2\x82\xAC"),
              400, "password must be at least 8 characters long", "7 euro signs");
  const HttpReply long_password = PutPassword(Bearer(token), kNoPassword, std::string(82, 'l'));
  ExpectError(long_password, 400, kTooLong, "S4");
  EXPECT_FALSE(Contains(long_password.body, std::string(82, 'l')));
  // Binding and validation follow login's rules.
  ExpectError(HttpCall(http_port(), "PUT", "/password", JsonHeaders(Bearer(token)), "{}"), 400,
              kBothRequired, "{}");
  ExpectError(HttpCall(http_port(), "PUT", "/password",
                       {{"Content-Type", "text/plain"}, {"Authorization", "Bearer " + token}},
                       LoginBody(kNoPassword, "verybadpassword")),
              415, "Unsupported Media Type", "text/plain");
}

TEST_F(HttpGatewayTest, SetPasswordForADeletedUsersTokenIs401) {  // S5
  const CommandResult created = RunPassgate(
      {"user", "create", "--id", kUnknown, "--email", "s5@example.com", "--config", config_});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = IssueToken(kUnknown);
  const CommandResult deleted = RunPassgate({"user", "delete", kUnknown, "--config", config_});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
  ExpectError(PutPassword(Bearer(token), kUnknown, "verybadpassword"), 401, "Unauthorized", "S5");
}

TEST_F(HttpGatewayTest, SetPasswordForAnotherUserIs403) {  // S6
  const std::string token = CookieLogin(kJohn, "SuperSecure");
  ExpectError(PutPassword(Bearer(token), kNoPassword, "verybadpassword"), 403, "Forbidden",
              "bearer");
  ExpectError(PutPassword(Cookie(token), kNoPassword, "verybadpassword"), 403, "Forbidden",
              "cookie");
  // Nothing changed.
  ExpectError(LoginHttp(kNoPassword, "verybadpassword"), 401, "Unauthorized", "b5dd login");
}

TEST_F(HttpGatewayTest, SetPasswordWithoutAValidSessionIs401) {
  ExpectError(PutPassword({}, kNoPassword, "verybadpassword"), 401, "Unauthorized", "no session");
  ExpectError(PutPassword(Bearer("garbage"), kNoPassword, "verybadpassword"), 401, "Unauthorized",
              "garbage bearer");
  ExpectError(PutPassword(Cookie("garbage"), kNoPassword, "verybadpassword"), 401, "Unauthorized",
              "garbage cookie");
  std::string tampered = IssueToken(kNoPassword);
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  ExpectError(PutPassword(Bearer(tampered), kNoPassword, "verybadpassword"), 401, "Unauthorized",
              "tampered");
}

// --- /sessions/validate ---------------------------------------------------------------------

void ExpectValidSession(const HttpReply& reply, const std::string& token,
                        const std::string& context) {
  EXPECT_EQ(reply.status, 200) << context << "\n" << Describe(reply);
  EXPECT_EQ(reply.Header("Content-Type").value_or("<none>"), "application/json") << context;
  json body = json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << context << ": " << reply.body;
  json claims = DecodeJwtPart(token, 1);
  EXPECT_EQ(body.value("is_valid", false), true) << context << ": " << reply.body;
  EXPECT_EQ(body.value("user_id", ""), kJohn) << context;
  EXPECT_TRUE(body.contains("expiration_time")) << context << ": " << reply.body;
  ASSERT_TRUE(body.contains("claims") && body["claims"].is_object()) << context;
  EXPECT_EQ(body["claims"].value("subject", ""), kJohn) << context;
  EXPECT_EQ(body["claims"].value("session_id", ""), claims["session_id"]) << context;
  EXPECT_EQ(body["claims"].value("audience", json()), json::array({"localhost"})) << context;
  EXPECT_EQ(body["claims"].value("email", json::object()).value("address", ""),
            "john.doe+1@example.com")
      << context;
}

void ExpectInvalidSession(const HttpReply& reply, const std::string& context) {
  EXPECT_EQ(reply.status, 200) << context << "\n" << Describe(reply);
  EXPECT_EQ(json::parse(reply.body, nullptr, false), json({{"is_valid", false}}))
      << context << ": " << reply.body;
}

TEST_F(HttpGatewayTest, ValidateSessionWithCookieBearerOrBody) {
  const std::string token = CookieLogin(kJohn, "SuperSecure");
  ASSERT_FALSE(token.empty());
  ExpectValidSession(HttpCall(http_port(), "GET", "/sessions/validate", Cookie(token)), token,
                     "GET cookie");
  ExpectValidSession(HttpCall(http_port(), "GET", "/sessions/validate", Bearer(token)), token,
                     "GET bearer");
  ExpectInvalidSession(HttpCall(http_port(), "GET", "/sessions/validate"), "GET no token");
  ExpectInvalidSession(HttpCall(http_port(), "GET", "/sessions/validate", Bearer("garbage")),
                       "GET garbage");

  ExpectValidSession(Post("/sessions/validate", json{{"session_token", token}}.dump()), token,
                     "POST");
  ExpectInvalidSession(Post("/sessions/validate", json{{"session_token", "garbage"}}.dump()),
                       "POST garbage");
  const HttpReply missing = Post("/sessions/validate", "{}");
  EXPECT_EQ(missing.status, 400) << Describe(missing);
  EXPECT_EQ(json::parse(missing.body, nullptr, false).value("code", 0), 400) << missing.body;

  // Revoked: signed and unexpired, but its session row is gone.
  const std::string session_id = DecodeJwtPart(token, 1)["session_id"];
  const CommandResult revoked = RunPassgate({"session", "revoke", session_id, "--config", config_});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.err;
  ExpectInvalidSession(HttpCall(http_port(), "GET", "/sessions/validate", Cookie(token)),
                       "revoked");
}

// --- JWKS -----------------------------------------------------------------------------------

TEST_F(HttpGatewayTest, JwksIsPublishedWithCacheControl) {
  const std::string token = CookieLogin(kJohn, "SuperSecure");
  const HttpReply reply = HttpCall(http_port(), "GET", "/.well-known/jwks.json");
  EXPECT_EQ(reply.status, 200) << Describe(reply);
  EXPECT_EQ(reply.Header("Cache-Control").value_or("<none>"), "max-age=600");
  EXPECT_EQ(reply.Header("Content-Type").value_or("<none>"), "application/json");
  json jwks = json::parse(reply.body, nullptr, false);
  ASSERT_TRUE(jwks.is_object() && jwks.contains("keys") && jwks["keys"].is_array() &&
              !jwks["keys"].empty())
      << reply.body;
  json key = jwks["keys"][0];
  EXPECT_EQ(key.value("alg", ""), "RS256");
  EXPECT_EQ(key.value("kty", ""), "RSA");
  EXPECT_EQ(key.value("e", ""), "AQAB");
  EXPECT_EQ(key.value("use", ""), "sig");
  EXPECT_EQ(key.value("kid", ""), DecodeJwtPart(token, 0)["kid"]);
  EXPECT_EQ(key.value("n", "").size(), 342u);
  EXPECT_EQ(key.size(), 6u) << "exactly alg, e, kid, kty, n, use: " << key.dump();
}

// --- client identity ------------------------------------------------------------------------

TEST_F(HttpGatewayTest, SessionRecordsPeerIpAndUserAgent) {
  const HttpReply plain = LoginHttp(kJohn, "SuperSecure");
  const std::string token = ExpectCookieLogin(plain);
  ASSERT_FALSE(token.empty());
  const HttpReply forwarded = LoginHttp(
      kJohn, "SuperSecure", {{"X-Forwarded-For", "203.0.113.9"}, {"X-Real-IP", "203.0.113.10"}});
  const std::string forwarded_token = ExpectCookieLogin(forwarded);
  ASSERT_FALSE(forwarded_token.empty());

  const std::string listing = SessionList(kJohn);
  for (const std::string& t : {token, forwarded_token}) {
    const std::optional<SessionRow> row =
        FindSession(listing, DecodeJwtPart(t, 1)["session_id"].get<std::string>());
    ASSERT_TRUE(row.has_value()) << listing;
    EXPECT_EQ(row->ip, "127.0.0.1") << listing;
    EXPECT_EQ(row->user_agent, kUserAgent) << listing;
  }
  EXPECT_FALSE(Contains(listing, "203.0.113.")) << listing;
}

class TrustedProxyTest : public HttpGatewayTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.public_lines = "    trusted_proxies: [127.0.0.1]\n";
    return extras;
  }
};

TEST_F(TrustedProxyTest, ForwardedForFromATrustedProxyIsTheClientIp) {
  const std::string token =
      ExpectCookieLogin(LoginHttp(kJohn, "SuperSecure", {{"X-Forwarded-For", "203.0.113.9"}}));
  ASSERT_FALSE(token.empty());
  const std::string listing = SessionList(kJohn);
  const std::optional<SessionRow> row =
      FindSession(listing, DecodeJwtPart(token, 1)["session_id"].get<std::string>());
  ASSERT_TRUE(row.has_value()) << listing;
  EXPECT_EQ(row->ip, "203.0.113.9")
      << "the service must trust the in-process gateway's x-passgate-client-ip\n"
      << listing;
  EXPECT_EQ(row->user_agent, kUserAgent) << listing;
}

TEST_F(TrustedProxyTest, TheClientIsTheRightmostUntrustedHop) {
  // A client can prepend anything; only what the trusted proxy appended counts.
  for (const std::string& chain :
       {std::string("198.51.100.1, 203.0.113.9"), std::string("203.0.113.9, 127.0.0.1")}) {
    const std::string token =
        ExpectCookieLogin(LoginHttp(kJohn, "SuperSecure", {{"X-Forwarded-For", chain}}));
    ASSERT_FALSE(token.empty());
    const std::string listing = SessionList(kJohn);
    const std::optional<SessionRow> row =
        FindSession(listing, DecodeJwtPart(token, 1)["session_id"].get<std::string>());
    ASSERT_TRUE(row.has_value()) << listing;
    EXPECT_EQ(row->ip, "203.0.113.9") << chain << "\n" << listing;
  }
}

// --- config variants ------------------------------------------------------------------------

class HeaderModeTest : public HttpGatewayTest {
 protected:
  std::string SessionLines() const override { return "  enable_auth_token_header: true\n"; }
};

TEST_F(HeaderModeTest, LoginReturnsTheTokenInXAuthToken) {  // Hanko L2
  const HttpReply reply = LoginHttp(kJohn, "SuperSecure");
  EXPECT_EQ(reply.status, 200) << Describe(reply);
  EXPECT_EQ(reply.body, "null\n");
  const std::string token = reply.Header("X-Auth-Token").value_or("");
  EXPECT_TRUE(std::regex_match(token, std::regex(kJwt))) << Describe(reply);
  EXPECT_EQ(DecodeJwtPart(token, 1)["sub"], kJohn);
  EXPECT_FALSE(reply.HasHeader("Set-Cookie")) << Describe(reply);
  EXPECT_EQ(reply.Header("X-Session-Lifetime").value_or("<none>"), "3600");
  // The header token works as a bearer session.
  const HttpReply updated = PutPassword(Bearer(token), kJohn, "verybadpassword");
  EXPECT_EQ(updated.status, 200) << Describe(updated);
}

class CookiePolicyTest : public HttpGatewayTest {
 protected:
  std::string CookieLine() const override {
    return "  cookie: {same_site: strict, secure: true, http_only: true, domain: "
           "\".example.com\"}\n";
  }
};

TEST_F(CookiePolicyTest, CookieCarriesEveryAttributeInHankosOrder) {
  const HttpReply reply = LoginHttp(kJohn, "SuperSecure");
  EXPECT_EQ(reply.status, 200) << Describe(reply);
  const std::vector<std::string> cookies = reply.HeaderValues("Set-Cookie");
  ASSERT_EQ(cookies.size(), 1u) << Describe(reply);
  EXPECT_TRUE(std::regex_match(
      cookies[0], std::regex(std::string("hanko=") + kJwt +
                             "; Path=/; Domain=example.com; Max-Age=3600; HttpOnly; Secure; "
                             "SameSite=Strict")))
      << cookies[0];
}

class PasswordsDisabledTest : public HttpGatewayTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.extra_sections = "password:\n  enabled: false\n";
    return extras;
  }
};

TEST_F(PasswordsDisabledTest, PasswordRoutesAre404) {
  ExpectError(LoginHttp(kJohn, "SuperSecure"), 404, "Not Found", "login");
  ExpectError(PutPassword(Bearer(IssueToken(kNoPassword)), kNoPassword, "verybadpassword"), 404,
              "Not Found", "set password");
  EXPECT_EQ(HttpCall(http_port(), "GET", "/.well-known/jwks.json").status, 200);
  ExpectInvalidSession(HttpCall(http_port(), "GET", "/sessions/validate"), "validate");
}

// --- CORS (reference §7) --------------------------------------------------------------------

class CorsTest : public HttpGatewayTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.public_lines =
        std::string("    cors:\n      allow_origins: [\"") + kAllowedOrigin + "\"]\n";
    return extras;
  }

  void ExpectVaryOrigin(const HttpReply& reply, const std::string& context) {
    bool found = false;
    for (const std::string& vary : reply.HeaderValues("Vary")) {
      found = found || ListContains(vary, "Origin");
    }
    EXPECT_TRUE(found) << context << "\n" << Describe(reply);
  }
};

TEST_F(CorsTest, PreflightFromAnAllowedOrigin) {
  const HttpReply reply = HttpCall(http_port(), "OPTIONS", "/password/login",
                                   {{"Origin", kAllowedOrigin},
                                    {"Access-Control-Request-Method", "POST"},
                                    {"Access-Control-Request-Headers", "content-type"}});
  EXPECT_EQ(reply.status, 204) << Describe(reply);
  EXPECT_EQ(reply.Header("Access-Control-Allow-Origin").value_or("<none>"), kAllowedOrigin);
  EXPECT_EQ(reply.Header("Access-Control-Allow-Credentials").value_or("<none>"), "true");
  EXPECT_TRUE(ListContains(reply.Header("Access-Control-Allow-Methods").value_or(""), "POST"))
      << Describe(reply);
  EXPECT_TRUE(
      ListContains(reply.Header("Access-Control-Allow-Headers").value_or(""), "content-type"))
      << Describe(reply);
  EXPECT_EQ(reply.Header("Access-Control-Max-Age").value_or("<none>"), "7200");
  ExpectVaryOrigin(reply, "preflight");
}

TEST_F(CorsTest, LoginFromAnAllowedOriginExposesTheSessionHeaders) {
  const HttpReply reply = LoginHttp(kJohn, "SuperSecure", {{"Origin", kAllowedOrigin}});
  ExpectCookieLogin(reply);
  EXPECT_EQ(reply.Header("Access-Control-Allow-Origin").value_or("<none>"), kAllowedOrigin);
  EXPECT_EQ(reply.Header("Access-Control-Allow-Credentials").value_or("<none>"), "true");
  EXPECT_EQ(reply.Header("Access-Control-Expose-Headers").value_or("<none>"), kExposeHeaders);
  ExpectVaryOrigin(reply, "login");
  // Error answers carry CORS too, or the SDK could not read the 401.
  const HttpReply failed = LoginHttp(kJohn, "verybadpassword", {{"Origin", kAllowedOrigin}});
  ExpectError(failed, 401, "Unauthorized", "401 with origin");
  EXPECT_EQ(failed.Header("Access-Control-Allow-Origin").value_or("<none>"), kAllowedOrigin);
}

TEST_F(CorsTest, DisallowedOriginGetsNoCorsHeaders) {
  const std::string evil = "https://evil.example.com";
  const HttpReply login = LoginHttp(kJohn, "SuperSecure", {{"Origin", evil}});
  ExpectCookieLogin(login);
  EXPECT_TRUE(login.HeaderNamesWithPrefix("access-control-").empty()) << Describe(login);
  ExpectVaryOrigin(login, "disallowed login");

  const HttpReply preflight = HttpCall(http_port(), "OPTIONS", "/password/login",
                                       {{"Origin", evil},
                                        {"Access-Control-Request-Method", "POST"},
                                        {"Access-Control-Request-Headers", "content-type"}});
  EXPECT_TRUE(preflight.HeaderNamesWithPrefix("access-control-").empty()) << Describe(preflight);
  EXPECT_LT(preflight.status, 300) << Describe(preflight);
}

class CorsHeaderModeTest : public CorsTest {
 protected:
  std::string SessionLines() const override { return "  enable_auth_token_header: true\n"; }
};

TEST_F(CorsHeaderModeTest, HeaderModeAlsoExposesXAuthToken) {
  const HttpReply reply = LoginHttp(kJohn, "SuperSecure", {{"Origin", kAllowedOrigin}});
  EXPECT_EQ(reply.status, 200) << Describe(reply);
  EXPECT_TRUE(reply.HasHeader("X-Auth-Token"));
  EXPECT_EQ(reply.Header("Access-Control-Expose-Headers").value_or("<none>"),
            std::string(kExposeHeaders) + ",X-Auth-Token");
}

// --- `passgate serve grpc` + `passgate serve gateway` ---------------------------------------

class SplitProcessTest : public HttpGatewayTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.grpc_lines = "    trusted_peers: [127.0.0.1]\n";
    return extras;
  }
  std::vector<std::string> ServeCommand() const override { return {"serve", "grpc"}; }
};

TEST_F(SplitProcessTest, GatewayProcessServesLoginAndJwksThroughTheGrpcProcess) {
  EXPECT_EQ(server_->http_port(), 0) << "serve grpc must not run the gateway";
  std::unique_ptr<ServerProcess> gateway = StartGatewayProcess(
      "    upstream: {address: \"127.0.0.1:" + std::to_string(server_->port()) + "\"}\n");
  ASSERT_NE(gateway, nullptr);
  const int port = gateway->http_port();

  const std::string token = ExpectCookieLogin(LoginHttp(kJohn, "SuperSecure", {}, port));
  ASSERT_FALSE(token.empty());
  ExpectError(LoginHttp(kJohn, "verybadpassword", {}, port), 401, "Unauthorized", "L3");
  ExpectError(LoginHttp(kUnknown, "verybadpassword", {}, port), 401, "Unauthorized", "L4");
  ExpectError(HttpCall(port, "POST", "/password/login", JsonHeaders(), "{}"), 400, kBothRequired,
              "{}");

  const HttpReply jwks = HttpCall(port, "GET", "/.well-known/jwks.json");
  EXPECT_EQ(jwks.status, 200) << Describe(jwks);
  EXPECT_EQ(jwks.Header("Cache-Control").value_or("<none>"), "max-age=600");
  json keys = json::parse(jwks.body, nullptr, false);
  ASSERT_TRUE(keys.is_object()) << jwks.body;
  EXPECT_EQ(keys["keys"][0].value("kid", ""), DecodeJwtPart(token, 0)["kid"]) << jwks.body;

  // The grpc process trusts the gateway's peer, so the session shows the HTTP client.
  const std::string listing = SessionList(kJohn);
  const std::optional<SessionRow> row =
      FindSession(listing, DecodeJwtPart(token, 1)["session_id"].get<std::string>());
  ASSERT_TRUE(row.has_value()) << listing;
  EXPECT_EQ(row->ip, "127.0.0.1") << listing;
  EXPECT_EQ(row->user_agent, kUserAgent) << listing;
}

TEST_F(SplitProcessTest, GatewayAnswers503WhenTheServiceIsDown) {
  std::unique_ptr<ServerProcess> gateway = StartGatewayProcess(
      "    upstream: {address: \"127.0.0.1:" + std::to_string(server_->port()) + "\"}\n");
  ASSERT_NE(gateway, nullptr);
  const HttpReply keys = HttpCall(gateway->http_port(), "GET", "/.well-known/jwks.json");
  EXPECT_EQ(keys.status, 200);
  server_->Kill();
  ExpectError(LoginHttp(kJohn, "SuperSecure", {}, gateway->http_port()), 503, "Service Unavailable",
              "login");
  // The public keys fetched while the service was up are still served from the gateway's
  // cache (fresh for 10 s); a gateway that never saw them answers 503.
  EXPECT_EQ(HttpCall(gateway->http_port(), "GET", "/.well-known/jwks.json").body, keys.body);
  std::unique_ptr<ServerProcess> late_gateway = StartGatewayProcess(
      "    upstream: {address: \"127.0.0.1:" + std::to_string(server_->port()) + "\"}\n",
      "late-gateway");
  ASSERT_NE(late_gateway, nullptr);
  ExpectError(HttpCall(late_gateway->http_port(), "GET", "/.well-known/jwks.json"), 503,
              "Service Unavailable", "jwks");
}

// --- TLS ------------------------------------------------------------------------------------

class HttpsTest : public HttpGatewayTest {
 protected:
  void PrepareFiles() override { MakeTestPki(dir_, pki_); }
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.public_lines = "    tls: {cert_file: \"" + pki_.server_cert + "\", key_file: \"" +
                          pki_.server_key + "\"}\n";
    return extras;
  }
  TestPki pki_;
};

TEST_F(HttpsTest, LoginWorksOverTls) {
  const TlsClientOptions tls{pki_.ca, "127.0.0.1", "", ""};
  const HttpReply reply = HttpsCall(http_port(), tls, "POST", "/password/login", JsonHeaders(),
                                    LoginBody(kJohn, "SuperSecure"));
  ExpectCookieLogin(reply);
  const HttpReply jwks = HttpsCall(http_port(), tls, "GET", "/.well-known/jwks.json");
  EXPECT_EQ(jwks.status, 200) << Describe(jwks);
  ExpectError(HttpsCall(http_port(), tls, "POST", "/password/login", JsonHeaders(),
                        LoginBody(kJohn, "verybadpassword")),
              401, "Unauthorized", "L3 over TLS");

  // The client really verifies: a wrong trust anchor or a wrong name fails the handshake.
  const HttpReply untrusted = HttpsCall(http_port(), {pki_.server_cert, "127.0.0.1", "", ""}, "GET",
                                        "/.well-known/jwks.json");
  EXPECT_EQ(untrusted.status, 0);
  EXPECT_FALSE(untrusted.error.empty());
  const HttpReply wrong_name =
      HttpsCall(http_port(), {pki_.ca, "127.0.0.2", "", ""}, "GET", "/.well-known/jwks.json");
  EXPECT_EQ(wrong_name.status, 0);
}

TEST_F(HttpsTest, PlainHttpToTheTlsPortIsNotServed) {
  const std::string answer =
      SendRaw(http_port(), BuildRequest(http_port(), "POST", "/password/login", JsonHeaders(),
                                        LoginBody(kJohn, "SuperSecure"), true));
  EXPECT_FALSE(answer.starts_with("HTTP/1.1 200")) << answer;
  EXPECT_FALSE(Contains(answer, "hanko=")) << answer;
  // The TLS side still works after the garbage.
  EXPECT_EQ(HttpsCall(http_port(), {pki_.ca, "127.0.0.1", "", ""}, "GET", "/.well-known/jwks.json")
                .status,
            200);
}

class GrpcMtlsTest : public HttpGatewayTest {
 protected:
  void PrepareFiles() override { MakeTestPki(dir_, pki_); }
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.grpc_lines =
        "    trusted_peers: [127.0.0.1]\n"
        "    tls: {cert_file: \"" +
        pki_.server_cert + "\", key_file: \"" + pki_.server_key + "\", client_ca_file: \"" +
        pki_.ca + "\"}\n";
    return extras;
  }
  std::vector<std::string> ServeCommand() const override { return {"serve", "grpc"}; }

  grpc::StatusCode JwksStatus(const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    auto stub = passgate::v1::PasswordAuth::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()), credentials));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    passgate::v1::Jwks jwks;
    return stub->GetJwks(&context, passgate::v1::GetJwksRequest(), &jwks).error_code();
  }

  TestPki pki_;
};

TEST_F(GrpcMtlsTest, GatewayReachesTheServiceOverMutualTls) {
  std::unique_ptr<ServerProcess> gateway = StartGatewayProcess(
      "    upstream:\n"
      "      address: \"127.0.0.1:" +
      std::to_string(server_->port()) +
      "\"\n"
      "      tls: {client_ca_file: \"" +
      pki_.ca + "\", cert_file: \"" + pki_.client_cert + "\", key_file: \"" + pki_.client_key +
      "\"}\n");
  ASSERT_NE(gateway, nullptr);
  const std::string token =
      ExpectCookieLogin(LoginHttp(kJohn, "SuperSecure", {}, gateway->http_port()));
  ASSERT_FALSE(token.empty());
  ExpectError(LoginHttp(kJohn, "verybadpassword", {}, gateway->http_port()), 401, "Unauthorized",
              "L3 over mTLS");
  const std::string listing = SessionList(kJohn);
  const std::optional<SessionRow> row =
      FindSession(listing, DecodeJwtPart(token, 1)["session_id"].get<std::string>());
  ASSERT_TRUE(row.has_value()) << listing;
  EXPECT_EQ(row->user_agent, kUserAgent) << listing;
}

TEST_F(GrpcMtlsTest, ClientsWithoutACertificateAreRefused) {
  EXPECT_EQ(JwksStatus(grpc::InsecureChannelCredentials()), grpc::StatusCode::UNAVAILABLE);
  grpc::SslCredentialsOptions server_only;
  server_only.pem_root_certs = ReadFile(pki_.ca);
  EXPECT_EQ(JwksStatus(grpc::SslCredentials(server_only)), grpc::StatusCode::UNAVAILABLE);
  // With the client certificate the same call works: the refusals are about the certificate.
  grpc::SslCredentialsOptions mutual = server_only;
  mutual.pem_cert_chain = ReadFile(pki_.client_cert);
  mutual.pem_private_key = ReadFile(pki_.client_key);
  EXPECT_EQ(JwksStatus(grpc::SslCredentials(mutual)), grpc::StatusCode::OK);
}

}  // namespace
}  // namespace passgate::testing
