#include "tools/passgate_bench/http_burst.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>

#include "absl/strings/str_cat.h"
#include "tools/passgate_bench/process_stats.h"

namespace passgate::bench {
namespace {

using Clock = std::chrono::steady_clock;

// FileDescriptor closes its descriptor when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) : fd_(fd) {}
  ~FileDescriptor() { Reset(); }
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Connection is one login in flight: the request still to send, then the answer so far.
struct Connection {
  FileDescriptor socket;
  std::string request;
  std::size_t sent = 0;
  std::string response;
  bool done = false;
  std::string outcome;  // HTTP status, or "failed"
};

std::string LoginRequest(const std::string& host, int port, const Credential& user) {
  const std::string body =
      nlohmann::json{{"user_id", user.user_id}, {"password", user.password}}.dump();
  // Connection: close lets the answer end at EOF too, and frees the server's connection
  // as soon as it answered.
  return absl::StrCat("POST /password/login HTTP/1.1\r\nHost: ", host, ":", port,
                      "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", body);
}

// ResponseComplete returns the status code once `response` holds a whole HTTP/1.1 answer
// (headers and Content-Length bytes of body), or nullopt while more is to come.
std::optional<std::string> ResponseComplete(const std::string& response) {
  const auto header_end = response.find("\r\n\r\n");
  if (header_end == std::string::npos) return std::nullopt;
  std::uint64_t content_length = 0;
  std::size_t line_start = response.find("\r\n") + 2;
  while (line_start < header_end) {
    const auto line_end = response.find("\r\n", line_start);
    const std::string_view line(response.data() + line_start, line_end - line_start);
    constexpr std::string_view kContentLength = "content-length:";
    if (line.size() > kContentLength.size() &&
        strncasecmp(line.data(), kContentLength.data(), kContentLength.size()) == 0) {
      std::string_view value = line.substr(kContentLength.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      const auto [end, error] =
          std::from_chars(value.data(), value.data() + value.size(), content_length);
      if (error != std::errc() || end == value.data()) return std::nullopt;
    }
    line_start = line_end + 2;
  }
  if (response.size() < header_end + 4 + content_length) return std::nullopt;
  // "HTTP/1.1 200 OK": the code is the second word.
  const auto space = response.find(' ');
  return response.substr(space + 1, 3);
}

// RaiseOpenFileLimit lifts the soft descriptor limit to the hard one: a burst needs one
// per connection and the usual soft default (1024) is too few for 1,000.
void RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void Finish(Connection& connection, std::string outcome) {
  connection.done = true;
  connection.outcome = std::move(outcome);
  connection.socket.Reset();
}

// Step does whatever the socket is ready for; it finishes the connection on an answer,
// EOF or an error.
void Step(Connection& connection, std::uint32_t events, int epoll) {
  if (connection.sent < connection.request.size()) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(connection.socket.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return Finish(connection, "failed");
    const ssize_t n = send(connection.socket.get(), connection.request.data() + connection.sent,
                           connection.request.size() - connection.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) Finish(connection, "failed");
      return;
    }
    connection.sent += static_cast<std::size_t>(n);
    if (connection.sent == connection.request.size()) {
      epoll_event event{.events = EPOLLIN, .data = {.ptr = &connection}};
      epoll_ctl(epoll, EPOLL_CTL_MOD, connection.socket.get(), &event);
    }
    return;
  }
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(connection.socket.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      connection.response.append(buffer, static_cast<std::size_t>(n));
      if (auto status = ResponseComplete(connection.response)) {
        return Finish(connection, *std::move(status));
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    // EOF or an error before a whole answer.
    return Finish(connection, "failed");
  }
}

}  // namespace

absl::StatusOr<nlohmann::json> RunHttpBurst(const HttpBurstOptions& options) {
  RaiseOpenFileLimit();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(options.port));
  if (inet_pton(AF_INET, options.host.c_str(), &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("--host: not an IPv4 address: ", options.host));
  }
  FileDescriptor epoll(epoll_create1(EPOLL_CLOEXEC));
  if (epoll.get() < 0) return absl::InternalError(absl::StrCat("epoll: ", std::strerror(errno)));

  std::vector<Connection> connections(options.connections);
  for (int i = 0; i < options.connections; ++i) {
    connections[i].request =
        LoginRequest(options.host, options.port, options.users[i % options.users.size()]);
  }

  std::optional<MemoryKib> before;
  bool peak_reset = false;
  if (options.server_pid) {
    peak_reset = ResetPeakRss(*options.server_pid);
    before = ProcessMemory(*options.server_pid);
  }

  // Open every connection before waiting for any answer, so all of them are in the server
  // at once: that is the burst whose memory is measured.
  const auto start = Clock::now();
  int pending = 0;
  for (Connection& connection : connections) {
    connection.socket =
        FileDescriptor(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
    if (connection.socket.get() < 0) {
      return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno),
                                              " (raise the open-file limit: ulimit -n)"));
    }
    if (connect(connection.socket.get(), reinterpret_cast<const sockaddr*>(&address),
                sizeof address) != 0 &&
        errno != EINPROGRESS) {
      Finish(connection, "failed");
      continue;
    }
    epoll_event event{.events = EPOLLOUT, .data = {.ptr = &connection}};
    if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, connection.socket.get(), &event) != 0) {
      return absl::InternalError(absl::StrCat("epoll_ctl: ", std::strerror(errno)));
    }
    ++pending;
  }

  const auto deadline = start + options.timeout;
  std::vector<epoll_event> events(256);
  while (pending > 0 && Clock::now() < deadline) {
    const int ready = epoll_wait(epoll.get(), events.data(), static_cast<int>(events.size()), 100);
    if (ready < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("epoll_wait: ", std::strerror(errno)));
    }
    for (int i = 0; i < ready; ++i) {
      auto& connection = *static_cast<Connection*>(events[i].data.ptr);
      if (connection.done) continue;
      Step(connection, events[i].events, epoll.get());
      if (connection.done) --pending;
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::map<std::string, int> statuses;
  for (Connection& connection : connections) {
    if (!connection.done) Finish(connection, "failed");  // timed out
    ++statuses[connection.outcome];
  }
  nlohmann::json result = {
      {"connections", options.connections},
      {"seconds", seconds},
      {"statuses", statuses},
  };
  if (options.server_pid) {
    const std::optional<MemoryKib> after = ProcessMemory(*options.server_pid);
    result["rss_before_kib"] = before ? nlohmann::json(before->rss) : nlohmann::json(nullptr);
    result["peak_rss_kib"] = after ? nlohmann::json(after->peak_rss) : nlohmann::json(nullptr);
    result["peak_rss_scope"] = peak_reset ? "burst" : "process";
  }
  return result;
}

}  // namespace passgate::bench
