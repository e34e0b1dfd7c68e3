#ifndef PASSGATE_SERVER_LOG_H_
#define PASSGATE_SERVER_LOG_H_

#include <string_view>

#include "nlohmann/json.hpp"

namespace passgate::server {

enum class LogLevel { kInfo, kWarning, kError };

// Log writes one JSON line {"time","level","msg",...fields} to stderr, atomically with
// respect to other Log calls. Callers must never pass passwords, tokens or secrets.
void Log(LogLevel level, std::string_view message, const nlohmann::json& fields = {});

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_LOG_H_
