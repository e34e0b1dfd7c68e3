#ifndef PASSGATE_GATEWAY_CORS_H_
#define PASSGATE_GATEWAY_CORS_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/http_message.h"

namespace passgate::gateway {

// CorsPolicy is Hanko's CORS setup (Echo's CORS middleware with AllowCredentials and Hanko's
// expose list): which origins are allowed, and which headers preflights and other responses
// carry. It is built once from the configuration and immutable afterwards, so one instance
// may serve every thread.
//
//   const CorsPolicy cors({.allow_origins = {"https://app.example"}});
//   const std::string origin = cors.AllowedOrigin(request);  // once per request
//   cors.AddResponseHeaders(origin, /*preflight=*/false, headers);
class CorsPolicy {
 public:
  struct Options {
    // server.public.cors.allow_origins: exact origins, "*", or patterns with '*' (any run of
    // characters) and '?' (any one character). Empty: CORS is off.
    std::vector<std::string> allow_origins;
    // server.public.cors.unsafe_wildcard_origin_allowed: "*" counts only when true.
    bool unsafe_wildcard_origin_allowed = false;
    // session.enable_auth_token_header: also expose X-Auth-Token to scripts.
    bool expose_auth_token = false;
  };

  explicit CorsPolicy(Options options);

  // enabled reports whether any origin is configured; otherwise the policy adds nothing.
  bool enabled() const { return !options_.allow_origins.empty(); }

  // AllowedOrigin returns the request's Origin header when CORS is enabled and the origin is
  // allowed: equal to an entry, or any origin when "*" is configured and unsafe wildcards are
  // allowed, or matching a pattern entry (only for origins that contain "://" and are at most
  // 261 bytes). Otherwise, and without an Origin header, it returns "".
  std::string AllowedOrigin(const HttpRequest& request) const;

  // AddPreflightHeaders appends the CORS headers of the answer to an OPTIONS request:
  // Access-Control-Allow-Origin, -Allow-Credentials, two Vary, -Allow-Methods (`allow_methods`,
  // the route's Allow value), -Allow-Headers (echoing a non-empty
  // Access-Control-Request-Headers) and -Max-Age 7200. Nothing when `allowed_origin` (from
  // AllowedOrigin) is empty.
  void AddPreflightHeaders(const HttpRequest& request, std::string_view allowed_origin,
                           std::string_view allow_methods,
                           std::vector<std::pair<std::string, std::string>>& headers) const;

  // AddResponseHeaders appends the CORS headers every response carries: "Vary: Origin" when
  // enabled, and unless `preflight`, for an allowed origin also Access-Control-Allow-Origin,
  // -Allow-Credentials and -Expose-Headers (Retry-After, the X-RateLimit-* headers,
  // X-Session-Lifetime, X-Session-Retention and, when exposed, X-Auth-Token).
  void AddResponseHeaders(std::string_view allowed_origin, bool preflight,
                          std::vector<std::pair<std::string, std::string>>& headers) const;

 private:
  Options options_;
  std::string expose_headers_;
};

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_CORS_H_
