#ifndef PASSGATE_GATEWAY_PASSWORD_API_H_
#define PASSGATE_GATEWAY_PASSWORD_API_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "gateway/http_message.h"
#include "gateway/password_auth_client.h"

namespace passgate::gateway {

// GatewayOptions: the settings the REST side needs, built once from the config by tools/.
struct GatewayOptions {
  bool password_enabled = true;           // password.enabled: false -> /password routes 404
  bool enable_auth_token_header = false;  // session.enable_auth_token_header
  struct Cookie {
    std::string name = "hanko";
    std::string domain;  // empty: no Domain attribute; a leading dot already dropped
    bool http_only = true;
    bool secure = true;
    std::string same_site = "strict";  // strict | lax | none
  } cookie;
  // server.public.cors.allow_origins and .unsafe_wildcard_origin_allowed ("*" only counts
  // when the latter is true).
  std::vector<std::string> cors_allow_origins;
  bool cors_unsafe_wildcard_origin_allowed = false;
  // server.public.trusted_proxies: TCP peers whose X-Forwarded-For / X-Real-IP are believed.
  std::vector<std::string> trusted_proxies;
  // How long GET /.well-known/jwks.json serves the keys without asking the service (see
  // JwksCache): a key change upstream shows within about this long.
  std::chrono::steady_clock::duration jwks_cache_ttl = std::chrono::seconds(10);
};

// PasswordApi serves Hanko's public password routes (reference §1–§8) by translating each
// request into one PasswordAuth call and the reply back into Hanko's exact HTTP answer:
//   POST /password/login, PUT /password, GET|POST /sessions/validate,
//   GET /.well-known/jwks.json, OPTIONS (CORS preflight) on each; 404/405 otherwise.
// It holds no authentication logic: it checks the JSON shape, forwards, and maps.
class PasswordApi final : public HttpHandler {
 public:
  // The API shares ownership of `client`: answers and follow-up calls (a second token to
  // validate, SetPassword after validation) may still run after the API itself is gone.
  PasswordApi(GatewayOptions options, std::shared_ptr<PasswordAuthClient> client);
  void Handle(HttpRequest request, Responder respond) override;

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
};

// HttpStatusForGrpc is the one table from gRPC code to HTTP status: OK 200,
// INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403, NOT_FOUND 404,
// RESOURCE_EXHAUSTED 429, UNAVAILABLE 503, DEADLINE_EXCEEDED 504, everything else 500.
int HttpStatusForGrpc(grpc::StatusCode code);

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_PASSWORD_API_H_
