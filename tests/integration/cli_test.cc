// The `passgate` operator commands, run as a real process against a temporary database.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "absl/strings/str_cat.h"
#include "storage/sqlite_store.h"
#include "tests/integration/passgate_process.h"

namespace passgate::testing {
namespace {

class CliTest : public ::testing::Test {
 protected:
  CommandResult Run(std::vector<std::string> args, const std::string& stdin_text = "") {
    args.push_back("--config");
    args.push_back(config_);
    return RunPassgate(args, stdin_text);
  }

  TempDir dir_;
  std::string config_ = WriteTestConfig(dir_);
};

TEST_F(CliTest, EveryCommandHasHelp) {
  const std::vector<std::vector<std::string>> commands = {
      {},
      {"serve"},
      {"migrate"},
      {"user"},
      {"user", "create"},
      {"user", "set-password"},
      {"user", "delete"},
      {"user", "import"},
      {"user", "export"},
      {"jwk"},
      {"jwk", "list"},
      {"jwk", "rotate"},
      {"session"},
      {"session", "revoke"},
      {"session", "issue"},
      {"session", "list"},
  };
  for (std::vector<std::string> command : commands) {
    command.push_back("--help");
    const CommandResult result = RunPassgate(command);
    EXPECT_EQ(result.exit_code, 0) << ::testing::PrintToString(command) << result.err;
    EXPECT_NE(result.out.find("--config"), std::string::npos)
        << ::testing::PrintToString(command) << result.out;
  }
}

TEST_F(CliTest, UsageErrorsGoToStderrWithNonZeroExit) {
  for (const std::vector<std::string>& command : std::vector<std::vector<std::string>>{
           {"no-such-command"}, {"user", "create"}, {"user", "delete"}}) {
    const CommandResult result = Run(command);
    EXPECT_NE(result.exit_code, 0) << ::testing::PrintToString(command);
    EXPECT_FALSE(result.err.empty()) << ::testing::PrintToString(command);
  }
  const CommandResult missing_config =
      RunPassgate({"migrate", "--config", dir_.File("nope.yaml")});
  EXPECT_NE(missing_config.exit_code, 0);
  EXPECT_NE(missing_config.err.find("nope.yaml"), std::string::npos) << missing_config.err;
}

TEST_F(CliTest, InvalidConfigNamesTheKey) {
  const std::string bad = dir_.File("bad.yaml");
  WriteFile(bad, "secrets: {keys: [\"0123456789abcdef0123\"]}\nsession: {lifespan: 12x}\n");
  const CommandResult result = RunPassgate({"migrate", "--config", bad});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("session.lifespan"), std::string::npos) << result.err;

  WriteFile(bad, "session: {lifespan: 1h}\n");
  const CommandResult no_secret = RunPassgate({"migrate", "--config", bad});
  EXPECT_EQ(no_secret.exit_code, 1);
  EXPECT_NE(no_secret.err.find("secrets.keys"), std::string::npos) << no_secret.err;
}

TEST_F(CliTest, SecretsCanComeFromTheEnvironment) {
  const std::string no_secrets = dir_.File("nosecrets.yaml");
  WriteFile(no_secrets, "database: {url: \"sqlite://" + dir_.File("env.db") + "\"}\n");
  const CommandResult result = RunPassgate({"jwk", "list", "--config", no_secrets}, "",
                                           {"PASSGATE_SECRETS_KEYS=env-secret-0123456789abcdef"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("RS256"), std::string::npos) << result.out;
}

TEST_F(CliTest, MigrateReportsTheSchemaVersionAndIsIdempotent) {
  for (int i = 0; i < 2; ++i) {
    const CommandResult result = Run({"migrate"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.out.find(absl::StrCat("schema version ", storage::kSqliteSchemaVersion)),
              std::string::npos)
        << result.out;
  }
}

TEST_F(CliTest, UserLifecycle) {
  const CommandResult created =
      Run({"user", "create", "--email", "ops@example.com", "--password-stdin"}, "correct horse\n");
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = created.out.substr(0, 36);
  EXPECT_EQ(created.out, id + "\n");

  const CommandResult duplicate = Run({"user", "create", "--email", "OPS@example.com"});
  EXPECT_EQ(duplicate.exit_code, 1);
  EXPECT_NE(duplicate.err.find("already exists"), std::string::npos) << duplicate.err;

  const CommandResult bad_id = Run({"user", "create", "--email", "x@example.com", "--id", "nope"});
  EXPECT_EQ(bad_id.exit_code, 1);
  const CommandResult bad_email = Run({"user", "create", "--email", "not-an-email"});
  EXPECT_EQ(bad_email.exit_code, 1);

  const CommandResult too_long = Run({"user", "set-password", id, "--password-stdin"},
                                     std::string(73, 'a') + "\n");
  EXPECT_EQ(too_long.exit_code, 1);
  EXPECT_NE(too_long.err.find("72 bytes"), std::string::npos) << too_long.err;
  EXPECT_EQ(too_long.err.find(std::string(73, 'a')), std::string::npos) << "echoed the password";

  const CommandResult replaced =
      Run({"user", "set-password", id, "--password-stdin"}, "another password\n");
  EXPECT_EQ(replaced.exit_code, 0) << replaced.err;
  EXPECT_EQ(replaced.out, "password replaced\n");

  const nlohmann::json exported = nlohmann::json::parse(Run({"user", "export"}).out);
  ASSERT_EQ(exported.size(), 1u);
  EXPECT_EQ(exported[0]["user_id"], id);
  EXPECT_EQ(exported[0]["emails"][0]["address"], "ops@example.com");
  EXPECT_TRUE(exported[0]["password"]["password"].get<std::string>().starts_with("$argon2id$"));

  EXPECT_EQ(Run({"user", "delete", id}).exit_code, 0);
  const CommandResult again = Run({"user", "delete", id});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("no such user"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(Run({"user", "export"}).out).size(), 0u);
}

TEST_F(CliTest, ImportReportsSkippedAndIgnoredEntries) {
  const std::string file = dir_.File("import.json");
  WriteFile(file, R"([
    {"user_id": "11111111-1111-4111-8111-111111111111",
     "emails": [{"address": "a@example.com", "is_primary": true, "is_verified": false}],
     "webauthn_credentials": [{"id": "x"}]},
    {"user_id": "NOT-A-UUID", "emails": [{"address": "b@example.com", "is_primary": true}]},
    {"emails": [{"address": "c@example.com", "is_primary": true}],
     "password": {"password": "md5$abc"}},
    {"user_id": "11111111-1111-4111-8111-111111111111",
     "emails": [{"address": "d@example.com", "is_primary": true}]}
  ])");
  const CommandResult result = Run({"user", "import", file});
  EXPECT_EQ(result.exit_code, 1) << "partial imports exit non-zero";
  EXPECT_EQ(result.out, "imported 1 users, skipped 3\n");
  EXPECT_NE(result.err.find("entry 1"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("entry 2"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("skipped entry 3 (user_id 11111111-1111-4111-8111-111111111111): user "
                            "id already exists with other data"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("ignored webauthn_credentials"), std::string::npos) << result.err;

  WriteFile(file, "{\"not\": \"an array\"}");
  const CommandResult not_array = Run({"user", "import", file});
  EXPECT_EQ(not_array.exit_code, 1);
  EXPECT_NE(not_array.err.find("JSON array"), std::string::npos) << not_array.err;
}

TEST_F(CliTest, ExportedFileImportsIntoAnotherDatabaseUnchanged) {
  const std::string fixture =
      std::string(PASSGATE_SOURCE_DIR) + "/tests/integration/testdata/hanko_fixture_users.json";
  ASSERT_EQ(Run({"user", "import", fixture}).exit_code, 0);
  const std::string exported_file = dir_.File("export.json");
  ASSERT_EQ(Run({"user", "export", exported_file}).exit_code, 0);

  TempDir other;
  const std::string other_config = WriteTestConfig(other);
  const CommandResult imported = RunPassgate({"user", "import", exported_file, "--config", other_config});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  const CommandResult reexported = RunPassgate({"user", "export", "--config", other_config});
  EXPECT_EQ(reexported.out, ReadFile(exported_file));
  EXPECT_NE(reexported.out.find("$2a$12$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVli"),
            std::string::npos);
}

// GeneratedUsers is a Hanko-format file of `count` users with bcrypt and Argon2id hashes.
std::string GeneratedUsers(int count) {
  nlohmann::json users = nlohmann::json::array();
  for (int i = 0; i < count; ++i) {
    char id[37];
    std::snprintf(id, sizeof id, "%08x-0000-4000-8000-%012d", i, i);
    nlohmann::json entry = {
        {"user_id", id},
        {"emails", {{{"address", "user" + std::to_string(i) + "@example.com"},
                     {"is_primary", true},
                     {"is_verified", true}}}},
        {"created_at", "2023-05-04T10:11:12.123456Z"}};
    if (i % 3 != 2) {
      entry["password"] = {
          {"password", i % 3 == 0 ? "$2b$10$h7mS8IEopZj9bFU5F4mJwOa0RYAxlmYimf08iQCQmsfii9pw5Y2qS"
                                  : "$argon2id$v=19$m=19456,t=2,p=1$YJPc6aP260yoBqqRpxo+Vw$"
                                    "9mcxrUIIEqoNPzzH3aXWAuEyCTwtmn+HRrrwTAKMm48"}};
    }
    users.push_back(std::move(entry));
  }
  return users.dump(2);
}

TEST_F(CliTest, GeneratedFileRoundTripsThroughTwoDatabases) {
  // 2,500 users: several import batches and export pages (1,000 each).
  const std::string file = dir_.File("generated.json");
  WriteFile(file, GeneratedUsers(2500));
  const CommandResult imported = Run({"user", "import", file});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  EXPECT_EQ(imported.out, "imported 2500 users, skipped 0\n");
  EXPECT_NE(imported.err.find("passgate: read 2500 entries in "), std::string::npos)
      << "the summary is always printed";
  EXPECT_EQ(imported.err.find("ETA"), std::string::npos) << "no progress line off a terminal";

  const std::string exported_file = dir_.File("export.json");
  ASSERT_EQ(Run({"user", "export", exported_file}).exit_code, 0);
  TempDir other;
  const std::string other_config = WriteTestConfig(other);
  const CommandResult reimported =
      RunPassgate({"user", "import", exported_file, "--config", other_config});
  ASSERT_EQ(reimported.exit_code, 0) << reimported.err;
  EXPECT_EQ(reimported.out, "imported 2500 users, skipped 0\n");
  const CommandResult reexported = RunPassgate({"user", "export", "--config", other_config});
  EXPECT_EQ(reexported.out, ReadFile(exported_file));
  EXPECT_EQ(nlohmann::json::parse(reexported.out).size(), 2500u);
}

TEST_F(CliTest, ReRunningAnImportReportsAlreadyPresentUsersAndSucceeds) {
  const std::string file = dir_.File("generated.json");
  WriteFile(file, GeneratedUsers(30));
  ASSERT_EQ(Run({"user", "import", file}).exit_code, 0);
  const CommandResult again = Run({"user", "import", file});
  EXPECT_EQ(again.exit_code, 0) << "only already-present users: nothing went wrong";
  EXPECT_EQ(again.out, "imported 0 users, skipped 30 (30 already present)\n");
  EXPECT_NE(again.err.find("passgate: skipped entry 29 (user_id 0000001d-0000-4000-8000-"
                           "000000000029): already imported (same user id, emails, username "
                           "and password)"),
            std::string::npos)
      << again.err;
}

TEST_F(CliTest, ImportRejectsUnusableHashesWithoutEchoingThem) {
  const std::string file = dir_.File("hashes.json");
  WriteFile(file, R"([
    {"emails": [{"address": "a@example.com", "is_primary": true}],
     "password": {"password": "$2b$16$h7mS8IEopZj9bFU5F4mJwOa0RYAxlmYimf08iQCQmsfii9pw5Y2qS"}},
    {"emails": [{"address": "b@example.com", "is_primary": true}],
     "password": {"password": "$argon2id$v=19$m=19456,t=2,p=1$YJPc6aP260yoBqqRpxo+Vw$tooShort"}},
    {"emails": [{"address": "c@example.com", "is_primary": true}],
     "password": {"password": "$2b$10$h7mS8IEopZj9bFU5F4mJwOa0RYAxlmYimf08iQCQmsfii9pw5Y2qS"}}
  ])");
  const CommandResult result = Run({"user", "import", file});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.out, "imported 1 users, skipped 2\n");
  EXPECT_NE(result.err.find("passgate: skipped entry 0: password.password: bcrypt cost 16 is over "
                            "the limit of 14 (password.import.bcrypt_max_cost)"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("passgate: skipped entry 1: password.password: Argon2id hash must be "
                            "16 to 64 bytes"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.err.find("h7mS8IEop"), std::string::npos) << "echoed a hash";
  EXPECT_EQ(result.err.find("tooShort"), std::string::npos) << "echoed a hash";

  // The cap is configurable.
  WriteFile(config_, ReadFile(config_) + "password: {import: {bcrypt_max_cost: 16}}\n");
  const CommandResult allowed = Run({"user", "import", file});
  EXPECT_EQ(allowed.out, "imported 1 users, skipped 2\n") << allowed.err;
  EXPECT_NE(allowed.err.find("skipped entry 2: email or username already belongs to another user"),
            std::string::npos)
      << "no user_id: a re-run cannot tell it from another user's address";
}

TEST_F(CliTest, DatabaseAndExportFilesArePrivateWhateverTheUmask) {
  const mode_t saved = ::umask(0);  // inherited by the passgate processes
  const std::string fixture =
      std::string(PASSGATE_SOURCE_DIR) + "/tests/integration/testdata/hanko_fixture_users.json";
  const CommandResult imported = Run({"user", "import", fixture});
  const std::string exported = dir_.File("export.json");
  const CommandResult export_result = Run({"user", "export", exported});
  // An existing file is made private too before the hashes go in.
  const std::string existing = dir_.File("existing.json");
  WriteFile(existing, "old");
  ::chmod(existing.c_str(), 0666);
  const CommandResult overwrite = Run({"user", "export", existing});
  ::umask(saved);
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  ASSERT_EQ(export_result.exit_code, 0) << export_result.err;
  ASSERT_EQ(overwrite.exit_code, 0) << overwrite.err;
  // The -wal and -shm files only exist while a connection is open: storage_test checks them.
  for (const std::string& file : {dir_.File("passgate.db"), exported, existing}) {
    struct stat info {};
    ASSERT_EQ(::stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 07777, 0600u) << file;
  }
  EXPECT_EQ(ReadFile(existing), ReadFile(exported));
}

// KeyLine returns the `jwk list` line of `kid`.
std::string KeyLine(const std::string& list, const std::string& kid) {
  const std::size_t line = list.find(kid);
  if (line == std::string::npos) return "";
  return list.substr(line, list.find('\n', line) - line);
}

TEST_F(CliTest, JwkRotatePublishesANewKeyThatSignsAfterTheActivationDelay) {
  const CommandResult before = Run({"jwk", "list"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  const CommandResult rotated = Run({"jwk", "rotate"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.err;
  EXPECT_NE(rotated.err.find("signs in 660 s"), std::string::npos) << rotated.err;
  const std::string kid = rotated.out.substr(0, 36);
  const CommandResult after = Run({"jwk", "list"});
  // Header plus two keys; the new one is listed (published) but does not sign yet.
  EXPECT_EQ(std::count(after.out.begin(), after.out.end(), '\n'), 3) << after.out;
  EXPECT_NE(after.out.find(kid + "  RS256  "), std::string::npos) << after.out;
  EXPECT_TRUE(KeyLine(after.out, kid).ends_with("no")) << after.out;

  // --now: signs at once (the way out after a key compromise).
  const CommandResult urgent = Run({"jwk", "rotate", "--now"});
  ASSERT_EQ(urgent.exit_code, 0) << urgent.err;
  const std::string urgent_kid = urgent.out.substr(0, 36);
  const CommandResult last = Run({"jwk", "list"});
  EXPECT_EQ(std::count(last.out.begin(), last.out.end(), '\n'), 4) << last.out;
  EXPECT_TRUE(KeyLine(last.out, urgent_kid).ends_with("yes")) << last.out;
  EXPECT_TRUE(KeyLine(last.out, kid).ends_with("no")) << last.out;
}

TEST_F(CliTest, PrivateKeysAreNotReadableInTheDatabaseFile) {
  ASSERT_EQ(Run({"jwk", "list"}).exit_code, 0);
  const std::string db = ReadFile(dir_.File("passgate.db")) + ReadFile(dir_.File("passgate.db-wal"));
  EXPECT_EQ(db.find("PRIVATE KEY"), std::string::npos);
  // PKCS#8 DER of an RSA key starts with this version + rsaEncryption OID sequence.
  const std::string rsa_pkcs8_oid("\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 9);
  EXPECT_EQ(db.find(rsa_pkcs8_oid), std::string::npos);
}

TEST_F(CliTest, SessionRevokeRejectsUnknownSessions) {
  const CommandResult result = Run({"session", "revoke", "6a565180-2366-45b1-8785-39f7902c7f2e"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("no such session"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace passgate::testing
