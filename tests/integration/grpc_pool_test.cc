// The bounded hashing pool under pressure, deadlines, and graceful shutdown, against the
// real server with deliberately slow Argon2id parameters (one worker, one queue slot).
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "tests/integration/grpc_fixture.h"

namespace passgate::testing {
namespace {

using ::grpc::StatusCode;

class SlowPoolTest : public PassgateServerTest {
 protected:
  // 64 MiB x 64 passes: about 2 s per verify on this class of machine (16 passes took
  // only 0.45 s on a quiet one, too close to the 0.5 s the deadline test relies on), so every
  // request below arrives while the first is still hashing.
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.extra_sections = "password:\n"
                              "  hashing: {memory_kib: 65536, iterations: 64, workers: 1, "
                              "queue: 1}\n";
    return extras;
  }

  std::future<grpc::Status> LoginAsync(const std::string& user_id,
                                       std::chrono::milliseconds deadline) {
    return std::async(std::launch::async, [this, user_id, deadline] {
      passgate::v1::LoginRequest request;
      request.set_user_id(user_id);
      request.set_password("whatever-password");
      passgate::v1::LoginResponse response;
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + deadline);
      grpc::Status status = stub_->Login(&context, request, &response);
      if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        const auto& trailers = context.GetServerTrailingMetadata();
        const auto retry_after = trailers.find("retry-after");
        EXPECT_TRUE(retry_after != trailers.end() &&
                    std::string(retry_after->second.data(), retry_after->second.size()) == "1")
            << "a refused call tells the client when to retry";
      }
      return status;
    });
  }
};

TEST_F(SlowPoolTest, SaturatedPoolAnswersResourceExhaustedAndRecovers) {
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < 8; ++i) calls.push_back(LoginAsync(kUnknown, std::chrono::seconds(120)));
  int exhausted = 0, unauthenticated = 0;
  for (auto& call : calls) {
    const grpc::Status status = call.get();
    if (status.error_code() == StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      EXPECT_EQ(status.error_message(), "Too Many Requests");
    } else {
      EXPECT_EQ(status.error_code(), StatusCode::UNAUTHENTICATED) << status.error_message();
      ++unauthenticated;
    }
  }
  // One worker + one queue slot: at most two of eight are served, the rest refused.
  EXPECT_GE(exhausted, 6);
  EXPECT_GE(unauthenticated, 1);
  // Afterwards the pool serves again.
  EXPECT_EQ(Login(kUnknown, "whatever-password").error_code(), StatusCode::UNAUTHENTICATED);
}

TEST_F(SlowPoolTest, CallWhoseDeadlinePassedInTheQueueIsNotHashed) {
  auto slow = LoginAsync(kUnknown, std::chrono::seconds(120));
  // Give the first call time to reach the worker; ordering only, nothing is timed.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto hurried = LoginAsync(kUnknown, std::chrono::milliseconds(200));
  EXPECT_EQ(hurried.get().error_code(), StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(slow.get().error_code(), StatusCode::UNAUTHENTICATED);
  // The worker reached the expired call only after the slow one and skipped it.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server_->Log().find("call ended before hashing; skipped") == std::string::npos &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(server_->Log().find("call ended before hashing; skipped"), std::string::npos);
}

TEST_F(SlowPoolTest, SigtermDrainsInFlightCalls) {
  auto in_flight = LoginAsync(kUnknown, std::chrono::seconds(120));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int exit_status = server_->Terminate(60);
  const grpc::Status status = in_flight.get();
  EXPECT_EQ(status.error_code(), StatusCode::UNAUTHENTICATED) << status.error_message();
  EXPECT_EQ(exit_status, 0);
}

}  // namespace
}  // namespace passgate::testing
