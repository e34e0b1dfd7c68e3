// Load shedding through the HTTP gateway: a flood of logins against a small hashing pool is
// refused at once with 429 instead of queueing without bound, the server survives, its peak
// memory stays bounded by the pool (not by the number of callers), and it serves afterwards.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <latch>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/grpc_fixture.h"
#include "tests/integration/http_client.h"

namespace passgate::testing {
namespace {

constexpr int kWorkers = 2;
constexpr int kQueue = 2;
constexpr long kArgon2MemoryKib = 19456;  // the default password.hashing.memory_kib
constexpr long kBaseKib = 64 * 1024;
constexpr long kBufferMarginKib = 64 * 1024;  // gRPC and Beast buffers, thread stacks
constexpr int kConcurrentCalls = 64;

// Under AddressSanitizer (the sanitizer build of the suite) the server's resident memory is
// shadow memory plus a quarantine of up to 256 MiB of freed blocks (ASan's default), so the
// production bound cannot hold: there the growth over the start-up figure is bounded by the
// quarantine plus the production allowance, which still catches buffering without limit.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif
constexpr long kAsanQuarantineKib = 256 * 1024;
constexpr int kWaves = 4;

// VmHwmKib is the peak resident set size of `pid` in KiB, or -1 when unreadable.
long VmHwmKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (!line.starts_with("VmHWM:")) continue;
    std::istringstream fields(line.substr(6));
    long kib = -1;
    fields >> kib;
    return kib;
  }
  return -1;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

class LoadSheddingTest : public PassgateServerTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.extra_sections =
        "password:\n"
        "  hashing: {workers: " +
        std::to_string(kWorkers) + ", queue: " + std::to_string(kQueue) + "}\n";
    return extras;
  }

  HttpReply PostLogin(const std::string& user_id, const std::string& password) {
    return testing::PostLogin(server_->http_port(), user_id, password);
  }
};

TEST_F(LoadSheddingTest, FloodIsRefusedWithTooManyRequestsAndMemoryStaysBounded) {
  const long baseline_kib = VmHwmKib(server_->pid());
  std::map<int, int> statuses;  // 0 = no complete response
  std::map<int, std::vector<double>> latencies_ms;
  std::vector<std::string> client_errors;
  int refused_without_retry_after = 0;

  for (int wave = 0; wave < kWaves; ++wave) {
    std::vector<HttpReply> replies(kConcurrentCalls);
    std::vector<double> elapsed_ms(kConcurrentCalls);
    std::latch ready(kConcurrentCalls);
    std::vector<std::thread> callers;
    for (int i = 0; i < kConcurrentCalls; ++i) {
      callers.emplace_back([&, i] {
        ready.arrive_and_wait();
        const auto start = std::chrono::steady_clock::now();
        replies[i] = PostLogin(kUnknown, "whatever-password");
        elapsed_ms[i] =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                .count();
      });
    }
    for (std::thread& caller : callers) caller.join();
    for (int i = 0; i < kConcurrentCalls; ++i) {
      const HttpReply& reply = replies[i];
      ++statuses[reply.status];
      latencies_ms[reply.status].push_back(elapsed_ms[i]);
      if (!reply.error.empty()) client_errors.push_back(reply.error);
      if (reply.status == 429 && reply.Header("Retry-After") != "1") ++refused_without_retry_after;
    }
    ASSERT_EQ(kill(server_->pid(), 0), 0) << "the server died in wave " << wave;
  }
  const long peak_kib = VmHwmKib(server_->pid());
  const long allowance_kib = kWorkers * kArgon2MemoryKib + kBufferMarginKib;
  const long bound_kib = kAddressSanitizer ? baseline_kib + kAsanQuarantineKib + allowance_kib
                                           : kBaseKib + allowance_kib;

  const int total = kWaves * kConcurrentCalls;
  std::printf("flood: %d waves x %d concurrent POST /password/login (workers %d, queue %d)\n",
              kWaves, kConcurrentCalls, kWorkers, kQueue);
  for (const auto& [status, count] : statuses) {
    std::printf("  HTTP %3d: %4d (median %.1f ms)\n", status, count, Median(latencies_ms[status]));
  }
  std::printf("  VmHWM: %ld KiB after start-up, %ld KiB after the flood (bound %ld KiB)\n",
              baseline_kib, peak_kib, bound_kib);
  std::fflush(stdout);

  EXPECT_TRUE(client_errors.empty())
      << client_errors.size() << " calls got no response, first: " << client_errors.front();
  for (const auto& [status, count] : statuses) {
    EXPECT_TRUE(status == 401 || status == 429) << count << " answers with HTTP " << status;
  }
  EXPECT_GT(statuses[429], total / 2) << "most of the flood is refused";
  EXPECT_GE(statuses[401], kWaves) << "each wave gets some hashed answers";
  EXPECT_EQ(refused_without_retry_after, 0) << "a 429 tells the client when to retry";
  ASSERT_GT(peak_kib, 0);
  EXPECT_LE(peak_kib, bound_kib);

  // The pool has drained: normal logins work over both protocols.
  EXPECT_TRUE(Login(kJohn, "SuperSecure").ok());
  const HttpReply login = PostLogin(kJohn, "SuperSecure");
  EXPECT_EQ(login.status, 200) << login.status_line << " " << login.body << login.error;
  EXPECT_EQ(kill(server_->pid(), 0), 0);
}

}  // namespace
}  // namespace passgate::testing
