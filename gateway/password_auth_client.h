#ifndef PASSGATE_GATEWAY_PASSWORD_AUTH_CLIENT_H_
#define PASSGATE_GATEWAY_PASSWORD_AUTH_CLIENT_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "passgate/v1/password_auth.grpc.pb.h"

namespace passgate::gateway {

// CallContext: what the gateway forwards as metadata with every call.
struct CallContext {
  std::string client_ip;      // -> x-passgate-client-ip
  std::string user_agent;     // -> x-passgate-user-agent
  std::string request_id;     // -> x-request-id
  std::string bearer_token;   // -> authorization: Bearer <token> (when non-empty)
};

// CallResult: the call's status and the server's initial + trailing metadata (lowercase
// keys), from which the gateway copies x-ratelimit-* and retry-after.
struct CallResult {
  grpc::Status status;
  std::multimap<std::string, std::string> metadata;
};

// PasswordAuthClient is the gateway's only view of the service: the generated async stub
// behind an interface, so the HTTP translation can be unit-tested with a fake. Every method
// returns at once and calls `done` exactly once, on a gRPC thread.
class PasswordAuthClient {
 public:
  template <typename Response>
  using Done = std::function<void(CallResult, Response)>;

  virtual ~PasswordAuthClient() = default;
  virtual void Login(const passgate::v1::LoginRequest& request, const CallContext& context,
                     Done<passgate::v1::LoginResponse> done) = 0;
  virtual void SetPassword(const passgate::v1::SetPasswordRequest& request,
                           const CallContext& context,
                           Done<passgate::v1::SetPasswordResponse> done) = 0;
  virtual void ValidateSession(const passgate::v1::ValidateSessionRequest& request,
                               const CallContext& context,
                               Done<passgate::v1::ValidateSessionResponse> done) = 0;
  virtual void GetJwks(const CallContext& context, Done<passgate::v1::Jwks> done) = 0;
};

// NewGrpcPasswordAuthClient calls the service over `channel` (TCP or in-process) with the
// async callback API; each call gets `deadline`. REQUIRES: deadline > 0.
std::unique_ptr<PasswordAuthClient> NewGrpcPasswordAuthClient(
    std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds deadline);

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_PASSWORD_AUTH_CLIENT_H_
