#include "storage/database_url.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace passgate::storage {
namespace {

constexpr std::string_view kSeparator = "://";

// IsValidScheme follows RFC 3986 (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )). Only a string
// of that shape is ever echoed in an error: anything else may be part of a credential.
bool IsValidScheme(std::string_view scheme) {
  if (scheme.empty() || scheme.size() > 32 || !absl::ascii_isalpha(scheme.front())) {
    return false;
  }
  for (char c : scheme) {
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> SqlitePathFromUrl(std::string_view url) {
  const std::string_view::size_type separator = url.find(kSeparator);
  if (separator == std::string_view::npos || !IsValidScheme(url.substr(0, separator))) {
    return absl::InvalidArgumentError(
        "database URL has no scheme; expected sqlite:///absolute/path.db or "
        "sqlite://relative/path.db");
  }
  // Schemes are case-insensitive (RFC 3986 section 3.1).
  std::string scheme(url.substr(0, separator));
  absl::AsciiStrToLower(&scheme);
  if (scheme != "sqlite") {
    return absl::InvalidArgumentError(absl::StrCat("unsupported database URL scheme \"", scheme,
                                                   "\"; only sqlite:// is supported"));
  }
  // What follows `sqlite://` is taken verbatim as a file path: a leading '/' makes it absolute.
  const std::string_view path = url.substr(separator + kSeparator.size());
  if (path.empty() || path == "/") {
    return absl::InvalidArgumentError("sqlite database URL has an empty path");
  }
  if (path.back() == '/') {
    return absl::InvalidArgumentError("sqlite database URL names a directory, not a file");
  }
  // SQLite URI parameters are not supported; rejecting them beats silently creating a file
  // whose name contains "?mode=ro".
  if (path.find_first_of("?#") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "sqlite database URL must not contain a query or fragment ('?' or '#')");
  }
  return std::string(path);
}

}  // namespace passgate::storage
