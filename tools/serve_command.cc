#include <signal.h>

#include <iostream>

#include "gateway/admin_api.h"
#include "gateway/http_server.h"
#include "gateway/password_api.h"
#include "gateway/password_auth_client.h"
#include "server/grpc_server.h"
#include "server/key_refresher.h"
#include "server/log.h"
#include "tools/command_support.h"
#include "tools/commands.h"
#include "tools/gateway_options.h"

namespace passgate::tools {
namespace {

// BlockStopSignals blocks SIGINT/SIGTERM before any thread exists, so every thread inherits
// the mask and only WaitForStopSignal sees them.
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  return stop_signals;
}

void WaitForStopSignal(const sigset_t& stop_signals) {
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server::Log(server::LogLevel::kInfo, "shutting down", {{"signal", signal_number}});
}

// Gateway is the REST side: an HTTP server whose handler calls the service over `channel`.
struct Gateway {
  std::unique_ptr<gateway::PasswordApi> api;
  std::unique_ptr<gateway::HttpServer> http;
};

absl::StatusOr<Gateway> StartGateway(const server::Config& config,
                                     std::shared_ptr<grpc::Channel> channel) {
  Gateway gateway;
  gateway.api = std::make_unique<gateway::PasswordApi>(
      GatewayOptionsFrom(config),
      gateway::NewGrpcPasswordAuthClient(std::move(channel),
                                         std::chrono::duration_cast<std::chrono::milliseconds>(
                                             config.public_api.upstream_deadline)));
  absl::StatusOr<std::unique_ptr<gateway::HttpServer>> http =
      gateway::HttpServer::Start(HttpServerOptionsFrom(config), *gateway.api);
  if (!http.ok()) {
    return absl::Status(http.status().code(),
                        absl::StrCat("server.public: ", http.status().message()));
  }
  gateway.http = *std::move(http);
  server::Log(server::LogLevel::kInfo, "http listening",
              {{"address", config.public_api.address},
               {"port", gateway.http->port()},
               {"tls", !config.public_api.tls.cert_file.empty()}});
  return gateway;
}

void StopGateway(Gateway& gateway, const server::Config& config) {
  gateway.http->Shutdown(
      std::chrono::duration_cast<std::chrono::milliseconds>(config.grpc.shutdown_grace));
  server::Log(server::LogLevel::kInfo, "http stopped");
}

// AdminGateway is the admin HTTP listener (server.admin.address): Hanko's admin user routes,
// calling UserAdmin over `channel`. Never the public listener's handler or port.
struct AdminGateway {
  std::unique_ptr<gateway::AdminApi> api;
  std::unique_ptr<gateway::HttpServer> http;
};

absl::StatusOr<AdminGateway> StartAdminGateway(const server::Config& config,
                                               std::shared_ptr<grpc::Channel> channel) {
  AdminGateway admin;
  admin.api = std::make_unique<gateway::AdminApi>(AdminApiOptionsFrom(config), std::move(channel));
  absl::StatusOr<std::unique_ptr<gateway::HttpServer>> http =
      gateway::HttpServer::Start(AdminHttpServerOptionsFrom(config), *admin.api);
  if (!http.ok()) {
    return absl::Status(http.status().code(),
                        absl::StrCat("server.admin: ", http.status().message()));
  }
  admin.http = *std::move(http);
  server::Log(server::LogLevel::kInfo, "admin http listening",
              {{"address", config.admin.address},
               {"port", admin.http->port()},
               {"tls", !config.admin.tls.cert_file.empty()},
               {"mtls", !config.admin.tls.client_ca_file.empty()}});
  return admin;
}

void StopAdminGateway(AdminGateway& admin, const server::Config& config) {
  admin.http->Shutdown(
      std::chrono::duration_cast<std::chrono::milliseconds>(config.grpc.shutdown_grace));
  server::Log(server::LogLevel::kInfo, "admin http stopped");
}

}  // namespace

int Serve(const std::string& config_path, ServeMode mode) {
  const sigset_t stop_signals = BlockStopSignals();

  if (mode == ServeMode::kGateway) {
    std::optional<server::Config> config = LoadConfig(config_path);
    if (!config) return 1;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = UpstreamChannel(*config);
    if (!channel.ok()) return Fail(channel.status());
    absl::StatusOr<Gateway> gateway = StartGateway(*config, *channel);
    if (!gateway.ok()) return Fail(gateway.status());
    WaitForStopSignal(stop_signals);
    StopGateway(*gateway, *config);
    return 0;
  }

  std::unique_ptr<server::Runtime> runtime = OpenRuntimeOrFail(config_path, {});
  if (runtime == nullptr) return 1;
  // Rotations made elsewhere (another replica, `passgate jwk rotate`) reach this server.
  server::KeyRefresher key_refresher(*runtime->keys,
                                     std::chrono::duration_cast<std::chrono::milliseconds>(
                                         runtime->config.secrets.key_refresh_interval));
  absl::StatusOr<std::unique_ptr<server::GrpcServer>> grpc = server::GrpcServer::Start(*runtime);
  if (!grpc.ok()) return Fail(grpc.status());
  std::optional<Gateway> gateway;
  if (mode == ServeMode::kAll) {
    // In one process the gateway reaches the service over gRPC's in-process transport: no
    // socket, no serialization to the network, and a peer the service can trust.
    absl::StatusOr<Gateway> started = StartGateway(runtime->config, (*grpc)->InProcessChannel());
    if (!started.ok()) return Fail(started.status());
    gateway = *std::move(started);
  }
  std::optional<AdminGateway> admin;
  if (!runtime->config.admin.address.empty()) {
    if (mode == ServeMode::kAll) {
      absl::StatusOr<AdminGateway> started =
          StartAdminGateway(runtime->config, (*grpc)->AdminInProcessChannel());
      if (!started.ok()) return Fail(started.status());
      admin = *std::move(started);
    } else {
      // The HTTP admin routes call UserAdmin in-process, so only `passgate serve` has them.
      server::Log(server::LogLevel::kWarning,
                  "server.admin.address is served only by `passgate serve`, not `serve grpc`",
                  {{"address", runtime->config.admin.address}});
    }
  }
  WaitForStopSignal(stop_signals);
  // Stop taking HTTP requests first, so the service drains everything the gateway accepted.
  if (admin) StopAdminGateway(*admin, runtime->config);
  if (gateway) StopGateway(*gateway, runtime->config);
  (*grpc)->Shutdown();
  return 0;
}

}  // namespace passgate::tools
