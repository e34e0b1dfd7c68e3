#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "server/request_checks.h"
#include "server/user_transfer.h"
#include "server/uuid.h"
#include "tools/command_support.h"
#include "tools/commands.h"

namespace passgate::tools {
namespace {

// HashPasswordFromStdin reads, checks (min length, 72 bytes) and hashes a new password.
std::optional<std::string> HashPasswordFromStdin(const server::Runtime& runtime) {
  std::optional<std::string> password = ReadPasswordFromStdin();
  if (!password) {
    Fail("--password-stdin: no password on standard input");
    return std::nullopt;
  }
  for (const absl::Status& check :
       {server::CheckPasswordMinLength(*password, runtime.config.password.min_length),
        server::CheckPasswordNotTooLong(*password)}) {
    if (!check.ok()) {
      Fail(check);
      return std::nullopt;
    }
  }
  absl::StatusOr<std::string> hash = runtime.hasher->Hash(*password);
  if (!hash.ok()) {
    Fail(hash.status());
    return std::nullopt;
  }
  return *std::move(hash);
}

bool CheckUserId(const std::string& user_id) {
  if (server::IsCanonicalUuid(user_id)) return true;
  Fail(absl::StrCat("\"", user_id.substr(0, 64), "\" is not a canonical lowercase UUID"));
  return false;
}

}  // namespace

int CreateUser(const std::string& config_path, const CreateUserArgs& args) {
  if (!server::IsPlausibleEmail(args.email)) return Fail("--email: not a valid email address");
  if (!args.id.empty() && !CheckUserId(args.id)) return 1;
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = args.password_stdin, .keys = false});
  if (runtime == nullptr) return 1;

  storage::User user;
  user.id = args.id.empty() ? server::NewUuidV4() : args.id;
  user.emails.push_back({args.email, /*is_primary=*/true, /*is_verified=*/false});
  user.created_at = user.updated_at = runtime->clock.Now();
  std::optional<storage::PasswordCredential> credential;
  if (args.password_stdin) {
    std::optional<std::string> hash = HashPasswordFromStdin(*runtime);
    if (!hash) return 1;
    credential = storage::PasswordCredential{user.id, *hash, user.created_at, user.created_at};
  }
  absl::Status created = runtime->store->CreateUser(user, credential);
  if (absl::IsAlreadyExists(created)) return Fail("a user with this id or email already exists");
  if (!created.ok()) return Fail(created);
  std::cout << user.id << "\n";
  return 0;
}

int SetUserPassword(const std::string& config_path, const std::string& user_id) {
  if (!CheckUserId(user_id)) return 1;
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = true, .keys = false});
  if (runtime == nullptr) return 1;
  std::optional<std::string> hash = HashPasswordFromStdin(*runtime);
  if (!hash) return 1;
  absl::StatusOr<bool> created = runtime->store->SetPassword(user_id, *hash, runtime->clock.Now());
  if (absl::IsNotFound(created.status())) return Fail("no such user");
  if (!created.ok()) return Fail(created.status());
  std::cout << (*created ? "password created" : "password replaced") << "\n";
  return 0;
}

int DeleteUser(const std::string& config_path, const std::string& user_id) {
  if (!CheckUserId(user_id)) return 1;
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = false});
  if (runtime == nullptr) return 1;
  absl::StatusOr<bool> deleted = runtime->store->DeleteUser(user_id);
  if (!deleted.ok()) return Fail(deleted.status());
  if (!*deleted) return Fail("no such user");
  std::cout << "deleted " << user_id << "\n";
  return 0;
}

int ImportUsers(const std::string& config_path, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Fail(absl::StrCat(file, ": cannot open"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = false});
  if (runtime == nullptr) return 1;
  absl::StatusOr<server::ImportReport> report =
      server::ImportUsers(*runtime->store, text, runtime->clock);
  if (!report.ok()) return Fail(absl::StrCat(file, ": ", report.status().message()));
  for (const std::string& line : report->ignored) std::cerr << "passgate: " << line << "\n";
  for (const std::string& line : report->skipped) std::cerr << "passgate: skipped " << line << "\n";
  std::cout << "imported " << report->imported << " users, skipped " << report->skipped.size()
            << "\n";
  // Partial imports are reported as failure so scripts notice.
  return report->skipped.empty() ? 0 : 1;
}

int ExportUsers(const std::string& config_path, const std::string& file) {
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = false});
  if (runtime == nullptr) return 1;
  absl::StatusOr<std::string> text = server::ExportUsers(*runtime->store);
  if (!text.ok()) return Fail(text.status());
  if (file.empty() || file == "-") {
    std::cout << *text;
    return std::cout.good() ? 0 : Fail("writing standard output failed");
  }
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << *text;
  out.close();
  if (!out) return Fail(absl::StrCat(file, ": cannot write"));
  return 0;
}

}  // namespace passgate::tools
