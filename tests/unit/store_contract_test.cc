// The Store contract, run against every implementation: the SQLite store on a temporary file,
// the PostgreSQL store on a scratch database of the test run's throwaway server, and the
// in-memory fake that other unit tests rely on behaving the same way. Then the races two
// writers (replicas) could run into, on both SQL backends, and backend-only behaviour.

#include <libpq-fe.h>
#include <sys/stat.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "SQLiteCpp/Database.h"
#include "SQLiteCpp/Statement.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/memory_store.h"
#include "storage/postgres_schema.h"
#include "storage/postgres_store.h"
#include "storage/records.h"
#include "storage/sqlite_store.h"
#include "storage/store.h"
#include "storage/user_page_sql.h"
#include "tests/scaleout/test_servers.h"

namespace passgate::storage {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ScratchDir is a fresh directory under the test temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "passgate-store-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp failed for " << pattern;
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string File(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// At is a whole-second instant in late 2023; tests speak in seconds after it.
TimePoint At(int64_t seconds) { return TimePoint(std::chrono::seconds(1'700'000'000 + seconds)); }

// Uuid gives a canonical lowercase UUID whose order follows `n`.
std::string Uuid(int n) { return absl::StrFormat("00000000-0000-4000-8000-%012d", n); }

User MakeUser(std::string id, std::vector<Email> emails, int64_t created,
              std::optional<std::string> username = std::nullopt) {
  User user;
  user.id = std::move(id);
  user.emails = std::move(emails);
  user.username = std::move(username);
  user.created_at = At(created);
  user.updated_at = At(created);
  return user;
}

Session MakeSession(std::string id, std::string user_id, int64_t created, int64_t expires) {
  Session session;
  session.id = std::move(id);
  session.user_id = std::move(user_id);
  session.created_at = At(created);
  session.expires_at = At(expires);
  session.ip = "203.0.113.7";
  session.user_agent = "curl/8.0";
  return session;
}

PasswordCredential MakePassword(std::string user_id, std::string hash, int64_t at) {
  return PasswordCredential{std::move(user_id), std::move(hash), At(at), At(at)};
}

StoredKey MakeKey(std::string id, int64_t created, std::string ciphertext) {
  return StoredKey{std::move(id), "EdDSA", std::move(ciphertext), At(created), At(created)};
}

// Value returns the value of `result`, recording a failure (and returning T{}) when it is an
// error, so a test reads as a sequence of calls rather than of status checks.
template <typename T>
T Value(absl::StatusOr<T> result) {
  EXPECT_TRUE(result.ok()) << result.status();
  if (!result.ok()) return T{};
  return *std::move(result);
}

std::vector<std::string> Ids(const std::vector<Session>& sessions) {
  std::vector<std::string> ids;
  for (const Session& session : sessions) ids.push_back(session.id);
  return ids;
}

std::vector<std::string> Ids(const std::vector<StoredKey>& keys) {
  std::vector<std::string> ids;
  for (const StoredKey& key : keys) ids.push_back(key.id);
  return ids;
}

std::vector<std::string> Ids(const std::vector<User>& users) {
  std::vector<std::string> ids;
  for (const User& user : users) ids.push_back(user.id);
  return ids;
}

std::vector<std::string> Ids(const std::vector<UserListEntry>& page) {
  std::vector<std::string> ids;
  for (const UserListEntry& entry : page) ids.push_back(entry.user.id);
  return ids;
}

void ExpectSameSession(const Session& actual, const Session& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.user_id, expected.user_id);
  EXPECT_EQ(actual.created_at, expected.created_at);
  EXPECT_EQ(actual.expires_at, expected.expires_at);
  EXPECT_EQ(actual.ip, expected.ip);
  EXPECT_EQ(actual.user_agent, expected.user_agent);
}

enum class Backend { kSqlite, kPostgres, kMemory };

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kSqlite:
      return "Sqlite";
    case Backend::kPostgres:
      return "Postgres";
    case Backend::kMemory:
      return "Memory";
  }
  return "Unknown";
}

PostgresOptions PostgresOptionsFor(const std::string& url) {
  PostgresOptions options;
  options.connection.url = url;
  options.connection.max_connections = 4;
  return options;
}

// SqlDatabase is one database of a SQL backend that several stores (replicas) can open.
class SqlDatabase {
 public:
  explicit SqlDatabase(Backend backend) : backend_(backend) {
    if (backend_ == Backend::kPostgres) postgres_ = std::make_unique<::passgate::testing::ScratchPostgresDatabase>();
  }

  absl::StatusOr<std::unique_ptr<Store>> Open() const {
    if (backend_ == Backend::kPostgres) return OpenPostgresStore(PostgresOptionsFor(postgres_->url()));
    SqliteOptions options;
    options.path = dir_.File("passgate.db");
    return OpenSqliteStore(options);
  }

  const std::string& postgres_url() const { return postgres_->url(); }

 private:
  Backend backend_;
  ScratchDir dir_;
  std::unique_ptr<::passgate::testing::ScratchPostgresDatabase> postgres_;
};

class StoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kMemory) {
      store_ = NewMemoryStore();
      return;
    }
    database_ = std::make_unique<SqlDatabase>(GetParam());
    absl::StatusOr<std::unique_ptr<Store>> store = database_->Open();
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  // AddUser creates a user with one primary address `<id>@example.com`.
  void AddUser(const std::string& id, int64_t created = 0) {
    ASSERT_TRUE(
        store_->CreateUser(MakeUser(id, {{id + "@example.com", true, true}}, created), std::nullopt)
            .ok());
  }

  std::unique_ptr<SqlDatabase> database_;
  std::unique_ptr<Store> store_;  // declared last: closed before its database is removed
};

TEST_P(StoreContractTest, FindUserReturnsUserWithEmailsPrimaryFirst) {
  const User user = MakeUser(Uuid(1),
                             {{"Bob@example.com", false, false},
                              {"Carol@Example.COM", true, true},
                              {"alice@example.com", false, true}},
                             10, "carol");
  ASSERT_TRUE(store_->CreateUser(user, std::nullopt).ok());

  const std::optional<User> found = Value(store_->FindUser(Uuid(1)));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, Uuid(1));
  EXPECT_EQ(found->username, "carol");
  EXPECT_EQ(found->created_at, At(10));
  EXPECT_EQ(found->updated_at, At(10));
  // Addresses keep the case they were given in and sort ignoring it.
  EXPECT_THAT(found->emails, ElementsAre(Email{"Carol@Example.COM", true, true},
                                         Email{"alice@example.com", false, true},
                                         Email{"Bob@example.com", false, false}));
  ASSERT_NE(found->PrimaryEmail(), nullptr);
  EXPECT_EQ(found->PrimaryEmail()->address, "Carol@Example.COM");
}

TEST_P(StoreContractTest, FindUserWithoutUsernameOrEmails) {
  ASSERT_TRUE(store_->CreateUser(MakeUser(Uuid(1), {}, 0), std::nullopt).ok());
  const std::optional<User> found = Value(store_->FindUser(Uuid(1)));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->username, std::nullopt);
  EXPECT_THAT(found->emails, IsEmpty());
}

TEST_P(StoreContractTest, FindUserReturnsNulloptForUnknownId) {
  EXPECT_EQ(Value(store_->FindUser(Uuid(404))), std::nullopt);
}

TEST_P(StoreContractTest, DuplicateUserIdIsAlreadyExistsAndWritesNothing) {
  AddUser(Uuid(1));
  const absl::Status status =
      store_->CreateUser(MakeUser(Uuid(1), {{"new@example.com", true, false}}, 5),
                         MakePassword(Uuid(1), "$argon2id$new", 5));
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;

  // Neither the email nor the password of the rejected user was kept.
  EXPECT_EQ(Value(store_->FindPassword(Uuid(1))), std::nullopt);
  const std::optional<User> original = Value(store_->FindUser(Uuid(1)));
  ASSERT_TRUE(original.has_value());
  EXPECT_THAT(original->emails, ElementsAre(Email{Uuid(1) + "@example.com", true, true}));
  EXPECT_TRUE(
      store_->CreateUser(MakeUser(Uuid(2), {{"new@example.com", true, false}}, 6), std::nullopt)
          .ok());
}

TEST_P(StoreContractTest, DuplicateEmailIsAlreadyExistsIgnoringCase) {
  ASSERT_TRUE(
      store_->CreateUser(MakeUser(Uuid(1), {{"Alice@Example.com", true, true}}, 0), std::nullopt)
          .ok());
  static constexpr std::string_view kTaken[] = {"Alice@Example.com", "alice@example.com",
                                                "ALICE@EXAMPLE.COM", "aLiCe@eXaMpLe.CoM"};
  for (std::string_view address : kTaken) {
    const absl::Status status = store_->CreateUser(
        MakeUser(Uuid(2),
                 {{"other@example.com", true, false}, {std::string(address), false, false}}, 1),
        MakePassword(Uuid(2), "$argon2id$x", 1));
    EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << address << ": " << status;
    EXPECT_EQ(Value(store_->FindUser(Uuid(2))), std::nullopt) << address;
    EXPECT_EQ(Value(store_->FindPassword(Uuid(2))), std::nullopt) << address;
  }
  // The rejected user's other address was rolled back with it.
  EXPECT_TRUE(
      store_->CreateUser(MakeUser(Uuid(3), {{"other@example.com", true, false}}, 2), std::nullopt)
          .ok());
}

TEST_P(StoreContractTest, SameEmailTwiceInOneUserIsAlreadyExists) {
  const absl::Status status = store_->CreateUser(
      MakeUser(Uuid(1), {{"a@example.com", true, false}, {"A@example.com", false, false}}, 0),
      std::nullopt);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  EXPECT_EQ(Value(store_->FindUser(Uuid(1))), std::nullopt);
}

TEST_P(StoreContractTest, DuplicateUsernameIsAlreadyExists) {
  ASSERT_TRUE(store_->CreateUser(MakeUser(Uuid(1), {}, 0, "alice"), std::nullopt).ok());
  const absl::Status status = store_->CreateUser(MakeUser(Uuid(2), {}, 1, "alice"), std::nullopt);
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  // Users without a username do not collide with each other.
  EXPECT_TRUE(store_->CreateUser(MakeUser(Uuid(3), {}, 2), std::nullopt).ok());
  EXPECT_TRUE(store_->CreateUser(MakeUser(Uuid(4), {}, 3), std::nullopt).ok());
}

TEST_P(StoreContractTest, CreateUserWithPasswordStoresCredential) {
  ASSERT_TRUE(store_
                  ->CreateUser(MakeUser(Uuid(1), {{"a@example.com", true, false}}, 0),
                               MakePassword(Uuid(1), "$argon2id$v=19$m=65536,t=3,p=4$abc$def", 7))
                  .ok());
  const std::optional<PasswordCredential> password = Value(store_->FindPassword(Uuid(1)));
  ASSERT_TRUE(password.has_value());
  EXPECT_EQ(password->user_id, Uuid(1));
  EXPECT_EQ(password->hash, "$argon2id$v=19$m=65536,t=3,p=4$abc$def");
  EXPECT_EQ(password->created_at, At(7));
  EXPECT_EQ(password->updated_at, At(7));
}

TEST_P(StoreContractTest, CreateUserRejectsPasswordOfAnotherUser) {
  const absl::Status status =
      store_->CreateUser(MakeUser(Uuid(1), {}, 0), MakePassword(Uuid(2), "$argon2id$x", 0));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(Value(store_->FindUser(Uuid(1))), std::nullopt);
}

Store::NewUser Entry(int n, std::string email, std::optional<std::string> username = std::nullopt,
                     bool with_password = true) {
  Store::NewUser entry{MakeUser(Uuid(n), {{std::move(email), true, false}}, n, std::move(username)),
                       std::nullopt};
  if (with_password) entry.password = MakePassword(Uuid(n), "$argon2id$hash" + std::to_string(n), n);
  return entry;
}

std::vector<absl::StatusCode> Codes(const std::vector<absl::Status>& results) {
  std::vector<absl::StatusCode> codes;
  for (const absl::Status& status : results) codes.push_back(status.code());
  return codes;
}

TEST_P(StoreContractTest, CreateUsersCreatesABatch) {
  std::vector<Store::NewUser> batch;
  for (int n = 1; n <= 50; ++n) {
    batch.push_back(Entry(n, absl::StrCat("user", n, "@example.com"), std::nullopt, n % 2 == 0));
  }
  const std::vector<absl::Status> results = Value(store_->CreateUsers(batch));
  ASSERT_EQ(results.size(), 50u);
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(Value(store_->ListUsers()).size(), 50u);
  const std::optional<User> seven = Value(store_->FindUser(Uuid(7)));
  ASSERT_TRUE(seven.has_value());
  EXPECT_THAT(seven->emails, ElementsAre(Email{"user7@example.com", true, false}));
  EXPECT_EQ(seven->created_at, At(7));
  EXPECT_FALSE(Value(store_->FindPassword(Uuid(7))).has_value());
  const std::optional<PasswordCredential> eight = Value(store_->FindPassword(Uuid(8)));
  ASSERT_TRUE(eight.has_value());
  EXPECT_EQ(eight->hash, "$argon2id$hash8");
  EXPECT_EQ(eight->created_at, At(8));
  EXPECT_TRUE(Value(store_->CreateUsers({})).empty());
}

TEST_P(StoreContractTest, CreateUsersSkipsConflictsInTheMiddleAndCommitsTheRest) {
  ASSERT_TRUE(store_->CreateUser(MakeUser(Uuid(100), {{"taken@example.com", true, false}}, 0, "taken"),
                                 std::nullopt)
                  .ok());
  std::vector<Store::NewUser> batch = {
      Entry(1, "one@example.com"),
      Entry(100, "fresh@example.com"),             // id taken by a stored user
      Entry(2, "TAKEN@example.com"),               // email taken, ignoring case
      Entry(3, "three@example.com", "taken"),      // username taken
      Entry(4, "four@example.com", "four"),
      Entry(1, "again@example.com"),               // id of an earlier entry of the batch
      Entry(5, "ONE@example.com"),                 // email of an earlier entry of the batch
      Entry(6, "six@example.com", "four"),         // username of an earlier entry
      Entry(7, "seven@example.com"),
  };
  // Another user's password credential: refused alone.
  batch.push_back(Entry(8, "eight@example.com"));
  batch.back().password->user_id = Uuid(9);

  const std::vector<absl::Status> results = Value(store_->CreateUsers(batch));
  using absl::StatusCode;
  EXPECT_THAT(Codes(results),
              ElementsAre(StatusCode::kOk, StatusCode::kAlreadyExists, StatusCode::kAlreadyExists,
                          StatusCode::kAlreadyExists, StatusCode::kOk, StatusCode::kAlreadyExists,
                          StatusCode::kAlreadyExists, StatusCode::kAlreadyExists, StatusCode::kOk,
                          StatusCode::kInvalidArgument));

  EXPECT_THAT(Ids(Value(store_->ListUsers())), ElementsAre(Uuid(100), Uuid(1), Uuid(4), Uuid(7)));
  // A skipped entry left nothing behind: not its emails, username or password.
  EXPECT_THAT(Value(store_->FindUser(Uuid(100)))->emails,
              ElementsAre(Email{"taken@example.com", true, false}));
  EXPECT_FALSE(Value(store_->FindPassword(Uuid(100))).has_value());
  EXPECT_THAT(Value(store_->FindUser(Uuid(1)))->emails,
              ElementsAre(Email{"one@example.com", true, false}));
  EXPECT_EQ(Value(store_->FindPassword(Uuid(1)))->hash, "$argon2id$hash1");
  for (int n : {2, 3, 5, 6, 8}) {
    EXPECT_FALSE(Value(store_->FindUser(Uuid(n))).has_value()) << n;
    EXPECT_FALSE(Value(store_->FindPassword(Uuid(n))).has_value()) << n;
  }
  int next = 200;
  for (const char* freed : {"fresh@example.com", "again@example.com", "three@example.com",
                            "six@example.com", "eight@example.com"}) {
    EXPECT_TRUE(
        store_->CreateUser(MakeUser(Uuid(next++), {{freed, true, false}}, 9), std::nullopt).ok())
        << freed << " was left behind by a skipped entry";
  }
}

TEST_P(StoreContractTest, CreateUsersTwiceSkipsEveryEntryTheSecondTime) {
  std::vector<Store::NewUser> batch;
  for (int n = 1; n <= 20; ++n) batch.push_back(Entry(n, absl::StrCat("u", n, "@example.com")));
  for (const absl::Status& status : Value(store_->CreateUsers(batch))) EXPECT_TRUE(status.ok());
  for (const absl::Status& status : Value(store_->CreateUsers(batch))) {
    EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  }
  EXPECT_EQ(Value(store_->ListUsers()).size(), 20u);
}

TEST_P(StoreContractTest, BulkLoadKeepsEveryMethodWorkingAndEndsCleanly) {
  ASSERT_TRUE(store_->BeginBulkLoad().ok());
  std::vector<Store::NewUser> batch;
  for (int n = 1; n <= 20; ++n) batch.push_back(Entry(n, absl::StrCat("u", n, "@example.com")));
  for (const absl::Status& status : Value(store_->CreateUsers(batch))) EXPECT_TRUE(status.ok());
  EXPECT_EQ(Value(store_->FindPassword(Uuid(3)))->hash, "$argon2id$hash3");
  EXPECT_TRUE(store_->CreateUser(MakeUser(Uuid(21), {{"x@example.com", true, false}}, 21),
                                 std::nullopt)
                  .ok());
  ASSERT_TRUE(store_->EndBulkLoad().ok());
  EXPECT_EQ(Value(store_->ListUsers()).size(), 21u);
  // A second import after the first.
  ASSERT_TRUE(store_->BeginBulkLoad().ok());
  EXPECT_EQ(Value(store_->CreateUsers(batch))[0].code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(store_->EndBulkLoad().ok());
}

TEST_P(StoreContractTest, FindPasswordReturnsNulloptWithoutCredential) {
  AddUser(Uuid(1));
  EXPECT_EQ(Value(store_->FindPassword(Uuid(1))), std::nullopt);
  EXPECT_EQ(Value(store_->FindPassword(Uuid(404))), std::nullopt);
}

TEST_P(StoreContractTest, SetPasswordCreatesThenReplaces) {
  AddUser(Uuid(1));
  EXPECT_TRUE(Value(store_->SetPassword(Uuid(1), "$argon2id$first", At(10))));
  EXPECT_FALSE(Value(store_->SetPassword(Uuid(1), "$2b$12$second", At(20))));

  const std::optional<PasswordCredential> password = Value(store_->FindPassword(Uuid(1)));
  ASSERT_TRUE(password.has_value());
  EXPECT_EQ(password->hash, "$2b$12$second");
  EXPECT_EQ(password->created_at, At(10));
  EXPECT_EQ(password->updated_at, At(20));
}

TEST_P(StoreContractTest, SetPasswordForUnknownUserIsNotFound) {
  const absl::StatusOr<bool> created = store_->SetPassword(Uuid(404), "$argon2id$x", At(0));
  EXPECT_EQ(created.status().code(), absl::StatusCode::kNotFound) << created.status();
  EXPECT_EQ(Value(store_->FindPassword(Uuid(404))), std::nullopt);
}

TEST_P(StoreContractTest, ReplacePasswordIfUnchanged) {
  AddUser(Uuid(1));
  ASSERT_TRUE(Value(store_->SetPassword(Uuid(1), "$argon2id$old", At(10))));

  // A stale expectation (the password changed meanwhile) must not overwrite.
  EXPECT_FALSE(Value(
      store_->ReplacePasswordIfUnchanged(Uuid(1), "$argon2id$stale", "$argon2id$rehash", At(20))));
  std::optional<PasswordCredential> password = Value(store_->FindPassword(Uuid(1)));
  ASSERT_TRUE(password.has_value());
  EXPECT_EQ(password->hash, "$argon2id$old");
  EXPECT_EQ(password->updated_at, At(10));

  EXPECT_TRUE(Value(
      store_->ReplacePasswordIfUnchanged(Uuid(1), "$argon2id$old", "$argon2id$rehash", At(30))));
  password = Value(store_->FindPassword(Uuid(1)));
  ASSERT_TRUE(password.has_value());
  EXPECT_EQ(password->hash, "$argon2id$rehash");
  EXPECT_EQ(password->created_at, At(10));
  EXPECT_EQ(password->updated_at, At(30));

  // The comparison is exact, and nothing is created where there was no credential.
  EXPECT_FALSE(Value(
      store_->ReplacePasswordIfUnchanged(Uuid(1), "$ARGON2ID$REHASH", "$argon2id$x", At(40))));
  AddUser(Uuid(2));
  EXPECT_FALSE(Value(store_->ReplacePasswordIfUnchanged(Uuid(2), "", "$argon2id$x", At(40))));
  EXPECT_EQ(Value(store_->FindPassword(Uuid(2))), std::nullopt);
  EXPECT_FALSE(Value(store_->ReplacePasswordIfUnchanged(Uuid(404), "", "$argon2id$x", At(40))));
}

TEST_P(StoreContractTest, DeleteUserRemovesEverythingItOwns) {
  ASSERT_TRUE(store_
                  ->CreateUser(MakeUser(Uuid(1), {{"gone@example.com", true, true}}, 0),
                               MakePassword(Uuid(1), "$argon2id$x", 0))
                  .ok());
  AddUser(Uuid(2));
  ASSERT_TRUE(Value(store_->SetPassword(Uuid(2), "$argon2id$keep", At(0))));
  ASSERT_TRUE(store_->CreateSession(MakeSession("s1", Uuid(1), 1, 1000), 5, At(1)).ok());
  ASSERT_TRUE(store_->CreateSession(MakeSession("s2", Uuid(1), 2, 1000), 5, At(2)).ok());
  ASSERT_TRUE(store_->CreateSession(MakeSession("s3", Uuid(2), 3, 1000), 5, At(3)).ok());

  EXPECT_TRUE(Value(store_->DeleteUser(Uuid(1))));

  EXPECT_EQ(Value(store_->FindUser(Uuid(1))), std::nullopt);
  EXPECT_EQ(Value(store_->FindPassword(Uuid(1))), std::nullopt);
  EXPECT_EQ(Value(store_->FindSession("s1")), std::nullopt);
  EXPECT_EQ(Value(store_->FindSession("s2")), std::nullopt);
  EXPECT_THAT(Value(store_->ListSessions(Uuid(1))), IsEmpty());
  // The address is free again, and the other user kept everything.
  EXPECT_TRUE(
      store_->CreateUser(MakeUser(Uuid(3), {{"GONE@example.com", true, false}}, 4), std::nullopt)
          .ok());
  EXPECT_NE(Value(store_->FindUser(Uuid(2))), std::nullopt);
  EXPECT_NE(Value(store_->FindPassword(Uuid(2))), std::nullopt);
  EXPECT_THAT(Ids(Value(store_->ListSessions(Uuid(2)))), ElementsAre("s3"));
  EXPECT_THAT(Ids(Value(store_->ListUsers())), ElementsAre(Uuid(2), Uuid(3)));

  EXPECT_FALSE(Value(store_->DeleteUser(Uuid(1))));
}

TEST_P(StoreContractTest, CreateSessionKeepsOnlyTheNewestLimit) {
  AddUser(Uuid(1));
  for (int i = 1; i <= 6; ++i) {
    ASSERT_TRUE(
        store_->CreateSession(MakeSession(absl::StrCat("s", i), Uuid(1), i, 1000), 5, At(i)).ok())
        << i;
  }
  EXPECT_THAT(Ids(Value(store_->ListSessions(Uuid(1)))), ElementsAre("s6", "s5", "s4", "s3", "s2"));
  EXPECT_EQ(Value(store_->FindSession("s1")), std::nullopt);

  // A lower limit trims further on the next login.
  ASSERT_TRUE(store_->CreateSession(MakeSession("s7", Uuid(1), 7, 1000), 2, At(7)).ok());
  EXPECT_THAT(Ids(Value(store_->ListSessions(Uuid(1)))), ElementsAre("s7", "s6"));
}

TEST_P(StoreContractTest, CreateSessionDeletesTheUsersExpiredSessions) {
  AddUser(Uuid(1));
  AddUser(Uuid(2));
  ASSERT_TRUE(store_->CreateSession(MakeSession("expired", Uuid(1), 0, 50), 5, At(0)).ok());
  ASSERT_TRUE(store_->CreateSession(MakeSession("expires-now", Uuid(1), 1, 100), 5, At(1)).ok());
  ASSERT_TRUE(store_->CreateSession(MakeSession("live", Uuid(1), 2, 500), 5, At(2)).ok());
  ASSERT_TRUE(store_->CreateSession(MakeSession("other", Uuid(2), 3, 50), 5, At(3)).ok());

  // At 100 "expired" is past and "expires-now" is at its expiry: both go, though the user is
  // under the limit. Another user's expired session is left for that user's next login.
  ASSERT_TRUE(store_->CreateSession(MakeSession("new", Uuid(1), 100, 600), 5, At(100)).ok());
  EXPECT_THAT(Ids(Value(store_->ListSessions(Uuid(1)))), ElementsAre("new", "live"));
  EXPECT_NE(Value(store_->FindSession("other")), std::nullopt);
}

TEST_P(StoreContractTest, CreateSessionBreaksCreatedAtTiesByInsertionOrder) {
  AddUser(Uuid(1));
  for (std::string_view id : {"b", "c", "a"}) {
    ASSERT_TRUE(
        store_->CreateSession(MakeSession(std::string(id), Uuid(1), 10, 1000), 2, At(10)).ok());
  }
  // "b" came first, so it is the oldest and dropped, whatever the ids sort like.
  EXPECT_THAT(Ids(Value(store_->ListSessions(Uuid(1)))), ElementsAre("a", "c"));
}

TEST_P(StoreContractTest, CreateSessionForUnknownUserIsNotFound) {
  const absl::Status status = store_->CreateSession(MakeSession("s1", Uuid(404), 0, 100), 5, At(0));
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_EQ(Value(store_->FindSession("s1")), std::nullopt);
}

TEST_P(StoreContractTest, CreateSessionWithDuplicateIdIsAlreadyExists) {
  AddUser(Uuid(1));
  AddUser(Uuid(2));
  const Session original = MakeSession("s1", Uuid(1), 0, 100);
  ASSERT_TRUE(store_->CreateSession(original, 5, At(0)).ok());
  const absl::Status status = store_->CreateSession(MakeSession("s1", Uuid(2), 1, 200), 5, At(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  const std::optional<Session> found = Value(store_->FindSession("s1"));
  ASSERT_TRUE(found.has_value());
  ExpectSameSession(*found, original);
}

TEST_P(StoreContractTest, CreateSessionRejectsZeroLimit) {
  AddUser(Uuid(1));
  const absl::Status status = store_->CreateSession(MakeSession("s1", Uuid(1), 0, 100), 0, At(0));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

TEST_P(StoreContractTest, FindSessionReturnsTheRowEvenWhenExpired) {
  AddUser(Uuid(1));
  Session session = MakeSession("s1", Uuid(1), 0, 100);
  session.ip = "2001:db8::1";
  session.user_agent = "Mozilla/5.0 (X11; Linux x86_64) \xc3\xa9";
  ASSERT_TRUE(store_->CreateSession(session, 5, At(0)).ok());

  // The store does not judge expiry on reads; that is the session validator's job.
  const std::optional<Session> found = Value(store_->FindSession("s1"));
  ASSERT_TRUE(found.has_value());
  ExpectSameSession(*found, session);
  EXPECT_EQ(Value(store_->FindSession("s404")), std::nullopt);
}

TEST_P(StoreContractTest, DeleteSessionReportsWhetherItExisted) {
  AddUser(Uuid(1));
  ASSERT_TRUE(store_->CreateSession(MakeSession("s1", Uuid(1), 0, 100), 5, At(0)).ok());
  ASSERT_TRUE(store_->CreateSession(MakeSession("s2", Uuid(1), 1, 100), 5, At(1)).ok());
  EXPECT_TRUE(Value(store_->DeleteSession("s1")));
  EXPECT_FALSE(Value(store_->DeleteSession("s1")));
  EXPECT_EQ(Value(store_->FindSession("s1")), std::nullopt);
  EXPECT_THAT(Ids(Value(store_->ListSessions(Uuid(1)))), ElementsAre("s2"));
}

TEST_P(StoreContractTest, ListSessionsIsNewestFirstAndOnlyTheUsers) {
  AddUser(Uuid(1));
  AddUser(Uuid(2));
  ASSERT_TRUE(store_->CreateSession(MakeSession("mid", Uuid(1), 20, 1000), 5, At(30)).ok());
  ASSERT_TRUE(store_->CreateSession(MakeSession("new", Uuid(1), 30, 1000), 5, At(30)).ok());
  ASSERT_TRUE(store_->CreateSession(MakeSession("old", Uuid(1), 10, 1000), 5, At(30)).ok());
  ASSERT_TRUE(store_->CreateSession(MakeSession("theirs", Uuid(2), 40, 1000), 5, At(40)).ok());
  EXPECT_THAT(Ids(Value(store_->ListSessions(Uuid(1)))), ElementsAre("new", "mid", "old"));
  EXPECT_THAT(Value(store_->ListSessions(Uuid(404))), IsEmpty());
}

TEST_P(StoreContractTest, ListKeysIsOldestFirstThenInsertionOrder) {
  const std::string binary("\x00\x01\xff\xfe nonce\x00tail", 14);
  ASSERT_TRUE(store_->AddKey(MakeKey("k-b", 10, binary)).ok());
  ASSERT_TRUE(store_->AddKey(MakeKey("k-old", 5, "older")).ok());
  ASSERT_TRUE(store_->AddKey(MakeKey("k-c", 10, "")).ok());
  ASSERT_TRUE(store_->AddKey(MakeKey("k-a", 10, "third at 10")).ok());  // id sorts first

  const std::vector<StoredKey> keys = Value(store_->ListKeys());
  EXPECT_THAT(Ids(keys), ElementsAre("k-old", "k-b", "k-c", "k-a"));
  ASSERT_EQ(keys.size(), 4u);
  EXPECT_EQ(keys[1].ciphertext, binary);
  EXPECT_EQ(keys[1].algorithm, "EdDSA");
  EXPECT_EQ(keys[1].created_at, At(10));
  EXPECT_EQ(keys[2].ciphertext, "");
}

TEST_P(StoreContractTest, AddKeyWithDuplicateIdIsAlreadyExists) {
  EXPECT_THAT(Value(store_->ListKeys()), IsEmpty());
  ASSERT_TRUE(store_->AddKey(MakeKey("k1", 0, "first")).ok());
  const absl::Status status = store_->AddKey(MakeKey("k1", 1, "second"));
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists) << status;
  const std::vector<StoredKey> keys = Value(store_->ListKeys());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].ciphertext, "first");
}

TEST_P(StoreContractTest, ListUsersIsOrderedByCreatedAtThenIdWithEmails) {
  EXPECT_THAT(Value(store_->ListUsers()), IsEmpty());
  ASSERT_TRUE(
      store_
          ->CreateUser(
              MakeUser(Uuid(3),
                       {{"z@example.com", false, false}, {"three@example.com", true, true}}, 20),
              std::nullopt)
          .ok());
  ASSERT_TRUE(store_->CreateUser(MakeUser(Uuid(2), {}, 10), std::nullopt).ok());
  ASSERT_TRUE(
      store_->CreateUser(MakeUser(Uuid(1), {{"one@example.com", true, false}}, 20), std::nullopt)
          .ok());

  const std::vector<User> users = Value(store_->ListUsers());
  EXPECT_THAT(Ids(users), ElementsAre(Uuid(2), Uuid(1), Uuid(3)));
  ASSERT_EQ(users.size(), 3u);
  EXPECT_THAT(users[0].emails, IsEmpty());
  EXPECT_THAT(users[1].emails, ElementsAre(Email{"one@example.com", true, false}));
  EXPECT_THAT(users[2].emails, ElementsAre(Email{"three@example.com", true, true},
                                           Email{"z@example.com", false, false}));
}

// AddPagingUsers: ids 1..5 created at 20, 10, 20, 30, 10 (ties broken by id).
// Listing order: 2, 5, 1, 3, 4.
void AddPagingUsers(Store& store) {
  const int64_t created[] = {20, 10, 20, 30, 10};
  for (int n = 1; n <= 5; ++n) {
    ASSERT_TRUE(store
                    .CreateUser(MakeUser(Uuid(n),
                                         {{absl::StrCat("b", n, "@example.com"), false, false},
                                          {absl::StrCat("A", n, "@example.com"), true, true}},
                                         created[n - 1]),
                                n % 2 == 1 ? std::optional(MakePassword(Uuid(n), "$argon2id$h", 40))
                                           : std::nullopt)
                    .ok());
  }
}

TEST_P(StoreContractTest, ListUsersPageWalksTheListingByKeysetBothWays) {
  AddPagingUsers(*store_);
  UserQuery query;
  query.limit = 2;
  std::vector<std::string> seen;
  for (;;) {
    const std::vector<UserListEntry> page = Value(store_->ListUsersPage(query));
    if (page.empty()) break;
    ASSERT_LE(page.size(), 2u);
    for (const UserListEntry& entry : page) seen.push_back(entry.user.id);
    query.after = UserCursor{page.back().user.created_at, page.back().user.id};
  }
  EXPECT_THAT(seen, ElementsAre(Uuid(2), Uuid(5), Uuid(1), Uuid(3), Uuid(4)));

  query = UserQuery{};
  query.descending = true;
  query.limit = 3;
  EXPECT_THAT(Ids(Value(store_->ListUsersPage(query))), ElementsAre(Uuid(4), Uuid(3), Uuid(1)));
  query.after = UserCursor{At(20), Uuid(1)};
  EXPECT_THAT(Ids(Value(store_->ListUsersPage(query))), ElementsAre(Uuid(5), Uuid(2)));
}

TEST_P(StoreContractTest, ListUsersPageCarriesEmailsAndPasswordsOnlyWhenAsked) {
  AddPagingUsers(*store_);
  UserQuery query;
  query.limit = 10;
  std::vector<UserListEntry> page = Value(store_->ListUsersPage(query));
  ASSERT_EQ(page.size(), 5u);
  for (const UserListEntry& entry : page) {
    EXPECT_FALSE(entry.password.has_value()) << entry.user.id;
    ASSERT_EQ(entry.user.emails.size(), 2u);
    EXPECT_TRUE(entry.user.emails[0].is_primary);  // primary first, as FindUser
  }
  EXPECT_EQ(page[2].user.emails[0].address, "A1@example.com");
  EXPECT_EQ(page[2].user.created_at, At(20));

  query.with_passwords = true;
  page = Value(store_->ListUsersPage(query));
  ASSERT_EQ(page.size(), 5u);
  for (const UserListEntry& entry : page) {
    const bool has = entry.user.id == Uuid(1) || entry.user.id == Uuid(3) ||
                     entry.user.id == Uuid(5);
    ASSERT_EQ(entry.password.has_value(), has) << entry.user.id;
    if (has) {
      EXPECT_EQ(entry.password->hash, "$argon2id$h");
      EXPECT_EQ(entry.password->user_id, entry.user.id);
      EXPECT_EQ(entry.password->created_at, At(40));
    }
  }
}

TEST_P(StoreContractTest, ListUsersPageFiltersOffsetsAndCounts) {
  AddPagingUsers(*store_);
  UserQuery query;
  query.offset = 3;
  EXPECT_THAT(Ids(Value(store_->ListUsersPage(query))), ElementsAre(Uuid(3), Uuid(4)));
  EXPECT_EQ(Value(store_->CountUsers(query)), 5u);  // paging fields do not count

  query = UserQuery{};
  query.email = "b3@EXAMPLE.com";  // any of the user's addresses, ASCII case folded
  EXPECT_THAT(Ids(Value(store_->ListUsersPage(query))), ElementsAre(Uuid(3)));
  EXPECT_EQ(Value(store_->CountUsers(query)), 1u);
  query.email = "nobody@example.com";
  EXPECT_THAT(Value(store_->ListUsersPage(query)), IsEmpty());
  EXPECT_EQ(Value(store_->CountUsers(query)), 0u);

  query = UserQuery{};
  query.ids = {Uuid(4), Uuid(1), Uuid(9)};
  EXPECT_THAT(Ids(Value(store_->ListUsersPage(query))), ElementsAre(Uuid(1), Uuid(4)));
  EXPECT_EQ(Value(store_->CountUsers(query)), 2u);
  query.email = "a4@example.com";  // both filters must hold
  EXPECT_THAT(Ids(Value(store_->ListUsersPage(query))), ElementsAre(Uuid(4)));
  query.email = "a2@example.com";
  EXPECT_THAT(Value(store_->ListUsersPage(query)), IsEmpty());
}

TEST_P(StoreContractTest, ListUsersPageRejectsBadLimitsAndTreatsValuesAsData) {
  AddPagingUsers(*store_);
  UserQuery query;
  query.limit = 0;
  EXPECT_EQ(store_->ListUsersPage(query).status().code(), absl::StatusCode::kInvalidArgument);
  query.limit = kMaxUserPageSize + 1;
  EXPECT_EQ(store_->ListUsersPage(query).status().code(), absl::StatusCode::kInvalidArgument);
  query.limit = 10;
  query.ids.assign(kMaxUserQueryIds + 1, Uuid(1));
  EXPECT_EQ(store_->CountUsers(query).status().code(), absl::StatusCode::kInvalidArgument);
  // Filter values are bound, never spliced into SQL.
  query = UserQuery{};
  query.email = "x' OR '1'='1";
  query.ids = {"' OR 1=1 --"};
  EXPECT_THAT(Value(store_->ListUsersPage(query)), IsEmpty());
  EXPECT_EQ(Value(store_->CountUsers(query)), 0u);
}

TEST_P(StoreContractTest, DeletePasswordReportsWhetherThereWasOne) {
  ASSERT_TRUE(store_->CreateUser(MakeUser(Uuid(1), {}, 0), MakePassword(Uuid(1), "$argon2id$a", 0))
                  .ok());
  AddUser(Uuid(2));
  EXPECT_TRUE(Value(store_->DeletePassword(Uuid(1))));
  EXPECT_FALSE(Value(store_->FindPassword(Uuid(1))).has_value());
  EXPECT_FALSE(Value(store_->DeletePassword(Uuid(1))));
  EXPECT_FALSE(Value(store_->DeletePassword(Uuid(2))));  // never had one
  EXPECT_FALSE(Value(store_->DeletePassword(Uuid(9))));  // no such user
  EXPECT_TRUE(Value(store_->FindUser(Uuid(1))).has_value()) << "the user stays";
}

TEST_P(StoreContractTest, DeleteUserSessionsKeepsOnlyTheNamedOne) {
  AddUser(Uuid(1));
  AddUser(Uuid(2));
  for (int n = 1; n <= 3; ++n) {
    ASSERT_TRUE(store_->CreateSession(MakeSession(Uuid(10 + n), Uuid(1), n, 1000), 10, At(0)).ok());
  }
  ASSERT_TRUE(store_->CreateSession(MakeSession(Uuid(20), Uuid(2), 1, 1000), 10, At(0)).ok());

  EXPECT_EQ(Value(store_->DeleteUserSessions(Uuid(1), Uuid(12))), 2u);
  EXPECT_THAT(Ids(Value(store_->ListSessions(Uuid(1)))), ElementsAre(Uuid(12)));
  EXPECT_EQ(Value(store_->DeleteUserSessions(Uuid(1), "")), 1u);
  EXPECT_THAT(Value(store_->ListSessions(Uuid(1))), IsEmpty());
  EXPECT_EQ(Value(store_->DeleteUserSessions(Uuid(9), "")), 0u);  // unknown user
  EXPECT_EQ(Value(store_->ListSessions(Uuid(2))).size(), 1u);     // other users untouched
}

TEST_P(StoreContractTest, TimestampsKeepMicrosecondsAndDropNanoseconds) {
  using std::chrono::microseconds;
  using std::chrono::nanoseconds;
  User user = MakeUser(Uuid(1), {}, 0);
  user.created_at = At(1) + microseconds(123456) + nanoseconds(789);
  ASSERT_TRUE(store_->CreateUser(user, std::nullopt).ok());
  const std::optional<User> found = Value(store_->FindUser(Uuid(1)));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->created_at, At(1) + microseconds(123456));
}

TEST_P(StoreContractTest, EmailUniquenessFoldsAsciiOnly) {
  ASSERT_TRUE(store_->CreateUser(MakeUser(Uuid(1), {{"\xc3\x89mile@example.com", true, true}}, 0),
                                 std::nullopt)
                  .ok());
  // U+00C9 and U+00E9 are different addresses: only A-Z/a-z are folded (SQLite's NOCASE).
  EXPECT_TRUE(store_->CreateUser(MakeUser(Uuid(2), {{"\xc3\xa9mile@example.com", true, true}}, 1),
                                 std::nullopt)
                  .ok());
  EXPECT_EQ(store_->CreateUser(MakeUser(Uuid(3), {{"\xc3\x89MILE@EXAMPLE.COM", true, true}}, 2),
                               std::nullopt)
                .code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_P(StoreContractTest, IdsAreComparedBytewise) {
  ASSERT_TRUE(store_->CreateUser(MakeUser("ABC", {}, 0), std::nullopt).ok());
  ASSERT_TRUE(store_->CreateUser(MakeUser("abc", {}, 0), std::nullopt).ok());
  EXPECT_EQ(Value(store_->FindUser("ABC"))->id, "ABC");
  EXPECT_EQ(Value(store_->FindUser("abc"))->id, "abc");
  EXPECT_EQ(Value(store_->FindUser("Abc")), std::nullopt);
  // Bytewise order: upper case sorts before lower case, whatever the locale says.
  EXPECT_THAT(Ids(Value(store_->ListUsers())), ElementsAre("ABC", "abc"));
}

TEST_P(StoreContractTest, AddKeyIfFewerStoresOnlyBelowTheCount) {
  EXPECT_TRUE(Value(store_->AddKeyIfFewer(MakeKey("k1", 1, "one"), 2)));
  EXPECT_TRUE(Value(store_->AddKeyIfFewer(MakeKey("k2", 2, "two"), 2)));
  EXPECT_FALSE(Value(store_->AddKeyIfFewer(MakeKey("k3", 3, "three"), 2)));
  EXPECT_TRUE(Value(store_->AddKeyIfFewer(MakeKey("k4", 4, "four"), 3)));
  EXPECT_THAT(Ids(Value(store_->ListKeys())), ElementsAre("k1", "k2", "k4"));
  EXPECT_EQ(store_->AddKeyIfFewer(MakeKey("k1", 5, "again"), 10).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_P(StoreContractTest, KeyActivationTimeRoundTrips) {
  StoredKey key = MakeKey("k1", 10, "one");
  key.activates_at = At(70) + std::chrono::microseconds(5);
  ASSERT_TRUE(store_->AddKey(key).ok());
  const std::vector<StoredKey> keys = Value(store_->ListKeys());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].created_at, At(10));
  EXPECT_EQ(keys[0].activates_at, At(70) + std::chrono::microseconds(5));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres, Backend::kMemory),
                         BackendName);

// --- Two writers on one database (replicas), both SQL backends ------------------------------

class SharedDatabaseTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { database_ = std::make_unique<SqlDatabase>(GetParam()); }

  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<Store>> store = database_->Open();
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  // RunTogether runs `fn(i)` for i in [0, n) on n threads released at the same moment.
  template <typename Fn>
  static void RunTogether(int n, Fn fn) {
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < n) std::this_thread::yield();
        fn(i);
      });
    }
    for (std::thread& thread : threads) thread.join();
  }

  std::unique_ptr<SqlDatabase> database_;
};

TEST_P(SharedDatabaseTest, ReplicasMigratingAnEmptyDatabaseAtOnceAllSucceed) {
  constexpr int kReplicas = 4;
  std::vector<absl::Status> results(kReplicas);
  RunTogether(kReplicas, [&](int i) { results[i] = database_->Open().status(); });
  for (int i = 0; i < kReplicas; ++i) EXPECT_TRUE(results[i].ok()) << i << ": " << results[i];
}

TEST_P(SharedDatabaseTest, ReplicasAddingKeysAtOnceStoreExactlyTheCount) {
  std::unique_ptr<Store> a = Open();
  std::unique_ptr<Store> b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kAttempts = 8;
  std::vector<absl::StatusOr<bool>> added(kAttempts, false);
  RunTogether(kAttempts, [&](int i) {
    Store& store = i % 2 == 0 ? *a : *b;
    added[i] = store.AddKeyIfFewer(MakeKey("k" + std::to_string(i), i, "x"), 2);
  });
  int stored = 0;
  for (const auto& result : added) {
    ASSERT_TRUE(result.ok()) << result.status();
    stored += *result ? 1 : 0;
  }
  EXPECT_EQ(stored, 2);
  EXPECT_EQ(Value(a->ListKeys()).size(), 2u);
}

TEST_P(SharedDatabaseTest, ConcurrentSessionsOnTwoReplicasKeepTheLimit) {
  std::unique_ptr<Store> a = Open();
  std::unique_ptr<Store> b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->CreateUser(MakeUser(Uuid(1), {}, 0), std::nullopt).ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  std::atomic<int> failures{0};
  RunTogether(kThreads, [&](int t) {
    Store& store = t % 2 == 0 ? *a : *b;
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = absl::StrCat("s", t, "-", i);
      if (!store.CreateSession(MakeSession(id, Uuid(1), 10 + i, 100'000), 3, At(10)).ok()) {
        failures.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Value(b->ListSessions(Uuid(1))).size(), 3u);
}

TEST_P(SharedDatabaseTest, ConcurrentFirstPasswordsCreateExactlyOnce) {
  std::unique_ptr<Store> a = Open();
  std::unique_ptr<Store> b = Open();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kUsers = 10;
  for (int u = 0; u < kUsers; ++u) {
    ASSERT_TRUE(a->CreateUser(MakeUser(Uuid(u), {}, u), std::nullopt).ok());
  }
  std::atomic<int> created{0};
  std::atomic<int> failures{0};
  RunTogether(4, [&](int t) {
    Store& store = t % 2 == 0 ? *a : *b;
    for (int u = 0; u < kUsers; ++u) {
      absl::StatusOr<bool> result = store.SetPassword(Uuid(u), absl::StrCat("$argon2id$", t), At(5));
      if (!result.ok()) failures.fetch_add(1);
      if (result.ok() && *result) created.fetch_add(1);
    }
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(created.load(), kUsers) << "every user's password was created exactly once";
}

INSTANTIATE_TEST_SUITE_P(SqlBackends, SharedDatabaseTest,
                         ::testing::Values(Backend::kSqlite, Backend::kPostgres), BackendName);

// --- PostgreSQL only ------------------------------------------------------------------------

class PostgresStoreTest : public ::testing::Test {
 protected:
  ::passgate::testing::ScratchPostgresDatabase database_;
};

TEST_F(PostgresStoreTest, ErrorsNeverQuoteBoundValues) {
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(PostgresOptionsFor(database_.url()));
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string secretish = "confidential-7f3a@example.com";
  ASSERT_TRUE((*store)->CreateUser(MakeUser(Uuid(1), {{secretish, true, true}}, 0), std::nullopt).ok());
  const absl::Status duplicate =
      (*store)->CreateUser(MakeUser(Uuid(2), {{secretish, true, true}}, 0), std::nullopt);
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(duplicate.message()), HasSubstr("SQLSTATE 23505"));
  EXPECT_THAT(std::string(duplicate.message()), ::testing::Not(HasSubstr("confidential")));
  const absl::Status unknown =
      (*store)->CreateSession(MakeSession("s-secret-id", "no-such-user-1234", 0, 100), 5, At(0));
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.message()), ::testing::Not(HasSubstr("no-such-user-1234")));
}

TEST_F(PostgresStoreTest, MigrateFalseOnAnEmptyDatabaseIsFailedPrecondition) {
  PostgresOptions options = PostgresOptionsFor(database_.url());
  options.migrate = false;
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("passgate migrate"));
  EXPECT_EQ(Value(MigratePostgres(options.connection)), kPostgresSchemaVersion);
  EXPECT_EQ(Value(MigratePostgres(options.connection)), kPostgresSchemaVersion) << "idempotent";
  EXPECT_TRUE(OpenPostgresStore(options).ok());
}

TEST_F(PostgresStoreTest, NewerSchemaIsFailedPrecondition) {
  const PostgresOptions options = PostgresOptionsFor(database_.url());
  ASSERT_TRUE(MigratePostgres(options.connection).ok());
  {
    std::unique_ptr<Store> store = Value(OpenPostgresStore(options));
  }
  PostgresConnectionPool pool(options.connection, {});
  absl::StatusOr<PostgresConnectionPool::Lease> lease = pool.Acquire();
  ASSERT_TRUE(lease.ok()) << lease.status();
  ASSERT_TRUE(PostgresConnectionPool::ExecuteSql(
                  lease->get(), "test",
                  "INSERT INTO schema_migrations(version, applied_at) VALUES (99, 0)")
                  .ok());
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("newer"));
}

TEST_F(PostgresStoreTest, UnreachableServerIsUnavailableWithoutThePassword) {
  PostgresOptions options = PostgresOptionsFor("postgres://passgate:hunter2-secret@127.0.0.1:1/x");
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(store.status().message()), ::testing::Not(HasSubstr("hunter2")));
}

TEST_F(PostgresStoreTest, PasswordOptionOverridesTheUrl) {
  // Trust authentication ignores passwords; a role that needs one shows the override works.
  ::passgate::testing::RunAdminSql("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                       "'passgate_pw') THEN CREATE ROLE passgate_pw LOGIN PASSWORD 'right-pw'; "
                       "END IF; END $$");
  ::passgate::testing::RunAdminSql("ALTER DATABASE " + database_.name() + " OWNER TO passgate_pw");
  const std::string url = database_.url();
  const std::string with_user = "postgres://passgate_pw:wrong-pw@" + url.substr(url.find('@') + 1);
  PostgresOptions options = PostgresOptionsFor(with_user);
  options.connection.password = "right-pw";
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  // The test cluster trusts loopback, so this shows the URL with a password parses and the
  // override is accepted; password checking itself is PostgreSQL's (pg_hba.conf).
  EXPECT_TRUE(store.ok()) << store.status();
}

TEST_F(PostgresStoreTest, PoolWaitTimeoutIsUnavailable) {
  PostgresConnectOptions options = PostgresOptionsFor(database_.url()).connection;
  options.max_connections = 1;
  options.pool_timeout = std::chrono::milliseconds(50);
  PostgresConnectionPool pool(options, {});
  absl::StatusOr<PostgresConnectionPool::Lease> held = pool.Acquire();
  ASSERT_TRUE(held.ok()) << held.status();
  absl::StatusOr<PostgresConnectionPool::Lease> second = pool.Acquire();
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("database.max_connections"));
  EXPECT_EQ(pool.Open(), 1);
}

TEST_F(PostgresStoreTest, AStatementWithoutAnAnswerIsUnavailableAfterTheQueryTimeout) {
  PostgresOptions options = PostgresOptionsFor(database_.url());
  options.connection.query_timeout = std::chrono::milliseconds(300);
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(options);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CreateUser(MakeUser(Uuid(1), {}, 0), std::nullopt).ok());
  // Another client holds the user's row lock, so CreateSession's SELECT ... FOR UPDATE gets
  // no answer: what a hung or cut-off server looks like to passgate.
  PGconn* holder = PQconnectdb(database_.url().c_str());
  ASSERT_EQ(PQstatus(holder), CONNECTION_OK) << PQerrorMessage(holder);
  PQclear(PQexec(holder, "BEGIN"));
  PGresult* locked = PQexec(
      holder, ("SELECT 1 FROM users WHERE id = '" + Uuid(1) + "' FOR UPDATE").c_str());
  ASSERT_EQ(PQresultStatus(locked), PGRES_TUPLES_OK) << PQerrorMessage(holder);
  PQclear(locked);
  const absl::Status blocked =
      (*store)->CreateSession(MakeSession("s-blocked", Uuid(1), 0, 100), 5, At(0));
  EXPECT_EQ(blocked.code(), absl::StatusCode::kUnavailable) << blocked;
  EXPECT_THAT(std::string(blocked.message()), HasSubstr("database.query_timeout"));
  PQclear(PQexec(holder, "COMMIT"));
  PQfinish(holder);
  // The stuck connection was dropped; the next calls get a fresh one and work.
  EXPECT_TRUE((*store)->CreateSession(MakeSession("s-after", Uuid(1), 1, 100), 5, At(1)).ok());
  EXPECT_EQ(Value((*store)->ListSessions(Uuid(1))).size(), 1u)
      << "the timed-out session was rolled back";
}

TEST_F(PostgresStoreTest, RecoversWhenItsConnectionsAreKilled) {
  absl::StatusOr<std::unique_ptr<Store>> store = OpenPostgresStore(PostgresOptionsFor(database_.url()));
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->CreateUser(MakeUser(Uuid(1), {}, 0), std::nullopt).ok());
  for (int round = 0; round < 3; ++round) {
    // What a PostgreSQL restart does to a pool: every server-side backend goes away.
    ::passgate::testing::RunAdminSql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                         database_.name() + "' AND pid <> pg_backend_pid()");
    const absl::StatusOr<std::optional<User>> user = (*store)->FindUser(Uuid(1));
    ASSERT_TRUE(user.ok()) << round << ": " << user.status();
    EXPECT_TRUE(user->has_value());
    EXPECT_TRUE((*store)->CreateSession(MakeSession("s" + std::to_string(round), Uuid(1), 1, 100),
                                        5, At(1))
                    .ok());
  }
}

// --- SQLite only ---------------------------------------------------------------------------

class SqliteStoreTest : public ::testing::Test {
 protected:
  SqliteOptions Options(std::string_view file = "passgate.db") const {
    SqliteOptions options;
    options.path = dir_.File(file);
    return options;
  }

  std::unique_ptr<Store> Open(const SqliteOptions& options) {
    absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  ScratchDir dir_;
};

TEST_F(SqliteStoreTest, DataSurvivesClosingAndReopening) {
  {
    std::unique_ptr<Store> store = Open(Options());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store
                    ->CreateUser(MakeUser(Uuid(1), {{"a@example.com", true, true}}, 0),
                                 MakePassword(Uuid(1), "$argon2id$x", 0))
                    .ok());
    ASSERT_TRUE(store->CreateSession(MakeSession("s1", Uuid(1), 0, 100), 5, At(0)).ok());
    ASSERT_TRUE(store->AddKey(MakeKey("k1", 0, std::string("\0key", 4))).ok());
  }
  std::unique_ptr<Store> store = Open(Options());
  ASSERT_NE(store, nullptr);
  const std::optional<User> user = Value(store->FindUser(Uuid(1)));
  ASSERT_TRUE(user.has_value());
  EXPECT_THAT(user->emails, ElementsAre(Email{"a@example.com", true, true}));
  EXPECT_NE(Value(store->FindPassword(Uuid(1))), std::nullopt);
  EXPECT_NE(Value(store->FindSession("s1")), std::nullopt);
  const std::vector<StoredKey> keys = Value(store->ListKeys());
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].ciphertext, std::string("\0key", 4));
}

TEST_F(SqliteStoreTest, CreatesMissingParentDirectories) {
  const SqliteOptions options = Options("a/b/c/passgate.db");
  ASSERT_NE(Open(options), nullptr);
  EXPECT_TRUE(std::filesystem::is_regular_file(options.path));
}

// The database holds password hashes: its files are private whatever the umask, including
// the -wal and -shm files SQLite creates next to it (which exist while a connection is open).
TEST_F(SqliteStoreTest, DatabaseFilesAreCreatedPrivateWhateverTheUmask) {
  const mode_t saved = ::umask(0);
  const SqliteOptions options = Options("private/passgate.db");
  std::unique_ptr<Store> store = Open(options);
  ::umask(saved);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateUser(MakeUser(Uuid(1), {{"a@example.com", true, false}}, 0),
                                MakePassword(Uuid(1), "$argon2id$x", 0))
                  .ok());
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::string file = options.path + suffix;
    struct stat info {};
    ASSERT_EQ(::stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 07777, 0600u) << file;
  }
}

TEST_F(SqliteStoreTest, MigrateFalseOnFreshFileIsFailedPrecondition) {
  SqliteOptions options = Options();
  options.migrate = false;
  const absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("passgate migrate"));
}

TEST_F(SqliteStoreTest, MigrateFalseOpensAMigratedDatabase) {
  ASSERT_EQ(Value(MigrateSqlite(Options().path)), kSqliteSchemaVersion);
  SqliteOptions options = Options();
  options.migrate = false;
  std::unique_ptr<Store> store = Open(options);
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->CreateUser(MakeUser(Uuid(1), {}, 0), std::nullopt).ok());
}

TEST_F(SqliteStoreTest, MigrateSqliteReturnsSchemaVersionAndIsIdempotent) {
  const std::string path = Options().path;
  EXPECT_EQ(Value(MigrateSqlite(path)), kSqliteSchemaVersion);
  EXPECT_EQ(Value(MigrateSqlite(path)), kSqliteSchemaVersion);
  ASSERT_NE(Open(Options()), nullptr);  // migrating on open is a no-op too
  EXPECT_EQ(Value(MigrateSqlite(path)), kSqliteSchemaVersion);

  SQLite::Database db(path, SQLite::OPEN_READONLY);
  SQLite::Statement versions(db, "SELECT version FROM schema_migrations ORDER BY version");
  std::vector<int> applied;
  while (versions.executeStep()) applied.push_back(versions.getColumn(0).getInt());
  std::vector<int> expected;
  for (int v = 1; v <= kSqliteSchemaVersion; ++v) expected.push_back(v);
  EXPECT_EQ(applied, expected);
}

TEST_F(SqliteStoreTest, NewerSchemaIsFailedPrecondition) {
  const std::string path = Options().path;
  ASSERT_EQ(Value(MigrateSqlite(path)), kSqliteSchemaVersion);
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    SQLite::Statement insert(db,
                             "INSERT INTO schema_migrations(version, applied_at) VALUES (?, 0)");
    insert.bind(1, kSqliteSchemaVersion + 1);
    insert.exec();
  }
  const absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(Options());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  SqliteOptions no_migrate = Options();
  no_migrate.migrate = false;
  EXPECT_EQ(OpenSqliteStore(no_migrate).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(MigrateSqlite(path).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SqliteStoreTest, FileIsInWalModeWithCascadingForeignKeys) {
  std::unique_ptr<Store> store = Open(Options());
  ASSERT_NE(store, nullptr);

  // journal_mode=WAL is recorded in the file, so a second connection sees it.
  SQLite::Database db(Options().path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA journal_mode").getString(), "wal");

  // foreign_keys is per connection and cannot be read from here; the contract tests show the
  // store's connection enforces it (DeleteUser cascades, CreateSession for an unknown user is
  // kNotFound). What the file itself must hold is the cascade on every child table.
  for (const char* table : {"emails", "password_credentials", "sessions"}) {
    SQLite::Statement keys(db, absl::StrCat("PRAGMA foreign_key_list(", table, ")"));
    ASSERT_TRUE(keys.executeStep()) << table;
    EXPECT_EQ(keys.getColumn("table").getString(), "users") << table;
    EXPECT_EQ(keys.getColumn("on_delete").getString(), "CASCADE") << table;
  }
}

TEST_F(SqliteStoreTest, InvalidOptionsAreInvalidArgument) {
  struct Case {
    std::string_view synchronous;
    int busy_timeout_ms;
    bool empty_path;
  };
  static constexpr Case kCases[] = {
      {"off", 5000, false}, {"extra", 5000, false}, {"", 5000, false},    {"full;", 5000, false},
      {"0", 5000, false},   {"full", -1, false},    {"full", 5000, true},
  };
  for (const Case& c : kCases) {
    SqliteOptions options = Options();
    options.synchronous = std::string(c.synchronous);
    options.busy_timeout_ms = c.busy_timeout_ms;
    if (c.empty_path) options.path.clear();
    const absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument)
        << "synchronous=" << c.synchronous << " busy_timeout_ms=" << c.busy_timeout_ms
        << " empty_path=" << c.empty_path << ": " << store.status();
  }
  for (std::string_view synchronous : {"full", "normal", "NORMAL"}) {
    SqliteOptions options = Options();
    options.synchronous = std::string(synchronous);
    EXPECT_NE(Open(options), nullptr) << synchronous;
  }
}

TEST_F(SqliteStoreTest, UnopenablePathIsUnavailable) {
  const std::string not_a_dir = dir_.File("plain-file");
  std::ofstream(not_a_dir) << "x";
  const std::string garbage = dir_.File("garbage.db");
  std::ofstream(garbage) << std::string(4096, 'g');

  for (const std::string& path : {dir_.path().string(), not_a_dir + "/passgate.db", garbage}) {
    SqliteOptions options;
    options.path = path;
    const absl::StatusOr<std::unique_ptr<Store>> store = OpenSqliteStore(options);
    EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable)
        << path << ": " << store.status();
  }
}

TEST_F(SqliteStoreTest, ConcurrentWritersAllSucceed) {
  std::unique_ptr<Store> store = Open(Options());
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 50;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(store->CreateUser(MakeUser(Uuid(t), {}, 0), std::nullopt).ok());
  }

  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, &failures, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        // Every thread also writes to its neighbour's user, so the writes contend.
        const std::string user_id = Uuid((t + i) % kThreads);
        const absl::Status status =
            i % 2 == 0
                ? store->SetPassword(user_id, absl::StrCat("$argon2id$", t, "-", i), At(i)).status()
                : store->CreateSession(MakeSession(absl::StrCat("s", t, "-", i), user_id, i, 1000),
                                       5, At(i));
        if (!status.ok()) {
          ++failures;
          ADD_FAILURE() << status;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);

  for (int t = 0; t < kThreads; ++t) {
    EXPECT_NE(Value(store->FindPassword(Uuid(t))), std::nullopt);
    const std::vector<Session> sessions = Value(store->ListSessions(Uuid(t)));
    EXPECT_GE(sessions.size(), 1u);
    EXPECT_LE(sessions.size(), 5u);
  }
}

TEST_F(SqliteStoreTest, TwoConnectionsToOneFileWaitForEachOther) {
  // Two stores stand in for two processes: SQLite's file locks, not the store's mutex, must
  // serialize them, with busy_timeout absorbing the contention.
  std::unique_ptr<Store> first = Open(Options());
  std::unique_ptr<Store> second = Open(Options());
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(first->CreateUser(MakeUser(Uuid(1), {}, 0), std::nullopt).ok());

  constexpr int kCallsPerThread = 25;
  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    Store* store = t % 2 == 0 ? first.get() : second.get();
    threads.emplace_back([store, &failures, t] {
      for (int i = 0; i < kCallsPerThread; ++i) {
        const absl::Status status = store->CreateSession(
            MakeSession(absl::StrCat("s", t, "-", i), Uuid(1), t * 100 + i, 100000), 1000, At(0));
        if (!status.ok()) {
          ++failures;
          ADD_FAILURE() << status;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(Value(first->ListSessions(Uuid(1))).size(), 4u * kCallsPerThread);
  EXPECT_EQ(Value(second->ListSessions(Uuid(1))).size(), 4u * kCallsPerThread);
}

}  // namespace
}  // namespace passgate::storage
