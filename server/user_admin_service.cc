#include "server/user_admin_service.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/time_util.h"
#include "server/login_flow.h"
#include "server/password_auth_service.h"
#include "server/request_checks.h"
#include "server/uuid.h"
#include "storage/user_page_sql.h"

namespace passgate::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int64_t kMaxOffset = 1'000'000'000'000;
constexpr absl::string_view kPageTokenVersion = "u1";

google::protobuf::Timestamp ToTimestamp(TimePoint t) {
  return TimeUtil::MicrosecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

absl::Status InvalidUserId() {
  return absl::InvalidArgumentError("user_id must be a canonical lowercase UUID");
}

absl::Status CheckUserId(const std::string& user_id) {
  if (user_id.empty()) return absl::InvalidArgumentError("user_id is required");
  return IsCanonicalUuid(user_id) ? absl::OkStatus() : InvalidUserId();
}

absl::Status UserNotFound() { return absl::NotFoundError("user not found"); }

void FillEmail(const storage::Email& email, passgate::v1::Email& out) {
  out.set_address(email.address);
  out.set_is_primary(email.is_primary);
  out.set_is_verified(email.is_verified);
}

void FillUserFields(const storage::User& user,
                    const std::optional<storage::PasswordCredential>& password,
                    passgate::v1::User& out) {
  out.set_id(user.id);
  for (const storage::Email& email : user.emails) FillEmail(email, *out.add_emails());
  if (user.username) out.set_username(*user.username);
  *out.mutable_created_at() = ToTimestamp(user.created_at);
  *out.mutable_updated_at() = ToTimestamp(user.updated_at);
  if (password.has_value()) {
    *out.mutable_password()->mutable_created_at() = ToTimestamp(password->created_at);
    *out.mutable_password()->mutable_updated_at() = ToTimestamp(password->updated_at);
  }
}

// CheckEmails applies Hanko's admin rules: exactly one primary when there are addresses, each
// plausible, none twice (ASCII case folded, as the store compares them).
absl::Status CheckEmails(const google::protobuf::RepeatedPtrField<passgate::v1::Email>& emails) {
  int primaries = 0;
  std::set<std::string> seen;
  for (int i = 0; i < emails.size(); ++i) {
    const std::string& address = emails[i].address();
    if (!IsPlausibleEmail(address)) {
      return absl::InvalidArgumentError(
          absl::StrCat("emails[", i, "].address is not a valid email address"));
    }
    if (!seen.insert(absl::AsciiStrToLower(address)).second) {
      return absl::InvalidArgumentError(absl::StrCat("emails[", i, "].address is a duplicate"));
    }
    primaries += emails[i].is_primary() ? 1 : 0;
  }
  if (!emails.empty() && primaries == 0) {
    return absl::InvalidArgumentError("at least one primary email must be provided");
  }
  if (primaries > 1) return absl::InvalidArgumentError("only one primary email is allowed");
  return absl::OkStatus();
}

}  // namespace

struct UserAdminService::Call {
  std::string actor;
  ClientInfo client;
};

std::string EncodeUserPageToken(const storage::UserCursor& cursor) {
  const int64_t micros = std::chrono::duration_cast<std::chrono::microseconds>(
                             cursor.created_at.time_since_epoch())
                             .count();
  return absl::WebSafeBase64Escape(absl::StrCat(kPageTokenVersion, ":", micros, ":", cursor.id));
}

absl::StatusOr<storage::UserCursor> DecodeUserPageToken(std::string_view token) {
  const absl::Status invalid = absl::InvalidArgumentError("page_token is not valid");
  std::string text;
  if (token.size() > 256 ||
      !absl::WebSafeBase64Unescape(absl::string_view(token.data(), token.size()), &text)) {
    return invalid;
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits(':', 2));
  int64_t micros = 0;
  if (parts.size() != 3 || parts[0] != kPageTokenVersion || !absl::SimpleAtoi(parts[1], &micros) ||
      !IsCanonicalUuid(std::string_view(parts[2].data(), parts[2].size()))) {
    return invalid;
  }
  return storage::UserCursor{TimePoint(std::chrono::microseconds(micros)), std::string(parts[2])};
}

UserAdminService::UserAdminService(Dependencies deps) : deps_(std::move(deps)) {}

absl::StatusOr<UserAdminService::Call> UserAdminService::Begin(
    grpc::ServerContext* context) const {
  Call call{"", deps_.identity.Resolve(*context)};
  absl::StatusOr<std::string> actor = deps_.auth.Authenticate(*context);
  if (!actor.ok()) {
    deps_.audit.Record(AuditEvent{"admin_auth_failed", "no valid credential", call.client, "", "",
                                  ""});
    return actor.status();
  }
  call.actor = *std::move(actor);
  return call;
}

void UserAdminService::Audit(const Call& call, const char* type,
                             const std::string& user_id) const {
  deps_.audit.Record(AuditEvent{type, "", call.client, user_id, "", call.actor});
}

absl::StatusOr<std::string> UserAdminService::HashCredential(const std::string& password,
                                                             const std::string& password_hash,
                                                             bool has_password,
                                                             bool has_hash) const {
  if (has_hash) {
    if (password_hash.empty()) return absl::InvalidArgumentError("password_hash is empty");
    if (absl::Status valid = deps_.check_hash(password_hash); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("password_hash: ", valid.message()));
    }
    return password_hash;
  }
  if (!has_password) return absl::InvalidArgumentError("password or password_hash is required");
  if (absl::Status min = CheckPasswordMinLength(password, deps_.min_password_length); !min.ok()) {
    return min;
  }
  if (absl::Status max = CheckPasswordNotTooLong(password); !max.ok()) return max;
  HashingSlots::Permit permit(deps_.hashing_slots);
  absl::StatusOr<std::string> hash = deps_.hasher.Hash(password);
  if (!hash.ok()) return ServerError("hashing password failed", hash.status());
  return hash;
}

absl::Status UserAdminService::FillUser(const std::string& user_id,
                                        passgate::v1::User& out) const {
  // One statement, so the user and its password come from the same snapshot.
  storage::UserQuery query;
  query.ids = {user_id};
  query.limit = 1;
  query.with_passwords = true;
  absl::StatusOr<std::vector<storage::UserListEntry>> found = deps_.store.ListUsersPage(query);
  if (!found.ok()) return ServerError("user lookup failed", found.status());
  if (found->empty()) return UserNotFound();
  FillUserFields(found->front().user, found->front().password, out);
  return absl::OkStatus();
}

absl::Status UserAdminService::RequireUser(const std::string& user_id) const {
  if (absl::Status id = CheckUserId(user_id); !id.ok()) return id;
  absl::StatusOr<std::optional<storage::User>> user = deps_.store.FindUser(user_id);
  if (!user.ok()) return ServerError("user lookup failed", user.status());
  return user->has_value() ? absl::OkStatus() : UserNotFound();
}

grpc::Status UserAdminService::CreateUser(grpc::ServerContext* context,
                                          const passgate::v1::CreateUserRequest* request,
                                          passgate::v1::User* response) {
  absl::StatusOr<Call> call = Begin(context);
  if (!call.ok()) return ToGrpcStatus(call.status());

  storage::User user;
  user.id = request->user_id().empty() ? NewUuidV4() : request->user_id();
  if (!IsCanonicalUuid(user.id)) return ToGrpcStatus(InvalidUserId());
  if (request->emails().empty() && request->username().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("at least one of emails, username must be set"));
  }
  if (absl::Status emails = CheckEmails(request->emails()); !emails.ok()) {
    return ToGrpcStatus(emails);
  }
  for (const passgate::v1::Email& email : request->emails()) {
    // Hanko's admin API stores addresses in lower case.
    user.emails.push_back(
        {absl::AsciiStrToLower(email.address()), email.is_primary(), email.is_verified()});
  }
  if (!request->username().empty()) user.username = request->username();
  const TimePoint now = deps_.clock.Now();
  user.created_at = now;
  if (request->has_created_at()) {
    const google::protobuf::Timestamp& at = request->created_at();
    // google.protobuf.Timestamp's range: 0001-01-01 to 9999-12-31, nanos 0..999999999; and
    // what fits a TimePoint (int64 nanoseconds: about 1678 to 2262).
    constexpr int64_t kMaxSeconds = 9'000'000'000;  // ~2255
    if (at.nanos() < 0 || at.nanos() > 999'999'999 || at.seconds() < -kMaxSeconds ||
        at.seconds() > kMaxSeconds) {
      return ToGrpcStatus(absl::InvalidArgumentError("created_at is not a valid timestamp"));
    }
    user.created_at =
        TimePoint(std::chrono::microseconds(TimeUtil::TimestampToMicroseconds(at)));
  }
  user.updated_at = now;

  // Name the taken field when it can be known up front; the store's unique keys still decide
  // a race between two creators.
  absl::StatusOr<std::optional<storage::User>> existing = deps_.store.FindUser(user.id);
  if (!existing.ok()) return ToGrpcStatus(ServerError("user lookup failed", existing.status()));
  if (existing->has_value()) {
    return ToGrpcStatus(absl::AlreadyExistsError("user id already exists"));
  }
  for (std::size_t i = 0; i < user.emails.size(); ++i) {
    storage::UserQuery query;
    query.email = user.emails[i].address;
    query.limit = 1;
    absl::StatusOr<std::size_t> owners = deps_.store.CountUsers(query);
    if (!owners.ok()) return ToGrpcStatus(ServerError("email lookup failed", owners.status()));
    if (*owners > 0) {
      return ToGrpcStatus(
          absl::AlreadyExistsError(absl::StrCat("emails[", i, "].address already exists")));
    }
  }

  std::optional<storage::PasswordCredential> credential;
  const bool has_password = request->credential_case() == passgate::v1::CreateUserRequest::kPassword;
  const bool has_hash =
      request->credential_case() == passgate::v1::CreateUserRequest::kPasswordHash;
  if (has_password || has_hash) {
    absl::StatusOr<std::string> hash =
        HashCredential(request->password(), request->password_hash(), has_password, has_hash);
    if (!hash.ok()) return ToGrpcStatus(hash.status());
    credential = storage::PasswordCredential{user.id, *std::move(hash), now, now};
  }

  absl::Status created = deps_.store.CreateUser(user, credential);
  if (absl::IsAlreadyExists(created)) {
    return ToGrpcStatus(
        absl::AlreadyExistsError("user id, email address or username already exists"));
  }
  if (!created.ok()) return ToGrpcStatus(ServerError("creating user failed", created));
  Audit(*call, "admin_user_created", user.id);
  return ToGrpcStatus(FillUser(user.id, *response));
}

grpc::Status UserAdminService::GetUser(grpc::ServerContext* context,
                                       const passgate::v1::GetUserRequest* request,
                                       passgate::v1::User* response) {
  absl::StatusOr<Call> call = Begin(context);
  if (!call.ok()) return ToGrpcStatus(call.status());
  if (absl::Status id = CheckUserId(request->user_id()); !id.ok()) return ToGrpcStatus(id);
  return ToGrpcStatus(FillUser(request->user_id(), *response));
}

grpc::Status UserAdminService::ListUsers(grpc::ServerContext* context,
                                         const passgate::v1::ListUsersRequest* request,
                                         passgate::v1::ListUsersResponse* response) {
  absl::StatusOr<Call> call = Begin(context);
  if (!call.ok()) return ToGrpcStatus(call.status());
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("page_size must be between 0 and ", kMaxPageSize)));
  }
  if (request->offset() < 0 || request->offset() > kMaxOffset) {
    return ToGrpcStatus(
        absl::InvalidArgumentError(absl::StrCat("offset must be between 0 and ", kMaxOffset)));
  }
  if (static_cast<std::size_t>(request->user_ids_size()) > storage::kMaxUserQueryIds) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("user_ids must not name more than ", storage::kMaxUserQueryIds, " users")));
  }
  storage::UserQuery query;
  query.limit = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  query.with_passwords = true;
  query.offset = static_cast<std::size_t>(request->offset());
  query.descending = request->descending();
  if (!request->email().empty()) query.email = request->email();
  for (int i = 0; i < request->user_ids_size(); ++i) {
    if (!IsCanonicalUuid(request->user_ids(i))) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          absl::StrCat("user_ids[", i, "] must be a canonical lowercase UUID")));
    }
    query.ids.push_back(request->user_ids(i));
  }
  if (!request->page_token().empty()) {
    absl::StatusOr<storage::UserCursor> cursor = DecodeUserPageToken(request->page_token());
    if (!cursor.ok()) return ToGrpcStatus(cursor.status());
    query.after = *std::move(cursor);
  }
  absl::StatusOr<std::vector<storage::UserListEntry>> page = deps_.store.ListUsersPage(query);
  if (!page.ok()) return ToGrpcStatus(ServerError("listing users failed", page.status()));
  absl::StatusOr<std::size_t> total = deps_.store.CountUsers(query);
  if (!total.ok()) return ToGrpcStatus(ServerError("counting users failed", total.status()));
  for (const storage::UserListEntry& entry : *page) {
    FillUserFields(entry.user, entry.password, *response->add_users());
  }
  if (page->size() == query.limit) {
    const storage::User& last = page->back().user;
    response->set_next_page_token(EncodeUserPageToken({last.created_at, last.id}));
  }
  response->set_total_size(static_cast<int64_t>(*total));
  return grpc::Status::OK;
}

grpc::Status UserAdminService::DeleteUser(grpc::ServerContext* context,
                                          const passgate::v1::DeleteUserRequest* request,
                                          passgate::v1::DeleteUserResponse*) {
  absl::StatusOr<Call> call = Begin(context);
  if (!call.ok()) return ToGrpcStatus(call.status());
  if (absl::Status id = CheckUserId(request->user_id()); !id.ok()) return ToGrpcStatus(id);
  // One statement removes the user with its e-mails, password and sessions (cascade), so
  // its tokens stop validating at once (SessionTokens checks the session row every time).
  absl::StatusOr<bool> deleted = deps_.store.DeleteUser(request->user_id());
  if (!deleted.ok()) return ToGrpcStatus(ServerError("deleting user failed", deleted.status()));
  if (!*deleted) return ToGrpcStatus(UserNotFound());
  Audit(*call, "admin_user_deleted", request->user_id());
  return grpc::Status::OK;
}

grpc::Status UserAdminService::SetPassword(grpc::ServerContext* context,
                                           const passgate::v1::AdminSetPasswordRequest* request,
                                           passgate::v1::AdminSetPasswordResponse* response) {
  absl::StatusOr<Call> call = Begin(context);
  if (!call.ok()) return ToGrpcStatus(call.status());
  if (absl::Status id = CheckUserId(request->user_id()); !id.ok()) return ToGrpcStatus(id);
  absl::StatusOr<std::string> hash = HashCredential(
      request->password(), request->password_hash(),
      request->credential_case() == passgate::v1::AdminSetPasswordRequest::kPassword,
      request->credential_case() == passgate::v1::AdminSetPasswordRequest::kPasswordHash);
  if (!hash.ok()) return ToGrpcStatus(hash.status());
  absl::StatusOr<bool> created =
      deps_.store.SetPassword(request->user_id(), *hash, deps_.clock.Now());
  if (absl::IsNotFound(created.status())) return ToGrpcStatus(UserNotFound());
  if (!created.ok()) return ToGrpcStatus(ServerError("storing password failed", created.status()));
  response->set_created(*created);
  Audit(*call, "admin_password_set", request->user_id());
  if (!request->keep_sessions()) {
    absl::StatusOr<std::size_t> revoked = deps_.store.DeleteUserSessions(request->user_id(), "");
    if (!revoked.ok()) {
      return ToGrpcStatus(ServerError("revoking sessions failed", revoked.status()));
    }
    response->set_revoked_sessions(static_cast<int64_t>(*revoked));
  }
  return grpc::Status::OK;
}

grpc::Status UserAdminService::DeletePassword(grpc::ServerContext* context,
                                              const passgate::v1::DeletePasswordRequest* request,
                                              passgate::v1::DeletePasswordResponse*) {
  absl::StatusOr<Call> call = Begin(context);
  if (!call.ok()) return ToGrpcStatus(call.status());
  if (absl::Status user = RequireUser(request->user_id()); !user.ok()) return ToGrpcStatus(user);
  absl::StatusOr<bool> deleted = deps_.store.DeletePassword(request->user_id());
  if (!deleted.ok()) return ToGrpcStatus(ServerError("deleting password failed", deleted.status()));
  if (!*deleted) return ToGrpcStatus(absl::NotFoundError("user has no password"));
  Audit(*call, "admin_password_deleted", request->user_id());
  return grpc::Status::OK;
}

grpc::Status UserAdminService::ListSessions(grpc::ServerContext* context,
                                            const passgate::v1::ListSessionsRequest* request,
                                            passgate::v1::ListSessionsResponse* response) {
  absl::StatusOr<Call> call = Begin(context);
  if (!call.ok()) return ToGrpcStatus(call.status());
  if (absl::Status user = RequireUser(request->user_id()); !user.ok()) return ToGrpcStatus(user);
  absl::StatusOr<std::vector<storage::Session>> sessions =
      deps_.store.ListSessions(request->user_id());
  if (!sessions.ok()) return ToGrpcStatus(ServerError("listing sessions failed", sessions.status()));
  for (const storage::Session& session : *sessions) {
    passgate::v1::Session& out = *response->add_sessions();
    out.set_id(session.id);
    *out.mutable_created_at() = ToTimestamp(session.created_at);
    *out.mutable_expires_at() = ToTimestamp(session.expires_at);
    out.set_ip(session.ip);
    out.set_user_agent(session.user_agent);
  }
  return grpc::Status::OK;
}

grpc::Status UserAdminService::RevokeSessions(grpc::ServerContext* context,
                                              const passgate::v1::RevokeSessionsRequest* request,
                                              passgate::v1::RevokeSessionsResponse* response) {
  absl::StatusOr<Call> call = Begin(context);
  if (!call.ok()) return ToGrpcStatus(call.status());
  if (absl::Status user = RequireUser(request->user_id()); !user.ok()) return ToGrpcStatus(user);
  absl::StatusOr<std::size_t> revoked = deps_.store.DeleteUserSessions(request->user_id(), "");
  if (!revoked.ok()) return ToGrpcStatus(ServerError("revoking sessions failed", revoked.status()));
  response->set_revoked_sessions(static_cast<int64_t>(*revoked));
  Audit(*call, "admin_sessions_revoked", request->user_id());
  return grpc::Status::OK;
}

}  // namespace passgate::server
