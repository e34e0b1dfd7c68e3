#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
  std::ifstream in;
  // A large read buffer: the parser takes one character at a time from it.
  std::vector<char> buffer(1 << 20);
  in.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  in.open(file, std::ios::binary);
  if (!in) return Fail(absl::StrCat(file, ": cannot open"));
  std::error_code size_error;
  const std::uintmax_t size = std::filesystem::is_regular_file(file, size_error)
                                  ? std::filesystem::file_size(file, size_error)
                                  : 0;
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = false});
  if (runtime == nullptr) return 1;

  server::ImportOptions options;
  options.hash_limits = server::HashLimitsFrom(runtime->config);
  options.batch_size = static_cast<std::size_t>(runtime->config.password.import.batch_size);
  const bool terminal = isatty(STDERR_FILENO) == 1;
  bool progress_shown = false;
  options.on_line = [&](server::ImportLineKind kind, std::string_view line) {
    if (progress_shown) std::cerr << "\r\033[K";  // the line replaces the progress line
    progress_shown = false;
    std::cerr << "passgate: " << (kind == server::ImportLineKind::kIgnored ? "" : "skipped ")
              << line << "\n";
  };
  const auto start = std::chrono::steady_clock::now();
  auto last_shown = start;
  if (terminal) {
    options.on_batch = [&](const server::ImportReport& report) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last_shown < std::chrono::milliseconds(500)) return;
      last_shown = now;
      const double seconds = std::chrono::duration<double>(now - start).count();
      const double rate = static_cast<double>(report.entries) / seconds;
      std::string line = absl::StrFormat("passgate: %d entries read, %d imported, %.0f/s",
                                         report.entries, report.imported, rate);
      const std::streamoff done = in.rdbuf()->pubseekoff(0, std::ios::cur, std::ios::in);
      if (size > 0 && done > 0) {
        const double fraction = static_cast<double>(done) / static_cast<double>(size);
        absl::StrAppendFormat(&line, ", %.0f%%, ETA %.0f s", 100 * fraction,
                              seconds * (1 - fraction) / fraction);
      }
      std::cerr << "\r\033[K" << line << std::flush;
      progress_shown = true;
    };
  }
  const server::ImportReport report =
      server::ImportUsers(*runtime->store, in, runtime->clock, options);
  if (progress_shown) std::cerr << "\r\033[K";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::cout << "imported " << report.imported << " users, skipped "
            << report.skipped_count + report.already_present_count;
  if (report.already_present_count > 0) {
    std::cout << " (" << report.already_present_count << " already present)";
  }
  std::cout << "\n" << std::flush;
  std::cerr << absl::StrFormat("passgate: read %d entries in %.1f s (%.0f entries/s)\n",
                               report.entries, seconds,
                               seconds > 0 ? static_cast<double>(report.entries) / seconds : 0.0);
  if (!report.error.ok()) return Fail(absl::StrCat(file, ": ", report.error.message()));
  // Entries skipped as invalid or conflicting make the exit code 1 so scripts notice; entries
  // already present (a re-run) do not.
  return report.skipped_count == 0 ? 0 : 1;
}

int ExportUsers(const std::string& config_path, const std::string& file) {
  auto runtime = OpenRuntimeOrFail(config_path, {.hasher = false, .keys = false});
  if (runtime == nullptr) return 1;
  if (file.empty() || file == "-") {
    absl::Status status = server::ExportUsers(*runtime->store, std::cout);
    return status.ok() ? 0 : Fail(absl::StrCat("standard output: ", status.message()));
  }
  // The export holds password hashes: the file is 0600 whatever the umask (also one that
  // existed before).
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (fd < 0 || ::fchmod(fd, 0600) != 0) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    return Fail(absl::StrCat(file, ": cannot create: ", std::strerror(error)));
  }
  ::close(fd);
  std::ofstream out;
  std::vector<char> buffer(1 << 20);
  out.rdbuf()->pubsetbuf(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  out.open(file, std::ios::binary | std::ios::trunc);
  if (!out) return Fail(absl::StrCat(file, ": cannot write"));
  absl::Status status = server::ExportUsers(*runtime->store, out);
  out.close();
  if (!status.ok()) return Fail(absl::StrCat(file, ": ", status.message()));
  if (!out) return Fail(absl::StrCat(file, ": cannot write"));
  return 0;
}

}  // namespace passgate::tools
