// passgate: the service and its operator commands in one binary. Parsing only; each command
// lives in tools/*_commands.cc.
#include <cstdlib>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "tools/commands.h"

int main(int argc, char** argv) {
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's deadlock detection on:
  // every lock gRPC takes then updates a global lock graph (about 5 % of a ValidateSession
  // call's CPU, measured with perf). Our own locks are std::mutex, checked by TSan instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  namespace tools = passgate::tools;
  CLI::App app{"passgate: password login with signed session tokens (gRPC service)", "passgate"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("passgate 0.1.0"));

  std::string config = "config.yaml";
  if (const char* from_env = std::getenv("PASSGATE_CONFIG")) config = from_env;
  // Every command takes --config (and shows it in its --help), wherever it is written.
  const auto with_config = [&config](CLI::App* command) {
    command->add_option("-c,--config", config, "YAML config file (env PASSGATE_CONFIG)")
        ->capture_default_str()
        ->check(CLI::ExistingFile);
    return command;
  };
  const auto command = [&](CLI::App& parent, const char* name, const char* description) {
    return with_config(parent.add_subcommand(name, description));
  };
  with_config(&app);

  int exit_code = 0;

  CLI::App* serve = command(
      app, "serve", "Run the gRPC service and the REST gateway (in one process by default)");
  serve->callback([&] {
    if (serve->get_subcommands().empty()) exit_code = tools::Serve(config, tools::ServeMode::kAll);
  });
  command(*serve, "grpc", "Run only the PasswordAuth gRPC service")->callback([&] {
    exit_code = tools::Serve(config, tools::ServeMode::kGrpc);
  });
  command(*serve, "gateway",
          "Run only the REST gateway, calling the service at server.public.upstream.address")
      ->callback([&] { exit_code = tools::Serve(config, tools::ServeMode::kGateway); });
  command(app, "migrate", "Apply pending database schema migrations")->callback([&] {
    exit_code = tools::Migrate(config);
  });

  CLI::App* user = command(app, "user", "Manage users")->require_subcommand(1);
  tools::CreateUserArgs create_args;
  CLI::App* create = command(*user, "create", "Create a user; prints its id");
  create->add_option("--email", create_args.email, "Primary email address")->required();
  create->add_option("--id", create_args.id, "User id (canonical UUID; default: a new one)");
  create->add_flag("--password-stdin", create_args.password_stdin,
                   "Read the password from the first line of standard input");
  create->callback([&] { exit_code = tools::CreateUser(config, create_args); });

  std::string user_id;
  CLI::App* set_password = command(*user, "set-password", "Set a user's password");
  set_password->add_option("ID", user_id, "User id")->required();
  bool password_stdin = false;
  set_password
      ->add_flag("--password-stdin", password_stdin,
                 "Read the password from the first line of standard input")
      ->required();
  set_password->callback([&] { exit_code = tools::SetUserPassword(config, user_id); });

  CLI::App* remove = command(*user, "delete", "Delete a user with its password and sessions");
  remove->add_option("ID", user_id, "User id")->required();
  remove->callback([&] { exit_code = tools::DeleteUser(config, user_id); });

  std::string file;
  CLI::App* import = command(*user, "import", "Import users from a Hanko export file");
  import->add_option("FILE", file, "JSON file in Hanko's import format")->required();
  import->callback([&] { exit_code = tools::ImportUsers(config, file); });

  CLI::App* export_users = command(*user, "export", "Export users in Hanko's import format");
  export_users->add_option("FILE", file, "Output file (default: standard output)");
  export_users->callback([&] { exit_code = tools::ExportUsers(config, file); });

  CLI::App* jwk = command(app, "jwk", "Manage signing keys")->require_subcommand(1);
  command(*jwk, "list", "List signing keys")->callback([&] {
    exit_code = tools::ListKeys(config);
  });
  bool rotate_now = false;
  CLI::App* rotate = command(*jwk, "rotate",
                             "Generate a new signing key (published at once, signing after "
                             "secrets.key_activation_delay)");
  rotate->add_flag("--now", rotate_now,
                   "Sign with it at once (after a key compromise: tokens it signs fail on "
                   "replicas and JWKS consumers that have not refreshed yet)");
  rotate->callback([&] { exit_code = tools::RotateKey(config, rotate_now); });

  CLI::App* session = command(app, "session", "Manage sessions")->require_subcommand(1);
  std::string session_id;
  CLI::App* revoke = command(*session, "revoke", "Revoke one session");
  revoke->add_option("ID", session_id, "Session id")->required();
  revoke->callback([&] { exit_code = tools::RevokeSession(config, session_id); });
  CLI::App* issue = command(*session, "issue",
                            "Open a session for a user without a password check; prints the token");
  issue->add_option("USER_ID", user_id, "User id")->required();
  issue->callback([&] { exit_code = tools::IssueSession(config, user_id); });
  CLI::App* list = command(*session, "list", "List a user's sessions");
  list->add_option("USER_ID", user_id, "User id")->required();
  list->callback([&] { exit_code = tools::ListSessions(config, user_id); });

  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
