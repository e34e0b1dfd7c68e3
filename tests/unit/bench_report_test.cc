#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tools/passgate_bench/report.h"

namespace passgate::bench {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

json Hasher(double verifies, double seconds, double cpu_ms) {
  return {{"threads", 2},          {"memory_kib", 19456},
          {"iterations", 2},       {"verifies", verifies},
          {"seconds", seconds},    {"verifies_per_s", verifies / seconds},
          {"ms_per_verify", 25.0}, {"cpu_ms_per_verify", cpu_ms}};
}

json Wrk(const json& statuses, double seconds, double server_cpu_us, double p50, double p99) {
  double requests = 0;
  for (const auto& [status, count] : statuses.items()) requests += count.get<double>();
  return {{"connections", 4},
          {"statuses", statuses},
          {"errors", {{"connect", 0}, {"read", 0}, {"status", 0}, {"timeout", 0}, {"write", 0}}},
          {"requests", requests},
          {"seconds", seconds},
          {"p50_ms", p50},
          {"p99_ms", p99},
          {"server_cpu_us_per_request", server_cpu_us}};
}

json Grpc(double ok, const json& outcomes, double seconds, double server_cpu_us) {
  return {{"concurrency", 4},
          {"ok", ok},
          {"ok_per_s", ok / seconds},
          {"outcomes", outcomes},
          {"p50_ms", 1.0},
          {"p99_ms", 2.0},
          {"server_cpu_us_per_call", server_cpu_us}};
}

// BenchReportTest writes a complete set of phase results (every row present and healthy),
// lets each test change what it is about, and renders the report.
class BenchReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    records_["hasher.default.1"] = Hasher(800, 10, 24);
    records_["rest.login.default.1"] = Wrk({{"200", 760}}, 10, 25000, 50, 70);
    records_["hasher.default.2"] = Hasher(700, 10, 27);
    records_["rest.login.default.2"] = Wrk({{"200", 690}, {"429", 2}}, 10, 27000, 55, 90);
    records_["hasher.candidate"] = Hasher(500, 10, 36);
    records_["grpc.login.default"] = Grpc(700, {{"OK", 700}}, 10, 26000);
    records_["hasher.bench"] = Hasher(400000, 10, 0.05);
    records_["grpc.login.bench"] = Grpc(14000, {{"OK", 14000}}, 10, 1000);
    records_["rest.login.bench"] = Wrk({{"200", 13000}}, 10, 1100, 3, 5);
    records_["rest.jwks"] = Wrk(json::object(), 10, 15, 0.5, 0.8);
    records_["rest.jwks"]["requests"] = 600000;                          // 60,000/s
    records_["grpc.validate"] = Grpc(250000, {{"OK", 250000}}, 10, 40);  // 25,000/s
    records_["burst"] = {{"connections", 1000},
                         {"statuses", {{"200", 12}, {"429", 988}}},
                         {"peak_rss_kib", 80 * 1024},
                         {"peak_rss_scope", "burst"}};
  }

  // Render writes the records as tools/bench does (one JSON line each) and returns the
  // report and its count of phase errors.
  std::pair<std::string, int> Render() {
    char path[] = "/tmp/passgate-bench-report-XXXXXX";
    const int fd = mkstemp(path);
    EXPECT_GE(fd, 0);
    close(fd);
    {
      std::ofstream out(path);
      for (auto [label, record] : records_) {
        record["label"] = label;
        out << record.dump() << "\n";
      }
    }
    std::ostringstream text;
    const absl::StatusOr<int> errors =
        WriteReport({.results_file = path, .sweep_csv = "", .machine = "test"}, text);
    std::remove(path);
    EXPECT_TRUE(errors.ok()) << errors.status();
    return {text.str(), errors.value_or(-1)};
  }

  std::map<std::string, json> records_;
};

TEST_F(BenchReportTest, HealthyRunHasNoPhaseErrors) {
  const auto [text, errors] = Render();
  EXPECT_EQ(errors, 0) << text;
  EXPECT_THAT(text, HasSubstr("phase errors: none"));
}

TEST_F(BenchReportTest, AlternatingRoundsArePooledAndEachRoundsRatioShown) {
  const auto [text, errors] = Render();
  // Limit: 1,500 verifies in 20 s; REST: 1,450 successes in 20 s. 72.5 / 75 = 0.967, while
  // the rounds on their own give 76/80 = 0.95 and 69/70 = 0.99.
  EXPECT_THAT(text, HasSubstr("| raw hasher verify rate = the limit (2 threads, 2 rounds) | "
                              "75.0 verifies/s"));
  EXPECT_THAT(text, HasSubstr("| REST logins/s ÷ raw verify rate | 0.967 (rounds: 0.95 · 0.99) |"));
  // CPU per verify weighted by verifies (25.4 ms) over CPU per login weighted by requests.
  EXPECT_THAT(text, HasSubstr("| same, CPU-normalised: raw CPU per verify ÷ server CPU per REST "
                              "login | 0.979 |"));
  EXPECT_THAT(text, HasSubstr("72.5 logins/s (shed: 429×2)")) << "shed answers are shown";
  EXPECT_THAT(text, HasSubstr("| 55.0 | 90.0 |")) << "median round's p50, worst round's p99";
}

TEST_F(BenchReportTest, TargetsAreMarkedPassOrMiss) {
  records_["rest.login.default.2"] = Wrk({{"200", 500}}, 10, 27000, 55, 90);
  records_["grpc.validate"] = Grpc(190000, {{"OK", 190000}}, 10, 40);  // 19,000/s
  const auto [text, errors] = Render();
  EXPECT_EQ(errors, 0) << "a missed target is a result, not an error";
  EXPECT_THAT(text, HasSubstr("| REST logins/s ÷ raw verify rate | 0.840 (rounds: 0.95 · 0.71) "
                              "|  |  |  | ≥ 0.95 | **MISS** |"));
  EXPECT_THAT(text, HasSubstr("60000 /s | 0.50 | 0.80 | 15.0 | ≥ 50000 /s | **PASS** |"));
  EXPECT_THAT(text, HasSubstr("19000 /s | 1.00 | 2.00 | 40.0 | ≥ 20000 /s | **MISS** |"));
  EXPECT_THAT(text, HasSubstr("| 80.0 MiB |  |  |  | ≤ 102 MiB (64 + 2 × 19.0) | **PASS** |"));
}

TEST_F(BenchReportTest, BurstAboveTheMemoryBoundIsAMiss) {
  records_["burst"]["peak_rss_kib"] = 103 * 1024;
  const auto [text, errors] = Render();
  EXPECT_THAT(text, HasSubstr("| 103 MiB |  |  |  | ≤ 102 MiB (64 + 2 × 19.0) | **MISS** |"));
}

TEST_F(BenchReportTest, AnswersThatShouldNeverComeAreErrors) {
  records_["rest.login.default.1"] = Wrk({{"200", 700}, {"500", 3}}, 10, 25000, 50, 70);
  records_["grpc.validate"] = Grpc(1000, {{"OK", 1000}, {"INTERNAL", 2}}, 10, 40);
  const auto [text, errors] = Render();
  EXPECT_EQ(errors, 2) << text;
  EXPECT_THAT(text, HasSubstr("rest.login.default: 3 answers 500"));
  EXPECT_THAT(text, HasSubstr("grpc.validate: 2 calls answered INTERNAL"));
}

TEST_F(BenchReportTest, MissingPhaseIsAnError) {
  records_.erase("grpc.login.default");
  const auto [text, errors] = Render();
  EXPECT_EQ(errors, 1) << text;
  EXPECT_THAT(text, HasSubstr("grpc.login.default: no result (the phase did not run)"));
}

TEST_F(BenchReportTest, SingleUnnumberedPhaseStillReads) {
  // A results file from before the rounds (or a hand-run phase) has plain labels.
  records_.erase("hasher.default.2");
  records_.erase("rest.login.default.2");
  records_["hasher.default"] = records_["hasher.default.1"];
  records_["rest.login.default"] = records_["rest.login.default.1"];
  records_.erase("hasher.default.1");
  records_.erase("rest.login.default.1");
  const auto [text, errors] = Render();
  EXPECT_EQ(errors, 0) << text;
  EXPECT_THAT(text, HasSubstr("| REST logins/s ÷ raw verify rate | 0.950 |"));
  EXPECT_THAT(text, Not(HasSubstr("rounds")));
}

TEST_F(BenchReportTest, Es256ComparisonIsShownWithoutAVerdict) {
  records_["hasher.es256.1"] = Hasher(800, 10, 24);
  records_["rest.login.es256.1"] = Wrk({{"200", 784}}, 10, 24500, 50, 70);
  const auto [text, errors] = Render();
  EXPECT_EQ(errors, 0) << text;
  EXPECT_THAT(text, HasSubstr("| same, ÷ raw verify rate measured beside it (comparison, not "
                              "the target) | 0.980 |  |  |  |  |  |"));
}

TEST_F(BenchReportTest, StoreCostRowsShowEachBackendMeasured) {
  records_["store.sqlite"] = {{"backend", "sqlite"},       {"login_mean_us", 800.0},
                              {"login_p50_us", 390.0},     {"login_p99_us", 8890.0},
                              {"validate_p50_us", 4.2},    {"validate_p99_us", 11.0}};
  records_["store.postgres"] = {{"backend", "postgres"},   {"login_mean_us", 456.0},
                                {"login_p50_us", 1390.0},  {"login_p99_us", 3180.0},
                                {"validate_p50_us", 41.0}, {"validate_p99_us", 130.0}};
  const auto [text, errors] = Render();
  EXPECT_EQ(errors, 0) << text;
  EXPECT_THAT(text, HasSubstr("| sqlite: store work of one login | 800 µs mean | 0.39 | 8.89 |"));
  EXPECT_THAT(text, HasSubstr("| postgres: store work of one login | 456 µs mean | 1.39 | 3.18 |"));
  EXPECT_THAT(text,
              HasSubstr("| postgres: store work of one ValidateSession | 41.0 µs p50, 130 µs p99 |"));
}

TEST_F(BenchReportTest, WithoutStoreRowsThereIsNoStoreSection) {
  const auto [text, errors] = Render();
  EXPECT_THAT(text, Not(HasSubstr("Store cost")));
}

TEST_F(BenchReportTest, UnreadableResultsAreNotFound) {
  std::ostringstream text;
  const absl::StatusOr<int> errors = WriteReport(
      {.results_file = "/nonexistent/results.jsonl", .sweep_csv = "", .machine = "test"}, text);
  EXPECT_EQ(errors.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace passgate::bench
