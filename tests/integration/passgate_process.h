#ifndef PASSGATE_TESTS_INTEGRATION_PASSGATE_PROCESS_H_
#define PASSGATE_TESTS_INTEGRATION_PASSGATE_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

namespace passgate::testing {

// TempDir is a fresh directory under $TMPDIR, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// PassgateBinary is the path of the built `passgate` binary.
std::string PassgateBinary();

// WriteFile writes `text` to `path` (truncating).
void WriteFile(const std::string& path, const std::string& text);
std::string ReadFile(const std::string& path);

// TestConfig writes a config for a test server into `dir`: Hanko's test settings of
// reference §12 (lifespan 1h, audience localhost), an SQLite file in `dir`, gRPC on an
// ephemeral loopback port. `grpc_lines` and `secrets_lines` are added inside server.grpc and
// secrets (indent 4 and 2), `extra_sections` appended as new top-level sections.
// Returns its path.
struct TestConfigExtras {
  std::string database_url;  // empty: an SQLite file in `dir`
  std::string extra_sections;
  std::string session_lines;  // inside session, indent 2
  std::string grpc_lines;    // inside server.grpc, indent 4
  std::string public_lines;  // inside server.public, indent 4 (address is 127.0.0.1:0)
  std::string admin_lines;   // inside server.admin, indent 4 (none: the admin API is off)
  std::string secrets_lines;
};
std::string WriteTestConfig(const TempDir& dir, const TestConfigExtras& extras = {});

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// RunCommand runs argv[0] (a path, or a name looked up on PATH) to completion with
// `stdin_text` on standard input and `env` ("NAME=value") added to the environment, and
// collects its standard output and error. Exit code 127: the program could not be started.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = "",
                         const std::vector<std::string>& env = {});

// RunPassgate runs `passgate args...` to completion with `stdin_text` on standard input.
CommandResult RunPassgate(const std::vector<std::string>& args, const std::string& stdin_text = "",
                          const std::vector<std::string>& env = {});

// ServerProcess is `passgate serve` running as a child process, its stderr in a log file.
class ServerProcess {
 public:
  // Start launches `passgate <serve_command...> --config <config_path>` and waits (up to
  // 60 s) for its "grpc listening" and/or "http listening" log lines, as the command runs
  // them. Fails the current test and returns null when it does not come up.
  static std::unique_ptr<ServerProcess> Start(
      const std::string& config_path, const std::string& log_path,
      const std::vector<std::string>& env = {},
      const std::vector<std::string>& serve_command = {"serve"});
  ~ServerProcess();  // SIGKILLs a still-running server

  int port() const { return port_; }  // gRPC
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int http_port() const { return http_port_; }
  // LoggedPort waits (up to 30 s) for the log line whose msg is `message` and returns its
  // "port" field; 0 (and a test failure) when it does not appear. E.g. "admin grpc listening".
  int LoggedPort(const std::string& message) const;
  pid_t pid() const { return pid_; }
  std::string Log() const;

  // Terminate sends SIGTERM and waits; returns the exit status (or -1 on timeout, after
  // which the process is killed).
  int Terminate(int timeout_seconds = 30);
  // Kill sends SIGKILL and reaps.
  void Kill();

 private:
  ServerProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}
  pid_t pid_;
  std::string log_path_;
  int port_ = 0;
  int http_port_ = 0;
};

}  // namespace passgate::testing

#endif  // PASSGATE_TESTS_INTEGRATION_PASSGATE_PROCESS_H_
