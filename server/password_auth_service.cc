#include "server/password_auth_service.h"

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "google/protobuf/util/time_util.h"
#include "server/client_identity.h"
#include "server/log.h"

namespace passgate::server {
namespace {

using google::protobuf::util::TimeUtil;

const grpc::Status kPoolFull(grpc::StatusCode::RESOURCE_EXHAUSTED, "Too Many Requests");
const absl::Status kPasswordsDisabled = absl::NotFoundError("Not Found");

google::protobuf::Timestamp ToTimestamp(TimePoint t) {
  return TimeUtil::SecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

// Expired is true when the client gave up (cancelled) or its deadline already passed:
// hashing for nobody would only steal a worker from a live request.
bool Expired(grpc::CallbackServerContext* context, grpc::Status* why) {
  if (context->IsCancelled()) {
    *why = grpc::Status(grpc::StatusCode::CANCELLED, "Cancelled");
    return true;
  }
  if (context->deadline() <= std::chrono::system_clock::now()) {
    *why = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
    return true;
  }
  return false;
}

// RunHashing runs `work` on the pool holding a hashing slot (which `work` may give back once
// it has hashed) and finishes the call with its status; refuses with RESOURCE_EXHAUSTED when
// the pool is full.
template <typename Work>
grpc::ServerUnaryReactor* RunHashing(WorkerPool& pool, HashingSlots& slots,
                                     grpc::CallbackServerContext* context, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The answer is sent from `then`, after the hash's pool slot is free again (see TrySubmit).
  auto answer = std::make_shared<grpc::Status>();
  const bool accepted = pool.TrySubmit(
      [context, answer, &slots, work = std::move(work)]() mutable {
        HashingSlots::Permit permit(slots);
        // Checked once the slot is ours: a call that expired while it waited is not hashed.
        if (Expired(context, answer.get())) {
          Log(LogLevel::kInfo, "call ended before hashing; skipped",
              {{"reason", answer->error_message()}});
          return;
        }
        *answer = ToGrpcStatus(work(permit));
      },
      [reactor, answer] { reactor->Finish(*answer); });
  if (!accepted) {
    // A full pool clears within about one hash; tell clients (the gateway passes it on as
    // Retry-After, which the frontend SDK shows) to come back in a second.
    context->AddTrailingMetadata("retry-after", "1");
    reactor->Finish(kPoolFull);
  }
  return reactor;
}

grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context,
                                    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

void FillClaims(const SessionClaims& claims, passgate::v1::ValidateSessionResponse* response) {
  response->set_is_valid(true);
  response->set_user_id(claims.subject);
  *response->mutable_expiration_time() = ToTimestamp(claims.expiration);
  passgate::v1::SessionClaims* out = response->mutable_claims();
  out->set_subject(claims.subject);
  *out->mutable_issued_at() = ToTimestamp(claims.issued_at);
  *out->mutable_expiration() = ToTimestamp(claims.expiration);
  for (const std::string& audience : claims.audience) out->add_audience(audience);
  out->set_session_id(claims.session_id);
  if (claims.email) {
    out->mutable_email()->set_address(claims.email->address);
    out->mutable_email()->set_is_primary(claims.email->is_primary);
    out->mutable_email()->set_is_verified(claims.email->is_verified);
  }
  out->set_issuer(claims.issuer);
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

PasswordAuthService::PasswordAuthService(Dependencies deps) : deps_(deps) {}

absl::StatusOr<SessionClaims> PasswordAuthService::Authorize(
    const grpc::ServerContextBase& context) const {
  const std::string_view token = BearerToken(MetadataValue(context, "authorization"));
  if (token.empty()) return absl::UnauthenticatedError("Unauthorized");
  return deps_.tokens.Validate(token);
}

grpc::ServerUnaryReactor* PasswordAuthService::Login(grpc::CallbackServerContext* context,
                                                     const passgate::v1::LoginRequest* request,
                                                     passgate::v1::LoginResponse* response) {
  if (!deps_.password_enabled) return FinishNow(context, kPasswordsDisabled);
  if (absl::Status checked = LoginFlow::CheckRequest(request->user_id(), request->password());
      !checked.ok()) {
    return FinishNow(context, checked);
  }
  ClientInfo client = deps_.identity.Resolve(*context);
  if (deps_.limiter != nullptr) {
    // Step 4 of Hanko's order: after validation, before any lookup or hashing.
    const absl::StatusOr<RateDecision> decision =
        deps_.limiter->Check(request->user_id(), client.ip);
    if (!decision.ok()) {
      // The shared counter could not count the attempt: refuse it (fail closed), without
      // x-ratelimit-* since no window is known.
      if (decision.status().code() == absl::StatusCode::kResourceExhausted) {
        context->AddTrailingMetadata(
            "retry-after", std::to_string(LoginRateLimiter::kStoreUnavailableRetryAfter.count()));
      }
      return FinishNow(context, decision.status());
    }
    context->AddInitialMetadata("x-ratelimit-limit", std::to_string(decision->limit));
    context->AddInitialMetadata("x-ratelimit-remaining", std::to_string(decision->remaining));
    context->AddInitialMetadata("x-ratelimit-reset", std::to_string(decision->reset.count()));
    if (!decision->allowed) {
      context->AddTrailingMetadata("retry-after", std::to_string(decision->reset.count()));
      return FinishNow(context, absl::ResourceExhaustedError("Too Many Requests"));
    }
  }
  return RunHashing(deps_.hashing_pool, deps_.hashing_slots, context,
                    [this, request, response, client = std::move(client)](
                        HashingSlots::Permit& permit) -> absl::Status {
                      absl::StatusOr<storage::User> user =
                          deps_.login.Verify(request->user_id(), request->password(), client);
                      // Hashed: another login may hash while this one commits its session.
                      permit.Release();
                      if (!user.ok()) return user.status();
                      absl::StatusOr<IssuedSession> session = deps_.login.Issue(*user, client);
                      if (!session.ok()) return session.status();
                      response->set_session_token(session->token);
                      response->set_expires_in_seconds(
                          std::chrono::duration_cast<std::chrono::seconds>(
                              session->claims.expiration - session->claims.issued_at)
                              .count());
                      response->set_session_id(session->claims.session_id);
                      response->set_user_id(session->claims.subject);
                      return absl::OkStatus();
                    });
}

grpc::ServerUnaryReactor* PasswordAuthService::SetPassword(
    grpc::CallbackServerContext* context, const passgate::v1::SetPasswordRequest* request,
    passgate::v1::SetPasswordResponse* response) {
  if (!deps_.password_enabled) return FinishNow(context, kPasswordsDisabled);
  absl::StatusOr<SessionClaims> caller = Authorize(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  if (absl::Status checked =
          deps_.password_change.CheckRequest(request->user_id(), request->password());
      !checked.ok()) {
    return FinishNow(context, checked);
  }
  ClientInfo client = deps_.identity.Resolve(*context);
  return RunHashing(deps_.hashing_pool, deps_.hashing_slots, context,
                    [this, request, response, caller = *std::move(caller),
                     client = std::move(client)](HashingSlots::Permit&) -> absl::Status {
                      absl::StatusOr<bool> created = deps_.password_change.Apply(
                          caller, request->user_id(), request->password(), client);
                      if (!created.ok()) return created.status();
                      response->set_created(*created);
                      return absl::OkStatus();
                    });
}

grpc::ServerUnaryReactor* PasswordAuthService::ValidateSession(
    grpc::CallbackServerContext* context, const passgate::v1::ValidateSessionRequest* request,
    passgate::v1::ValidateSessionResponse* response) {
  absl::StatusOr<SessionClaims> claims = deps_.tokens.Validate(request->session_token());
  if (claims.ok()) {
    FillClaims(*claims, response);
  } else if (absl::IsUnauthenticated(claims.status())) {
    response->set_is_valid(false);
  } else {
    return FinishNow(context, claims.status());
  }
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* PasswordAuthService::GetJwks(grpc::CallbackServerContext* context,
                                                       const passgate::v1::GetJwksRequest*,
                                                       passgate::v1::Jwks* response) {
  for (const PublicJwk& key : deps_.keys.PublicKeys()) {
    passgate::v1::Jwk* out = response->add_keys();
    out->set_alg(key.alg);
    out->set_e(key.e);
    out->set_kid(key.kid);
    out->set_kty(key.kty);
    out->set_n(key.n);
    out->set_use(key.use);
    out->set_crv(key.crv);
    out->set_x(key.x);
    out->set_y(key.y);
  }
  return FinishNow(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* PasswordAuthService::RevokeSession(
    grpc::CallbackServerContext* context, const passgate::v1::RevokeSessionRequest* request,
    passgate::v1::RevokeSessionResponse*) {
  absl::StatusOr<SessionClaims> caller = Authorize(*context);
  if (!caller.ok()) return FinishNow(context, caller.status());
  const absl::Status not_found = absl::NotFoundError("Not Found");
  absl::StatusOr<std::optional<storage::Session>> session =
      deps_.store.FindSession(request->session_id());
  if (!session.ok()) return FinishNow(context, ServerError("session lookup failed", session.status()));
  // Another user's session answers like a missing one: ids are not confirmed to strangers.
  if (!session->has_value() || (*session)->user_id != caller->subject) {
    return FinishNow(context, not_found);
  }
  absl::StatusOr<bool> deleted = deps_.store.DeleteSession(request->session_id());
  if (!deleted.ok()) return FinishNow(context, ServerError("session revoke failed", deleted.status()));
  return FinishNow(context, *deleted ? absl::OkStatus() : not_found);
}

}  // namespace passgate::server
