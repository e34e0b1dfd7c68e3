#ifndef PASSGATE_SERVER_GRPC_SERVER_H_
#define PASSGATE_SERVER_GRPC_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "server/client_identity.h"
#include "server/login_flow.h"
#include "server/admin_auth.h"
#include "server/password_auth_service.h"
#include "server/user_admin_service.h"
#include "server/password_change.h"
#include "server/hashing_slots.h"
#include "server/runtime.h"
#include "server/session_tokens.h"
#include "server/worker_pool.h"

namespace passgate::server {

// GrpcServer serves PasswordAuth, grpc.health.v1 and server reflection on
// config.grpc.address, backed by a Runtime (which must have a hasher and keys). When the
// admin API is on (server.admin.*), a second gRPC server serves UserAdmin (and health and
// reflection) on server.admin.grpc_address, never on the public address.
//
//   auto server = GrpcServer::Start(*runtime);
//   ... wait for SIGTERM ...
//   (*server)->Shutdown();  // drains in-flight calls
class GrpcServer {
 public:
  // Start listens and serves. kUnavailable naming server.grpc.address when it cannot bind.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(Runtime& runtime);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // port is the bound TCP port (useful with port 0).
  int port() const { return port_; }

  // InProcessChannel opens a channel to this server that never touches the network; its
  // caller counts as trusted for client-identity metadata.
  std::shared_ptr<grpc::Channel> InProcessChannel();

  // admin_port is the bound port of server.admin.grpc_address (0 when not listening).
  int admin_port() const { return admin_port_; }

  // AdminInProcessChannel reaches UserAdmin without the network (the HTTP admin listener
  // uses it); null when the admin API is off.
  std::shared_ptr<grpc::Channel> AdminInProcessChannel();

  // Shutdown marks health NOT_SERVING, stops accepting calls, lets in-flight calls finish
  // for up to server.grpc.shutdown_grace (then cancels them), and drains the hashing pool.
  // Idempotent.
  void Shutdown();

 private:
  explicit GrpcServer(Runtime& runtime);
  // StartAdmin starts the UserAdmin server when server.admin.* turns the admin API on.
  absl::Status StartAdmin();

  Runtime& runtime_;
  std::unique_ptr<AuditLog> audit_;
  SessionTokens tokens_;
  LoginFlow login_;
  PasswordChange password_change_;
  ClientIdentity identity_;
  std::unique_ptr<LoginRateLimiter> limiter_;  // null when rate_limiter.enabled is false
  HashingSlots hashing_slots_;  // password.hashing.workers
  WorkerPool pool_;
  PasswordAuthService service_;
  AdminAuthenticator admin_auth_;
  UserAdminService admin_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> admin_server_;  // null when the admin API is off
  int port_ = 0;
  int admin_port_ = 0;
  bool shut_down_ = false;
};

// AuditLogFrom builds the audit log of audit_log.console_output.*.
std::unique_ptr<AuditLog> AuditLogFrom(const Config& config);
// LoginLimitsFrom translates rate_limiter.*.
LoginLimits LoginLimitsFrom(const Config& config);
// LoginRateLimiterFrom builds the limiter of rate_limiter.*: null when disabled; counting in
// this process (store in_memory) or in rate_limiter.redis_config's Redis (store redis; not
// contacted here, so a Redis that is down does not stop start-up: logins fail closed until it
// answers).
std::unique_ptr<LoginRateLimiter> LoginRateLimiterFrom(const Config& config, const Clock& clock);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_GRPC_SERVER_H_
