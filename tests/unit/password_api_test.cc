#include "gateway/password_api.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/fake_password_auth_client.h"

namespace passgate::gateway {
namespace {

using passgate::v1::Jwks;
using passgate::v1::LoginRequest;
using passgate::v1::LoginResponse;
using passgate::v1::SetPasswordRequest;
using passgate::v1::SetPasswordResponse;
using passgate::v1::ValidateSessionRequest;
using passgate::v1::ValidateSessionResponse;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Not;

constexpr char kUserId[] = "38bf5a00-d7ea-40a5-a5de-48722c148925";
constexpr char kJwt[] = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIzOGJmIn0.c2ln";
constexpr char kSecret[] = "S3cr3t-Pa55w0rd";

HttpRequest Request(std::string method, std::string path, std::string body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.body = std::move(body);
  request.headers = std::move(headers);
  request.peer_ip = "198.51.100.7";
  if (!request.body.empty() &&
      std::none_of(request.headers.begin(), request.headers.end(),
                   [](const auto& h) { return h.first == "content-type"; })) {
    request.headers.emplace_back("content-type", "application/json");
  }
  return request;
}

HttpRequest LoginRequestWith(std::string body) {
  return Request("POST", "/password/login", std::move(body));
}

std::vector<std::string> Headers(const HttpResponse& response, std::string_view name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : response.headers) {
    if (std::equal(key.begin(), key.end(), name.begin(), name.end(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      values.push_back(value);
    }
  }
  return values;
}

std::optional<std::string> Header(const HttpResponse& response, std::string_view name) {
  std::vector<std::string> values = Headers(response, name);
  if (values.empty()) return std::nullopt;
  return values.front();
}

std::string ErrorBody(int code, std::string_view message) {
  return "{\"code\":" + std::to_string(code) + ",\"message\":\"" + std::string(message) + "\"}\n";
}

google::protobuf::Timestamp Time(std::int64_t seconds, int nanos = 0) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t;
}

class PasswordApiTest : public ::testing::Test {
 protected:
  PasswordApiTest() {
    fake_->login_response.set_session_token(kJwt);
    fake_->login_response.set_expires_in_seconds(43200);
    fake_->login_response.set_session_id("7c6b0e46-6f07-4b5c-9a35-36c5b0b1f2a1");
    fake_->login_response.set_user_id(kUserId);
    fake_->valid_token = kJwt;
    fake_->valid_session.set_is_valid(true);
  }

  HttpResponse Run(HttpRequest request) {
    PasswordApi api(options_, fake_);
    std::vector<HttpResponse> responses;
    api.Handle(std::move(request), [&](HttpResponse r) { responses.push_back(std::move(r)); });
    EXPECT_EQ(responses.size(), 1u);
    return responses.empty() ? HttpResponse{} : responses.front();
  }

  GatewayOptions options_;
  std::shared_ptr<FakePasswordAuthClient> fake_ = std::make_shared<FakePasswordAuthClient>();
};

// --- Status table ------------------------------------------------------------------------------

TEST(HttpStatusForGrpcTest, EveryCode) {
  const struct {
    grpc::StatusCode code;
    int http;
  } kCases[] = {
      {grpc::StatusCode::OK, 200},
      {grpc::StatusCode::CANCELLED, 500},
      {grpc::StatusCode::UNKNOWN, 500},
      {grpc::StatusCode::INVALID_ARGUMENT, 400},
      {grpc::StatusCode::DEADLINE_EXCEEDED, 504},
      {grpc::StatusCode::NOT_FOUND, 404},
      {grpc::StatusCode::ALREADY_EXISTS, 500},
      {grpc::StatusCode::PERMISSION_DENIED, 403},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, 429},
      {grpc::StatusCode::FAILED_PRECONDITION, 500},
      {grpc::StatusCode::ABORTED, 500},
      {grpc::StatusCode::OUT_OF_RANGE, 500},
      {grpc::StatusCode::UNIMPLEMENTED, 500},
      {grpc::StatusCode::INTERNAL, 500},
      {grpc::StatusCode::UNAVAILABLE, 503},
      {grpc::StatusCode::DATA_LOSS, 500},
      {grpc::StatusCode::UNAUTHENTICATED, 401},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(HttpStatusForGrpc(c.code), c.http) << "code " << static_cast<int>(c.code);
  }
}

// --- Routing -----------------------------------------------------------------------------------

TEST_F(PasswordApiTest, UnknownPathsAre404) {
  for (const char* path : {"/", "/password/login/", "/Password/login", "/password/", "/passwords",
                           "/sessions", "/sessions/validate/x", "/.well-known/jwks"}) {
    for (const char* method : {"GET", "POST", "PUT", "DELETE", "OPTIONS"}) {
      HttpResponse response = Run(Request(method, path));
      EXPECT_EQ(response.status, 404) << method << " " << path;
      EXPECT_EQ(response.body, ErrorBody(404, "Not Found")) << method << " " << path;
      EXPECT_EQ(Header(response, "Content-Type"), "application/json");
      EXPECT_EQ(Header(response, "Allow"), std::nullopt);
    }
  }
  EXPECT_EQ(fake_->login_calls + fake_->set_password_calls + fake_->jwks_calls, 0);
}

TEST_F(PasswordApiTest, WrongMethodIs405WithEchoAllowHeader) {
  const struct {
    const char* method;
    const char* path;
    const char* allow;
  } kCases[] = {
      {"GET", "/password/login", "OPTIONS, POST"},
      {"PUT", "/password/login", "OPTIONS, POST"},
      {"post", "/password/login", "OPTIONS, POST"},
      {"GET", "/password", "OPTIONS, PUT"},
      {"POST", "/password", "OPTIONS, PUT"},
      {"DELETE", "/sessions/validate", "OPTIONS, GET, POST"},
      {"PUT", "/sessions/validate", "OPTIONS, GET, POST"},
      {"POST", "/.well-known/jwks.json", "OPTIONS, GET"},
      {"PATCH", "/.well-known/jwks.json", "OPTIONS, GET"},
  };
  for (const auto& c : kCases) {
    HttpResponse response = Run(Request(c.method, c.path));
    EXPECT_EQ(response.status, 405) << c.method << " " << c.path;
    EXPECT_EQ(response.body, ErrorBody(405, "Method Not Allowed"));
    EXPECT_EQ(Header(response, "Allow"), c.allow) << c.method << " " << c.path;
  }
}

TEST_F(PasswordApiTest, HeadGetsNoBody) {
  HttpResponse response = Run(Request("HEAD", "/.well-known/jwks.json"));
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.body, "");
  EXPECT_EQ(Header(response, "Content-Type"), std::nullopt);
  EXPECT_EQ(Header(response, "Allow"), "OPTIONS, GET");
}

TEST_F(PasswordApiTest, QueryIsIgnored) {
  HttpRequest request = LoginRequestWith(R"({"user_id":"u","password":"p"})");
  request.query = "user_id=other";
  EXPECT_EQ(Run(std::move(request)).status, 200);
  EXPECT_EQ(fake_->last_login.user_id(), "u");
}

TEST_F(PasswordApiTest, PasswordsDisabledMakesPasswordRoutesUnknown) {
  options_.password_enabled = false;
  for (const char* path : {"/password/login", "/password"}) {
    for (const char* method : {"GET", "POST", "PUT", "OPTIONS"}) {
      HttpResponse response = Run(Request(method, path, R"({"user_id":"u","password":"p"})"));
      EXPECT_EQ(response.status, 404) << method << " " << path;
      EXPECT_EQ(response.body, ErrorBody(404, "Not Found"));
    }
  }
  EXPECT_EQ(fake_->login_calls + fake_->set_password_calls, 0);
  EXPECT_EQ(Run(Request("GET", "/.well-known/jwks.json")).status, 200);
}

// --- Body binding ------------------------------------------------------------------------------

TEST_F(PasswordApiTest, NonJsonMediaTypeIs415) {
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonx", ""}) {
    HttpResponse response =
        Run(Request("POST", "/password/login", "user_id=u&password=p", {{"content-type", type}}));
    EXPECT_EQ(response.status, 415) << type;
    EXPECT_EQ(response.body, ErrorBody(415, "Unsupported Media Type")) << type;
  }
  HttpRequest no_type = Request("POST", "/password/login", "{}");
  no_type.headers.clear();
  EXPECT_EQ(Run(std::move(no_type)).status, 415);
  EXPECT_EQ(fake_->login_calls, 0);
}

TEST_F(PasswordApiTest, JsonMediaTypeVariantsAreAccepted) {
  for (const char* type : {"application/json", "application/json; charset=utf-8",
                           " application/json ;charset=UTF-8", "Application/JSON"}) {
    HttpResponse response = Run(Request("POST", "/password/login", "{}", {{"content-type", type}}));
    EXPECT_EQ(response.status, 200) << type;
  }
  EXPECT_EQ(fake_->login_calls, 4);
}

TEST_F(PasswordApiTest, EmptyBodyBindsNothingWhateverTheMediaType) {
  fake_->login_result.status =
      grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                   "user_id is a required field and password is a required field");
  HttpRequest request = Request("POST", "/password/login", "", {{"content-type", "text/plain"}});
  HttpResponse response = Run(std::move(request));
  EXPECT_EQ(fake_->login_calls, 1);
  EXPECT_EQ(fake_->last_login.user_id(), "");
  EXPECT_EQ(fake_->last_login.password(), "");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            ErrorBody(400, "user_id is a required field and password is a required field"));
}

TEST_F(PasswordApiTest, NullBodyBindsNothing) {
  for (const char* body : {"null", "  null\n", "null garbage"}) {
    fake_->last_login.set_user_id("stale");
    EXPECT_EQ(Run(LoginRequestWith(body)).status, 200) << body;
    EXPECT_EQ(fake_->last_login.user_id(), "") << body;
    EXPECT_EQ(fake_->last_login.password(), "") << body;
  }
}

TEST_F(PasswordApiTest, MalformedBodiesGetGoTexts) {
  const struct {
    const char* body;
    const char* message;
  } kCases[] = {
      {" \n\t", "EOF"},
      {"{", "unexpected EOF"},
      {R"({"user_id":)", "unexpected EOF"},
      {R"({"password":"S3cr3t-Pa55w0rd)", "unexpected EOF"},
      {"[1,", "unexpected EOF"},
      {"-", "unexpected EOF"},
      {"tru", "unexpected EOF"},
      {"{x", "Syntax error: offset=2, error=invalid character in JSON"},
      {"x", "Syntax error: offset=1, error=invalid character in JSON"},
      {"\xEF\xBB\xBF{}", "Syntax error: offset=1, error=invalid character in JSON"},
      {R"({"user_id":"a",})", "Syntax error: offset=16, error=invalid character in JSON"},
      {R"({"user_id":tru})", "Syntax error: offset=15, error=invalid character in JSON"},
      {R"({"a":01})", "Syntax error: offset=7, error=invalid character in JSON"},
      {R"({"a":1.})", "Syntax error: offset=8, error=invalid character in JSON"},
      {R"({"a":1e})", "Syntax error: offset=8, error=invalid character in JSON"},
      {R"({"a" 1})", "Syntax error: offset=6, error=invalid character in JSON"},
      {R"({"a":1 "b":2})", "Syntax error: offset=8, error=invalid character in JSON"},
      {"{\"password\":\"a\x01\"}", "Syntax error: offset=15, error=invalid character in JSON"},
      {R"({"password":"\q"})", "Syntax error: offset=15, error=invalid character in JSON"},
      {R"({"password":"\u12G4"})", "Syntax error: offset=18, error=invalid character in JSON"},
      {R"({"password":"S3cr3t-Pa55w0rd"x})",
       "Syntax error: offset=30, error=invalid character in JSON"},
      {R"({"user_id":123,"password":"x"})",
       "Unmarshal type error: expected=string, got=number, field=user_id, offset=14"},
      {R"({"user_id":-1.5e3})",
       "Unmarshal type error: expected=string, got=number, field=user_id, offset=17"},
      {R"({"user_id":true})",
       "Unmarshal type error: expected=string, got=bool, field=user_id, offset=15"},
      {R"({"user_id":[1,2]})",
       "Unmarshal type error: expected=string, got=array, field=user_id, offset=12"},
      {R"({"password":{"p":"S3cr3t-Pa55w0rd"}})",
       "Unmarshal type error: expected=string, got=object, field=password, offset=13"},
      {R"({"USER_ID":false})",
       "Unmarshal type error: expected=string, got=bool, field=user_id, offset=16"},
      {R"({"user_id":1,"password":true})",
       "Unmarshal type error: expected=string, got=number, field=user_id, offset=12"},
      {R"({"password":"S3cr3t-Pa55w0rd","user_id":7})",
       "Unmarshal type error: expected=string, got=number, field=user_id, offset=41"},
      {"[]",
       "Unmarshal type error: expected=handler.PasswordLoginBody, got=array, field=, offset=1"},
      {R"("S3cr3t-Pa55w0rd")",
       "Unmarshal type error: expected=handler.PasswordLoginBody, got=string, field=, "
       "offset=17"},
      {"42",
       "Unmarshal type error: expected=handler.PasswordLoginBody, got=number, field=, "
       "offset=2"},
      {"true",
       "Unmarshal type error: expected=handler.PasswordLoginBody, got=bool, field=, "
       "offset=4"},
  };
  for (const auto& c : kCases) {
    HttpResponse response = Run(LoginRequestWith(c.body));
    EXPECT_EQ(response.status, 400) << c.body;
    EXPECT_EQ(response.body, ErrorBody(400, c.message)) << c.body;
    EXPECT_THAT(response.body, Not(HasSubstr(kSecret))) << c.body;
    for (const auto& [name, value] : response.headers) {
      EXPECT_THAT(value, Not(HasSubstr(kSecret))) << c.body;
    }
  }
  EXPECT_EQ(fake_->login_calls, 0);
}

TEST_F(PasswordApiTest, BindingFollowsGoSemantics) {
  const struct {
    const char* body;
    const char* user_id;
    const char* password;
  } kCases[] = {
      {R"({"user_id":"u","password":"p"})", "u", "p"},
      {R"(  {"user_id":"u","password":"p"}  trailing garbage {)", "u", "p"},
      {R"({"user_id":"u","password":"p","extra":[1,{"a":null}],"more":{"x":"}"}})", "u", "p"},
      {R"({"User_ID":"u","PASSWORD":"p"})", "u", "p"},
      {"{\"u\xC5\xBF"
       "er_id\":\"u\",\"pa\xC5\xBF\xC5\xBF"
       "word\":\"p\"}",
       "u", "p"},  // long s
      {R"({"user_id":null,"password":null})", "", ""},
      {R"({"user_id":"a","user_id":"b"})", "b", ""},
      {R"({"user_id":"a","user_id":null})", "a", ""},
      {R"({"user_id":"a","USER_ID":"b"})", "b", ""},
      {R"({"user\u005fid":"u"})", "u", ""},
      {R"({"password":"\"\\\/\b\f\n\r\t"})", "", "\"\\/\b\f\n\r\t"},
      {R"({"password":"caf\u00e9 \ud83d\ude00"})", "", "caf\xC3\xA9 \xF0\x9F\x98\x80"},
      {R"({"password":"\ud800x"})", "", "\xEF\xBF\xBDx"},
      {R"({"password":"\udc00\ud83d\ude00"})", "", "\xEF\xBF\xBD\xF0\x9F\x98\x80"},
      {R"({"password":"\ud83d\u0041"})", "",
       "\xEF\xBF\xBD"
       "A"},
      {"{\"password\":\"a\xFF"
       "b\xC3\"}",
       "",
       "a\xEF\xBF\xBD"
       "b\xEF\xBF\xBD"},
      {"{\"password\":\"\xED\xA0\x80\"}", "", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"{\"password\":\"\xE2\x82\xAC\"}", "", "\xE2\x82\xAC"},
      {"{}", "", ""},
  };
  for (const auto& c : kCases) {
    fake_->last_login.Clear();
    HttpResponse response = Run(LoginRequestWith(c.body));
    EXPECT_EQ(response.status, 200) << c.body << " -> " << response.body;
    EXPECT_EQ(fake_->last_login.user_id(), c.user_id) << c.body;
    EXPECT_EQ(fake_->last_login.password(), c.password) << c.body;
  }
}

TEST_F(PasswordApiTest, DeepNestingIsASyntaxErrorLikeGo) {
  // Go's scanner refuses more than 10000 nested arrays/objects.
  const std::string body = "{\"extra\":" + std::string(10000, '[');
  HttpResponse response = Run(LoginRequestWith(body));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(response.body,
            ErrorBody(400, "Syntax error: offset=10009, error=invalid character in JSON"));
}

// --- Service errors ----------------------------------------------------------------------------

TEST_F(PasswordApiTest, InvalidArgumentTextIsPassedThrough) {
  for (const char* text : {"user_id must be a valid uuid", "password is a required field",
                           "password must not be longer than 72 bytes"}) {
    fake_->login_result.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, text);
    HttpResponse response = Run(LoginRequestWith(R"({"user_id":"x","password":"y"})"));
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.body, ErrorBody(400, text));
  }
}

TEST_F(PasswordApiTest, OtherErrorsShowOnlyTheStatusText) {
  const struct {
    grpc::StatusCode code;
    int http;
    const char* text;
  } kCases[] = {
      {grpc::StatusCode::UNAUTHENTICATED, 401, "Unauthorized"},
      {grpc::StatusCode::PERMISSION_DENIED, 403, "Forbidden"},
      {grpc::StatusCode::NOT_FOUND, 404, "Not Found"},
      {grpc::StatusCode::RESOURCE_EXHAUSTED, 429, "Too Many Requests"},
      {grpc::StatusCode::INTERNAL, 500, "Internal Server Error"},
      {grpc::StatusCode::UNKNOWN, 500, "Internal Server Error"},
      {grpc::StatusCode::UNAVAILABLE, 503, "Service Unavailable"},
      {grpc::StatusCode::DEADLINE_EXCEEDED, 504, "Gateway Timeout"},
  };
  for (const auto& c : kCases) {
    fake_->login_result.status = grpc::Status(c.code, "sqlite: disk I/O error at /var/db");
    HttpResponse response = Run(LoginRequestWith(R"({"user_id":"x","password":"y"})"));
    EXPECT_EQ(response.status, c.http) << c.text;
    EXPECT_EQ(response.body, ErrorBody(c.http, c.text));
    EXPECT_EQ(Header(response, "Set-Cookie"), std::nullopt);
    EXPECT_EQ(Header(response, "X-Session-Lifetime"), std::nullopt);
  }
}

// --- Login success -----------------------------------------------------------------------------

TEST_F(PasswordApiTest, LoginForwardsFieldsAndAnswersNull) {
  HttpResponse response = Run(LoginRequestWith(std::string(R"({"user_id":")") + kUserId +
                                               R"(","password":"SuperSecure"})"));
  EXPECT_EQ(fake_->last_login.user_id(), kUserId);
  EXPECT_EQ(fake_->last_login.password(), "SuperSecure");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "null\n");
  EXPECT_EQ(Header(response, "Content-Type"), "application/json");
  EXPECT_EQ(Header(response, "X-Session-Lifetime"), "43200");
  EXPECT_EQ(Header(response, "X-Auth-Token"), std::nullopt);
}

TEST_F(PasswordApiTest, SessionCookieAttributes) {
  const auto cookie = [](std::string domain, bool http_only, bool secure, std::string same_site) {
    GatewayOptions::Cookie c;
    c.domain = std::move(domain);
    c.http_only = http_only;
    c.secure = secure;
    c.same_site = std::move(same_site);
    return c;
  };
  const std::string jwt = kJwt;
  const struct {
    GatewayOptions::Cookie cookie;
    std::int64_t lifetime;
    std::string expected;
  } kCases[] = {
      {GatewayOptions::Cookie(), 43200,
       "hanko=" + jwt + "; Path=/; Max-Age=43200; HttpOnly; Secure; SameSite=Strict"},
      {cookie("example.com", true, true, "strict"), 43200,
       "hanko=" + jwt +
           "; Path=/; Domain=example.com; Max-Age=43200; HttpOnly; Secure; "
           "SameSite=Strict"},
      {cookie("", true, true, "lax"), 600,
       "hanko=" + jwt + "; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax"},
      {cookie("", true, true, "none"), 600,
       "hanko=" + jwt + "; Path=/; Max-Age=600; HttpOnly; Secure; SameSite=None"},
      {cookie("", false, true, "strict"), 600,
       "hanko=" + jwt + "; Path=/; Max-Age=600; Secure; SameSite=Strict"},
      {cookie("", true, false, "strict"), 600,
       "hanko=" + jwt + "; Path=/; Max-Age=600; HttpOnly; SameSite=Strict"},
      // Hanko's own test configuration.
      {cookie("", false, false, "none"), 3600,
       "hanko=" + jwt + "; Path=/; Max-Age=3600; SameSite=None"},
  };
  for (const auto& c : kCases) {
    options_.cookie = c.cookie;
    fake_->login_response.set_expires_in_seconds(c.lifetime);
    HttpResponse response = Run(LoginRequestWith("{}"));
    EXPECT_THAT(Headers(response, "Set-Cookie"), ElementsAre(c.expected));
    EXPECT_EQ(Header(response, "X-Session-Lifetime"), std::to_string(c.lifetime));
  }
  options_.cookie = GatewayOptions::Cookie();
  options_.cookie.name = "session";
  EXPECT_THAT(Headers(Run(LoginRequestWith("{}")), "Set-Cookie"),
              ElementsAre("session=" + jwt +
                          "; Path=/; Max-Age=3600; HttpOnly; Secure; "
                          "SameSite=Strict"));
}

TEST_F(PasswordApiTest, HeaderModeSendsTokenAndNoCookie) {
  options_.enable_auth_token_header = true;
  HttpResponse response = Run(LoginRequestWith("{}"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(Header(response, "X-Auth-Token"), kJwt);
  EXPECT_EQ(Header(response, "X-Session-Lifetime"), "43200");
  EXPECT_THAT(Headers(response, "Set-Cookie"), IsEmpty());
}

TEST_F(PasswordApiTest, RateLimitMetadataBecomesHeaders) {
  fake_->login_result.metadata = {{"x-ratelimit-limit", "5"},
                                 {"x-ratelimit-remaining", "4"},
                                 {"x-ratelimit-reset", "60"},
                                 {"unrelated", "x"}};
  HttpResponse ok = Run(LoginRequestWith("{}"));
  EXPECT_EQ(Header(ok, "X-RateLimit-Limit"), "5");
  EXPECT_EQ(Header(ok, "X-RateLimit-Remaining"), "4");
  EXPECT_EQ(Header(ok, "X-RateLimit-Reset"), "60");
  EXPECT_EQ(Header(ok, "Retry-After"), std::nullopt);
  EXPECT_EQ(Header(ok, "unrelated"), std::nullopt);

  fake_->login_result.status =
      grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "Too Many Requests");
  fake_->login_result.metadata = {{"x-ratelimit-limit", "5"},
                                 {"x-ratelimit-remaining", "0"},
                                 {"x-ratelimit-reset", "42"},
                                 {"retry-after", "42"}};
  HttpResponse limited = Run(LoginRequestWith("{}"));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.body, ErrorBody(429, "Too Many Requests"));
  EXPECT_EQ(Header(limited, "Retry-After"), "42");
  EXPECT_EQ(Header(limited, "X-RateLimit-Remaining"), "0");
  EXPECT_EQ(Header(limited, "X-RateLimit-Reset"), "42");

  fake_->login_result.status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "Unauthorized");
  EXPECT_EQ(Header(Run(LoginRequestWith("{}")), "X-RateLimit-Limit"), "5");
}

// --- Request id and client identity ------------------------------------------------------------

TEST_F(PasswordApiTest, RequestIdIsGeneratedAndForwarded) {
  HttpResponse response = Run(LoginRequestWith("{}"));
  const std::optional<std::string> id = Header(response, "X-Request-Id");
  ASSERT_TRUE(id.has_value());
  EXPECT_THAT(*id, MatchesRegex("[A-Za-z0-9]{32}"));
  EXPECT_EQ(fake_->last_context.request_id, *id);
  EXPECT_NE(Header(Run(LoginRequestWith("{}")), "X-Request-Id"), id);
  // Also on answers that never reach the service.
  EXPECT_THAT(Header(Run(Request("GET", "/nope")), "X-Request-Id").value_or(""),
              MatchesRegex("[A-Za-z0-9]{32}"));
}

TEST_F(PasswordApiTest, SaneRequestIdIsReused) {
  HttpResponse response =
      Run(Request("POST", "/password/login", "{}", {{"x-request-id", "req-0123:abc/XYZ"}}));
  EXPECT_EQ(Header(response, "X-Request-Id"), "req-0123:abc/XYZ");
  EXPECT_EQ(fake_->last_context.request_id, "req-0123:abc/XYZ");
  for (std::string bad : {std::string("has space"), std::string(129, 'a'), std::string("tab\t"),
                          std::string("caf\xC3\xA9")}) {
    HttpResponse replaced = Run(Request("POST", "/password/login", "{}", {{"x-request-id", bad}}));
    EXPECT_THAT(Header(replaced, "X-Request-Id").value_or(""), MatchesRegex("[A-Za-z0-9]{32}"))
        << bad;
  }
}

TEST_F(PasswordApiTest, UserAgentIsForwarded) {
  Run(Request("POST", "/password/login", "{}", {{"user-agent", "Mozilla/5.0 (X11)"}}));
  EXPECT_EQ(fake_->last_context.user_agent, "Mozilla/5.0 (X11)");
  EXPECT_EQ(fake_->last_context.bearer_token, "");
}

TEST_F(PasswordApiTest, ClientIpTrustsOnlyConfiguredProxies) {
  options_.trusted_proxies = {"10.0.0.2", "10.1.0.0/16", "::1"};
  const struct {
    const char* peer;
    std::vector<std::pair<std::string, std::string>> headers;
    const char* expected;
  } kCases[] = {
      {"198.51.100.7", {}, "198.51.100.7"},
      {"198.51.100.7", {{"x-forwarded-for", "203.0.113.9"}}, "198.51.100.7"},
      {"198.51.100.7", {{"x-real-ip", "203.0.113.9"}}, "198.51.100.7"},
      {"10.0.0.2", {}, "10.0.0.2"},
      {"10.0.0.2", {{"x-forwarded-for", "203.0.113.9, 10.0.0.2"}}, "203.0.113.9"},
      {"10.0.0.2", {{"x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.1.2.3"}}, "203.0.113.9"},
      {"10.0.0.2", {{"x-forwarded-for", "1.1.1.1"}, {"x-forwarded-for", "10.1.9.9"}}, "1.1.1.1"},
      {"10.0.0.2", {{"x-forwarded-for", "10.1.0.1, 10.0.0.2"}}, "10.1.0.1"},
      {"10.0.0.2", {{"x-forwarded-for", "203.0.113.9, bogus"}}, "10.0.0.2"},
      {"10.0.0.2", {{"x-forwarded-for", "[2001:db8::1]"}}, "2001:db8::1"},
      {"10.0.0.2", {{"x-real-ip", "203.0.113.9"}}, "203.0.113.9"},
      {"10.0.0.2", {{"x-real-ip", "nonsense"}}, "10.0.0.2"},
      {"10.0.0.2",
       {{"x-forwarded-for", "203.0.113.1"}, {"x-real-ip", "203.0.113.2"}},
       "203.0.113.1"},
      {"::ffff:10.0.0.2", {{"x-forwarded-for", "203.0.113.9"}}, "203.0.113.9"},
      {"::1", {{"x-forwarded-for", "2001:db8::7"}}, "2001:db8::7"},
      {"10.2.0.1", {{"x-forwarded-for", "203.0.113.9"}}, "10.2.0.1"},
  };
  for (const auto& c : kCases) {
    HttpRequest request = Request("POST", "/password/login", "{}", c.headers);
    request.peer_ip = c.peer;
    Run(std::move(request));
    EXPECT_EQ(fake_->last_context.client_ip, c.expected) << c.peer;
  }
}

// --- PUT /password -----------------------------------------------------------------------------

constexpr char kSetBody[] =
    R"({"user_id":"b5dd5267-b462-48be-b70d-bcd6f1bbe7a5","password":"verybadpassword"})";

TEST_F(PasswordApiTest, SetPasswordWithoutSessionIs401WithoutCallingTheService) {
  for (auto headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {},
           {{"authorization", "Basic dXNlcjpwYXNz"}},
           {{"authorization", "Bearer "}},
           {{"cookie", "other=" + std::string(kJwt)}},
           {{"cookie", "hanko="}}}) {
    HttpResponse response = Run(Request("PUT", "/password", kSetBody, headers));
    EXPECT_EQ(response.status, 401);
    EXPECT_EQ(response.body, ErrorBody(401, "Unauthorized"));
  }
  // The session check comes before the body check.
  EXPECT_EQ(Run(Request("PUT", "/password", "{oops")).status, 401);
  EXPECT_EQ(fake_->set_password_calls, 0);
  EXPECT_THAT(fake_->validated_tokens, IsEmpty());
}

TEST_F(PasswordApiTest, SetPasswordForwardsBearerOrCookie) {
  const std::string jwt = kJwt;
  const std::vector<std::pair<std::string, std::string>> kHeaders[] = {
      {{"authorization", "Bearer " + jwt}},
      {{"authorization", "bearer   " + jwt + " "}},
      {{"cookie", "hanko=" + jwt}},
      {{"cookie", "theme=dark; hanko=" + jwt + "; lang=de"}},
      {{"cookie", "theme=dark"}, {"cookie", "hanko=\"" + jwt + "\""}},
  };
  for (const auto& headers : kHeaders) {
    fake_->last_context = {};
    HttpResponse response = Run(Request("PUT", "/password", kSetBody, headers));
    EXPECT_EQ(response.status, 200) << headers.front().second;
    EXPECT_EQ(fake_->last_context.bearer_token, jwt) << headers.front().second;
  }
  EXPECT_EQ(fake_->last_set_password.user_id(), "b5dd5267-b462-48be-b70d-bcd6f1bbe7a5");
  EXPECT_EQ(fake_->last_set_password.password(), "verybadpassword");
  EXPECT_EQ(fake_->set_password_calls, 5);
  EXPECT_THAT(fake_->validated_tokens, IsEmpty());  // one token: no pre-check needed
}

TEST_F(PasswordApiTest, SetPasswordAnswers201WhenCreatedAnd200WhenReplaced) {
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"authorization", std::string("Bearer ") + kJwt}};
  fake_->set_password_response.set_created(true);
  HttpResponse created = Run(Request("PUT", "/password", kSetBody, auth));
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.body, "null\n");
  EXPECT_EQ(Header(created, "Content-Type"), "application/json");
  fake_->set_password_response.set_created(false);
  HttpResponse replaced = Run(Request("PUT", "/password", kSetBody, auth));
  EXPECT_EQ(replaced.status, 200);
  EXPECT_EQ(replaced.body, "null\n");
}

TEST_F(PasswordApiTest, SetPasswordMapsServiceErrors) {
  const std::vector<std::pair<std::string, std::string>> auth = {
      {"authorization", std::string("Bearer ") + kJwt}};
  fake_->set_password_result.status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                  "password must be at least 8 characters long");
  EXPECT_EQ(Run(Request("PUT", "/password", kSetBody, auth)).body,
            ErrorBody(400, "password must be at least 8 characters long"));
  fake_->set_password_result.status = grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "x");
  EXPECT_EQ(Run(Request("PUT", "/password", kSetBody, auth)).body, ErrorBody(403, "Forbidden"));
  fake_->set_password_result.status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "x");
  EXPECT_EQ(Run(Request("PUT", "/password", kSetBody, auth)).body, ErrorBody(401, "Unauthorized"));
}

TEST_F(PasswordApiTest, SetPasswordBadBodyNeedsAValidSessionFirst) {
  const std::vector<std::pair<std::string, std::string>> valid = {
      {"authorization", std::string("Bearer ") + kJwt}};
  const std::vector<std::pair<std::string, std::string>> invalid = {
      {"authorization", "Bearer not-a-valid-token"}};
  HttpResponse bad_body = Run(Request("PUT", "/password", R"({"user_id":1})", valid));
  EXPECT_EQ(bad_body.status, 400);
  EXPECT_EQ(bad_body.body,
            ErrorBody(400,
                      "Unmarshal type error: expected=string, got=number, field=user_id, "
                      "offset=12"));
  HttpResponse wrong_type = Run(
      Request("PUT", "/password", "user_id=x", {valid.front(), {"content-type", "text/plain"}}));
  EXPECT_EQ(wrong_type.status, 415);
  HttpResponse unauthenticated = Run(Request("PUT", "/password", R"({"user_id":1})", invalid));
  EXPECT_EQ(unauthenticated.status, 401);
  EXPECT_EQ(fake_->set_password_calls, 0);
  EXPECT_THAT(fake_->validated_tokens, ElementsAre(kJwt, kJwt, "not-a-valid-token"));
}

TEST_F(PasswordApiTest, SetPasswordUsesTheFirstValidOfSeveralTokens) {
  HttpResponse response =
      Run(Request("PUT", "/password", kSetBody,
                  {{"authorization", "Bearer stale"}, {"cookie", std::string("hanko=") + kJwt}}));
  EXPECT_EQ(response.status, 200);
  EXPECT_THAT(fake_->validated_tokens, ElementsAre("stale", kJwt));
  EXPECT_EQ(fake_->last_context.bearer_token, kJwt);

  fake_->valid_token = "none-of-them";
  EXPECT_EQ(Run(Request("PUT", "/password", kSetBody,
                        {{"authorization", "Bearer a"}, {"cookie", "hanko=b"}}))
                .status,
            401);
  EXPECT_EQ(fake_->set_password_calls, 1);
}

// --- Sessions ----------------------------------------------------------------------------------

class SessionsTest : public PasswordApiTest {
 protected:
  SessionsTest() {
    auto* claims = fake_->valid_session.mutable_claims();
    claims->set_subject(kUserId);
    *claims->mutable_issued_at() = Time(1700000000);
    *claims->mutable_expiration() = Time(1700043200);
    claims->add_audience("localhost");
    claims->set_session_id("7c6b0e46-6f07-4b5c-9a35-36c5b0b1f2a1");
    *fake_->valid_session.mutable_expiration_time() = Time(1700043200);
    fake_->valid_session.set_user_id(kUserId);
  }
};

constexpr char kValidJson[] =
    R"({"is_valid":true,"claims":{"subject":"38bf5a00-d7ea-40a5-a5de-48722c148925",)"
    R"("issued_at":"2023-11-14T22:13:20Z","expiration":"2023-11-15T10:13:20Z",)"
    R"("audience":["localhost"],"session_id":"7c6b0e46-6f07-4b5c-9a35-36c5b0b1f2a1"},)"
    R"("expiration_time":"2023-11-15T10:13:20Z","user_id":"38bf5a00-d7ea-40a5-a5de-48722c148925"})"
    "\n";

TEST_F(SessionsTest, GetWithoutTokenIsInvalidWithoutCallingTheService) {
  HttpResponse response = Run(Request("GET", "/sessions/validate"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "{\"is_valid\":false}\n");
  EXPECT_EQ(Header(response, "Content-Type"), "application/json");
  EXPECT_THAT(fake_->validated_tokens, IsEmpty());
}

TEST_F(SessionsTest, GetReadsBearerThenCookie) {
  HttpResponse by_header = Run(
      Request("GET", "/sessions/validate", "", {{"authorization", std::string("Bearer ") + kJwt}}));
  EXPECT_EQ(by_header.status, 200);
  EXPECT_EQ(by_header.body, kValidJson);
  HttpResponse by_cookie =
      Run(Request("GET", "/sessions/validate", "", {{"cookie", std::string("hanko=") + kJwt}}));
  EXPECT_EQ(by_cookie.body, kValidJson);
  HttpResponse fallback =
      Run(Request("GET", "/sessions/validate", "",
                  {{"cookie", std::string("hanko=") + kJwt}, {"authorization", "Bearer expired"}}));
  EXPECT_EQ(fallback.body, kValidJson);
  EXPECT_THAT(fake_->validated_tokens, ElementsAre(kJwt, kJwt, "expired", kJwt));
  EXPECT_EQ(fake_->last_context.bearer_token, "");
}

TEST_F(SessionsTest, GetWithInvalidTokenIsInvalid) {
  HttpResponse response =
      Run(Request("GET", "/sessions/validate", "", {{"authorization", "Bearer nope"}}));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "{\"is_valid\":false}\n");
}

TEST_F(SessionsTest, PostReadsTheBody) {
  HttpResponse valid = Run(
      Request("POST", "/sessions/validate", std::string(R"({"session_token":")") + kJwt + "\"}"));
  EXPECT_EQ(valid.status, 200);
  EXPECT_EQ(valid.body, kValidJson);
  HttpResponse invalid = Run(Request("POST", "/sessions/validate", R"({"session_token":"x"})"));
  EXPECT_EQ(invalid.body, "{\"is_valid\":false}\n");
  EXPECT_THAT(fake_->validated_tokens, ElementsAre(kJwt, "x"));
}

TEST_F(SessionsTest, PostNeedsASessionToken) {
  for (const char* body :
       {"", "{}", "null", R"({"session_token":""})", R"({"session_token":null})"}) {
    HttpResponse response = Run(Request("POST", "/sessions/validate", body));
    EXPECT_EQ(response.status, 400) << body;
    EXPECT_EQ(response.body, ErrorBody(400, "session_token is a required field")) << body;
  }
  EXPECT_EQ(Run(Request("POST", "/sessions/validate", "[]")).body,
            ErrorBody(400,
                      "Unmarshal type error: expected=dto.ValidateSessionRequest, "
                      "got=array, field=, offset=1"));
  EXPECT_EQ(Run(Request("POST", "/sessions/validate", R"({"session_token":5})")).body,
            ErrorBody(400,
                      "Unmarshal type error: expected=string, got=number, "
                      "field=session_token, offset=18"));
  EXPECT_THAT(fake_->validated_tokens, IsEmpty());
}

TEST_F(SessionsTest, ClaimsWithEmailIssuerAndFractionalTimes) {
  auto* claims = fake_->valid_session.mutable_claims();
  claims->set_issuer("https://auth.example.com");
  claims->add_audience("app<&>");
  claims->mutable_email()->set_address("john.doe+1@example.com");
  claims->mutable_email()->set_is_primary(true);
  claims->mutable_email()->set_is_verified(false);
  *claims->mutable_issued_at() = Time(1700000000, 120000000);
  HttpResponse response = Run(
      Request("POST", "/sessions/validate", std::string(R"({"session_token":")") + kJwt + "\"}"));
  EXPECT_EQ(response.body,
            R"({"is_valid":true,"claims":{"subject":"38bf5a00-d7ea-40a5-a5de-48722c148925",)"
            R"("issued_at":"2023-11-14T22:13:20.12Z","expiration":"2023-11-15T10:13:20Z",)"
            R"("audience":["localhost","app\u003c\u0026\u003e"],)"
            R"("issuer":"https://auth.example.com",)"
            R"("email":{"address":"john.doe+1@example.com","is_primary":true,"is_verified":false},)"
            R"("session_id":"7c6b0e46-6f07-4b5c-9a35-36c5b0b1f2a1"},)"
            R"("expiration_time":"2023-11-15T10:13:20Z",)"
            R"("user_id":"38bf5a00-d7ea-40a5-a5de-48722c148925"})"
            "\n");
}

TEST_F(SessionsTest, ServiceFailureIsMapped) {
  fake_->validate_result.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "connect failed");
  EXPECT_EQ(Run(Request("GET", "/sessions/validate", "", {{"cookie", "hanko=x"}})).body,
            ErrorBody(503, "Service Unavailable"));
  EXPECT_EQ(Run(Request("POST", "/sessions/validate", R"({"session_token":"x"})")).body,
            ErrorBody(503, "Service Unavailable"));
}

// --- JWKS --------------------------------------------------------------------------------------

TEST_F(PasswordApiTest, JwksListsNonEmptyMembersAndIsCacheable) {
  auto* rsa = fake_->jwks.add_keys();
  rsa->set_alg("RS256");
  rsa->set_e("AQAB");
  rsa->set_kid("1f0a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b");
  rsa->set_kty("RSA");
  rsa->set_n(
      "u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-"
      "qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_"
      "VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_"
      "3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-"
      "Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw");
  rsa->set_use("sig");
  auto* ec = fake_->jwks.add_keys();
  ec->set_alg("ES256");
  ec->set_crv("P-256");
  ec->set_kid("k2");
  ec->set_kty("EC");
  ec->set_use("sig");
  ec->set_x("x-coord");
  ec->set_y("y-coord");
  HttpResponse response = Run(Request("GET", "/.well-known/jwks.json"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(Header(response, "Cache-Control"), "max-age=600");
  EXPECT_EQ(Header(response, "Content-Type"), "application/json");
  EXPECT_EQ(response.body,
            R"({"keys":[{"alg":"RS256","e":"AQAB","kid":"1f0a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b",)"
            R"("kty":"RSA","n":")" +
                rsa->n() +
                R"(","use":"sig"},)"
                R"({"alg":"ES256","crv":"P-256","kid":"k2","kty":"EC","use":"sig","x":"x-coord",)"
                R"("y":"y-coord"}]})"
                "\n");
  EXPECT_EQ(fake_->jwks_calls, 1);
}

TEST_F(PasswordApiTest, JwksIsAskedOnceForManyRequests) {
  fake_->jwks.add_keys()->set_kid("k1");
  PasswordApi api(options_, fake_);
  std::vector<HttpResponse> responses;
  for (int i = 0; i < 3; ++i) {
    api.Handle(Request("GET", "/.well-known/jwks.json"),
               [&](HttpResponse r) { responses.push_back(std::move(r)); });
  }
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[2].status, 200);
  EXPECT_EQ(responses[2].body, responses[0].body);
  EXPECT_THAT(responses[2].body, HasSubstr("\"kid\":\"k1\""));
  EXPECT_EQ(fake_->jwks_calls, 1);
}

TEST_F(PasswordApiTest, JwksFailureHasNoCacheControl) {
  fake_->jwks_result.status = grpc::Status(grpc::StatusCode::INTERNAL, "key ring broken");
  HttpResponse response = Run(Request("GET", "/.well-known/jwks.json"));
  EXPECT_EQ(response.body, ErrorBody(500, "Internal Server Error"));
  EXPECT_EQ(Header(response, "Cache-Control"), std::nullopt);
}

TEST_F(PasswordApiTest, EmptyJwks) {
  EXPECT_EQ(Run(Request("GET", "/.well-known/jwks.json")).body, "{\"keys\":[]}\n");
}

// --- CORS --------------------------------------------------------------------------------------

constexpr char kExpose[] =
    "Retry-After,X-RateLimit-Limit,X-RateLimit-Remaining,X-RateLimit-Reset,X-Session-Lifetime,"
    "X-Session-Retention";

TEST_F(PasswordApiTest, NoCorsConfiguredMeansNoCorsHeaders) {
  HttpResponse response =
      Run(Request("POST", "/password/login", "{}", {{"origin", "https://app.example.com"}}));
  EXPECT_EQ(Header(response, "Vary"), std::nullopt);
  EXPECT_EQ(Header(response, "Access-Control-Allow-Origin"), std::nullopt);
}

TEST_F(PasswordApiTest, AllowedOriginGetsCorsHeadersOnEveryResponse) {
  options_.cors_allow_origins = {"https://other.example.com", "https://app.example.com"};
  fake_->login_result.status = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "Unauthorized");
  for (HttpRequest request :
       {Request("POST", "/password/login", "{}", {{"origin", "https://app.example.com"}}),
        Request("GET", "/nope", "", {{"origin", "https://app.example.com"}}),
        Request("GET", "/password/login", "", {{"origin", "https://app.example.com"}})}) {
    const std::string path = request.path;
    HttpResponse response = Run(std::move(request));
    EXPECT_EQ(Header(response, "Access-Control-Allow-Origin"), "https://app.example.com") << path;
    EXPECT_EQ(Header(response, "Access-Control-Allow-Credentials"), "true") << path;
    EXPECT_EQ(Header(response, "Access-Control-Expose-Headers"), kExpose) << path;
    EXPECT_THAT(Headers(response, "Vary"), ElementsAre("Origin")) << path;
  }
}

TEST_F(PasswordApiTest, HeaderModeExposesTheAuthToken) {
  options_.cors_allow_origins = {"https://app.example.com"};
  options_.enable_auth_token_header = true;
  HttpResponse response =
      Run(Request("POST", "/password/login", "{}", {{"origin", "https://app.example.com"}}));
  EXPECT_EQ(Header(response, "Access-Control-Expose-Headers"),
            std::string(kExpose) + ",X-Auth-Token");
}

TEST_F(PasswordApiTest, DisallowedOriginGetsOnlyVary) {
  options_.cors_allow_origins = {"https://app.example.com", "*"};
  for (const char* origin : {"https://evil.example.com", "https://app.example.com.evil.com", "null",
                             "http://app.example.com"}) {
    HttpResponse response = Run(Request("POST", "/password/login", "{}", {{"origin", origin}}));
    EXPECT_EQ(response.status, 200) << origin;
    EXPECT_EQ(Header(response, "Access-Control-Allow-Origin"), std::nullopt) << origin;
    EXPECT_EQ(Header(response, "Access-Control-Allow-Credentials"), std::nullopt) << origin;
    EXPECT_EQ(Header(response, "Access-Control-Expose-Headers"), std::nullopt) << origin;
    EXPECT_THAT(Headers(response, "Vary"), ElementsAre("Origin")) << origin;
  }
  HttpResponse no_origin = Run(Request("POST", "/password/login", "{}"));
  EXPECT_THAT(Headers(no_origin, "Vary"), ElementsAre("Origin"));
  EXPECT_EQ(Header(no_origin, "Access-Control-Allow-Origin"), std::nullopt);
}

TEST_F(PasswordApiTest, WildcardNeedsTheUnsafeSwitch) {
  options_.cors_allow_origins = {"*"};
  EXPECT_EQ(Header(Run(Request("GET", "/.well-known/jwks.json", "",
                               {{"origin", "https://anything.test"}})),
                   "Access-Control-Allow-Origin"),
            std::nullopt);
  options_.cors_unsafe_wildcard_origin_allowed = true;
  HttpResponse response =
      Run(Request("GET", "/.well-known/jwks.json", "", {{"origin", "https://anything.test"}}));
  EXPECT_EQ(Header(response, "Access-Control-Allow-Origin"), "https://anything.test");
  EXPECT_EQ(Header(response, "Access-Control-Allow-Credentials"), "true");
}

TEST_F(PasswordApiTest, OriginPatternsLikeEcho) {
  options_.cors_allow_origins = {"https://*.example.com", "http://localhost:300?"};
  for (const char* origin : {"https://app.example.com", "https://a.b.example.com",
                             "http://localhost:3000", "http://localhost:3001"}) {
    EXPECT_EQ(Header(Run(Request("GET", "/.well-known/jwks.json", "", {{"origin", origin}})),
                     "Access-Control-Allow-Origin"),
              origin);
  }
  for (const char* origin :
       {"https://example.com", "http://app.example.com", "http://localhost:30000"}) {
    EXPECT_EQ(Header(Run(Request("GET", "/.well-known/jwks.json", "", {{"origin", origin}})),
                     "Access-Control-Allow-Origin"),
              std::nullopt)
        << origin;
  }
}

TEST_F(PasswordApiTest, PreflightFromAllowedOrigin) {
  options_.cors_allow_origins = {"https://app.example.com"};
  const struct {
    const char* path;
    const char* methods;
  } kCases[] = {
      {"/password/login", "OPTIONS, POST"},
      {"/password", "OPTIONS, PUT"},
      {"/sessions/validate", "OPTIONS, GET, POST"},
      {"/.well-known/jwks.json", "OPTIONS, GET"},
  };
  for (const auto& c : kCases) {
    HttpResponse response =
        Run(Request("OPTIONS", c.path, "",
                    {{"origin", "https://app.example.com"},
                     {"access-control-request-method", "POST"},
                     {"access-control-request-headers", "content-type,x-foo"}}));
    EXPECT_EQ(response.status, 204) << c.path;
    EXPECT_EQ(response.body, "") << c.path;
    EXPECT_EQ(Header(response, "Access-Control-Allow-Origin"), "https://app.example.com");
    EXPECT_EQ(Header(response, "Access-Control-Allow-Credentials"), "true");
    EXPECT_EQ(Header(response, "Access-Control-Allow-Methods"), c.methods) << c.path;
    EXPECT_EQ(Header(response, "Access-Control-Allow-Headers"), "content-type,x-foo");
    EXPECT_EQ(Header(response, "Access-Control-Max-Age"), "7200");
    EXPECT_EQ(Header(response, "Allow"), c.methods);
    EXPECT_EQ(Header(response, "Access-Control-Expose-Headers"), std::nullopt);
    EXPECT_THAT(Headers(response, "Vary"), ElementsAre("Origin", "Access-Control-Request-Method",
                                                       "Access-Control-Request-Headers"));
    EXPECT_TRUE(Header(response, "X-Request-Id").has_value());
  }
  HttpResponse no_request_headers =
      Run(Request("OPTIONS", "/password/login", "", {{"origin", "https://app.example.com"}}));
  EXPECT_EQ(Header(no_request_headers, "Access-Control-Allow-Headers"), std::nullopt);
  EXPECT_EQ(fake_->login_calls + fake_->set_password_calls + fake_->jwks_calls, 0);
}

TEST_F(PasswordApiTest, PreflightFromDisallowedOriginOrWithoutOrigin) {
  options_.cors_allow_origins = {"https://app.example.com"};
  HttpResponse disallowed = Run(
      Request("OPTIONS", "/password/login", "",
              {{"origin", "https://evil.example.com"}, {"access-control-request-method", "POST"}}));
  EXPECT_EQ(disallowed.status, 204);
  EXPECT_EQ(Header(disallowed, "Access-Control-Allow-Origin"), std::nullopt);
  EXPECT_EQ(Header(disallowed, "Access-Control-Allow-Methods"), std::nullopt);
  EXPECT_THAT(Headers(disallowed, "Vary"), ElementsAre("Origin"));

  HttpResponse plain = Run(Request("OPTIONS", "/sessions/validate"));
  EXPECT_EQ(plain.status, 204);
  EXPECT_EQ(Header(plain, "Allow"), "OPTIONS, GET, POST");
  EXPECT_EQ(Header(plain, "Access-Control-Allow-Origin"), std::nullopt);
}

// --- Threading and lifetime --------------------------------------------------------------------

TEST_F(PasswordApiTest, AnswerArrivingAfterTheApiIsGoneStillWorks) {
  fake_->defer = true;
  options_.cors_allow_origins = {"https://app.example.com"};
  std::vector<HttpResponse> responses;
  {
    PasswordApi api(options_, fake_);
    api.Handle(Request("POST", "/password/login", "{}", {{"origin", "https://app.example.com"}}),
               [&](HttpResponse r) { responses.push_back(std::move(r)); });
    api.Handle(Request("GET", "/sessions/validate", "",
                       {{"authorization", "Bearer a"}, {"cookie", std::string("hanko=") + kJwt}}),
               [&](HttpResponse r) { responses.push_back(std::move(r)); });
  }
  EXPECT_THAT(responses, IsEmpty());
  // The validate chain adds its second call while the first answer runs.
  while (!fake_->pending.empty()) {
    auto next = std::move(fake_->pending.front());
    fake_->pending.erase(fake_->pending.begin());
    next();
  }
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[0].status, 200);
  EXPECT_THAT(Headers(responses[0], "Set-Cookie"), testing::SizeIs(1));
  EXPECT_EQ(Header(responses[0], "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_THAT(responses[1].body, HasSubstr("\"is_valid\":true"));
}

TEST_F(PasswordApiTest, ClientLivesUntilTheLastFollowUpCallAnswered) {
  // serve gateway drops its handles at shutdown while calls may be in flight; the validate
  // chain still calls the client for its second token then.
  fake_->defer = true;
  std::vector<HttpResponse> responses;
  {
    PasswordApi api(options_, fake_);
    api.Handle(Request("GET", "/sessions/validate", "",
                       {{"authorization", "Bearer a"}, {"cookie", std::string("hanko=") + kJwt}}),
               [&](HttpResponse r) { responses.push_back(std::move(r)); });
  }
  std::weak_ptr<FakePasswordAuthClient> client = fake_;
  fake_.reset();
  ASSERT_FALSE(client.expired());
  while (std::shared_ptr<FakePasswordAuthClient> alive = client.lock()) {
    if (alive->pending.empty()) break;
    auto next = std::move(alive->pending.front());
    alive->pending.erase(alive->pending.begin());
    alive.reset();
    next();
  }
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_THAT(responses[0].body, HasSubstr("\"is_valid\":true"));
  EXPECT_TRUE(client.expired()) << "the last answer should release the client";
}

// --- The real gRPC client, against an in-process service -----------------------------------

// RecordingService answers Login with scripted metadata and remembers what the client sent.
class RecordingService final : public passgate::v1::PasswordAuth::CallbackService {
 public:
  grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* context, const LoginRequest* request,
                                  LoginResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      received.clear();
      for (const auto& [key, value] : context->client_metadata()) {
        received.emplace(std::string(key.data(), key.size()),
                         std::string(value.data(), value.size()));
      }
      user_id = request->user_id();
    }
    context->AddInitialMetadata("x-ratelimit-limit", "5");
    context->AddInitialMetadata("x-ratelimit-remaining", "4");
    context->AddTrailingMetadata("x-ratelimit-reset", "60");
    grpc::Status status = grpc::Status::OK;
    if (request->password() == "wrong") {
      context->AddTrailingMetadata("retry-after", "42");
      status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "Too Many Requests");
    } else {
      response->set_session_token("token-1");
      response->set_expires_in_seconds(3600);
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  std::string Received(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = received.find(key);
    return it == received.end() ? "<absent>" : it->second;
  }

  std::mutex mu;
  std::multimap<std::string, std::string> received;
  std::string user_id;
};

class GrpcClientTest : public ::testing::Test {
 protected:
  GrpcClientTest() {
    grpc::ServerBuilder builder;
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    client_ = NewGrpcPasswordAuthClient(server_->InProcessChannel(grpc::ChannelArguments()),
                                        std::chrono::seconds(10));
  }
  ~GrpcClientTest() override { server_->Shutdown(); }

  std::pair<CallResult, LoginResponse> Login(const std::string& password, CallContext context) {
    LoginRequest request;
    request.set_user_id(kUserId);
    request.set_password(password);
    std::promise<std::pair<CallResult, LoginResponse>> done;
    client_->Login(request, context, [&](CallResult result, LoginResponse response) {
      done.set_value({std::move(result), std::move(response)});
    });
    return done.get_future().get();
  }

  RecordingService service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<PasswordAuthClient> client_;
};

TEST_F(GrpcClientTest, ForwardsIdentityAndCopiesMetadata) {
  auto [result, response] = Login("right", {"203.0.113.9", "Mozilla/5.0", "req-1", "jwt-1"});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(response.session_token(), "token-1");
  {
    std::lock_guard<std::mutex> lock(service_.mu);
    EXPECT_EQ(service_.user_id, kUserId);
  }
  EXPECT_EQ(service_.Received("x-passgate-client-ip"), "203.0.113.9");
  EXPECT_EQ(service_.Received("x-passgate-user-agent"), "Mozilla/5.0");
  EXPECT_EQ(service_.Received("x-request-id"), "req-1");
  EXPECT_EQ(service_.Received("authorization"), "Bearer jwt-1");
  // Not `[&]` on `result` itself: clang < 16 cannot capture structured bindings.
  const auto& metadata = result.metadata;
  const auto value = [&metadata](const std::string& key) {
    auto it = metadata.find(key);
    return it == metadata.end() ? std::string("<absent>") : it->second;
  };
  EXPECT_EQ(value("x-ratelimit-limit"), "5");
  EXPECT_EQ(value("x-ratelimit-remaining"), "4");
  EXPECT_EQ(value("x-ratelimit-reset"), "60");
  EXPECT_EQ(value("retry-after"), "<absent>");
}

TEST_F(GrpcClientTest, SkipsEmptyValuesAndSanitisesOddBytes) {
  auto [result, response] = Login("right", {"", "evil\r\nagent\x01\xC3\xA9", "", ""});
  ASSERT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(service_.Received("x-passgate-client-ip"), "<absent>");
  EXPECT_EQ(service_.Received("x-request-id"), "<absent>");
  EXPECT_EQ(service_.Received("authorization"), "<absent>");
  EXPECT_EQ(service_.Received("x-passgate-user-agent"), "evil??agent???");
}

TEST_F(GrpcClientTest, FailedCallKeepsStatusAndTrailers) {
  auto [result, response] = Login("wrong", {"203.0.113.9", "ua", "req-2", ""});
  EXPECT_EQ(result.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  auto it = result.metadata.find("retry-after");
  ASSERT_NE(it, result.metadata.end());
  EXPECT_EQ(it->second, "42");
  EXPECT_EQ(result.metadata.count("x-ratelimit-limit"), 1u);
}

TEST_F(GrpcClientTest, ClientDroppedAsSoonAsTheAnswerArrivedIsSafe) {
  // The caller frees the client (and so the channel) right after `done` returned; the
  // finished call must not hold the channel's last reference on the gRPC thread then.
  for (int i = 0; i < 50; ++i) {
    auto client = NewGrpcPasswordAuthClient(server_->InProcessChannel(grpc::ChannelArguments()),
                                            std::chrono::seconds(10));
    LoginRequest request;
    request.set_user_id(kUserId);
    request.set_password("right");
    std::promise<grpc::StatusCode> done;
    client->Login(request, {}, [&](CallResult result, LoginResponse) {
      done.set_value(result.status.error_code());
    });
    ASSERT_EQ(done.get_future().get(), grpc::StatusCode::OK);
    client.reset();
  }
}

TEST(GrpcClientDeadlineTest, UnreachableServiceAnswersUnavailableOrDeadline) {
  auto client = NewGrpcPasswordAuthClient(
      grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()),
      std::chrono::milliseconds(300));
  std::promise<CallResult> done;
  client->GetJwks({}, [&](CallResult result, Jwks) { done.set_value(std::move(result)); });
  const CallResult result = done.get_future().get();
  EXPECT_THAT(result.status.error_code(),
              ::testing::AnyOf(grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED));
}

}  // namespace
}  // namespace passgate::gateway
