#ifndef PASSGATE_TOOLS_COMMAND_SUPPORT_H_
#define PASSGATE_TOOLS_COMMAND_SUPPORT_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "server/config.h"
#include "server/runtime.h"

namespace passgate::tools {

// Fail prints "passgate: <message>" on stderr and returns exit code 1.
int Fail(std::string_view message);
int Fail(const absl::Status& status);

// LoadConfig loads the file and warns on stderr about keys passgate ignores.
std::optional<server::Config> LoadConfig(const std::string& path);

// OpenRuntimeOrFail loads config and opens the runtime; prints the error and returns null.
std::unique_ptr<server::Runtime> OpenRuntimeOrFail(const std::string& config_path,
                                                   server::RuntimeParts parts);

// ReadPasswordFromStdin reads one line (without its line ending) from standard input.
std::optional<std::string> ReadPasswordFromStdin();

}  // namespace passgate::tools

#endif  // PASSGATE_TOOLS_COMMAND_SUPPORT_H_
