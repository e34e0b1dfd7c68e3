#ifndef PASSGATE_GATEWAY_JWKS_CACHE_H_
#define PASSGATE_GATEWAY_JWKS_CACHE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "gateway/password_auth_client.h"

namespace passgate::gateway {

// JwksCache holds the service's public keys, rendered as the JWKS response body, so that
// GET /.well-known/jwks.json (fetched by every token verifier, often on each verification)
// costs no gRPC call. A document younger than `ttl` is served as is. An older one is still
// served while one refresh runs in the background (stale-while-revalidate), so a key change
// upstream shows within about `ttl` and the service sees at most one GetJwks at a time.
// Without a document (start, or the last refresh failed), requests wait for the refresh and
// share its outcome: a failure reaches them as the call's status and nothing is cached, so an
// outage surfaces as 503 instead of hiding behind an old copy.
//
//   JwksCache cache(client, std::chrono::seconds(10), [](const Jwks& jwks) { return ...; });
//   cache.Get(context, [](const grpc::Status& status, std::shared_ptr<const std::string> body) {...});
class JwksCache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Render = std::function<std::string(const passgate::v1::Jwks&)>;
  // Answer receives OK and the body, or the failed call's status and no body. It runs on the
  // caller's thread when the document is cached, else on a gRPC thread.
  using Answer = std::function<void(const grpc::Status&, std::shared_ptr<const std::string>)>;

  // REQUIRES: client != nullptr, ttl >= 0 (0: every request refreshes, still one at a time).
  JwksCache(std::shared_ptr<PasswordAuthClient> client, std::chrono::steady_clock::duration ttl,
            Render render, Clock now = std::chrono::steady_clock::now);

  // Get answers from the cache or after the refresh it starts or joins. `context` identifies
  // the request that triggers a refresh (client IP, request id) in the service's logs.
  void Get(const CallContext& context, Answer answer) const;

 private:
  struct State;
  std::shared_ptr<State> state_;  // shared with the refresh callback, which may outlive us
};

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_JWKS_CACHE_H_
