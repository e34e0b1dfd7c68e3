#include <signal.h>

#include <iostream>

#include "server/grpc_server.h"
#include "server/log.h"
#include "tools/command_support.h"
#include "tools/commands.h"

namespace passgate::tools {

int Serve(const std::string& config_path) {
  // Block the stop signals before any thread exists so every thread inherits the mask and
  // only sigwait below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<server::Runtime> runtime = OpenRuntimeOrFail(config_path, {});
  if (runtime == nullptr) return 1;
  absl::StatusOr<std::unique_ptr<server::GrpcServer>> grpc = server::GrpcServer::Start(*runtime);
  if (!grpc.ok()) return Fail(grpc.status());

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  server::Log(server::LogLevel::kInfo, "shutting down", {{"signal", signal_number}});
  (*grpc)->Shutdown();
  return 0;
}

}  // namespace passgate::tools
