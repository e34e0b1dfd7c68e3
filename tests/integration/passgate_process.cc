#include "tests/integration/passgate_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "gtest/gtest.h"

namespace passgate::testing {
namespace {

std::vector<char*> Argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return argv;
}

void ApplyEnv(const std::vector<std::string>& env) {
  for (const std::string& assignment : env) {
    const auto eq = assignment.find('=');
    setenv(assignment.substr(0, eq).c_str(), assignment.substr(eq + 1).c_str(), 1);
  }
}

std::string Drain(int fd) {
  std::string out;
  char buffer[4096];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<size_t>(n));
  return out;
}

// WaitWithTimeout reaps `pid` within `timeout`; returns the wait status or -1.
int WaitWithTimeout(pid_t pid, std::chrono::seconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

}  // namespace

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "passgate-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string PassgateBinary() { return std::string(PASSGATE_BINARY_DIR) + "/tools/passgate"; }

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string WriteTestConfig(const TempDir& dir, const TestConfigExtras& extras) {
  const std::string path = dir.File("config.yaml");
  const std::string database_url =
      extras.database_url.empty() ? "sqlite://" + dir.File("passgate.db") : extras.database_url;
  WriteFile(path, "database:\n"
                  "  url: " + database_url + "\n"
                  "session:\n"
                  "  lifespan: 1h\n"
                  "  audience: [localhost]\n"
                  "  cookie: {same_site: none, secure: false, http_only: false}\n" +
                      extras.session_lines +
                  "server:\n"
                  "  grpc:\n"
                  "    address: 127.0.0.1:0\n"
                  "    shutdown_grace: 20s\n" +
                      extras.grpc_lines +
                      "  public:\n"
                      "    address: 127.0.0.1:0\n" +
                      extras.public_lines +
                      (extras.admin_lines.empty() ? "" : "  admin:\n" + extras.admin_lines) +
                      "secrets:\n"
                      "  keys: [\"test-secret-0123456789abcdef\"]\n" +
                      extras.secrets_lines +
                      // Hanko's test config runs without the limiter (reference §12); tests
                      // of the limiter configure it themselves.
                      (extras.extra_sections.find("rate_limiter:") == std::string::npos
                           ? "rate_limiter:\n  enabled: false\n"
                           : "") +
                      extras.extra_sections);
  return path;
}

CommandResult RunCommand(const std::vector<std::string>& argv_in, const std::string& stdin_text,
                         const std::vector<std::string>& env) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe(in_pipe) != 0 || pipe(out_pipe) != 0 || pipe(err_pipe) != 0) std::abort();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      close(fd);
    }
    ApplyEnv(env);
    std::vector<std::string> full = argv_in;
    std::vector<char*> argv = Argv(full);
    execvp(argv[0], argv.data());
    const std::string message = "cannot run " + argv_in[0] + ": " + std::strerror(errno) + "\n";
    [[maybe_unused]] ssize_t written = write(2, message.data(), message.size());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  // Small inputs fit the pipe buffer, so writing before reading cannot deadlock.
  if (!stdin_text.empty()) {
    [[maybe_unused]] ssize_t written = write(in_pipe[1], stdin_text.data(), stdin_text.size());
  }
  close(in_pipe[1]);
  CommandResult result;
  std::thread err_reader([&] { result.err = Drain(err_pipe[0]); });
  result.out = Drain(out_pipe[0]);
  err_reader.join();
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CommandResult RunPassgate(const std::vector<std::string>& args, const std::string& stdin_text,
                          const std::vector<std::string>& env) {
  std::vector<std::string> full = {PassgateBinary()};
  full.insert(full.end(), args.begin(), args.end());
  return RunCommand(full, stdin_text, env);
}

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::string& config_path,
                                                    const std::string& log_path,
                                                    const std::vector<std::string>& env,
                                                    const std::vector<std::string>& serve_command) {
  const bool wants_grpc = serve_command.size() == 1 || serve_command[1] == "grpc";
  const bool wants_http = serve_command.size() == 1 || serve_command[1] == "gateway";
  const pid_t pid = fork();
  if (pid == 0) {
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(log, 1);
    dup2(log, 2);
    close(log);
    ApplyEnv(env);
    std::vector<std::string> full = {PassgateBinary()};
    full.insert(full.end(), serve_command.begin(), serve_command.end());
    full.push_back("--config");
    full.push_back(config_path);
    std::vector<char*> argv = Argv(full);
    execv(argv[0], argv.data());
    _exit(127);
  }
  std::unique_ptr<ServerProcess> server(new ServerProcess(pid, log_path));
  const std::regex grpc_listening(R"re("msg":"grpc listening".*"port":(\d+))re");
  const std::regex http_listening(R"re("msg":"http listening".*"port":(\d+))re");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < until) {
    std::smatch match;
    const std::string log = server->Log();
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
      if (std::regex_search(line, match, grpc_listening)) server->port_ = std::stoi(match[1]);
      if (std::regex_search(line, match, http_listening)) server->http_port_ = std::stoi(match[1]);
    }
    if ((!wants_grpc || server->port_ != 0) && (!wants_http || server->http_port_ != 0)) {
      return server;
    }
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      ADD_FAILURE() << "passgate serve exited early; log:\n" << log;
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "passgate serve did not start; log:\n" << server->Log();
  return nullptr;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill();
}

std::string ServerProcess::Log() const { return ReadFile(log_path_); }

int ServerProcess::LoggedPort(const std::string& message) const {
  const std::regex listening("\"msg\":\"" + message + "\".*\"port\":(\\d+)");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    const std::string log = Log();
    std::istringstream lines(log);
    std::smatch match;
    for (std::string line; std::getline(lines, line);) {
      if (std::regex_search(line, match, listening)) return std::stoi(match[1]);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no \"" << message << "\" log line; log:\n" << Log();
  return 0;
}

int ServerProcess::Terminate(int timeout_seconds) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const int status = WaitWithTimeout(pid_, std::chrono::seconds(timeout_seconds));
  if (status == -1) {
    Kill();
    return -1;
  }
  pid_ = -1;
  return status;
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace passgate::testing
