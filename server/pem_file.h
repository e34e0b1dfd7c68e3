#ifndef PASSGATE_SERVER_PEM_FILE_H_
#define PASSGATE_SERVER_PEM_FILE_H_

#include <string>

#include "absl/status/statusor.h"

namespace passgate::server {

// ReadPemFile reads a certificate or key file named by config key `key`. kInvalidArgument
// "<key>: cannot read \"<path>\"" when it is missing, unreadable or empty.
absl::StatusOr<std::string> ReadPemFile(const std::string& key, const std::string& path);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_PEM_FILE_H_
