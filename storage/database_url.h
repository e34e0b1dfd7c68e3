#ifndef PASSGATE_STORAGE_DATABASE_URL_H_
#define PASSGATE_STORAGE_DATABASE_URL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace passgate::storage {

// SqlitePathFromUrl turns `sqlite:///absolute/path.db` into `/absolute/path.db` and
// `sqlite://relative/path.db` into `relative/path.db`. Other schemes (postgres:// comes
// later) and an empty path give kInvalidArgument with a message naming the URL's scheme,
// never the whole URL (it may hold a password).
absl::StatusOr<std::string> SqlitePathFromUrl(std::string_view url);

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_DATABASE_URL_H_
