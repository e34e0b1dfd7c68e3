// The enumeration defence of server/login_flow.cc, measured end to end: against the real
// server with the real default Argon2id parameters (19 MiB, t=2), a failed login for an
// unknown user, for a user without a password and with a wrong password for a user with an
// Argon2id password must not be told apart by latency.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "tests/integration/grpc_fixture.h"

namespace passgate::testing {
namespace {

using ::grpc::StatusCode;

constexpr int kWarmupPerClass = 10;
constexpr int kSamplesPerClass = 200;
// |t| above this is a difference no noise on a busy shared box explains (p < 1e-5).
constexpr double kMaxAbsT = 4.5;
constexpr unsigned kShuffleSeed = 20240517;
constexpr char kProbePassword[] = "not-the-password-1";

struct Summary {
  std::size_t n = 0;
  double mean = 0, sd = 0, p50 = 0, p99 = 0;
};

// Percentile by nearest rank over sorted values.
double Percentile(const std::vector<double>& sorted, double fraction) {
  const auto rank =
      static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::max<std::size_t>(rank, 1) - 1];
}

Summary Summarize(std::vector<double> values) {
  Summary s;
  s.n = values.size();
  for (double v : values) s.mean += v;
  s.mean /= static_cast<double>(s.n);
  double squares = 0;
  for (double v : values) squares += (v - s.mean) * (v - s.mean);
  s.sd = std::sqrt(squares / static_cast<double>(s.n - 1));
  std::sort(values.begin(), values.end());
  s.p50 = Percentile(values, 0.50);
  s.p99 = Percentile(values, 0.99);
  return s;
}

// WelchT is Welch's t statistic for the difference of two means with unequal variances.
double WelchT(const Summary& a, const Summary& b) {
  const double standard_error =
      std::sqrt(a.sd * a.sd / static_cast<double>(a.n) + b.sd * b.sd / static_cast<double>(b.n));
  return (a.mean - b.mean) / standard_error;
}

class EnumerationTimingTest : public PassgateServerTest {
 protected:
  // TimedLogin makes one failed login and returns its latency in milliseconds.
  double TimedLogin(const std::string& user_id, grpc::Status* status) {
    const auto start = std::chrono::steady_clock::now();
    *status = Login(user_id, kProbePassword);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    return std::chrono::duration<double, std::milli>(elapsed).count();
  }
};

TEST_F(EnumerationTimingTest, FailedLoginLatencyDoesNotRevealWhetherUserOrPasswordExists) {
  // The fixture's bcrypt user would measure bcrypt, not the Argon2id path: make a fresh user.
  const CommandResult created = RunPassgate(
      {"user", "create", "--email", "timing@example.com", "--password-stdin", "--config", config_},
      "the-real-password-1\n");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string argon2_user = created.out.substr(0, 36);
  const CommandResult exported = RunPassgate({"user", "export", "--config", config_});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  for (const auto& entry : nlohmann::json::parse(exported.out)) {
    if (entry["user_id"] != argon2_user) continue;
    ASSERT_TRUE(entry["password"]["password"].get<std::string>().starts_with(
        "$argon2id$v=19$m=19456,t=2,p=1$"))
        << "the wrong-password class must verify against a default Argon2id hash";
  }

  struct LoginClass {
    const char* name;
    std::string user_id;
    std::vector<double> ms;
  };
  std::array<LoginClass, 3> classes = {{{"unknown user", kUnknown, {}},
                                        {"no password", kNoPassword, {}},
                                        {"wrong password", argon2_user, {}}}};

  // One call at a time on one channel; the three classes back to back within a round, in an
  // order shuffled per round, so drift and bursts of load from other processes hit all alike.
  std::mt19937 shuffle(kShuffleSeed);
  std::array<std::size_t, 3> order = {0, 1, 2};
  const auto started = std::chrono::steady_clock::now();
  for (int round = 0; round < kWarmupPerClass + kSamplesPerClass; ++round) {
    std::shuffle(order.begin(), order.end(), shuffle);
    for (std::size_t index : order) {
      grpc::Status status;
      const double ms = TimedLogin(classes[index].user_id, &status);
      ASSERT_EQ(status.error_code(), StatusCode::UNAUTHENTICATED)
          << classes[index].name << ": " << status.error_message();
      ASSERT_EQ(status.error_message(), "Unauthorized") << classes[index].name;
      if (round >= kWarmupPerClass) classes[index].ms.push_back(ms);
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  std::array<Summary, 3> summaries;
  std::printf("failed-login latency, ms (%d warm-up + %d samples per class, %.1f s)\n",
              kWarmupPerClass, kSamplesPerClass, seconds);
  std::printf("  %-15s %5s %9s %8s %9s %9s\n", "class", "n", "mean", "sd", "p50", "p99");
  for (std::size_t i = 0; i < classes.size(); ++i) {
    summaries[i] = Summarize(classes[i].ms);
    std::printf("  %-15s %5zu %9.3f %8.3f %9.3f %9.3f\n", classes[i].name, summaries[i].n,
                summaries[i].mean, summaries[i].sd, summaries[i].p50, summaries[i].p99);
  }
  const std::array<std::pair<std::size_t, std::size_t>, 3> pairs = {{{0, 1}, {0, 2}, {1, 2}}};
  for (const auto& [a, b] : pairs) {
    const double t = WelchT(summaries[a], summaries[b]);
    std::printf("  Welch t(%s - %s) = %+.3f\n", classes[a].name, classes[b].name, t);
    EXPECT_LE(std::abs(t), kMaxAbsT)
        << classes[a].name << " vs " << classes[b].name << ": mean " << summaries[a].mean
        << " ms vs " << summaries[b].mean << " ms";
  }
  std::fflush(stdout);
}

}  // namespace
}  // namespace passgate::testing
