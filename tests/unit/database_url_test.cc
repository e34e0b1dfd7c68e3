#include "storage/database_url.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passgate::storage {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(SqlitePathFromUrlTest, AcceptsSqliteUrls) {
  struct Case {
    std::string_view url;
    std::string_view path;
  };
  static constexpr Case kCases[] = {
      {"sqlite:///abs/x.db", "/abs/x.db"},
      {"sqlite://rel/x.db", "rel/x.db"},
      {"sqlite:///x.db", "/x.db"},
      {"sqlite://x.db", "x.db"},
      {"sqlite://./data/passgate.db", "./data/passgate.db"},
      {"sqlite:///var/lib/passgate/passgate.db", "/var/lib/passgate/passgate.db"},
      {"SQLite:///abs/x.db", "/abs/x.db"},  // schemes are case-insensitive
  };
  for (const Case& c : kCases) {
    absl::StatusOr<std::string> path = SqlitePathFromUrl(c.url);
    ASSERT_TRUE(path.ok()) << c.url << ": " << path.status();
    EXPECT_EQ(*path, c.path) << c.url;
  }
}

TEST(SqlitePathFromUrlTest, RejectsOtherUrlsWithoutEchoingThem) {
  struct Case {
    std::string_view url;
    std::string_view message_part;  // what the message must say
    std::string_view secret;        // what it must never say ("" for nothing to hide)
  };
  static constexpr Case kCases[] = {
      {"", "no scheme", ""},
      {"sqlite://", "empty path", ""},
      {"sqlite:///", "empty path", ""},
      {"sqlite:///var/lib/", "directory", ""},
      {"file.db", "no scheme", ""},
      {"/abs/file.db", "no scheme", ""},
      {"sqlite:x.db", "no scheme", ""},
      {"sqlite:///x.db?mode=ro", "query", ""},
      {"sqlite:///x.db#frag", "query", ""},
      {"postgres://u:secret@h/db", "\"postgres\"", "secret"},
      {"postgresql://admin:hunter2@db.internal:5432/passgate", "\"postgresql\"", "hunter2"},
      {"mysql://root:pa55word@localhost/x", "\"mysql\"", "pa55word"},
      {"u:secret@h://db", "no scheme", "secret"},  // not a scheme: never echoed
      {"://x.db", "no scheme", ""},
  };
  for (const Case& c : kCases) {
    absl::StatusOr<std::string> path = SqlitePathFromUrl(c.url);
    ASSERT_FALSE(path.ok()) << c.url << " gave " << *path;
    EXPECT_EQ(path.status().code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(path.status().message(), HasSubstr(c.message_part)) << c.url;
    if (!c.secret.empty()) {
      EXPECT_THAT(path.status().message(), Not(HasSubstr(c.secret))) << c.url;
      EXPECT_THAT(path.status().message(), Not(HasSubstr(c.url))) << c.url;
    }
  }
}

}  // namespace
TEST(DatabaseBackendFromUrlTest, SelectsTheBackendByScheme) {
  struct Case {
    std::string_view url;
    DatabaseBackend backend;
  };
  static constexpr Case kCases[] = {
      {"sqlite:///var/lib/passgate.db", DatabaseBackend::kSqlite},
      {"SQLite://var/passgate.db", DatabaseBackend::kSqlite},
      {"postgres://passgate@127.0.0.1:5432/passgate", DatabaseBackend::kPostgres},
      {"postgresql://u:p@db.internal/passgate?sslmode=verify-full", DatabaseBackend::kPostgres},
      {"POSTGRES://h/d", DatabaseBackend::kPostgres},
      {"postgres:///passgate?host=/run/postgresql", DatabaseBackend::kPostgres},
  };
  for (const Case& c : kCases) {
    absl::StatusOr<DatabaseBackend> backend = DatabaseBackendFromUrl(c.url);
    ASSERT_TRUE(backend.ok()) << c.url << ": " << backend.status();
    EXPECT_EQ(*backend, c.backend) << c.url;
  }
  EXPECT_EQ(PostgresConnectionUri("POSTGRESQL://h/d"), "postgresql://h/d");
}

TEST(DatabaseBackendFromUrlTest, RejectsBadUrlsWithoutEchoingThem) {
  struct Case {
    std::string_view url;
    std::string_view message_part;
    std::string_view secret;
  };
  static constexpr Case kCases[] = {
      {"mysql://root:pa55word@localhost/x", "\"mysql\"", "pa55word"},
      {"postgres://u:hunter2@h/d%zz", "not a valid PostgreSQL", "hunter2"},
      {"postgres://u:hunter2@h/d?nonsense_option=1", "not a valid PostgreSQL", "hunter2"},
      {"sqlite://", "empty path", ""},
      {"u:hunter2@h://db", "no scheme", "hunter2"},
  };
  for (const Case& c : kCases) {
    absl::StatusOr<DatabaseBackend> backend = DatabaseBackendFromUrl(c.url);
    ASSERT_FALSE(backend.ok()) << c.url;
    EXPECT_EQ(backend.status().code(), absl::StatusCode::kInvalidArgument) << c.url;
    EXPECT_THAT(backend.status().message(), HasSubstr(c.message_part)) << c.url;
    if (!c.secret.empty()) {
      EXPECT_THAT(backend.status().message(), Not(HasSubstr(c.secret))) << c.url;
    }
  }
}

}  // namespace passgate::storage
