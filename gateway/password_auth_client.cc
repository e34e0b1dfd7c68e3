#include "gateway/password_auth_client.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/grpc_metadata.h"

namespace passgate::gateway {
namespace {

using passgate::v1::GetJwksRequest;
using passgate::v1::Jwks;
using passgate::v1::LoginRequest;
using passgate::v1::LoginResponse;
using passgate::v1::PasswordAuth;
using passgate::v1::SetPasswordRequest;
using passgate::v1::SetPasswordResponse;
using passgate::v1::ValidateSessionRequest;
using passgate::v1::ValidateSessionResponse;

void CopyMetadata(const std::multimap<grpc::string_ref, grpc::string_ref>& from,
                  std::multimap<std::string, std::string>& to) {
  for (const auto& [key, value] : from) {
    std::string name(key.data(), key.size());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    to.emplace(std::move(name), std::string(value.data(), value.size()));
  }
}

// Call owns everything one RPC needs until its completion callback ran: the callback API
// keeps pointers to the context, request and response for the whole call.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
  PasswordAuthClient::Done<Response> done;
};

class GrpcPasswordAuthClient final : public PasswordAuthClient {
 public:
  GrpcPasswordAuthClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds deadline)
      : stub_(PasswordAuth::NewStub(channel)), deadline_(deadline) {}

  void Login(const LoginRequest& request, const CallContext& context,
             Done<LoginResponse> done) override {
    auto* call = Start<LoginRequest, LoginResponse>(request, context, std::move(done));
    stub_->async()->Login(&call->context, &call->request, &call->response,
                          [call](grpc::Status status) { Finish(call, std::move(status)); });
  }

  void SetPassword(const SetPasswordRequest& request, const CallContext& context,
                   Done<SetPasswordResponse> done) override {
    auto* call = Start<SetPasswordRequest, SetPasswordResponse>(request, context, std::move(done));
    stub_->async()->SetPassword(&call->context, &call->request, &call->response,
                                [call](grpc::Status status) { Finish(call, std::move(status)); });
  }

  void ValidateSession(const ValidateSessionRequest& request, const CallContext& context,
                       Done<ValidateSessionResponse> done) override {
    auto* call =
        Start<ValidateSessionRequest, ValidateSessionResponse>(request, context, std::move(done));
    stub_->async()->ValidateSession(
        &call->context, &call->request, &call->response,
        [call](grpc::Status status) { Finish(call, std::move(status)); });
  }

  void GetJwks(const CallContext& context, Done<Jwks> done) override {
    auto* call = Start<GetJwksRequest, Jwks>(GetJwksRequest(), context, std::move(done));
    stub_->async()->GetJwks(&call->context, &call->request, &call->response,
                            [call](grpc::Status status) { Finish(call, std::move(status)); });
  }

 private:
  template <typename Request, typename Response>
  Call<Request, Response>* Start(const Request& request, const CallContext& context,
                                 Done<Response> done) const {
    auto call = std::make_unique<Call<Request, Response>>();
    call->context.set_deadline(std::chrono::system_clock::now() + deadline_);
    AddMetadataIfPresent(call->context, "x-passgate-client-ip", context.client_ip);
    AddMetadataIfPresent(call->context, "x-passgate-user-agent", context.user_agent);
    AddMetadataIfPresent(call->context, "x-request-id", context.request_id);
    if (!context.bearer_token.empty()) {
      call->context.AddMetadata("authorization", MetadataValue("Bearer " + context.bearer_token));
    }
    call->request = request;
    call->done = std::move(done);
    return call.release();
  }

  // Finish runs on a gRPC thread once the call completed (successfully or not); the
  // initial-metadata accessor is safe then because the callback API always asks for it.
  // The call (whose ClientContext holds a channel reference) is freed before `done` runs: a
  // caller may drop its last handle on the client as soon as `done` returned, and if this
  // callback thread then released the channel's last reference, gRPC 1.51 would join the
  // thread from itself and delete the completion queue under it (grpc/grpc#32584).
  template <typename Request, typename Response>
  static void Finish(Call<Request, Response>* raw, grpc::Status status) {
    std::unique_ptr<Call<Request, Response>> call(raw);
    CallResult result;
    result.status = std::move(status);
    CopyMetadata(call->context.GetServerInitialMetadata(), result.metadata);
    CopyMetadata(call->context.GetServerTrailingMetadata(), result.metadata);
    Response response = std::move(call->response);
    PasswordAuthClient::Done<Response> done = std::move(call->done);
    call.reset();
    done(std::move(result), std::move(response));
  }

  std::unique_ptr<PasswordAuth::Stub> stub_;
  std::chrono::milliseconds deadline_;
};

}  // namespace

std::unique_ptr<PasswordAuthClient> NewGrpcPasswordAuthClient(
    std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds deadline) {
  if (deadline.count() <= 0) {
    std::fprintf(stderr, "NewGrpcPasswordAuthClient: deadline must be > 0\n");
    std::abort();
  }
  return std::make_unique<GrpcPasswordAuthClient>(std::move(channel), deadline);
}

}  // namespace passgate::gateway
