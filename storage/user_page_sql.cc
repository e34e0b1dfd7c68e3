#include "storage/user_page_sql.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace passgate::storage {
namespace {

int64_t ToMicros(TimePoint time) {
  return std::chrono::floor<std::chrono::microseconds>(time.time_since_epoch()).count();
}

// SqlBuilder appends fragments and numbers the placeholders of the dialect.
class SqlBuilder {
 public:
  explicit SqlBuilder(SqlDialect dialect) : dialect_(dialect) {}

  SqlBuilder& Text(std::string_view fragment) {
    out_.sql.append(fragment);
    return *this;
  }
  SqlBuilder& Bind(UserPageSql::Value value) {
    out_.params.push_back(std::move(value));
    if (dialect_ == SqlDialect::kPostgres) {
      absl::StrAppend(&out_.sql, "$", out_.params.size());
    } else {
      out_.sql.push_back('?');
    }
    return *this;
  }
  SqlDialect dialect() const { return dialect_; }
  UserPageSql Finish() { return std::move(out_); }

 private:
  const SqlDialect dialect_;
  UserPageSql out_;
};

// AppendFilters writes the WHERE clause of the query's filters and, when `keyset`, its
// cursor over users aliased `u`.
void AppendFilters(SqlBuilder& sql, const UserQuery& query, bool keyset) {
  const char* joiner = " WHERE ";
  if (query.email.has_value()) {
    sql.Text(joiner);
    if (sql.dialect() == SqlDialect::kPostgres) {
      // The unique index emails_address_folded serves exactly this expression.
      sql.Text("u.id IN (SELECT user_id FROM emails WHERE lower(address COLLATE \"C\") = lower(")
          .Bind(*query.email)
          .Text("::text COLLATE \"C\"))");
    } else {
      // emails.address is COLLATE NOCASE, so `=` folds ASCII case like the unique key.
      sql.Text("u.id IN (SELECT user_id FROM emails WHERE address = ").Bind(*query.email)
          .Text(")");
    }
    joiner = " AND ";
  }
  if (!query.ids.empty()) {
    sql.Text(joiner).Text("u.id IN (");
    for (std::size_t i = 0; i < query.ids.size(); ++i) {
      if (i > 0) sql.Text(", ");
      sql.Bind(query.ids[i]);
    }
    sql.Text(")");
    joiner = " AND ";
  }
  if (keyset && query.after.has_value()) {
    // Expanded row comparison (created_at, id) > (c, i): both engines range-scan the
    // users_by_created index with it.
    const char* op = query.descending ? " < " : " > ";
    const int64_t created = ToMicros(query.after->created_at);
    sql.Text(joiner).Text("(u.created_at").Text(op).Bind(created).Text(" OR (u.created_at = ")
        .Bind(created).Text(" AND u.id").Text(op).Bind(query.after->id).Text("))");
  }
}

}  // namespace

absl::Status CheckUserQuery(const UserQuery& query) {
  if (query.limit == 0 || query.limit > kMaxUserPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("page size must be between 1 and ", kMaxUserPageSize));
  }
  if (query.ids.size() > kMaxUserQueryIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("at most ", kMaxUserQueryIds, " user ids per query"));
  }
  if (query.offset > static_cast<std::size_t>(std::numeric_limits<int64_t>::max())) {
    return absl::InvalidArgumentError("offset is too large");
  }
  return absl::OkStatus();
}

UserPageSql BuildUserPageSql(const UserQuery& query, SqlDialect dialect) {
  SqlBuilder sql(dialect);
  const char* direction = query.descending ? " DESC" : "";
  sql.Text("WITH page AS (SELECT u.id, u.username, u.created_at, u.updated_at FROM users u");
  AppendFilters(sql, query, /*keyset=*/true);
  sql.Text(" ORDER BY u.created_at").Text(direction).Text(", u.id").Text(direction)
      .Text(" LIMIT ").Bind(static_cast<int64_t>(query.limit))
      .Text(" OFFSET ").Bind(static_cast<int64_t>(query.offset))
      .Text(") SELECT p.id, p.username, p.created_at, p.updated_at, e.address, e.is_primary, "
            "e.is_verified, ");
  if (query.with_passwords) {
    sql.Text("c.hash, c.created_at, c.updated_at FROM page p "
             "LEFT JOIN password_credentials c ON c.user_id = p.id ");
  } else {
    sql.Text("NULL, NULL, NULL FROM page p ");
  }
  sql.Text("LEFT JOIN emails e ON e.user_id = p.id ORDER BY p.created_at").Text(direction)
      .Text(", p.id").Text(direction)
      .Text(dialect == SqlDialect::kPostgres
                ? ", e.is_primary DESC, lower(e.address COLLATE \"C\")"
                : ", e.is_primary DESC, e.address");
  return sql.Finish();
}

UserPageSql BuildUserCountSql(const UserQuery& query, SqlDialect dialect) {
  SqlBuilder sql(dialect);
  sql.Text("SELECT count(*) FROM users u");
  AppendFilters(sql, query, /*keyset=*/false);
  return sql.Finish();
}

}  // namespace passgate::storage
