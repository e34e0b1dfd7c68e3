#ifndef PASSGATE_SERVER_USER_ADMIN_SERVICE_H_
#define PASSGATE_SERVER_USER_ADMIN_SERVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "passgate/v1/user_admin.grpc.pb.h"
#include "server/admin_auth.h"
#include "server/audit_log.h"
#include "server/client_identity.h"
#include "server/hashing_slots.h"
#include "server/password_hasher.h"
#include "server/runtime.h"
#include "storage/store.h"

namespace passgate::server {

// UserAdminService is passgate.v1.UserAdmin (proto/passgate/v1/user_admin.proto) for the admin
// listener: every call is authenticated (AdminAuthenticator) before it reads anything, and
// every change is an audit event naming the caller. It uses gRPC's synchronous API: admin
// calls are rare, and the few that hash a password hold a HashingSlots permit so they share
// password.hashing.workers with logins instead of adding CPU load beside them.
class UserAdminService final : public passgate::v1::UserAdmin::Service {
 public:
  struct Dependencies {
    storage::Store& store;
    const PasswordHasher& hasher;
    HashingSlots& hashing_slots;
    const Clock& clock;
    AuditLog& audit;
    const ClientIdentity& identity;
    const AdminAuthenticator& auth;
    int min_password_length = 8;  // password.min_length
    // Validates a password_hash (CreateUser, SetPassword) as the importer does.
    std::function<absl::Status(std::string_view hash)> check_hash;
  };

  explicit UserAdminService(Dependencies deps);

  grpc::Status CreateUser(grpc::ServerContext* context,
                          const passgate::v1::CreateUserRequest* request,
                          passgate::v1::User* response) override;
  grpc::Status GetUser(grpc::ServerContext* context, const passgate::v1::GetUserRequest* request,
                       passgate::v1::User* response) override;
  grpc::Status ListUsers(grpc::ServerContext* context,
                         const passgate::v1::ListUsersRequest* request,
                         passgate::v1::ListUsersResponse* response) override;
  grpc::Status DeleteUser(grpc::ServerContext* context,
                          const passgate::v1::DeleteUserRequest* request,
                          passgate::v1::DeleteUserResponse* response) override;
  grpc::Status SetPassword(grpc::ServerContext* context,
                           const passgate::v1::AdminSetPasswordRequest* request,
                           passgate::v1::AdminSetPasswordResponse* response) override;
  grpc::Status DeletePassword(grpc::ServerContext* context,
                              const passgate::v1::DeletePasswordRequest* request,
                              passgate::v1::DeletePasswordResponse* response) override;
  grpc::Status ListSessions(grpc::ServerContext* context,
                            const passgate::v1::ListSessionsRequest* request,
                            passgate::v1::ListSessionsResponse* response) override;
  grpc::Status RevokeSessions(grpc::ServerContext* context,
                              const passgate::v1::RevokeSessionsRequest* request,
                              passgate::v1::RevokeSessionsResponse* response) override;

 private:
  struct Call;  // the authenticated caller of one RPC

  // Begin authenticates the caller; a refusal is audited (admin_auth_failed) and answered
  // UNAUTHENTICATED.
  absl::StatusOr<Call> Begin(grpc::ServerContext* context) const;
  void Audit(const Call& call, const char* type, const std::string& user_id) const;
  // HashCredential turns a request's password or password_hash into the hash to store.
  absl::StatusOr<std::string> HashCredential(const std::string& password,
                                             const std::string& password_hash,
                                             bool has_password, bool has_hash) const;
  absl::Status FillUser(const std::string& user_id, passgate::v1::User& out) const;
  absl::Status RequireUser(const std::string& user_id) const;

  Dependencies deps_;
};

// Page tokens of ListUsers: an opaque, versioned encoding of the last user's (created_at,
// id). Exposed for tests.
std::string EncodeUserPageToken(const storage::UserCursor& cursor);
absl::StatusOr<storage::UserCursor> DecodeUserPageToken(std::string_view token);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_USER_ADMIN_SERVICE_H_
