#include "tools/passgate_bench/wrk_run.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "tools/passgate_bench/process_stats.h"

namespace passgate::bench {
namespace {

struct Output {
  int exit_code = 0;
  std::string out;
};

// RunCapturingStdout runs `command` with its stdout on a pipe (stderr inherited).
absl::StatusOr<Output> RunCapturingStdout(const std::vector<std::string>& command,
                                          const std::string& users_file) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno)));
  const pid_t child = fork();
  if (child < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (child == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    if (!users_file.empty()) setenv("PASSGATE_BENCH_USERS", users_file.c_str(), 1);
    std::vector<char*> argv;
    for (const std::string& arg : command) argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    const std::string message =
        absl::StrCat("cannot run ", command[0], ": ", std::strerror(errno), "\n");
    [[maybe_unused]] const ssize_t written = write(STDERR_FILENO, message.data(), message.size());
    _exit(127);
  }
  close(pipe_fds[1]);
  Output output;
  char buffer[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) output.out.append(buffer, static_cast<std::size_t>(n));
  }
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return output;
}

}  // namespace

absl::StatusOr<nlohmann::json> RunWrk(const WrkOptions& options) {
  // A generous timeout: a queued login at high concurrency legitimately waits seconds, and
  // wrk's default (2 s) would count it as an error and drop its latency.
  const std::vector<std::string> command = {"wrk",
                                            absl::StrCat("--threads=", options.threads),
                                            absl::StrCat("--connections=", options.connections),
                                            absl::StrCat("--duration=", options.seconds, "s"),
                                            "--timeout=30s",
                                            absl::StrCat("--script=", options.script),
                                            options.url};
  const std::optional<pid_t> server_pid = options.server_pid;
  const auto cpu_start = server_pid ? ProcessCpuTime(*server_pid) : std::nullopt;
  absl::StatusOr<Output> output = RunCapturingStdout(command, options.users_file);
  const auto cpu_end = server_pid ? ProcessCpuTime(*server_pid) : std::nullopt;
  if (!output.ok()) return output.status();

  std::optional<nlohmann::json> result;
  std::istringstream lines(output->out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with("{")) {
      result = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    } else {
      std::cerr << line << "\n";
    }
  }
  if (output->exit_code != 0) {
    return absl::InternalError(absl::StrCat(command[0], " exited with ", output->exit_code));
  }
  if (!result || result->is_discarded()) {
    return absl::InternalError(absl::StrCat(
        command[0], " printed no JSON line (is the script tools/passgate_bench/wrk/*.lua?)"));
  }
  (*result)["connections"] = options.connections;
  if (server_pid) {
    const auto requests = (*result).value("requests", 0.0);
    (*result)["server_cpu_us_per_request"] =
        cpu_start && cpu_end && requests > 0
            ? nlohmann::json(static_cast<double>((*cpu_end - *cpu_start).count()) / requests)
            : nlohmann::json(nullptr);
  }
  return *result;
}

}  // namespace passgate::bench
