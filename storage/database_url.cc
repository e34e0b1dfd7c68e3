#include "storage/database_url.h"

#include <libpq-fe.h>

#include <optional>
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

constexpr char kExpected[] =
    "expected sqlite:///absolute/path.db, sqlite://relative/path.db or "
    "postgres://user@host:port/database";

// LowerScheme returns the URL's scheme in lower case, or nullopt when it has no valid one.
std::optional<std::string> LowerScheme(std::string_view url) {
  const std::string_view::size_type separator = url.find(kSeparator);
  if (separator == std::string_view::npos || !IsValidScheme(url.substr(0, separator))) {
    return std::nullopt;
  }
  // Schemes are case-insensitive (RFC 3986 section 3.1).
  std::string scheme(url.substr(0, separator));
  absl::AsciiStrToLower(&scheme);
  return scheme;
}

}  // namespace

absl::StatusOr<DatabaseBackend> DatabaseBackendFromUrl(std::string_view url) {
  const std::optional<std::string> scheme = LowerScheme(url);
  if (!scheme.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("database URL has no scheme; ", kExpected));
  }
  if (*scheme == "sqlite") {
    if (absl::StatusOr<std::string> path = SqlitePathFromUrl(url); !path.ok()) {
      return path.status();
    }
    return DatabaseBackend::kSqlite;
  }
  if (*scheme == "postgres" || *scheme == "postgresql") {
    // libpq only knows the lower-case prefixes; the rest is its own syntax check. Its error
    // text can quote parts of the URL, so it is dropped.
    const std::string normalized = PostgresConnectionUri(url);
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(normalized.c_str(), &error);
    PQfreemem(error);
    if (options == nullptr) {
      return absl::InvalidArgumentError(
          "not a valid PostgreSQL connection URI (see libpq's \"Connection URIs\")");
    }
    PQconninfoFree(options);
    return DatabaseBackend::kPostgres;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported database URL scheme \"", *scheme, "\"; ", kExpected));
}

std::string PostgresConnectionUri(std::string_view url) {
  const std::optional<std::string> scheme = LowerScheme(url);
  if (!scheme.has_value()) return std::string(url);
  const std::string_view rest = url.substr(scheme->size());
  return absl::StrCat(*scheme, absl::string_view(rest.data(), rest.size()));
}

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
