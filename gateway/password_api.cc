#include "gateway/password_api.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/client_ip.h"
#include "gateway/cors.h"
#include "gateway/go_json_decode.h"
#include "gateway/go_json_encode.h"
#include "gateway/jwks_cache.h"
#include "gateway/session_token_candidates.h"
#include "gateway/text.h"

namespace passgate::gateway {
namespace {

using passgate::v1::Jwks;
using passgate::v1::LoginRequest;
using passgate::v1::LoginResponse;
using passgate::v1::SetPasswordRequest;
using passgate::v1::SetPasswordResponse;
using passgate::v1::ValidateSessionRequest;
using passgate::v1::ValidateSessionResponse;

// Echo's c.JSON(status, nil): the JSON literal null plus the encoder's newline.
constexpr std::string_view kNullBody = "null\n";

// ---------------------------------------------------------------------------------------------
// Routes.

enum class RouteId { kLogin, kSetPassword, kValidateSession, kJwks };

struct Route {
  std::string_view path;
  RouteId id;
  // Echo's Allow header (OPTIONS first, then the methods in Echo's fixed order); Hanko's CORS
  // middleware also sends it as Access-Control-Allow-Methods.
  std::string_view allow;
  std::array<std::string_view, 2> methods;
  bool password_route;

  bool Allows(std::string_view method) const {
    return std::find(methods.begin(), methods.end(), method) != methods.end() && !method.empty();
  }
};

constexpr Route kRoutes[] = {
    {"/password/login", RouteId::kLogin, "OPTIONS, POST", {"POST", ""}, true},
    {"/password", RouteId::kSetPassword, "OPTIONS, PUT", {"PUT", ""}, true},
    {"/sessions/validate", RouteId::kValidateSession, "OPTIONS, GET, POST", {"GET", "POST"}, false},
    {"/.well-known/jwks.json", RouteId::kJwks, "OPTIONS, GET", {"GET", ""}, false},
};

// Rate-limit metadata of the service -> the header names Hanko's limiter set.
constexpr std::pair<std::string_view, std::string_view> kRateLimitHeaders[] = {
    {"x-ratelimit-limit", "X-RateLimit-Limit"},
    {"x-ratelimit-remaining", "X-RateLimit-Remaining"},
    {"x-ratelimit-reset", "X-RateLimit-Reset"},
    {"retry-after", "Retry-After"},
};

// GrpcError maps a failed call: INVALID_ARGUMENT carries Hanko's 400 text; every other
// status shows only the HTTP status text.
HttpResponse GrpcError(const grpc::Status& status) {
  const int http = HttpStatusForGrpc(status.error_code());
  return ErrorResponse(http,
                       http == 400 ? std::string_view(status.error_message()) : std::string_view());
}

std::string ValidateSessionJson(const ValidateSessionResponse& reply) {
  if (!reply.is_valid()) return "{\"is_valid\":false}\n";
  std::string out = "{\"is_valid\":true";
  // Go's uuid.UUID marshals its zero value as the nil UUID.
  const auto uuid = [](const std::string& id) {
    return GoJsonString(id.empty() ? "00000000-0000-0000-0000-000000000000" : id);
  };
  if (reply.has_claims()) {
    // Member order of Hanko's dto.Claims struct.
    const auto& claims = reply.claims();
    out += ",\"claims\":{\"subject\":" + uuid(claims.subject());
    if (claims.has_issued_at()) out += ",\"issued_at\":\"" + Rfc3339(claims.issued_at()) + "\"";
    // A Go time.Time without a value marshals as year 1.
    out += ",\"expiration\":\"" +
           (claims.has_expiration() ? Rfc3339(claims.expiration()) : "0001-01-01T00:00:00Z") + "\"";
    if (claims.audience_size() > 0) {
      out += ",\"audience\":[";
      for (int i = 0; i < claims.audience_size(); ++i) {
        if (i > 0) out += ',';
        AppendGoJsonString(out, claims.audience(i));
      }
      out += ']';
    }
    if (!claims.issuer().empty()) out += ",\"issuer\":" + GoJsonString(claims.issuer());
    if (claims.has_email()) {
      const auto& email = claims.email();
      out += ",\"email\":{\"address\":" + GoJsonString(email.address()) +
             ",\"is_primary\":" + (email.is_primary() ? "true" : "false") +
             ",\"is_verified\":" + (email.is_verified() ? "true" : "false") + "}";
    }
    out += ",\"session_id\":" + uuid(claims.session_id()) + "}";
  }
  if (reply.has_expiration_time()) {
    out += ",\"expiration_time\":\"" + Rfc3339(reply.expiration_time()) + "\"";
  }
  if (!reply.user_id().empty()) out += ",\"user_id\":" + GoJsonString(reply.user_id());
  out += "}\n";
  return out;
}

std::string JwksJson(const Jwks& jwks) {
  // jwx marshals each key's members in lexical order and omits empty ones.
  std::string out = "{\"keys\":[";
  for (int i = 0; i < jwks.keys_size(); ++i) {
    const auto& key = jwks.keys(i);
    const std::pair<std::string_view, const std::string*> members[] = {
        {"alg", &key.alg()}, {"crv", &key.crv()}, {"e", &key.e()},
        {"kid", &key.kid()}, {"kty", &key.kty()}, {"n", &key.n()},
        {"use", &key.use()}, {"x", &key.x()},     {"y", &key.y()},
    };
    if (i > 0) out += ',';
    out += '{';
    bool first = true;
    for (const auto& [name, value] : members) {
      if (value->empty()) continue;
      if (!first) out += ',';
      first = false;
      out += '"';
      out += name;
      out += "\":";
      AppendGoJsonString(out, *value);
    }
    out += '}';
  }
  out += "]}\n";
  return out;
}

}  // namespace

int HttpStatusForGrpc(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

// Impl is immutable after construction; every request keeps it alive through its Exchange,
// so callbacks arriving on gRPC threads never see it destroyed.
struct PasswordApi::Impl : std::enable_shared_from_this<PasswordApi::Impl> {
  // Exchange: one request's answer-side state, shared by the callbacks of its calls.
  struct Exchange {
    std::shared_ptr<const Impl> impl;
    Responder respond;
    std::string request_id;
    std::string allowed_origin;  // empty: send no CORS headers
    bool head = false;
    CallContext call;  // without bearer_token
  };
  using ExchangePtr = std::shared_ptr<const Exchange>;
  // FoundSession: the first candidate token the service called valid, or none; `status` is
  // the failure of a call, if any.
  using FoundSession = std::function<void(const grpc::Status& status, const std::string* token,
                                          const ValidateSessionResponse* reply)>;

  Impl(GatewayOptions options_in, std::shared_ptr<PasswordAuthClient> client_in)
      : options(std::move(options_in)),
        client(std::move(client_in)),
        jwks_cache(client, options.jwks_cache_ttl, JwksJson),
        client_ip_resolver(options.trusted_proxies),
        cors({.allow_origins = options.cors_allow_origins,
              .unsafe_wildcard_origin_allowed = options.cors_unsafe_wildcard_origin_allowed,
              .expose_auth_token = options.enable_auth_token_header}) {}

  void Handle(HttpRequest request, Responder respond) const {
    auto exchange = std::make_shared<Exchange>();
    exchange->impl = shared_from_this();
    exchange->respond = std::move(respond);
    exchange->request_id = RequestIdOf(request);
    exchange->head = request.method == "HEAD";
    exchange->allowed_origin = cors.AllowedOrigin(request);
    exchange->call.client_ip = client_ip_resolver.Resolve(request);
    exchange->call.user_agent = std::string(request.Header("user-agent").value_or(""));
    exchange->call.request_id = exchange->request_id;
    const ExchangePtr ex = std::move(exchange);

    const Route* route = nullptr;
    for (const Route& candidate : kRoutes) {
      if (candidate.path == request.path &&
          (options.password_enabled || !candidate.password_route)) {
        route = &candidate;
      }
    }
    if (route == nullptr) return Send(*ex, ErrorResponse(404));
    if (request.method == "OPTIONS") return Preflight(*ex, *route, request);
    if (!route->Allows(request.method)) {
      HttpResponse response = ErrorResponse(405);
      response.AddHeader("Allow", std::string(route->allow));
      return Send(*ex, std::move(response));
    }
    switch (route->id) {
      case RouteId::kLogin:
        return Login(ex, request);
      case RouteId::kSetPassword:
        return SetPassword(ex, request);
      case RouteId::kValidateSession:
        if (request.method == "GET") return ValidateFromCookieOrHeader(ex, request);
        return ValidateFromBody(ex, request);
      case RouteId::kJwks:
        return GetJwks(ex);
    }
  }

  // -- Routes ----------------------------------------------------------------------------------

  void Login(const ExchangePtr& ex, const HttpRequest& request) const {
    std::string user_id, password;
    const BodyField fields[] = {{"user_id", &user_id}, {"password", &password}};
    if (std::optional<HttpResponse> error = Bind(request, "handler.PasswordLoginBody", fields)) {
      return Send(*ex, std::move(*error));
    }
    LoginRequest call;
    call.set_user_id(std::move(user_id));
    call.set_password(std::move(password));
    client->Login(call, ex->call, [ex](CallResult result, LoginResponse reply) {
      ex->impl->FinishLogin(*ex, result, reply);
    });
  }

  void FinishLogin(const Exchange& ex, const CallResult& result, const LoginResponse& reply) const {
    HttpResponse response;
    if (!result.status.ok()) {
      response = GrpcError(result.status);
    } else {
      response = JsonResponse(200, std::string(kNullBody));
      const std::string lifetime = std::to_string(reply.expires_in_seconds());
      if (options.enable_auth_token_header) {
        response.AddHeader("X-Auth-Token", reply.session_token());
      } else {
        response.AddHeader("Set-Cookie",
                           SessionCookie(reply.session_token(), reply.expires_in_seconds()));
      }
      response.AddHeader("X-Session-Lifetime", lifetime);
    }
    CopyRateLimitHeaders(result, response);
    Send(ex, std::move(response));
  }

  // PUT /password: Hanko's session middleware runs before the body is bound, so without a
  // valid session every request is 401, whatever its body.
  void SetPassword(const ExchangePtr& ex, const HttpRequest& request) const {
    auto tokens = std::make_shared<const std::vector<std::string>>(
        SessionTokenCandidates(request, options.cookie.name));
    if (tokens->empty()) return Send(*ex, ErrorResponse(401));
    auto call = std::make_shared<SetPasswordRequest>();
    std::string user_id, password;
    const BodyField fields[] = {{"user_id", &user_id}, {"password", &password}};
    std::optional<HttpResponse> bind_error = Bind(request, "handler.PasswordSetBody", fields);
    call->set_user_id(std::move(user_id));
    call->set_password(std::move(password));
    if (!bind_error && tokens->size() == 1) return CallSetPassword(ex, *call, tokens->front());
    // Either the body is bad (and only a valid session earns the 400) or several tokens were
    // sent (Hanko takes the first that verifies): ask the service which one is valid first.
    auto error = std::make_shared<const std::optional<HttpResponse>>(std::move(bind_error));
    FindValidSession(ex, tokens, 0,
                     [ex, call, error](const grpc::Status& status, const std::string* token,
                                       const ValidateSessionResponse*) {
                       if (!status.ok()) return ex->impl->Send(*ex, GrpcError(status));
                       if (token == nullptr) return ex->impl->Send(*ex, ErrorResponse(401));
                       if (error->has_value()) return ex->impl->Send(*ex, **error);
                       ex->impl->CallSetPassword(ex, *call, *token);
                     });
  }

  void CallSetPassword(const ExchangePtr& ex, const SetPasswordRequest& call,
                       const std::string& token) const {
    CallContext context = ex->call;
    context.bearer_token = token;
    client->SetPassword(call, context, [ex](CallResult result, SetPasswordResponse reply) {
      HttpResponse response =
          result.status.ok() ? JsonResponse(reply.created() ? 201 : 200, std::string(kNullBody))
                             : GrpcError(result.status);
      ex->impl->CopyRateLimitHeaders(result, response);
      ex->impl->Send(*ex, std::move(response));
    });
  }

  // GET /sessions/validate: the first token (Authorization: Bearer, then the cookie) that the
  // service calls valid; none -> {"is_valid":false}.
  void ValidateFromCookieOrHeader(const ExchangePtr& ex, const HttpRequest& request) const {
    auto tokens = std::make_shared<const std::vector<std::string>>(
        SessionTokenCandidates(request, options.cookie.name));
    if (tokens->empty()) return Send(*ex, JsonResponse(200, ValidateSessionJson({})));
    FindValidSession(
        ex, tokens, 0,
        [ex](const grpc::Status& status, const std::string*, const ValidateSessionResponse* reply) {
          if (!status.ok()) return ex->impl->Send(*ex, GrpcError(status));
          ex->impl->Send(
              *ex,
              JsonResponse(200, ValidateSessionJson(reply ? *reply : ValidateSessionResponse())));
        });
  }

  void ValidateFromBody(const ExchangePtr& ex, const HttpRequest& request) const {
    std::string token;
    const BodyField fields[] = {{"session_token", &token}};
    if (std::optional<HttpResponse> error = Bind(request, "dto.ValidateSessionRequest", fields)) {
      return Send(*ex, std::move(*error));
    }
    if (token.empty()) return Send(*ex, ErrorResponse(400, "session_token is a required field"));
    ValidateSessionRequest call;
    call.set_session_token(std::move(token));
    client->ValidateSession(call, ex->call, [ex](CallResult result, ValidateSessionResponse reply) {
      HttpResponse response = result.status.ok() ? JsonResponse(200, ValidateSessionJson(reply))
                                                 : GrpcError(result.status);
      ex->impl->Send(*ex, std::move(response));
    });
  }

  void GetJwks(const ExchangePtr& ex) const {
    jwks_cache.Get(ex->call, [ex](const grpc::Status& status,
                                  std::shared_ptr<const std::string> body) {
      if (!status.ok()) return ex->impl->Send(*ex, GrpcError(status));
      HttpResponse response = JsonResponse(200, *body);
      response.AddHeader("Cache-Control", "max-age=600");
      ex->impl->Send(*ex, std::move(response));
    });
  }

  // Echo's CORS middleware answers every OPTIONS itself (204, without calling the handler).
  void Preflight(const Exchange& ex, const Route& route, const HttpRequest& request) const {
    HttpResponse response;
    response.status = 204;
    response.AddHeader("Allow", std::string(route.allow));
    cors.AddPreflightHeaders(request, ex.allowed_origin, route.allow, response.headers);
    Send(ex, std::move(response), /*preflight=*/true);
  }

  // -- Helpers ---------------------------------------------------------------------------------

  // Bind is Echo's DefaultBinder.BindBody: no body binds nothing; a body must be JSON.
  std::optional<HttpResponse> Bind(const HttpRequest& request, std::string_view go_type,
                                   std::span<const BodyField> fields) const {
    if (request.body.empty()) return std::nullopt;
    std::string_view media_type = request.Header("content-type").value_or("");
    media_type = TrimAsciiSpace(media_type.substr(0, media_type.find(';')));
    if (!EqualsIgnoreCase(media_type, kJsonMediaType)) return ErrorResponse(415);
    if (std::optional<std::string> error = DecodeGoJson(request.body, go_type, fields)) {
      return ErrorResponse(400, *error);
    }
    return std::nullopt;
  }

  // FindValidSession asks the service about tokens[index...] in order until one is valid.
  void FindValidSession(const ExchangePtr& ex,
                        const std::shared_ptr<const std::vector<std::string>>& tokens,
                        std::size_t index, FoundSession done) const {
    ValidateSessionRequest call;
    call.set_session_token((*tokens)[index]);
    client->ValidateSession(call, ex->call,
                           [ex, tokens, index, done = std::move(done)](
                               CallResult result, ValidateSessionResponse reply) mutable {
                             if (!result.status.ok()) return done(result.status, nullptr, nullptr);
                             if (reply.is_valid())
                               return done(result.status, &(*tokens)[index], &reply);
                             if (index + 1 < tokens->size()) {
                               return ex->impl->FindValidSession(ex, tokens, index + 1,
                                                                 std::move(done));
                             }
                             done(result.status, nullptr, nullptr);
                           });
  }

  // SessionCookie is Go's http.Cookie.String() for Hanko's session cookie.
  std::string SessionCookie(const std::string& token, std::int64_t max_age) const {
    const GatewayOptions::Cookie& cookie = options.cookie;
    std::string out = cookie.name + "=" + token + "; Path=/";
    if (!cookie.domain.empty()) out += "; Domain=" + cookie.domain;
    if (max_age > 0) out += "; Max-Age=" + std::to_string(max_age);
    if (max_age < 0) out += "; Max-Age=0";
    if (cookie.http_only) out += "; HttpOnly";
    if (cookie.secure) out += "; Secure";
    if (EqualsIgnoreCase(cookie.same_site, "strict")) out += "; SameSite=Strict";
    if (EqualsIgnoreCase(cookie.same_site, "lax")) out += "; SameSite=Lax";
    if (EqualsIgnoreCase(cookie.same_site, "none")) out += "; SameSite=None";
    return out;
  }

  static void CopyRateLimitHeaders(const CallResult& result, HttpResponse& response) {
    for (const auto& [key, header] : kRateLimitHeaders) {
      auto it = result.metadata.find(std::string(key));
      if (it != result.metadata.end()) response.AddHeader(std::string(header), it->second);
    }
  }

  // Send adds what Hanko's middlewares add to every response (request id, CORS) and answers.
  void Send(const Exchange& ex, HttpResponse response, bool preflight = false) const {
    std::vector<std::pair<std::string, std::string>> headers;
    headers.emplace_back("X-Request-Id", ex.request_id);
    cors.AddResponseHeaders(ex.allowed_origin, preflight, headers);
    for (auto& header : response.headers) headers.push_back(std::move(header));
    response.headers = std::move(headers);
    if (ex.head) {
      // Hanko's error handler answers HEAD without a body (Echo issue #608).
      response.body.clear();
      std::erase_if(response.headers,
                    [](const auto& h) { return EqualsIgnoreCase(h.first, "Content-Type"); });
    }
    ex.respond(std::move(response));
  }

  GatewayOptions options;
  const std::shared_ptr<PasswordAuthClient> client;
  JwksCache jwks_cache;
  ClientIpResolver client_ip_resolver;
  CorsPolicy cors;
};

PasswordApi::PasswordApi(GatewayOptions options, std::shared_ptr<PasswordAuthClient> client)
    : impl_(std::make_shared<const Impl>(std::move(options), std::move(client))) {}

void PasswordApi::Handle(HttpRequest request, Responder respond) {
  impl_->Handle(std::move(request), std::move(respond));
}

}  // namespace passgate::gateway
