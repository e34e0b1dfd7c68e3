#ifndef PASSGATE_TESTS_UNIT_FAKE_PASSWORD_AUTH_CLIENT_H_
#define PASSGATE_TESTS_UNIT_FAKE_PASSWORD_AUTH_CLIENT_H_

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/password_auth_client.h"

namespace passgate::gateway {

// FakePasswordAuthClient records every call and answers with scripted replies, synchronously
// unless `defer` is set (then the test runs `pending` itself, like a gRPC thread would).
class FakePasswordAuthClient final : public PasswordAuthClient {
 public:
  void Login(const passgate::v1::LoginRequest& request, const CallContext& context,
             Done<passgate::v1::LoginResponse> done) override {
    ++login_calls;
    last_login = request;
    last_context = context;
    Reply([=, this] { done(login_result, login_response); });
  }
  void SetPassword(const passgate::v1::SetPasswordRequest& request, const CallContext& context,
                   Done<passgate::v1::SetPasswordResponse> done) override {
    ++set_password_calls;
    last_set_password = request;
    last_context = context;
    Reply([=, this] { done(set_password_result, set_password_response); });
  }
  void ValidateSession(const passgate::v1::ValidateSessionRequest& request, const CallContext& context,
                       Done<passgate::v1::ValidateSessionResponse> done) override {
    validated_tokens.push_back(request.session_token());
    last_context = context;
    passgate::v1::ValidateSessionResponse reply;
    if (request.session_token() == valid_token) reply = valid_session;
    Reply([=, this] { done(validate_result, reply); });
  }
  void GetJwks(const CallContext& context, Done<passgate::v1::Jwks> done) override {
    ++jwks_calls;
    last_context = context;
    Reply([=, this] { done(jwks_result, jwks); });
  }

  // Scripted replies.
  CallResult login_result;
  passgate::v1::LoginResponse login_response;
  CallResult set_password_result;
  passgate::v1::SetPasswordResponse set_password_response;
  CallResult validate_result;
  std::string valid_token;                // the one token ValidateSession accepts
  passgate::v1::ValidateSessionResponse valid_session;  // its reply (is_valid set by the fixture)
  CallResult jwks_result;
  passgate::v1::Jwks jwks;
  bool defer = false;

  // Recorded calls.
  int login_calls = 0;
  int set_password_calls = 0;
  int jwks_calls = 0;
  passgate::v1::LoginRequest last_login;
  passgate::v1::SetPasswordRequest last_set_password;
  std::vector<std::string> validated_tokens;
  CallContext last_context;
  std::vector<std::function<void()>> pending;

 private:
  void Reply(std::function<void()> answer) {
    if (defer) {
      pending.push_back(std::move(answer));
    } else {
      answer();
    }
  }
};

}  // namespace passgate::gateway

#endif  // PASSGATE_TESTS_UNIT_FAKE_PASSWORD_AUTH_CLIENT_H_
