#ifndef PASSGATE_TOOLS_COMMANDS_H_
#define PASSGATE_TOOLS_COMMANDS_H_

#include <optional>
#include <string>

namespace passgate::tools {

// Each command loads the config at `config_path`, does its job and returns the process exit
// code: 0 on success, 1 on failure with one line on stderr saying why.

// Serve runs the gRPC service and the REST gateway in one process (kAll, the gateway
// calling the service in-process), or only one of them (kGrpc; kGateway calling
// server.public.upstream.address over the network).
enum class ServeMode { kAll, kGrpc, kGateway };
int Serve(const std::string& config_path, ServeMode mode);
int Migrate(const std::string& config_path);

struct CreateUserArgs {
  std::string email;
  std::string id;  // empty: a new UUID v4
  bool password_stdin = false;
};
int CreateUser(const std::string& config_path, const CreateUserArgs& args);
int SetUserPassword(const std::string& config_path, const std::string& user_id);
int DeleteUser(const std::string& config_path, const std::string& user_id);
int ImportUsers(const std::string& config_path, const std::string& file);
int ExportUsers(const std::string& config_path, const std::string& file);  // "" = stdout

int ListKeys(const std::string& config_path);
int RotateKey(const std::string& config_path, bool now);
int RevokeSession(const std::string& config_path, const std::string& session_id);
// IssueSession opens a session for a user without a password check (operators, support,
// tests) and prints its token on stdout.
int IssueSession(const std::string& config_path, const std::string& user_id);
// ListSessions prints the user's sessions: id, created, expires, ip, user agent.
int ListSessions(const std::string& config_path, const std::string& user_id);

}  // namespace passgate::tools

#endif  // PASSGATE_TOOLS_COMMANDS_H_
