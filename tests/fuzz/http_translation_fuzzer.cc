// Fuzzes the REST gateway's translation of HTTP requests into PasswordAuth calls and of the
// replies back into Hanko's HTTP answers (gateway/password_api.*), with a fake
// PasswordAuthClient that records every call and answers synchronously with a reply the
// input chooses (any gRPC code, rate-limit metadata, valid or invalid sessions).
//
// The input picks the gateway options, the method (GET/POST/PUT/HEAD/OPTIONS/DELETE or
// random), the path (the four real routes or random), a few headers (content-type,
// authorization, cookie, origin, x-forwarded-for, x-request-id, user-agent), the fake's
// replies, and the rest is the body. Header fields are cut down to what the transport
// (gateway/http_server.cc, Beast's parser) can deliver: no control bytes but HTAB, lowercase
// token names.
//
// Invariants:
//   - Handle answers exactly once (the fake answers synchronously, so before it returns);
//   - the status is one PasswordApi can produce (200 201 204 400 401 403 404 405 415 429 500
//     503 504);
//   - every 4xx/5xx body (except for HEAD, which has none) is a JSON object with integer
//     "code" equal to the status and a string "message"; 204 has no body;
//   - no response header name or value contains CR, LF or NUL; exactly one X-Request-Id, equal
//     to the client's when that was a printable token of at most 128 bytes;
//   - each RPC is only sent for its route and method: Login for POST /password/login,
//     SetPassword for PUT /password (with a bearer token), ValidateSession for
//     /sessions/validate or PUT /password, GetJwks for GET /.well-known/jwks.json; none
//     when password.enabled is off for the /password routes;
//   - Login's user_id/password are the body's (empty for an empty body), and where
//     nlohmann::json can judge the body (tests/fuzz/json_oracle.h) a well-typed JSON body on
//     POST /password/login always produces exactly one Login with those strings;
//   - the client IP passed on is the TCP peer or an IP literal.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzzer/FuzzedDataProvider.h"
#include "gateway/http_message.h"
#include "gateway/password_api.h"
#include "gateway/password_auth_client.h"
#include "nlohmann/json.hpp"
#include "tests/fuzz/json_oracle.h"

namespace {

using passgate::fuzz::Judge;
using passgate::fuzz::JudgedBody;
using passgate::gateway::CallContext;
using passgate::gateway::CallResult;
using passgate::gateway::GatewayOptions;
using passgate::gateway::HttpRequest;
using passgate::gateway::HttpResponse;
using passgate::gateway::PasswordApi;
using passgate::gateway::PasswordAuthClient;
using passgate::v1::Jwks;
using passgate::v1::LoginRequest;
using passgate::v1::LoginResponse;
using passgate::v1::SetPasswordRequest;
using passgate::v1::SetPasswordResponse;
using passgate::v1::ValidateSessionRequest;
using passgate::v1::ValidateSessionResponse;

constexpr char kPeer[] = "198.51.100.7";

// FakePasswordAuthClient records every call and answers at once with replies drawn from
// `script` (one byte per call; an exhausted script answers OK).
class FakePasswordAuthClient final : public PasswordAuthClient {
 public:
  explicit FakePasswordAuthClient(std::vector<std::uint8_t> script) : script_(std::move(script)) {}

  void Login(const LoginRequest& request, const CallContext& context,
             Done<LoginResponse> done) override {
    logins.push_back(request);
    contexts.push_back(context);
    const std::uint8_t choice = Next();
    LoginResponse reply;
    reply.set_session_token("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIzOGJmIn0.c2ln");
    reply.set_expires_in_seconds(static_cast<std::int64_t>(choice & 0x3) * 43200 - 1);
    reply.set_user_id("38bf5a00-d7ea-40a5-a5de-48722c148925");
    done(Result(choice), reply);
  }
  void SetPassword(const SetPasswordRequest& request, const CallContext& context,
                   Done<SetPasswordResponse> done) override {
    set_passwords.push_back(request);
    contexts.push_back(context);
    const std::uint8_t choice = Next();
    SetPasswordResponse reply;
    reply.set_created(choice & 0x80);
    done(Result(choice), reply);
  }
  void ValidateSession(const ValidateSessionRequest& request, const CallContext& context,
                       Done<ValidateSessionResponse> done) override {
    validations.push_back(request);
    contexts.push_back(context);
    const std::uint8_t choice = Next();
    ValidateSessionResponse reply;
    if (choice & 0x80) {
      reply.set_is_valid(true);
      reply.set_user_id("38bf5a00-d7ea-40a5-a5de-48722c148925");
      auto* claims = reply.mutable_claims();
      claims->set_subject(reply.user_id());
      claims->set_session_id("7c6b0e46-6f07-4b5c-9a35-36c5b0b1f2a1");
      claims->add_audience("localhost");
      claims->mutable_expiration()->set_seconds(1700043200);
      claims->mutable_issued_at()->set_seconds(1700000000);
      if (choice & 0x40) claims->set_issuer("https://issuer.example\"<&>\u2028");
      reply.mutable_expiration_time()->set_seconds(1700043200);
    }
    done(Result(choice), reply);
  }
  void GetJwks(const CallContext& context, Done<Jwks> done) override {
    ++jwks_calls;
    contexts.push_back(context);
    Jwks reply;
    auto* key = reply.add_keys();
    key->set_kid("0b1c2d3e-4f50-4617-8899-aabbccddeeff");
    key->set_kty("RSA");
    key->set_alg("RS256");
    key->set_use("sig");
    key->set_n("sXch");
    key->set_e("AQAB");
    done(Result(Next()), reply);
  }

  std::vector<LoginRequest> logins;
  std::vector<SetPasswordRequest> set_passwords;
  std::vector<ValidateSessionRequest> validations;
  int jwks_calls = 0;
  std::vector<CallContext> contexts;

 private:
  std::uint8_t Next() { return next_ < script_.size() ? script_[next_++] : 0; }

  // The low 5 bits choose the gRPC code (values >= 17 mean OK, so most calls succeed); an
  // INVALID_ARGUMENT message may hold JSON-hostile bytes, as a future service text could.
  static CallResult Result(std::uint8_t choice) {
    CallResult result;
    const int code = choice & 0x1F;
    if (code != 0 && code < 17) {
      const char* message = (choice & 0x20) ? "password must be \"quoted\" \\ \n\x01 \xff\xfe <&>"
                                            : "user_id is a required field";
      result.status = grpc::Status(static_cast<grpc::StatusCode>(code), message);
    }
    if (choice & 0x40) {
      result.metadata.emplace("x-ratelimit-limit", "5");
      result.metadata.emplace("x-ratelimit-remaining", "0");
      result.metadata.emplace("x-ratelimit-reset", "60");
      result.metadata.emplace("retry-after", "60");
    }
    return result;
  }

  std::vector<std::uint8_t> script_;
  std::size_t next_ = 0;
};

template <std::size_t N>
std::string Pick(FuzzedDataProvider& in, const char* const (&choices)[N]) {
  const std::size_t i = in.ConsumeIntegralInRange<std::size_t>(0, N);
  return i < N ? std::string(choices[i]) : in.ConsumeRandomLengthString(24);
}

bool IsAllowedStatus(int status) {
  for (int allowed : {200, 201, 204, 400, 401, 403, 404, 405, 415, 429, 500, 503, 504}) {
    if (status == allowed) return true;
  }
  return false;
}

bool HasLineBreakOrNul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos;
}

bool PrintableToken(std::string_view value) {
  if (value.empty() || value.size() > 128) return false;
  for (char c : value) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool IsIpText(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdefABCDEF.:") == s.npos;
}

std::string_view MediaType(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t')) {
    content_type.remove_prefix(1);
  }
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t')) {
    content_type.remove_suffix(1);
  }
  return content_type;
}

bool IsJsonMediaType(std::string_view media_type) {
  constexpr std::string_view kJson = "application/json";
  if (media_type.size() != kJson.size()) return false;
  for (std::size_t i = 0; i < kJson.size(); ++i) {
    char c = media_type[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kJson[i]) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);

  GatewayOptions options;
  options.password_enabled = in.ConsumeIntegralInRange<int>(0, 7) != 0;
  options.enable_auth_token_header = in.ConsumeBool();
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 1:
      options.cors_allow_origins = {"https://app.example.com", "https://*.example.org"};
      break;
    case 2:
      options.cors_allow_origins = {"*"};
      options.cors_unsafe_wildcard_origin_allowed = true;
      break;
    default:
      break;
  }
  if (in.ConsumeBool()) options.trusted_proxies = {kPeer, "10.0.0.0/8"};
  if (in.ConsumeBool()) options.cookie.domain = "example.com";

  static const char* const kMethods[] = {"GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE"};
  static const char* const kPaths[] = {"/password/login", "/password", "/sessions/validate",
                                       "/.well-known/jwks.json"};
  static const char* const kHeaderNames[] = {"content-type", "authorization", "cookie",
                                             "origin",       "x-forwarded-for", "x-request-id",
                                             "user-agent", "access-control-request-headers",
                                             "x-real-ip"};
  static const char* const kContentTypes[] = {"application/json",
                                              "application/json; charset=utf-8",
                                              "Application/JSON", "text/plain"};
  HttpRequest request;
  request.method = Pick(in, kMethods);
  request.path = Pick(in, kPaths);
  request.peer_ip = kPeer;
  const int header_count = in.ConsumeIntegralInRange<int>(0, 6);
  for (int i = 0; i < header_count; ++i) {
    std::string name = Pick(in, kHeaderNames);
    std::string value = name == "content-type" && in.ConsumeBool()
                            ? Pick(in, kContentTypes)
                            : in.ConsumeRandomLengthString(96);
    // The transport (Beast's parser) refuses control bytes other than HTAB in field values
    // and lowercases names; give the API only what it can receive.
    std::erase_if(value, [](char c) { return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f; });
    std::erase_if(name, [](char c) { return c <= 0x20 || c >= 0x7f || c == ':'; });
    for (char& c : name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    request.headers.emplace_back(std::move(name), std::move(value));
  }
  std::vector<std::uint8_t> script = in.ConsumeBytes<std::uint8_t>(in.ConsumeIntegralInRange(0, 4));
  request.body = in.ConsumeRemainingBytesAsString();
  const HttpRequest sent = request;

  auto fake = std::make_shared<FakePasswordAuthClient>(std::move(script));
  std::vector<HttpResponse> responses;
  {
    PasswordApi api(options, fake);
    api.Handle(std::move(request), [&](HttpResponse r) { responses.push_back(std::move(r)); });
  }
  PASSGATE_FUZZ_CHECK(responses.size() == 1);
  const HttpResponse& response = responses.front();

  // -- The answer --------------------------------------------------------------------------------
  PASSGATE_FUZZ_CHECK(IsAllowedStatus(response.status));
  int request_ids = 0;
  for (const auto& [name, value] : response.headers) {
    PASSGATE_FUZZ_CHECK(!name.empty() && !HasLineBreakOrNul(name) && !HasLineBreakOrNul(value));
    if (name == "X-Request-Id") {
      ++request_ids;
      const std::optional<std::string_view> id = sent.Header("x-request-id");
      if (id && PrintableToken(*id)) PASSGATE_FUZZ_CHECK(value == *id);
      PASSGATE_FUZZ_CHECK(PrintableToken(value));
    }
  }
  PASSGATE_FUZZ_CHECK(request_ids == 1);
  const bool head = sent.method == "HEAD";
  if (head || response.status == 204) PASSGATE_FUZZ_CHECK(response.body.empty());
  if (response.status >= 400 && !head) {
    const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    PASSGATE_FUZZ_CHECK(body.is_object());
    PASSGATE_FUZZ_CHECK(body.contains("code") && body["code"].is_number_integer() &&
                        body["code"].get<int>() == response.status);
    PASSGATE_FUZZ_CHECK(body.contains("message") && body["message"].is_string());
  }

  // -- The calls ---------------------------------------------------------------------------------
  const bool password_routes = options.password_enabled;
  const bool is_login = password_routes && sent.method == "POST" && sent.path == "/password/login";
  const bool is_set_password = password_routes && sent.method == "PUT" && sent.path == "/password";
  const bool is_validate =
      sent.path == "/sessions/validate" && (sent.method == "GET" || sent.method == "POST");
  const bool is_jwks = sent.method == "GET" && sent.path == "/.well-known/jwks.json";
  PASSGATE_FUZZ_CHECK(fake->logins.size() <= (is_login ? 1u : 0u));
  PASSGATE_FUZZ_CHECK(fake->set_passwords.size() <= (is_set_password ? 1u : 0u));
  PASSGATE_FUZZ_CHECK(fake->validations.empty() || is_validate || is_set_password);
  PASSGATE_FUZZ_CHECK(fake->jwks_calls <= (is_jwks ? 1 : 0));
  for (const CallContext& context : fake->contexts) {
    PASSGATE_FUZZ_CHECK(context.client_ip == kPeer || IsIpText(context.client_ip));
    PASSGATE_FUZZ_CHECK(PrintableToken(context.request_id));
  }
  for (std::size_t i = 0; i < fake->contexts.size(); ++i) {
    // Only SetPassword carries the session; it is the last call of its request.
    const bool set_password_call = !fake->set_passwords.empty() && i + 1 == fake->contexts.size();
    PASSGATE_FUZZ_CHECK(fake->contexts[i].bearer_token.empty() != set_password_call);
  }

  if (is_login) {
    const std::string_view content_type = sent.Header("content-type").value_or("");
    const bool bindable = sent.body.empty() || IsJsonMediaType(MediaType(content_type));
    if (!fake->logins.empty()) {
      PASSGATE_FUZZ_CHECK(bindable);
      if (sent.body.empty()) {
        PASSGATE_FUZZ_CHECK(fake->logins[0].user_id().empty() &&
                            fake->logins[0].password().empty());
      }
    }
    const std::string_view fields[] = {"user_id", "password"};
    const std::optional<JudgedBody> judged =
        sent.body.empty() ? std::optional<JudgedBody>(JudgedBody{}) : Judge(sent.body, fields);
    if (bindable && judged) {
      const bool decodes = judged->kind == JudgedBody::kNull ||
                           (judged->kind == JudgedBody::kObject && !judged->type_error);
      PASSGATE_FUZZ_CHECK(fake->logins.size() == (decodes ? 1u : 0u));
      if (decodes) {
        const auto expected = [&](const char* field) {
          const auto it = judged->values.find(field);
          return it == judged->values.end() ? std::string() : it->second;
        };
        PASSGATE_FUZZ_CHECK(fake->logins[0].user_id() == expected("user_id"));
        PASSGATE_FUZZ_CHECK(fake->logins[0].password() == expected("password"));
      } else {
        PASSGATE_FUZZ_CHECK(response.status == 400);
      }
    }
  }
  return 0;
}
