#include "gateway/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gateway/http_message.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace passgate::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::StartsWith;

// Generous bound for anything the server must do: only reached when something is broken, so
// it fails the test instead of hanging it. Never used to wait for something *not* to happen.
constexpr std::chrono::seconds kBound{20};

// ---------------------------------------------------------------------------------------
// A tiny blocking HTTP/1.1 client on POSIX sockets (optionally OpenSSL on top).

struct Reply {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;

  std::optional<std::string> Header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return value;
    }
    return std::nullopt;
  }
  nlohmann::json Json() const { return nlohmann::json::parse(body); }
};

class Client {
 public:
  // Connect opens a connection to 127.0.0.1:port; with `tls`, also does the TLS handshake.
  static std::unique_ptr<Client> Connect(int port, SSL_CTX* tls = nullptr) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return nullptr;
    auto client = std::unique_ptr<Client>(new Client(fd));
    timeval bound{};
    bound.tv_sec = kBound.count();
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return nullptr;
    if (tls != nullptr) {
      client->ssl_ = SSL_new(tls);
      SSL_set_fd(client->ssl_, fd);
      SSL_set_tlsext_host_name(client->ssl_, "localhost");
      SSL_set1_host(client->ssl_, "localhost");
      if (SSL_connect(client->ssl_) != 1) return nullptr;
    }
    return client;
  }

  ~Client() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ::close(fd_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool Send(std::string_view data) {
    while (!data.empty()) {
      const long n = ssl_ != nullptr ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                                     : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Read reads one response; nullopt if the connection ended first. `head`: no body follows.
  std::optional<Reply> Read(bool head = false) {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    std::string_view header(buffer_.data(), end);
    Reply reply;
    std::size_t line_end = header.find("\r\n");
    const std::string_view status_line = header.substr(0, line_end);
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.")) return std::nullopt;
    reply.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
    reply.reason = std::string(status_line.substr(std::min<std::size_t>(13, status_line.size())));
    while (line_end != std::string_view::npos) {
      header.remove_prefix(line_end + 2);
      line_end = header.find("\r\n");
      const std::string_view line = header.substr(0, line_end);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) return std::nullopt;
      std::string name(line.substr(0, colon));
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      reply.headers.emplace_back(std::move(name), std::string(value));
    }
    buffer_.erase(0, end + 4);
    std::size_t length = 0;
    if (const auto content_length = reply.Header("content-length"); content_length && !head) {
      length = std::stoul(*content_length);
    }
    while (buffer_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    reply.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return reply;
  }

  // ReadUntilClosed returns everything up to the end of the connection (EOF or reset), or
  // nullopt if it is still open after kBound.
  std::optional<std::string> ReadUntilClosed() {
    for (;;) {
      char chunk[4096];
      const long n = Recv(chunk, sizeof chunk);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::nullopt;
      return std::exchange(buffer_, {});
    }
  }

 private:
  explicit Client(int fd) : fd_(fd) {}

  long Recv(char* data, std::size_t size) {
    if (ssl_ == nullptr) return ::recv(fd_, data, size, 0);
    errno = 0;
    const int n = SSL_read(ssl_, data, static_cast<int>(size));
    if (n > 0) return n;
    const int error = SSL_get_error(ssl_, n);
    if (error == SSL_ERROR_ZERO_RETURN) return 0;
    return (error == SSL_ERROR_SYSCALL && errno == 0) ? 0 : -1;
  }

  bool Fill() {
    char chunk[4096];
    const long n = Recv(chunk, sizeof chunk);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

std::string Get(std::string_view target, std::string_view extra_headers = {}) {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: localhost\r\n" +
         std::string(extra_headers) + "\r\n";
}

std::string Post(std::string_view target, std::string_view body) {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

// ---------------------------------------------------------------------------------------
// The handler under the server: echoes the request as JSON, except for a few special paths.

class TestHandler : public HttpHandler {
 public:
  ~TestHandler() override {
    for (std::thread& thread : threads_) thread.join();
  }

  void Handle(HttpRequest request, Responder respond) override {
    if (request.path == "/delay") {
      // Answer from another thread, later.
      std::lock_guard lock(mu_);
      threads_.emplace_back([respond = std::move(respond)] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        HttpResponse response;
        response.body = "late";
        respond(std::move(response));
      });
      return;
    }
    if (request.path == "/hold") {
      std::lock_guard lock(mu_);
      held_ = std::move(respond);
      held_cv_.notify_all();
      return;
    }
    if (request.path == "/drop") return;  // a buggy handler: the Responder is never called
    if (request.path == "/throw") throw std::runtime_error("handler bug");
    if (request.path == "/cookies") {
      HttpResponse response;
      response.AddHeader("Set-Cookie", "a=1; Path=/");
      response.AddHeader("X-Between", "x");
      response.AddHeader("Set-Cookie", "b=2; Path=/");
      response.body = "ok";
      respond(std::move(response));
      return;
    }
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& [name, value] : request.headers) headers.push_back({name, value});
    const nlohmann::json echo = {
        {"method", request.method}, {"path", request.path},
        {"query", request.query},   {"headers", headers},
        {"body", request.body},     {"peer", request.peer_ip},
        {"tls", request.tls},       {"client_cert", request.client_cert_common_name}};
    HttpResponse response;
    response.AddHeader("Content-Type", "application/json");
    response.body = echo.dump();
    respond(std::move(response));
  }

  // WaitHeld waits until a /hold request has arrived and returns its Responder.
  Responder WaitHeld() {
    std::unique_lock lock(mu_);
    if (!held_cv_.wait_for(lock, kBound, [this] { return held_ != nullptr; })) return nullptr;
    return std::exchange(held_, nullptr);
  }

 private:
  std::mutex mu_;
  std::condition_variable held_cv_;
  Responder held_;
  std::vector<std::thread> threads_;
};

HttpResponse Text(std::string body) {
  HttpResponse response;
  response.body = std::move(body);
  return response;
}

class HttpServerTest : public ::testing::Test {
 protected:
  static HttpServerOptions LocalOptions() {
    HttpServerOptions options;
    options.address = "127.0.0.1:0";
    return options;
  }

  void StartServer(HttpServerOptions options = LocalOptions()) {
    absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, handler_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
  }

  std::unique_ptr<Client> Connect(SSL_CTX* tls = nullptr) {
    return Client::Connect(server_->port(), tls);
  }

  // Exchange sends `request` on a fresh connection and reads one response.
  std::optional<Reply> Exchange(std::string_view request) {
    auto client = Connect();
    if (client == nullptr || !client->Send(request)) return std::nullopt;
    return client->Read();
  }

  TestHandler handler_;  // outlives the server
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, GetIsEchoed) {
  StartServer();
  const auto reply = Exchange(Get("/v1/users/x?a=1&b=%20",
                                  "X-Custom:  Some Value \r\nCookie: a=1\r\nX-Other: o\r\n"
                                  "cookie: b=2\r\n"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->reason, "OK");
  EXPECT_EQ(reply->Header("content-type"), "application/json");
  EXPECT_EQ(reply->Header("content-length"), std::to_string(reply->body.size()));
  const nlohmann::json echo = reply->Json();
  EXPECT_EQ(echo["method"], "GET");
  EXPECT_EQ(echo["path"], "/v1/users/x");
  EXPECT_EQ(echo["query"], "a=1&b=%20");
  // Arrival order, names lowercased, values trimmed; the repeated name stays where it was.
  EXPECT_EQ(echo["headers"], nlohmann::json::parse(R"([["host","localhost"],
      ["x-custom","Some Value"],["cookie","a=1"],["x-other","o"],["cookie","b=2"]])"));
  EXPECT_EQ(echo["body"], "");
  EXPECT_EQ(echo["peer"], "127.0.0.1");
  EXPECT_EQ(echo["tls"], false);
}

TEST_F(HttpServerTest, AbsoluteFormTargetIsSplit) {
  StartServer();
  const auto reply = Exchange(Get("http://localhost:8000/v1/x?y=2"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->Json()["path"], "/v1/x");
  EXPECT_EQ(reply->Json()["query"], "y=2");
}

TEST_F(HttpServerTest, PostBodyIsEchoed) {
  StartServer();
  const auto reply = Exchange(Post("/v1/login", R"({"password":"p"})"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  const nlohmann::json echo = reply->Json();
  EXPECT_EQ(echo["method"], "POST");
  EXPECT_EQ(echo["path"], "/v1/login");
  EXPECT_EQ(echo["query"], "");
  EXPECT_EQ(echo["body"], R"({"password":"p"})");
}

TEST_F(HttpServerTest, ChunkedBodyIsAssembled) {
  StartServer();
  const auto reply = Exchange(
      "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->Json()["body"], "abcde");
}

TEST_F(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Get("/first")));
  const auto first = client->Read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->Json()["path"], "/first");
  EXPECT_EQ(first->Header("connection"), std::nullopt);
  ASSERT_TRUE(client->Send(Post("/second", "body")));
  const auto second = client->Read();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->Json()["path"], "/second");
  EXPECT_EQ(second->Json()["body"], "body");
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  // The first answer comes late from another thread; the second must still come second.
  ASSERT_TRUE(client->Send(Get("/delay") + Post("/second", "2") + Get("/third")));
  const auto first = client->Read();
  const auto second = client->Read();
  const auto third = client->Read();
  ASSERT_TRUE(first && second && third);
  EXPECT_EQ(first->body, "late");
  EXPECT_EQ(second->Json()["path"], "/second");
  EXPECT_EQ(second->Json()["body"], "2");
  EXPECT_EQ(third->Json()["path"], "/third");
}

TEST_F(HttpServerTest, ResponderMayRunOnAnotherThreadLater) {
  StartServer();
  const auto reply = Exchange(Get("/delay"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "late");
}

TEST_F(HttpServerTest, RepeatedHeadersKeepTheirOrder) {
  StartServer();
  const auto reply = Exchange(Get("/cookies"));
  ASSERT_TRUE(reply);
  std::vector<std::pair<std::string, std::string>> ours;
  for (const auto& header : reply->headers) {
    if (header.first == "set-cookie" || header.first == "x-between") ours.push_back(header);
  }
  EXPECT_THAT(ours, ElementsAre(Pair("set-cookie", "a=1; Path=/"), Pair("x-between", "x"),
                                Pair("set-cookie", "b=2; Path=/")));
}

TEST_F(HttpServerTest, DroppedResponderAnswers500) {
  StartServer();
  const auto reply = Exchange(Get("/drop"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500);
  EXPECT_EQ(reply->body, "{\"code\":500,\"message\":\"Internal Server Error\"}\n");
}

TEST_F(HttpServerTest, ThrowingHandlerAnswers500AndServerKeepsServing) {
  StartServer();
  const auto reply = Exchange(Get("/throw"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500);
  const auto next = Exchange(Get("/after"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

TEST_F(HttpServerTest, HeadGetsHeadersWithoutBody) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto head = client->Read(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_NE(head->Header("content-length"), "0");
  // Framing stayed right: the next response on the connection parses.
  ASSERT_TRUE(client->Send(Get("/next")));
  const auto next = client->Read();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->Json()["path"], "/next");
}

TEST_F(HttpServerTest, Http10WithoutKeepAliveIsClosed) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("GET /old HTTP/1.0\r\n\r\n"));
  const auto reply = client->Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(client->ReadUntilClosed(), "");
}

TEST_F(HttpServerTest, Http10KeepAliveStaysOpen) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  const auto first = client->Read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->Header("connection"), "keep-alive");
  ASSERT_TRUE(client->Send("GET /older HTTP/1.0\r\n\r\n"));
  const auto second = client->Read();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->Json()["path"], "/older");
  EXPECT_EQ(second->Header("connection"), "close");
  EXPECT_EQ(client->ReadUntilClosed(), "");
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(
      "POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  const auto interim = client->Read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client->Send("hello"));
  const auto reply = client->Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->Json()["body"], "hello");
}

// ---------------------------------------------------------------------------------------
// Limits and protocol errors: a Hanko-style JSON error, then the connection closes.

void ExpectErrorAndClose(Client& client, int status, std::string_view message) {
  const auto reply = client.Read();
  ASSERT_TRUE(reply) << "no response, want " << status;
  EXPECT_EQ(reply->status, status);
  EXPECT_EQ(reply->body, "{\"code\":" + std::to_string(status) + ",\"message\":\"" +
                             std::string(message) + "\"}\n");
  EXPECT_EQ(reply->Header("content-type"), "application/json");
  EXPECT_EQ(reply->Header("connection"), "close");
  EXPECT_TRUE(client.ReadUntilClosed().has_value()) << "connection still open";
}

TEST_F(HttpServerTest, DeclaredBodyOverLimitIs413) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(
      client->Send("POST /big HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: 20000\r\n\r\n"));
  ExpectErrorAndClose(*client, 413, "Request Entity Too Large");
}

TEST_F(HttpServerTest, SentBodyOverLimitIs413) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  // The whole oversized body is sent: the lingering close must still deliver the reply.
  ASSERT_TRUE(client->Send(Post("/big", std::string(20000, 'x'))));
  ExpectErrorAndClose(*client, 413, "Request Entity Too Large");
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  std::string request = "POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) request += "fa0\r\n" + std::string(4000, 'y') + "\r\n";
  request += "0\r\n\r\n";
  ASSERT_TRUE(client->Send(request));
  ExpectErrorAndClose(*client, 413, "Request Entity Too Large");
}

TEST_F(HttpServerTest, BodyAtLimitIsAccepted) {
  StartServer();
  const auto reply = Exchange(Post("/max", std::string(16 * 1024, 'z')));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Get("/", "X-Big: " + std::string(10 * 1024, 'h') + "\r\n")));
  ExpectErrorAndClose(*client, 431, "Request Header Fields Too Large");
}

TEST_F(HttpServerTest, MalformedRequestsAre400) {
  StartServer();
  const std::string cases[] = {
      "HELLO\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "GET / HTTP/1.1\r\nHost: x\r\nBad Name: x\r\n\r\n",
      "GET / HTTP/x.y\r\n\r\n",
      "GET / HTTP/1.1\r\n\r\n",                        // no Host
      "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
  };
  for (const std::string& request : cases) {
    auto client = Connect();
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->Send(request));
    SCOPED_TRACE(request);
    ExpectErrorAndClose(*client, 400, "Bad Request");
  }
}

TEST_F(HttpServerTest, UnsupportedVersionIs505) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("GET / HTTP/2.0\r\nHost: x\r\n\r\n"));
  ExpectErrorAndClose(*client, 505, "HTTP Version Not Supported");
}

TEST_F(HttpServerTest, UnsupportedTransferEncodingIs501) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"));
  ExpectErrorAndClose(*client, 501, "Not Implemented");
}

// ---------------------------------------------------------------------------------------
// Timeouts (only generous upper bounds are asserted).

TEST_F(HttpServerTest, SlowHeaderOnNewConnectionIsCutOff) {
  HttpServerOptions options = LocalOptions();
  options.read_timeout = std::chrono::milliseconds(300);
  StartServer(options);
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send("GET / HTTP/1.1\r\nHost: x\r\n"));  // ... and nothing more
  EXPECT_TRUE(client->ReadUntilClosed().has_value()) << "slow client not disconnected";
}

TEST_F(HttpServerTest, SlowHeaderOnKeepAliveConnectionIsCutOff) {
  HttpServerOptions options = LocalOptions();
  options.read_timeout = std::chrono::milliseconds(300);
  options.idle_timeout = std::chrono::milliseconds(600'000);  // only read_timeout can act
  StartServer(options);
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Get("/first")));
  ASSERT_TRUE(client->Read());
  ASSERT_TRUE(client->Send("GET /second HTTP/1.1\r\nHo"));
  EXPECT_TRUE(client->ReadUntilClosed().has_value()) << "slow client not disconnected";
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  HttpServerOptions options = LocalOptions();
  options.idle_timeout = std::chrono::milliseconds(300);
  StartServer(options);
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Get("/")));
  ASSERT_TRUE(client->Read());
  EXPECT_EQ(client->ReadUntilClosed(), "");
}

// ---------------------------------------------------------------------------------------

TEST_F(HttpServerTest, ConnectionsOverTheLimitAreClosed) {
  HttpServerOptions options = LocalOptions();
  options.max_connections = 2;
  StartServer(options);
  auto first = Connect();
  auto second = Connect();
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  // Answers prove that the server has accepted (and counted) both.
  ASSERT_TRUE(first->Send(Get("/1")));
  ASSERT_TRUE(first->Read());
  ASSERT_TRUE(second->Send(Get("/2")));
  ASSERT_TRUE(second->Read());

  if (auto third = Connect(); third != nullptr) {  // the kernel may complete the handshake
    third->Send(Get("/3"));
    const std::optional<std::string> rest = third->ReadUntilClosed();
    ASSERT_TRUE(rest.has_value()) << "third connection still open";
    if (!rest->empty()) {
      EXPECT_THAT(*rest, StartsWith("HTTP/1.1 503 "));
    }
  }

  ASSERT_TRUE(first->Send(Get("/1b")));
  const auto again = first->Read();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->Json()["path"], "/1b");

  // Once one closes, a new connection gets in (the server notices the close asynchronously).
  first.reset();
  bool served = false;
  const auto deadline = std::chrono::steady_clock::now() + kBound;
  while (!served && std::chrono::steady_clock::now() < deadline) {
    if (auto reply = Exchange(Get("/4")); reply && reply->status == 200) {
      served = true;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  EXPECT_TRUE(served);
}

// ---------------------------------------------------------------------------------------
// TLS

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::path(::testing::TempDir()) / "passgate-http-XXXXXX");
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST_F(HttpServerTest, ServesOverTls) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string cert = dir.path() + "/c.pem";
  const std::string key = dir.path() + "/k.pem";
  const std::string command =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
      "-subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout '" +
      key + "' -out '" + cert + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  HttpServerOptions options = LocalOptions();
  options.tls_cert_file = cert;
  options.tls_key_file = key;
  StartServer(options);

  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                            &SSL_CTX_free);
  ASSERT_NE(context, nullptr);
  ASSERT_EQ(SSL_CTX_load_verify_locations(context.get(), cert.c_str(), nullptr), 1);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);

  auto client = Connect(context.get());
  ASSERT_NE(client, nullptr) << "TLS handshake failed";
  ASSERT_TRUE(client->Send(Post("/secure?x=1", "secret")));
  const auto reply = client->Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  const nlohmann::json echo = reply->Json();
  EXPECT_EQ(echo["path"], "/secure");
  EXPECT_EQ(echo["query"], "x=1");
  EXPECT_EQ(echo["body"], "secret");
  EXPECT_EQ(echo["tls"], true);
  // Keep-alive works over TLS too.
  ASSERT_TRUE(client->Send(Get("/again")));
  const auto again = client->Read();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->Json()["path"], "/again");
}

// Mutual TLS: a CA, a server certificate and client certificates from it and from a stranger.
TEST_F(HttpServerTest, ClientCertificatesAreVerifiedAndTheirCommonNameReachesTheHandler) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const auto file = [&](const std::string& name) { return dir.path() + "/" + name; };
  const std::string key_options = " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
  const std::vector<std::string> commands = {
      // The CA and, from it, the server's and a client's certificate.
      "openssl req -x509" + key_options + " -days 1 -subj /CN=test-ca -keyout " + file("ca.key") +
          " -out " + file("ca.pem"),
      "openssl req -new" + key_options + " -subj /CN=localhost -keyout " + file("server.key") +
          " -out " + file("server.csr"),
      "openssl x509 -req -in " + file("server.csr") + " -CA " + file("ca.pem") + " -CAkey " +
          file("ca.key") + " -set_serial 2 -days 1 -out " + file("server.pem"),
      "openssl req -new" + key_options + " -subj /CN=support-tool -keyout " + file("client.key") +
          " -out " + file("client.csr"),
      "openssl x509 -req -in " + file("client.csr") + " -CA " + file("ca.pem") + " -CAkey " +
          file("ca.key") + " -set_serial 3 -days 1 -out " + file("client.pem"),
      // A self-signed "client" the server's CA never issued.
      "openssl req -x509" + key_options + " -days 1 -subj /CN=intruder -keyout " +
          file("stranger.key") + " -out " + file("stranger.pem"),
  };
  for (const std::string& command : commands) {
    ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0) << command;
  }

  HttpServerOptions options = LocalOptions();
  options.tls_cert_file = file("server.pem");
  options.tls_key_file = file("server.key");
  options.tls_client_ca_file = file("ca.pem");
  StartServer(options);

  const auto client_context = [&](const std::string& cert, const std::string& key) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                              &SSL_CTX_free);
    SSL_CTX_load_verify_locations(context.get(), file("ca.pem").c_str(), nullptr);
    SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
    if (!cert.empty()) {
      SSL_CTX_use_certificate_file(context.get(), cert.c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(context.get(), key.c_str(), SSL_FILETYPE_PEM);
    }
    return context;
  };
  const auto client_cert_seen = [&](SSL_CTX* context) -> std::optional<std::string> {
    auto client = Connect(context);
    if (client == nullptr || !client->Send(Get("/who"))) return std::nullopt;
    const auto reply = client->Read();
    if (!reply || reply->status != 200) return std::nullopt;
    return reply->Json()["client_cert"].get<std::string>();
  };

  auto with_cert = client_context(file("client.pem"), file("client.key"));
  EXPECT_EQ(client_cert_seen(with_cert.get()), "support-tool");
  // No certificate: still served (bearer-token callers), with no name.
  auto without = client_context("", "");
  EXPECT_EQ(client_cert_seen(without.get()), "");
  // A certificate from another issuer fails the handshake (TLS 1.3 reports it on first read).
  auto stranger = client_context(file("stranger.pem"), file("stranger.key"));
  EXPECT_EQ(client_cert_seen(stranger.get()), std::nullopt);
}

TEST_F(HttpServerTest, ClientCaWithoutTlsIsInvalidArgument) {
  HttpServerOptions options = LocalOptions();
  options.tls_client_ca_file = "/nonexistent/ca.pem";
  auto server = HttpServer::Start(options, handler_);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("tls_client_ca_file"));
}

TEST_F(HttpServerTest, BadTlsFilesAreInvalidArgument) {
  HttpServerOptions options = LocalOptions();
  options.tls_cert_file = "/nonexistent/c.pem";
  options.tls_key_file = "/nonexistent/k.pem";
  auto server = HttpServer::Start(options, handler_);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(server.status().message()), HasSubstr("tls_cert_file"));

  options.tls_key_file.clear();
  server = HttpServer::Start(options, handler_);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(HttpServerTest, BadAddressesAreRejected) {
  for (const char* address : {"127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x", "::1:80", "[::1"}) {
    HttpServerOptions options = LocalOptions();
    options.address = address;
    EXPECT_EQ(HttpServer::Start(options, handler_).status().code(),
              absl::StatusCode::kInvalidArgument)
        << address;
  }
}

TEST_F(HttpServerTest, PortInUseIsUnavailable) {
  StartServer();
  HttpServerOptions options = LocalOptions();
  options.address = "127.0.0.1:" + std::to_string(server_->port());
  EXPECT_EQ(HttpServer::Start(options, handler_).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(HttpServerTest, EmptyHostListensOnAllInterfaces) {
  HttpServerOptions options = LocalOptions();
  options.address = ":0";
  StartServer(options);
  const auto reply = Exchange(Get("/any"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->Json()["peer"], "127.0.0.1");  // not "::ffff:127.0.0.1"
}

// ---------------------------------------------------------------------------------------
// Shutdown

TEST_F(HttpServerTest, ShutdownLetsARequestInFlightFinish) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Get("/hold")));
  Responder respond = handler_.WaitHeld();
  ASSERT_NE(respond, nullptr);

  std::thread shutdown([this] { server_->Shutdown(std::chrono::milliseconds(60'000)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // usually inside Shutdown by now
  respond(Text("finished"));
  const auto reply = client->Read();
  shutdown.join();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "finished");
  EXPECT_EQ(Connect(), nullptr) << "still accepting after Shutdown";
  server_->Shutdown(std::chrono::milliseconds(0));  // idempotent
}

TEST_F(HttpServerTest, ResponderCalledAfterShutdownIsHarmless) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Get("/hold")));
  Responder respond = handler_.WaitHeld();
  ASSERT_NE(respond, nullptr);
  server_.reset();  // Shutdown(0) from the destructor
  respond(Text("too late"));
  EXPECT_EQ(client->ReadUntilClosed(), "");
}

TEST_F(HttpServerTest, ResponderDroppedAfterShutdownIsHarmless) {
  StartServer();
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(Get("/hold")));
  Responder respond = handler_.WaitHeld();
  ASSERT_NE(respond, nullptr);
  server_->Shutdown(std::chrono::milliseconds(0));
  respond = nullptr;  // would answer 500 if the connection were still there
  EXPECT_EQ(client->ReadUntilClosed(), "");
}

TEST_F(HttpServerTest, ManyThreadsServeConcurrentClients) {
  HttpServerOptions options = LocalOptions();
  options.threads = 4;
  StartServer(options);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([this, i, &ok] {
      auto client = Connect();
      if (client == nullptr) return;
      for (int j = 0; j < 20; ++j) {
        const std::string path = "/c" + std::to_string(i) + "/" + std::to_string(j);
        if (!client->Send(Post(path, std::string(100, 'b')))) return;
        const auto reply = client->Read();
        if (!reply || reply->Json()["path"] != path) return;
      }
      ++ok;
    });
  }
  for (std::thread& thread : clients) thread.join();
  EXPECT_EQ(ok.load(), 8);
}

// ---------------------------------------------------------------------------------------
// http_message

TEST(HttpMessageTest, StatusTextMatchesGo) {
  const std::pair<int, std::string_view> table[] = {
      {200, "OK"},
      {201, "Created"},
      {204, "No Content"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {411, "Length Required"},
      {413, "Request Entity Too Large"},
      {415, "Unsupported Media Type"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
      {299, ""},
  };
  for (const auto& [status, text] : table) {
    EXPECT_EQ(StatusText(status), text) << status;
  }
}

TEST(HttpMessageTest, ErrorResponseIsHankoJson) {
  const HttpResponse unauthorized = ErrorResponse(401);
  EXPECT_EQ(unauthorized.status, 401);
  EXPECT_EQ(unauthorized.body, "{\"code\":401,\"message\":\"Unauthorized\"}\n");
  EXPECT_THAT(unauthorized.headers, ElementsAre(Pair("Content-Type", "application/json")));

  const HttpResponse custom = ErrorResponse(400, "bad \"x\"\n");
  EXPECT_EQ(custom.body, "{\"code\":400,\"message\":\"bad \\\"x\\\"\\n\"}\n");
}

}  // namespace
}  // namespace passgate::gateway
