#include "tools/passgate_bench/credentials.h"

#include <fstream>

#include "absl/strings/str_cat.h"

namespace passgate::bench {

absl::StatusOr<std::vector<Credential>> ReadCredentials(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--users: cannot read ", path));
  std::vector<Credential> credentials;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos || tab == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--users: ", path, ":", number, ": expected <user id><TAB><password>"));
    }
    credentials.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  if (credentials.empty())
    return absl::InvalidArgumentError(absl::StrCat("--users: ", path, ": no users"));
  return credentials;
}

}  // namespace passgate::bench
