// passgate_bench: the measuring half of tools/bench. Each subcommand runs one phase and
// prints one JSON line on stdout (tagged with --label); `report` turns those lines into the
// table. Errors go to stderr with exit code 1. Passwords and tokens are never printed.
//
//   passgate_bench hasher --threads 2 --seconds 5
//   passgate_bench grpc --target 127.0.0.1:50051 --rpc login --users users.tsv --concurrency 6
//   passgate_bench wrk --url http://127.0.0.1:8000/password/login --script login.lua ...
//   passgate_bench burst --http-port 8000 --connections 1000 --server-pid PID --users users.tsv
//   passgate_bench token --algorithm RS256 --seconds 2
//   passgate_bench report --results results.jsonl
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "tools/passgate_bench/credentials.h"
#include "tools/passgate_bench/gen_users.h"
#include "tools/passgate_bench/grpc_load.h"
#include "tools/passgate_bench/hasher_rate.h"
#include "tools/passgate_bench/http_burst.h"
#include "tools/passgate_bench/report.h"
#include "tools/passgate_bench/store_cost.h"
#include "tools/passgate_bench/token_cost.h"
#include "tools/passgate_bench/wrk_run.h"

namespace passgate::bench {
namespace {

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000));
}

int Fail(const absl::Status& status) {
  std::cerr << "passgate_bench: " << status.message() << "\n";
  return 1;
}

// Emit prints a phase's result as the one JSON line the orchestrator collects.
int Emit(const std::string& label, absl::StatusOr<nlohmann::json> result) {
  if (!result.ok()) return Fail(result.status());
  nlohmann::json line = {{"label", label}};
  line.update(*result);
  std::cout << line.dump() << std::endl;
  return 0;
}

std::optional<pid_t> OptionalPid(int pid) {
  return pid > 0 ? std::optional<pid_t>(pid) : std::nullopt;
}

int Main(int argc, char** argv) {
  CLI::App app{"passgate benchmark phases (driven by tools/bench)", "passgate_bench"};
  app.require_subcommand(1);
  std::string label;
  const auto add_label = [&](CLI::App* command) {
    command->add_option("--label", label, "Tag of the JSON line")->capture_default_str();
  };

  HasherRateOptions hasher;
  double hasher_seconds = 5;
  int parallelism = 1;
  CLI::App* hasher_command =
      app.add_subcommand("hasher", "Raw Argon2id verify rate of the server's hasher");
  hasher_command->add_option("--threads", hasher.threads, "Verifying threads (the pool size)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  hasher_command->add_option("--seconds", hasher_seconds)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  hasher_command->add_option("--memory-kib", hasher.memory_kib)
      ->capture_default_str()
      ->check(CLI::Range(8, 4194304));
  hasher_command->add_option("--iterations", hasher.iterations)
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  // libsodium's Argon2id only does p=1, which is what the server uses; the flag exists so
  // the command states every parameter of the measured cost.
  hasher_command->add_option("--parallelism", parallelism, "Argon2id lanes (only 1)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1));
  const std::map<std::string, HasherEngine> engines = {
      {"server", HasherEngine::kServer},
      {"libargon2-reused-buffer", HasherEngine::kLibargon2ReusedBuffer}};
  hasher_command
      ->add_option("--engine", hasher.engine,
                   "server: the server's hasher (libsodium); libargon2-reused-buffer: the "
                   "per-thread-buffer candidate, for comparison")
      ->transform(CLI::CheckedTransformer(engines, CLI::ignore_case));
  add_label(hasher_command);

  GrpcLoadOptions grpc_load;
  std::string rpc = "login";
  double grpc_seconds = 5, grpc_warmup = 1;
  std::string users_file;
  int server_pid = 0;
  CLI::App* grpc_command = app.add_subcommand("grpc", "Async gRPC load: Login or ValidateSession");
  grpc_command->add_option("--target", grpc_load.target, "host:port")->capture_default_str();
  grpc_command->add_option("--rpc", rpc)
      ->capture_default_str()
      ->check(CLI::IsMember({"login", "validate"}));
  grpc_command->add_option("--concurrency", grpc_load.concurrency, "Outstanding calls")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  grpc_command->add_option("--channels", grpc_load.channels, "Connections")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  grpc_command->add_option("--seconds", grpc_seconds, "Measured window")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  grpc_command->add_option("--warmup", grpc_warmup, "Unmeasured load first, seconds")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  grpc_command->add_option("--users", users_file, "<user id><TAB><password> per line")->required();
  grpc_command->add_option("--server-pid", server_pid, "Charge this process's CPU per call");
  add_label(grpc_command);

  WrkOptions wrk;
  CLI::App* wrk_command =
      app.add_subcommand("wrk", "Run wrk with a tools/passgate_bench/wrk script");
  wrk_command->add_option("--url", wrk.url)->required();
  wrk_command->add_option("--script", wrk.script)->required()->check(CLI::ExistingFile);
  wrk_command->add_option("--users", wrk.users_file, "For login.lua");
  wrk_command->add_option("--threads", wrk.threads)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  wrk_command->add_option("--connections", wrk.connections)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  wrk_command->add_option("--seconds", wrk.seconds)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  wrk_command->add_option("--server-pid", server_pid, "Charge this process's CPU per request");
  add_label(wrk_command);

  HttpBurstOptions burst;
  int burst_timeout = 60;
  CLI::App* burst_command =
      app.add_subcommand("burst", "Many concurrent POST /password/login; server peak RSS");
  burst_command->add_option("--host", burst.host, "Gateway IPv4 address")->capture_default_str();
  burst_command->add_option("--http-port", burst.port)->required()->check(CLI::Range(1, 65535));
  burst_command->add_option("--connections", burst.connections)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  burst_command->add_option("--timeout", burst_timeout, "Seconds for the whole burst")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  burst_command->add_option("--users", users_file)->required();
  burst_command->add_option("--server-pid", server_pid, "Whose peak RSS to report");
  add_label(burst_command);

  TokenCostOptions token;
  std::string token_algorithm = "RS256";
  double token_seconds = 2;
  CLI::App* token_command = app.add_subcommand(
      "token", "CPU cost of signing and verifying one session token with the key ring");
  token_command->add_option("--algorithm", token_algorithm)
      ->capture_default_str()
      ->check(CLI::IsMember({"RS256", "ES256", "EdDSA"}));
  token_command->add_option("--rsa-bits", token.rsa_bits)
      ->capture_default_str()
      ->check(CLI::IsMember({2048, 3072, 4096}));
  token_command->add_option("--seconds", token_seconds, "Per operation")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  add_label(token_command);

  StoreCostOptions store;
  double store_seconds = 2;
  CLI::App* store_command = app.add_subcommand(
      "store", "Wall time of the store work of one login and of one ValidateSession");
  store_command->add_option("--url", store.url, "database.url of a scratch database")->required();
  store_command->add_option("--seconds", store_seconds, "Per operation")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  add_label(store_command);

  std::uint64_t gen_count = 0;
  std::uint64_t gen_seed = 1;
  std::string gen_out;
  CLI::App* gen_command = app.add_subcommand(
      "gen-users", "Write a Hanko-format export of N generated users (tools/bench --import)");
  gen_command->add_option("N", gen_count, "Number of users")->required();
  gen_command->add_option("--seed", gen_seed, "Seed of the random user ids")->capture_default_str();
  gen_command->add_option("--out", gen_out, "Output file (default: standard output)");

  ReportOptions report;
  CLI::App* report_command =
      app.add_subcommand("report", "Print the table from the phases' JSON lines");
  report_command->add_option("--results", report.results_file)->required();
  report_command->add_option("--sweep-csv", report.sweep_csv, "Write the sweep's data here");
  report_command->add_option("--machine", report.machine, "Heading text");

  CLI11_PARSE(app, argc, argv);

  if (*gen_command) {
    std::FILE* out = gen_out.empty() ? stdout : std::fopen(gen_out.c_str(), "wb");
    if (out == nullptr) return Fail(absl::UnavailableError(gen_out + ": cannot create"));
    const bool written = WriteGeneratedUsers(out, gen_count, gen_seed);
    const bool closed = out == stdout || std::fclose(out) == 0;
    if (!written || !closed) return Fail(absl::UnavailableError("gen-users: writing failed"));
    return 0;
  }
  if (*hasher_command) {
    hasher.duration = Millis(hasher_seconds);
    return Emit(label, MeasureHasherRate(hasher));
  }
  if (*store_command) {
    store.duration = Millis(store_seconds);
    return Emit(label, MeasureStoreCost(store));
  }
  if (*token_command) {
    token.algorithm = *server::ParseKeyAlgorithm(token_algorithm);  // checked by IsMember
    token.duration = Millis(token_seconds);
    return Emit(label, MeasureTokenCost(token));
  }
  if (*grpc_command || *burst_command) {
    absl::StatusOr<std::vector<Credential>> users = ReadCredentials(users_file);
    if (!users.ok()) return Fail(users.status());
    if (*grpc_command) {
      grpc_load.rpc = rpc == "login" ? GrpcRpc::kLogin : GrpcRpc::kValidate;
      grpc_load.duration = Millis(grpc_seconds);
      grpc_load.warmup = Millis(grpc_warmup);
      grpc_load.users = *std::move(users);
      grpc_load.server_pid = OptionalPid(server_pid);
      return Emit(label, RunGrpcLoad(grpc_load));
    }
    burst.timeout = std::chrono::seconds(burst_timeout);
    burst.users = *std::move(users);
    burst.server_pid = OptionalPid(server_pid);
    return Emit(label, RunHttpBurst(burst));
  }
  if (*wrk_command) {
    wrk.threads = std::min(wrk.threads, wrk.connections);
    wrk.server_pid = OptionalPid(server_pid);
    return Emit(label, RunWrk(wrk));
  }
  absl::StatusOr<int> errors = WriteReport(report, std::cout);
  if (!errors.ok()) return Fail(errors.status());
  return *errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace passgate::bench

int main(int argc, char** argv) {
  // As in passgate's main: Debian's Abseil keeps absl::Mutex deadlock detection on, which
  // would make the load generator's gRPC stack measurably dearer than it is.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return passgate::bench::Main(argc, argv);
}
