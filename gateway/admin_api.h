#ifndef PASSGATE_GATEWAY_ADMIN_API_H_
#define PASSGATE_GATEWAY_ADMIN_API_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/http_message.h"
#include "grpcpp/grpcpp.h"
#include "passgate/v1/user_admin.grpc.pb.h"

namespace passgate::gateway {

// AdminApiOptions: what the admin HTTP side needs, built once from server.admin.* by tools/.
struct AdminApiOptions {
  // Deadline of each UserAdmin call. Default: 10 s. REQUIRES: > 0.
  std::chrono::milliseconds deadline{10'000};
  // TCP peers whose X-Forwarded-For / X-Real-IP are believed for the audit events' client IP.
  // Default: none (the peer is the client).
  std::vector<std::string> trusted_proxies;
};

// AdminApi serves Hanko v2.7's admin user routes on the admin listener by translating each
// request into one passgate.v1.UserAdmin call (async; Handle never blocks) and the answer
// into Hanko's JSON:
//   POST /users           body {"id"?, "emails":[{"address","is_primary","is_verified"}],
//                         "username"?, "created_at"?} -> 200 user
//   GET /users            ?page=1&per_page=20&user_id=<uuid,...>&email=&sort_direction=desc
//                         -> 200 [users], X-Total-Count, Link (first/last/next/prev)
//   GET /users/{id}       -> 200 user, 404 "user not found"
//   DELETE /users/{id}    -> 204, 404 "user not found"
//   OPTIONS on each -> 204 with Allow; other methods 405 with Allow; other paths 404.
// Errors are Hanko's {"code","message"}: 400 with the service's INVALID_ARGUMENT text (or
// Hanko's own, e.g. "failed to parse userId as uuid"), 401 "Unauthorized", 404, 409 with the
// ALREADY_EXISTS text; anything else the bare status text.
//
// Credentials: the request's Authorization header goes to the service as `authorization`
// metadata; a client certificate the HTTP server verified (HttpRequest::
// client_cert_common_name) goes as x-passgate-admin-client-cert, which the service believes
// only over the in-process channel. Nothing else from the request is forwarded as a
// credential (an x-passgate-admin-client-cert request header is ignored). A request with
// neither an Authorization header nor a verified certificate is answered 401 at once. The
// service decides everything else (deny by default, audit events naming the caller); client
// IP, User-Agent and X-Request-Id travel as for the public API.
class AdminApi final : public HttpHandler {
 public:
  // `channel` reaches UserAdmin (in one process: the admin server's in-process channel).
  AdminApi(AdminApiOptions options, std::shared_ptr<grpc::Channel> channel);
  // Waits for the calls in flight to answer (each is bounded by options.deadline).
  ~AdminApi() override;
  void Handle(HttpRequest request, Responder respond) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// --- The translation, exposed for tests ------------------------------------------------------

// DerivedUuid returns the UUID version 5 (RFC 9562 §5.5: SHA-1 of the namespace's 16 bytes
// followed by `name`) of `name` in the namespace `namespace_uuid` (canonical, either case).
// passgate stores no ids for e-mail addresses, passwords and usernames, which Hanko's JSON
// has; the admin API derives stable ones from the user's id:
//   e-mail:   DerivedUuid(user_id, "email:" + lowercase(address))
//   password: DerivedUuid(user_id, "password")
//   username: DerivedUuid(user_id, "username")
// Empty when `namespace_uuid` is not a UUID.
std::string DerivedUuid(std::string_view namespace_uuid, std::string_view name);

// AdminUserJson renders `user` as Hanko's admin dto.User (member order and omitempty rules
// of backend/dto/admin/user.go, encoding/json's escaping), without a trailing newline:
//   {"id":..,"emails":[{"id","address","is_verified","is_primary","created_at","updated_at"}],
//    "username":{"id","username","created_at","updated_at"},"created_at":..,"updated_at":..,
//    "password":{"id","created_at","updated_at"}}
// `emails`, `username` and `password` are left out when the user has none. passgate keeps no
// separate timestamps for e-mails and usernames: they carry the user's.
std::string AdminUserJson(const passgate::v1::User& user);

// ParseCreateUserBody decodes POST /users's body (Hanko's admin.CreateUser) into the
// request for the service: keys matched case-insensitively as Go does, unknown keys ignored,
// null for "nothing"; "id" a UUID (either case; the nil UUID means "new"), "created_at" an
// RFC 3339 time (Go's zero time means "now"). kInvalidArgument with the 400 text otherwise
// ("unexpected EOF", "Syntax error: ...", "Unmarshal type error: ...",
// "failed to parse userId as uuid",
// "created_at must be an RFC 3339 time"). The e-mail rules (exactly one primary, ...) are the
// service's. An empty body is an empty request.
absl::StatusOr<passgate::v1::CreateUserRequest> ParseCreateUserBody(std::string_view body);

// PaginationLinkHeader is Hanko's pagination.CreateHeader: RFC 8288 links for "first"
// (unless on page 1 of several), "last" (unless on it), "next" and "prev" (when they exist),
// in that order, joined by ",". Each is `<base?query>; rel="..."` where query is
// `raw_query` with page and per_page set, re-encoded like Go's url.Values.Encode (keys
// sorted, QueryEscape). `base` is scheme://host/path. REQUIRES: per_page >= 1.
std::string PaginationLinkHeader(std::string_view base, std::string_view raw_query,
                                 std::int64_t total, std::int64_t page, std::int64_t per_page);

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_ADMIN_API_H_
