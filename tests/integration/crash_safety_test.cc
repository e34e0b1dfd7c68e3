// Crash safety: `passgate serve` is SIGKILLed while password changes, logins (session rows)
// and CLI user creations are in flight. After a restart the database passes SQLite's
// integrity check and every write the server (or CLI) acknowledged is there: an OK answer is
// only sent after the commit. Each user is written by one thread only, so the last
// acknowledged value must win; the single write in flight at the kill may or may not land.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "SQLiteCpp/SQLiteCpp.h"
#include "tests/integration/grpc_fixture.h"
#include "tests/integration/http_client.h"

namespace passgate::testing {
namespace {

using ::grpc::StatusCode;

constexpr auto kStorm = std::chrono::milliseconds(2500);
constexpr int kSessionLimit = 5;  // session.limit default: older sessions are trimmed
constexpr int kPasswordThreads = 2;
constexpr int kUsersPerPasswordThread = 2;
constexpr int kUsersPerLoginThread = 2;
constexpr char kLoginPassword[] = "login-password-1";

// PasswordState: the acknowledged history of one user's password, written by one thread.
struct PasswordState {
  std::string user_id;
  std::string token;  // from `passgate session issue`, authorizes SetPassword for the user
  std::optional<std::string> last_acked;
  std::optional<std::string> in_flight;  // sent, no answer before the kill
  int acked = 0;
};

struct AckedSession {
  std::string user_id;
  std::string token;
  std::string session_id;
};

// LoginState: one login thread's acknowledged sessions, in acknowledgement order.
struct LoginState {
  std::vector<std::string> user_ids;
  std::vector<AckedSession> acked;
  std::optional<std::string> in_flight_user;
};

// SessionFromCookie takes the session out of the JWT in `Set-Cookie: hanko=<jwt>; ...`.
std::optional<AckedSession> SessionFromCookie(const HttpReply& reply) {
  for (const std::string& cookie : reply.HeaderValues("Set-Cookie")) {
    if (!cookie.starts_with("hanko=")) continue;
    const std::string token = cookie.substr(6, cookie.find(';') - 6);
    const nlohmann::json claims = DecodeJwtPart(token, 1);
    if (!claims.is_object() || !claims["session_id"].is_string()) return std::nullopt;
    return AckedSession{claims["sub"].get<std::string>(), token,
                        claims["session_id"].get<std::string>()};
  }
  return std::nullopt;
}

class CrashSafetyTest : public PassgateServerTest {
 protected:
  std::unique_ptr<passgate::v1::PasswordAuth::Stub> NewStub() const {
    return passgate::v1::PasswordAuth::NewStub(
        grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  }

  std::string CreateUser(const std::string& email, const std::optional<std::string>& password) {
    std::vector<std::string> args = {"user", "create", "--email", email, "--config", config_};
    if (password) args.push_back("--password-stdin");
    const CommandResult created = RunPassgate(args, password ? *password + "\n" : "");
    EXPECT_EQ(created.exit_code, 0) << email << ": " << created.err;
    return created.out.substr(0, 36);
  }

  // Unexpected records a failure seen by a worker thread; reported on the main thread.
  void Unexpected(const std::string& what) {
    std::lock_guard<std::mutex> lock(failures_mu_);
    failures_.push_back(what);
  }

  bool IsValid(const std::string& token) {
    passgate::v1::ValidateSessionRequest request;
    passgate::v1::ValidateSessionResponse response;
    request.set_session_token(token);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    const grpc::Status status = stub_->ValidateSession(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.is_valid();
  }

  std::atomic<bool> killed_{false};
  std::atomic<bool> stop_{false};
  std::mutex failures_mu_;
  std::vector<std::string> failures_;
};

TEST_F(CrashSafetyTest, AcknowledgedWritesSurviveSigkillAndTheDatabaseStaysIntact) {
  // --- Setup: users owned by exactly one writer thread each.
  std::vector<std::vector<PasswordState>> password_threads(kPasswordThreads);
  for (int t = 0; t < kPasswordThreads; ++t) {
    for (int u = 0; u < kUsersPerPasswordThread; ++u) {
      PasswordState state;
      state.user_id = CreateUser(
          "setpw-" + std::to_string(t) + "-" + std::to_string(u) + "@example.com", std::nullopt);
      state.token = IssueToken(state.user_id);
      password_threads[t].push_back(std::move(state));
    }
  }
  LoginState grpc_logins, http_logins;
  for (int u = 0; u < kUsersPerLoginThread; ++u) {
    grpc_logins.user_ids.push_back(
        CreateUser("grpc-login-" + std::to_string(u) + "@example.com", kLoginPassword));
    http_logins.user_ids.push_back(
        CreateUser("http-login-" + std::to_string(u) + "@example.com", kLoginPassword));
  }
  ASSERT_FALSE(HasFailure());

  // --- Storm: every thread writes until its first failure, which only the kill may cause.
  std::vector<std::thread> writers;
  for (int t = 0; t < kPasswordThreads; ++t) {
    writers.emplace_back([this, t, &users = password_threads[t]] {
      auto stub = NewStub();
      for (int seq = 0; !stop_; ++seq) {
        PasswordState& user = users[seq % users.size()];
        const std::string password =
            "pw-" + std::to_string(t) + "-" + std::to_string(seq) + "-secret";
        passgate::v1::SetPasswordRequest request;
        request.set_user_id(user.user_id);
        request.set_password(password);
        passgate::v1::SetPasswordResponse response;
        user.in_flight = password;
        const grpc::Status status =
            stub->SetPassword(BearerContext(user.token).get(), request, &response);
        if (status.ok()) {
          user.last_acked = password;
          user.in_flight.reset();
          ++user.acked;
          continue;
        }
        if (!killed_) {
          Unexpected("SetPassword before the kill: " + std::to_string(status.error_code()) + " " +
                     status.error_message());
          // A refusal (pool full) or error before the kill is a completed non-write.
          user.in_flight.reset();
          if (status.error_code() == StatusCode::RESOURCE_EXHAUSTED) continue;
        }
        return;
      }
    });
  }
  writers.emplace_back([this, &state = grpc_logins] {
    auto stub = NewStub();
    for (std::size_t seq = 0; !stop_; ++seq) {
      const std::string& user_id = state.user_ids[seq % state.user_ids.size()];
      passgate::v1::LoginResponse response;
      state.in_flight_user = user_id;
      const grpc::Status status = LoginWith(*stub, user_id, kLoginPassword, &response);
      if (status.ok()) {
        state.acked.push_back({user_id, response.session_token(), response.session_id()});
        state.in_flight_user.reset();
        continue;
      }
      if (!killed_) {
        Unexpected("gRPC Login before the kill: " + std::to_string(status.error_code()) + " " +
                   status.error_message());
        state.in_flight_user.reset();
        if (status.error_code() == StatusCode::RESOURCE_EXHAUSTED) continue;
      }
      return;
    }
  });
  const int http_port = server_->http_port();
  writers.emplace_back([this, http_port, &state = http_logins] {
    for (std::size_t seq = 0; !stop_; ++seq) {
      const std::string& user_id = state.user_ids[seq % state.user_ids.size()];
      state.in_flight_user = user_id;
      const HttpReply reply =
          HttpCall(http_port, "POST", "/password/login", {{"Content-Type", "application/json"}},
                   nlohmann::json{{"user_id", user_id}, {"password", kLoginPassword}}.dump());
      if (reply.status == 200) {
        std::optional<AckedSession> session = SessionFromCookie(reply);
        if (!session || session->user_id != user_id) {
          Unexpected("HTTP login 200 without a session cookie for the user");
          return;
        }
        state.acked.push_back(*std::move(session));
        state.in_flight_user.reset();
        continue;
      }
      if (!killed_) {
        Unexpected("HTTP login before the kill: " + reply.status_line + " " + reply.body +
                   reply.error);
        state.in_flight_user.reset();
        if (reply.status == 429) continue;
      }
      return;
    }
  });
  std::vector<std::string> cli_users;
  std::thread cli([this, &cli_users] {
    // A separate process committing on its own; it is not killed, only stopped between runs.
    for (int i = 0; !stop_; ++i) {
      const CommandResult created =
          RunPassgate({"user", "create", "--email", "cli-" + std::to_string(i) + "@example.com",
                       "--config", config_});
      if (created.exit_code != 0) {
        Unexpected("passgate user create: " + created.err);
        return;
      }
      cli_users.push_back(created.out.substr(0, 36));
    }
  });

  std::this_thread::sleep_for(kStorm);
  killed_ = true;
  server_->Kill();
  stop_ = true;
  for (std::thread& writer : writers) writer.join();
  cli.join();
  for (const std::string& failure : failures_) ADD_FAILURE() << failure;

  // --- The database file after the crash, before passgate touches it again.
  {
    SQLite::Database db(dir_.File("passgate.db"), SQLite::OPEN_READWRITE);
    std::vector<std::string> problems;
    SQLite::Statement integrity(db, "PRAGMA integrity_check");
    while (integrity.executeStep()) problems.push_back(integrity.getColumn(0).getString());
    EXPECT_EQ(problems, std::vector<std::string>{"ok"});
    SQLite::Statement foreign_keys(db, "PRAGMA foreign_key_check");
    EXPECT_FALSE(foreign_keys.executeStep()) << "a row references a missing parent";
  }

  StartServer();
  ASSERT_NE(server_, nullptr);

  // Sessions first: the password checks below log in, which may trim old sessions.
  int sessions_checked = 0, sessions_trimmed = 0, in_flight_logins = 0;
  for (const LoginState* state : {&grpc_logins, &http_logins}) {
    if (state->in_flight_user) ++in_flight_logins;
    std::map<std::string, int> later;  // per user: acknowledged sessions after this one
    for (auto it = state->acked.rbegin(); it != state->acked.rend(); ++it) {
      const int newer_acked = later[it->user_id]++;
      const int newer_possible = newer_acked + (state->in_flight_user == it->user_id ? 1 : 0);
      if (newer_possible < kSessionLimit) {
        EXPECT_TRUE(IsValid(it->token))
            << "acknowledged session " << it->session_id << " of " << it->user_id << " was lost";
        ++sessions_checked;
      } else if (newer_acked >= kSessionLimit) {
        EXPECT_FALSE(IsValid(it->token))
            << "session " << it->session_id << " trimmed by an acknowledged login came back";
        ++sessions_trimmed;
      }
    }
  }
  for (const auto& users : password_threads) {
    for (const PasswordState& user : users) {
      EXPECT_TRUE(IsValid(user.token)) << "issued session of " << user.user_id << " was lost";
    }
  }

  int passwords_acked = 0, in_flight_landed = 0, in_flight_lost = 0;
  for (const auto& users : password_threads) {
    for (const PasswordState& user : users) {
      passwords_acked += user.acked;
      if (user.in_flight && Login(user.user_id, *user.in_flight).ok()) {
        ++in_flight_landed;
        continue;
      }
      if (user.in_flight) ++in_flight_lost;
      if (user.last_acked) {
        const grpc::Status status = Login(user.user_id, *user.last_acked);
        EXPECT_TRUE(status.ok()) << user.user_id << ": the last acknowledged password ("
                                 << user.acked
                                 << " acknowledged) does not log in: " << status.error_message();
      } else {
        EXPECT_EQ(Login(user.user_id, "never-acknowledged").error_code(),
                  StatusCode::UNAUTHENTICATED);
      }
    }
  }

  const CommandResult exported = RunPassgate({"user", "export", "--config", config_});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  std::set<std::string> existing;
  for (const auto& entry : nlohmann::json::parse(exported.out)) {
    existing.insert(entry["user_id"].get<std::string>());
  }
  for (const std::string& user_id : cli_users) {
    EXPECT_TRUE(existing.contains(user_id)) << "acknowledged CLI user " << user_id << " is gone";
  }

  std::printf(
      "crash after %lld ms: %d password changes acknowledged (in flight: %d landed, "
      "%d not), %zu + %zu logins acknowledged (%d in flight; %d sessions checked valid, "
      "%d checked trimmed), %zu CLI users created\n",
      static_cast<long long>(kStorm.count()), passwords_acked, in_flight_landed, in_flight_lost,
      grpc_logins.acked.size(), http_logins.acked.size(), in_flight_logins, sessions_checked,
      sessions_trimmed, cli_users.size());
  std::fflush(stdout);
  EXPECT_GT(passwords_acked, 0);
  EXPECT_FALSE(grpc_logins.acked.empty());
  EXPECT_FALSE(http_logins.acked.empty());
  EXPECT_FALSE(cli_users.empty());
}

}  // namespace
}  // namespace passgate::testing
