#ifndef PASSGATE_SERVER_PASSWORD_AUTH_SERVICE_H_
#define PASSGATE_SERVER_PASSWORD_AUTH_SERVICE_H_

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "passgate/v1/password_auth.grpc.pb.h"
#include "server/client_identity.h"
#include "server/key_ring.h"
#include "server/hashing_slots.h"
#include "server/login_flow.h"
#include "server/password_change.h"
#include "server/rate_limiter.h"
#include "server/session_tokens.h"
#include "server/worker_pool.h"
#include "storage/store.h"

namespace passgate::server {

// ToGrpcStatus converts 1:1 (absl codes are the google.rpc codes).
grpc::Status ToGrpcStatus(const absl::Status& status);

// PasswordAuthService adapts the login, password and session logic to gRPC's callback API.
// Cheap checks run inline on the gRPC thread; password hashing goes to the bounded worker
// pool, and a full pool answers RESOURCE_EXHAUSTED at once. A call that was cancelled or
// whose deadline passed while queued is answered without hashing.
class PasswordAuthService final : public passgate::v1::PasswordAuth::CallbackService {
 public:
  struct Dependencies {
    storage::Store& store;
    const KeyRing& keys;
    const SessionTokens& tokens;
    const LoginFlow& login;
    const PasswordChange& password_change;
    WorkerPool& hashing_pool;
    // At most password.hashing.workers hashes at once; the pool has more threads (see
    // HashingSlots).
    HashingSlots& hashing_slots;
    const ClientIdentity& identity;
    // password.enabled: when false, Login and SetPassword answer NOT_FOUND "Not Found",
    // as Hanko's routes do (404).
    bool password_enabled = true;
    // Counts login attempts (rate_limiter.*); null when the limiter is off.
    LoginRateLimiter* limiter = nullptr;
  };

  explicit PasswordAuthService(Dependencies deps);

  grpc::ServerUnaryReactor* Login(grpc::CallbackServerContext* context,
                                  const passgate::v1::LoginRequest* request,
                                  passgate::v1::LoginResponse* response) override;
  grpc::ServerUnaryReactor* SetPassword(grpc::CallbackServerContext* context,
                                        const passgate::v1::SetPasswordRequest* request,
                                        passgate::v1::SetPasswordResponse* response) override;
  grpc::ServerUnaryReactor* ValidateSession(
      grpc::CallbackServerContext* context, const passgate::v1::ValidateSessionRequest* request,
      passgate::v1::ValidateSessionResponse* response) override;
  grpc::ServerUnaryReactor* GetJwks(grpc::CallbackServerContext* context,
                                    const passgate::v1::GetJwksRequest* request,
                                    passgate::v1::Jwks* response) override;
  grpc::ServerUnaryReactor* RevokeSession(grpc::CallbackServerContext* context,
                                          const passgate::v1::RevokeSessionRequest* request,
                                          passgate::v1::RevokeSessionResponse* response) override;

 private:
  // Authorize validates the `authorization: Bearer <jwt>` metadata.
  absl::StatusOr<SessionClaims> Authorize(const grpc::ServerContextBase& context) const;

  Dependencies deps_;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_PASSWORD_AUTH_SERVICE_H_
