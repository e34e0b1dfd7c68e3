#include "tools/command_support.h"

#include <iostream>

#include "absl/strings/str_join.h"

namespace passgate::tools {

int Fail(std::string_view message) {
  std::cerr << "passgate: " << message << "\n";
  return 1;
}

int Fail(const absl::Status& status) { return Fail(std::string(status.message())); }

std::optional<server::Config> LoadConfig(const std::string& path) {
  absl::StatusOr<server::Config> config = server::LoadConfigFile(path, server::ProcessEnv());
  if (!config.ok()) {
    Fail(config.status());
    return std::nullopt;
  }
  if (!config->ignored_keys.empty()) {
    std::cerr << "passgate: warning: ignoring config keys passgate does not use: "
              << absl::StrJoin(config->ignored_keys, ", ") << "\n";
  }
  return *std::move(config);
}

std::unique_ptr<server::Runtime> OpenRuntimeOrFail(const std::string& config_path,
                                                   server::RuntimeParts parts) {
  std::optional<server::Config> config = LoadConfig(config_path);
  if (!config) return nullptr;
  absl::StatusOr<std::unique_ptr<server::Runtime>> runtime = server::OpenRuntime(*config, parts);
  if (!runtime.ok()) {
    Fail(runtime.status());
    return nullptr;
  }
  return *std::move(runtime);
}

std::optional<std::string> ReadPasswordFromStdin() {
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace passgate::tools
