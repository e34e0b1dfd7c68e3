// login_latency: sequential Login calls against a running passgate, one at a time, printing
// latency percentiles. Measures the single-login latency a caller sees (hashing dominates).
//
//   echo 'password' | login_latency --address 127.0.0.1:50051 --user-id UUID --count 200
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "grpcpp/grpcpp.h"
#include "passgate/v1/password_auth.grpc.pb.h"

int main(int argc, char** argv) {
  CLI::App app{"Sequential PasswordAuth.Login latency", "login_latency"};
  std::string address = "127.0.0.1:50051";
  std::string user_id;
  int count = 100;
  int warmup = 5;
  std::string label = "login";
  app.add_option("--address", address, "gRPC address")->capture_default_str();
  app.add_option("--user-id", user_id, "User to log in as")->required();
  app.add_option("--count", count, "Measured calls")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "Unmeasured calls first")->capture_default_str();
  app.add_option("--label", label, "Row label")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::string password;
  std::getline(std::cin, password);

  auto stub = passgate::v1::PasswordAuth::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  passgate::v1::LoginRequest request;
  request.set_user_id(user_id);
  request.set_password(password);

  std::vector<double> millis;
  int ok = 0, unauthenticated = 0, other = 0;
  for (int i = 0; i < warmup + count; ++i) {
    passgate::v1::LoginResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    const auto start = std::chrono::steady_clock::now();
    const grpc::Status status = stub->Login(&context, request, &response);
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (i < warmup) continue;
    millis.push_back(std::chrono::duration<double, std::milli>(elapsed).count());
    if (status.ok()) {
      ++ok;
    } else if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      ++unauthenticated;
    } else {
      ++other;
      if (other == 1) std::cerr << "login_latency: " << status.error_message() << "\n";
    }
  }
  std::sort(millis.begin(), millis.end());
  const auto pct = [&](double p) {
    return millis[std::min(millis.size() - 1, static_cast<std::size_t>(p * millis.size()))];
  };
  const double mean = std::accumulate(millis.begin(), millis.end(), 0.0) / millis.size();
  std::printf("%-22s n=%-5zu ok=%-5d 401=%-5d err=%-3d mean=%7.2fms p50=%7.2fms p90=%7.2fms "
              "p99=%7.2fms max=%7.2fms\n",
              label.c_str(), millis.size(), ok, unauthenticated, other, mean, pct(0.50),
              pct(0.90), pct(0.99), millis.back());
  return other == 0 ? 0 : 1;
}
