#ifndef PASSGATE_TOOLS_PASSGATE_BENCH_CREDENTIALS_H_
#define PASSGATE_TOOLS_PASSGATE_BENCH_CREDENTIALS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace passgate::bench {

// Credential is one bench user. The password is a secret like any other: never printed.
struct Credential {
  std::string user_id;
  std::string password;
};

// ReadCredentials reads the users file the orchestrator wrote (tools/bench): one user per
// line, "<user id>\t<password>"; blank lines are skipped. kNotFound when the file cannot be
// read, kInvalidArgument (naming the line, not its content) for a line without a tab or a
// file without users.
absl::StatusOr<std::vector<Credential>> ReadCredentials(const std::string& path);

}  // namespace passgate::bench

#endif  // PASSGATE_TOOLS_PASSGATE_BENCH_CREDENTIALS_H_
