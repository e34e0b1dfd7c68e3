#ifndef PASSGATE_STORAGE_USER_PAGE_SQL_H_
#define PASSGATE_STORAGE_USER_PAGE_SQL_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/records.h"

namespace passgate::storage {

// The SQL stores differ in placeholders and in how e-mail addresses fold case.
enum class SqlDialect { kSqlite, kPostgres };

// UserPageSql is one parameterized statement: SQL built only from fixed fragments, and the
// values to bind to its placeholders in order (text or 64-bit integer). No value is ever
// spliced into the text.
struct UserPageSql {
  using Value = std::variant<std::string, int64_t>;
  std::string sql;
  std::vector<Value> params;
};

// Limits of one UserQuery: a page is read into memory at once, and every id of the filter is
// one placeholder.
inline constexpr std::size_t kMaxUserPageSize = 10'000;
inline constexpr std::size_t kMaxUserQueryIds = 1'000;

// CheckUserQuery: kInvalidArgument naming the field when a query breaks the limits above
// (limit 0 or too large, too many ids, an offset beyond int64).
absl::Status CheckUserQuery(const UserQuery& query);

// BuildUserPageSql selects one page in a single statement (one snapshot): the page's users
// joined with their e-mails (primary first, then by address with ASCII case folded) and,
// when query.with_passwords, their password credential. Columns: 0 id, 1 username,
// 2 created_at, 3 updated_at, 4 address, 5 is_primary, 6 is_verified, 7 hash,
// 8 password created_at, 9 password updated_at (7-9 NULL without a password or when not
// asked). Rows arrive grouped by user in listing order. REQUIRES: CheckUserQuery passed.
UserPageSql BuildUserPageSql(const UserQuery& query, SqlDialect dialect);

// BuildUserCountSql counts the users matching query's filters (one column, one row).
UserPageSql BuildUserCountSql(const UserQuery& query, SqlDialect dialect);

}  // namespace passgate::storage

#endif  // PASSGATE_STORAGE_USER_PAGE_SQL_H_
