// Hardening: a battery of malformed, oversized, slow and abusive HTTP requests against the real
// `passgate serve` (gateway + service in one process). Every case must end in a 4xx answer with
// Hanko's JSON error body, or in the server closing the connection without a 5xx; afterwards the
// server must still serve a normal login and its memory must have stayed bounded.
//
// The server runs with server.public.read_timeout: 1s and idle_timeout: 1s so that requests the
// server must give up on (lying Content-Length, slowloris, idle connections) end quickly. All
// other limits are the defaults: 16 KiB body (413), 8 KiB request line + header (431).
//
// A second test holds chunk extensions and trailers to the same limits as the header and checks
// that trailer fields never act as header fields (Content-Type, Authorization).
//
// A summary table (one line per case, then one per class) goes to stdout.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/grpc_fixture.h"
#include "tests/integration/http_client.h"

namespace passgate::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Every case must be over (answered and the connection closed) within this long. Generous: the
// server gives up on any request after read_timeout (1 s here) and on idle keep-alive
// connections after idle_timeout (1 s here).
constexpr milliseconds kCaseDeadline{20'000};

// VmHWM bound for the server process after the whole battery. The service legitimately uses
// ~19 MiB per concurrent Argon2id hash (m=19456 KiB; hashing_workers = cores, here 2, plus a
// queue) on top of a ~25 MiB base, i.e. well under 100 MiB on this box. 512 MiB is generous on
// purpose (no flakiness on a loaded machine) and still catches a server that buffers what it was
// told to refuse (a 1 MB body, a 100 KB header, megabytes of chunk extensions or trailers
// multiplied by the connections of a real attack).
constexpr long kMaxHighWaterKib = 512 * 1024;

constexpr char kJsonType[] = "application/json";

// -------------------------------------------------------------------------------------------
// A raw TCP connection with full control over the write side (half-close, dribbling).

enum class End { kEof, kReset, kTimeout, kNoConnect };

const char* EndName(End end) {
  switch (end) {
    case End::kEof:
      return "closed";
    case End::kReset:
      return "reset";
    case End::kTimeout:
      return "still open";
    case End::kNoConnect:
      return "no connect";
  }
  return "?";
}

class RawSocket {
 public:
  explicit RawSocket(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{};
    tv.tv_sec = 20;  // a send never blocks longer than a case may take
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawSocket() {
    if (fd_ >= 0) close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Send writes all of `bytes`; false once the peer is gone.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }

  // Readable waits up to `timeout` for bytes or the end of the stream.
  bool Readable(milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    return poll(&p, 1, static_cast<int>(timeout.count())) > 0;
  }

  // ReadUntilClose appends everything the server sends to `out` until it closes the
  // connection, resets it, or `deadline` passes.
  End ReadUntilClose(std::string& out, Clock::time_point deadline) {
    char chunk[16384];
    for (;;) {
      const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return End::kTimeout;
      if (!Readable(left)) continue;
      const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        out.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) return End::kEof;
      if (errno == EINTR || errno == EAGAIN) continue;
      return End::kReset;
    }
  }

 private:
  int fd_ = -1;
};

// -------------------------------------------------------------------------------------------
// The server's answers, as a sequence (pipelining and 100 Continue give several).

struct Answer {
  int status = 0;
  std::string status_line;
  std::string content_type;
  std::string body;
};

// ParseAnswers splits what the server sent into responses. The server always frames bodies
// with Content-Length (none for 1xx, 204, 304). Returns an error text for anything else.
std::vector<Answer> ParseAnswers(std::string_view bytes, std::string& error) {
  std::vector<Answer> answers;
  while (!bytes.empty()) {
    const std::size_t head_end = bytes.find("\r\n\r\n");
    if (head_end == std::string_view::npos) {
      error = "incomplete response head: " + std::string(bytes.substr(0, 200));
      return answers;
    }
    const std::string_view head = bytes.substr(0, head_end);
    bytes.remove_prefix(head_end + 4);
    Answer answer;
    answer.status_line = std::string(head.substr(0, head.find("\r\n")));
    if (!answer.status_line.starts_with("HTTP/1.1 ") || answer.status_line.size() < 12) {
      error = "bad status line: " + answer.status_line;
      return answers;
    }
    answer.status = std::atoi(answer.status_line.substr(9, 3).c_str());
    std::optional<std::size_t> length;
    std::size_t at = head.find("\r\n");
    while (at != std::string_view::npos) {
      const std::size_t start = at + 2;
      at = head.find("\r\n", start);
      std::string line(head.substr(start, at == std::string_view::npos ? head.npos : at - start));
      const std::size_t colon = line.find(':');
      if (colon == std::string::npos) {
        error = "bad header line: " + line;
        return answers;
      }
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (name == "content-length") length = std::stoul(value);
      if (name == "content-type") answer.content_type = value;
    }
    const bool bodiless = answer.status / 100 == 1 || answer.status == 204 || answer.status == 304;
    if (!bodiless) {
      if (!length) {
        error = "response without Content-Length: " + answer.status_line;
        return answers;
      }
      if (bytes.size() < *length) {
        error = "truncated response body: " + answer.status_line;
        return answers;
      }
      answer.body = std::string(bytes.substr(0, *length));
      bytes.remove_prefix(*length);
    }
    answers.push_back(std::move(answer));
  }
  return answers;
}

// -------------------------------------------------------------------------------------------
// The battery.

enum class Mode {
  kSend,              // write everything, then read until the server closes
  kSendThenShutWrite,  // write everything, half-close (SHUT_WR), then read
  kDribble,           // slowloris: one byte every 200 ms until the server gives up on us
};

struct Case {
  std::string klass;  // for the summary
  std::string name;
  std::string bytes;
  Mode mode = Mode::kSend;
  // Statuses an error answer may have; empty: any 4xx.
  std::vector<int> statuses{};
  // Whether ending without any answer (the server just closes) is acceptable.
  bool close_ok = true;
  // When set, the first error answer's message must equal this (or start with it).
  std::string message{};
  bool message_is_prefix = false;
  // Valid requests before the bad bytes (pipelining): that many 200 answers come first.
  int leading_ok = 0;
  std::string why{};  // printed with failures: what a wrong outcome would mean
};

struct Outcome {
  std::string name;
  std::string klass;
  std::string summary;  // "413", "400+400", "200+400", "100+closed", "closed"
  std::string message;  // the first error message, if any
  long long ms = 0;
};

std::string Host() { return "Host: 127.0.0.1\r\n"; }

// Request renders a request with CRLF line ends: `head_lines` are complete "Name: value\r\n"
// lines after Host.
std::string Request(std::string_view method, std::string_view target, std::string_view head_lines,
                    std::string_view body = {}) {
  std::string out;
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  out += Host();
  out.append(head_lines);
  out += "\r\n";
  out.append(body);
  return out;
}

// JsonPost is a well-formed POST with Content-Type application/json, Content-Length and
// Connection: close.
std::string JsonPost(std::string_view target, std::string_view body,
                     std::string_view extra_lines = {}) {
  std::string lines = "Content-Type: application/json\r\nConnection: close\r\n";
  lines.append(extra_lines);
  lines += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return Request("POST", target, lines, body);
}

std::string Login(std::string_view body) { return JsonPost("/password/login", body); }

// PostWith is a POST with the caller's head lines, Content-Length and Connection: close.
std::string PostWith(std::string_view target, std::string_view lines, std::string_view body) {
  return Request("POST", target,
                 std::string(lines) + "Connection: close\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n",
                 body);
}

// Bytes keeps embedded NULs of a string literal.
template <std::size_t N>
std::string Bytes(const char (&literal)[N]) {
  return std::string(literal, N - 1);
}

// UnknownUser returns a distinct well-formed user id without an account for each `n`, so that
// logins that get past validation do not pile onto one rate-limit bucket.
std::string UnknownUser(int n) {
  char id[40];
  std::snprintf(id, sizeof id, "6a565180-2366-45b1-8785-39f7902c%04x", n & 0xffff);
  return id;
}

std::string LoginJson(std::string_view user_id, std::string_view password) {
  return std::string(R"({"user_id":")") + std::string(user_id) + R"(","password":")" +
         std::string(password) + R"("})";
}

// ChunkedLogin: a chunked POST /password/login with `chunks` (already encoded) after the head.
std::string ChunkedLogin(std::string_view chunks, bool content_type = true) {
  std::string lines = content_type ? "Content-Type: application/json\r\n" : "";
  lines += "Transfer-Encoding: chunked\r\nConnection: close\r\n";
  return Request("POST", "/password/login", lines, chunks);
}

std::string Chunk(std::string_view data, std::string_view extension = {}) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return std::string(size) + std::string(extension) + "\r\n" + std::string(data) + "\r\n";
}

std::vector<Case> Battery() {
  const std::string john = kJohn;
  const std::string bad_login = LoginJson(john, "x");  // 66 bytes
  std::vector<Case> cases;
  const auto add = [&](Case c) { cases.push_back(std::move(c)); };

  // --- Content-Length framing ----------------------------------------------------------------
  add({.klass = "Content-Length",
       .name = "Content-Length 10^12 with a 2-byte body",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nContent-Length: 1000000000000\r\n", "{}"),
       .statuses = {413}});
  add({.klass = "Content-Length",
       .name = "Content-Length 2^64 (overflows 64 bits)",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nContent-Length: 18446744073709551616\r\n",
                        "{}"),
       .statuses = {400, 413}});
  add({.klass = "Content-Length",
       .name = "Content-Length says 100, 5 bytes sent, then SHUT_WR",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nContent-Length: 100\r\n", "{\"a\":"),
       .mode = Mode::kSendThenShutWrite});
  add({.klass = "Content-Length",
       .name = "Content-Length says 100, 5 bytes sent, connection kept open",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nContent-Length: 100\r\n", "{\"a\":"),
       .why = "the read timeout must end a request whose body never comes"});
  add({.klass = "Content-Length",
       .name = "Content-Length 10, 66 bytes sent (rest is a garbage 2nd request)",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nContent-Length: 10\r\n", bad_login),
       .close_ok = false});
  add({.klass = "Content-Length",
       .name = "negative Content-Length",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nContent-Length: -5\r\n", "{}"),
       .statuses = {400}});
  add({.klass = "Content-Length",
       .name = "non-numeric Content-Length",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nContent-Length: 1e3\r\n", "{}"),
       .statuses = {400}});
  add({.klass = "Content-Length",
       .name = "two different Content-Length headers",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nContent-Length: 2\r\n"
                        "Content-Length: 3\r\n",
                        "{}x"),
       .statuses = {400},
       .why = "request smuggling: conflicting lengths must be refused"});
  add({.klass = "Content-Length",
       .name = "Content-Length plus Transfer-Encoding: chunked",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nContent-Length: 4\r\n"
                        "Transfer-Encoding: chunked\r\nConnection: close\r\n",
                        "2\r\n{}\r\n0\r\n\r\n"),
       .why = "request smuggling (CL.TE)"});

  // --- chunked framing -----------------------------------------------------------------------
  add({.klass = "chunked",
       .name = "chunk size not hex",
       .bytes = ChunkedLogin("zz\r\n{}\r\n0\r\n\r\n"),
       .statuses = {400}});
  add({.klass = "chunked",
       .name = "chunk size ffffffffffffffff",
       .bytes = ChunkedLogin("ffffffffffffffff\r\n{}"),
       .statuses = {400, 413}});
  add({.klass = "chunked",
       .name = "chunk size with 17 hex digits (overflow)",
       .bytes = ChunkedLogin("10000000000000000\r\n{}"),
       .statuses = {400, 413}});
  add({.klass = "chunked",
       .name = "missing final chunk, then SHUT_WR",
       .bytes = ChunkedLogin(Chunk("{}")),
       .mode = Mode::kSendThenShutWrite});
  add({.klass = "chunked",
       .name = "chunk extensions: 2000 x ';a=b' on one chunk",
       .bytes = [] {
         std::string ext;
         for (int i = 0; i < 2000; ++i) ext += ";a=b";
         return ChunkedLogin(Chunk("{}", ext) + "0\r\n\r\n");
       }()});
  add({.klass = "chunked",
       .name = "trailer fields after the last chunk",
       .bytes = ChunkedLogin(Chunk("{}") + "0\r\nX-Trailer: a\r\nX-Other: b\r\n\r\n")});

  // --- request line --------------------------------------------------------------------------
  add({.klass = "request line",
       .name = "HTTP/0.9-style 'GET /' (no version), connection kept open",
       .bytes = "GET /\r\n"});
  add({.klass = "request line",
       .name = "unknown method BREW",
       .bytes = Request("BREW", "/password/login", "Connection: close\r\n"),
       .statuses = {400, 404, 405}});
  add({.klass = "request line",
       .name = "lowercase method 'post' with a valid login",
       .bytes = [&] {
         std::string request = JsonPost("/password/login", LoginJson(john, "SuperSecure"));
         request.replace(0, 4, "post");
         return request;
       }(),
       .close_ok = false,
       .why = "methods are case-sensitive: 'post' is not POST and must not log in"});
  add({.klass = "request line",
       .name = "absolute-form target http://evil.example/password/login",
       .bytes = Request("GET", "http://evil.example/password/login", "Connection: close\r\n"),
       .close_ok = false});
  add({.klass = "request line",
       .name = "CONNECT 127.0.0.1:443",
       .bytes = "CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\nConnection: close\r\n\r\n"});
  add({.klass = "request line",
       .name = "10 KB path",
       .bytes = Request("GET", "/" + std::string(10'000, 'a'), "Connection: close\r\n"),
       .statuses = {400, 404, 414, 431}});
  add({.klass = "request line",
       .name = "NUL byte in the path",
       .bytes = Request("GET", Bytes("/password/lo\0gin"), "Connection: close\r\n"),
       .statuses = {400, 404}});
  add({.klass = "request line",
       .name = "half-close right after the request line",
       .bytes = "POST /password/login HTTP/1.1\r\n",
       .mode = Mode::kSendThenShutWrite});

  // --- header section ------------------------------------------------------------------------
  add({.klass = "header",
       .name = "header line without a colon",
       .bytes = Request("GET", "/.well-known/jwks.json", "NoColonHere\r\nConnection: close\r\n"),
       .statuses = {400}});
  add({.klass = "header",
       .name = "obs-fold (line folding) on a login",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nX-Folded: a\r\n  b\r\n"
                        "Connection: close\r\nContent-Length: 2\r\n",
                        "{}")});
  add({.klass = "header",
       .name = "bare LF line endings",
       .bytes = "GET /.well-known/jwks.json HTTP/1.1\nHost: 127.0.0.1\nConnection: close\n\n",
       .statuses = {400}});
  add({.klass = "header",
       .name = "NUL byte in a header value",
       .bytes = Request("GET", "/.well-known/jwks.json",
                        Bytes("X-Nul: a\0b\r\nConnection: close\r\n")),
       .statuses = {400}});
  add({.klass = "header",
       .name = "100 KB header value",
       .bytes = Request("GET", "/.well-known/jwks.json",
                        "X-Big: " + std::string(100'000, 'h') + "\r\nConnection: close\r\n"),
       .statuses = {431}});
  add({.klass = "header",
       .name = "1000 tiny headers (5 KB, under the limit) on a login",
       .bytes = [] {
         std::string lines;
         for (int i = 0; i < 1000; ++i) lines += "a:b\r\n";
         return Request("POST", "/password/login",
                        lines + "Content-Type: application/json\r\nConnection: close\r\n"
                                "Content-Length: 2\r\n",
                        "{}");
       }(),
       .close_ok = false});
  add({.klass = "header",
       .name = "2000 small headers (over the 8 KiB limit)",
       .bytes = [] {
         std::string lines;
         for (int i = 0; i < 2000; ++i) lines += "X-H" + std::to_string(i) + ": v\r\n";
         return Request("GET", "/.well-known/jwks.json", lines + "Connection: close\r\n");
       }(),
       .statuses = {431}});
  add({.klass = "header",
       .name = "no Host header",
       .bytes = "GET /.well-known/jwks.json HTTP/1.1\r\nConnection: close\r\n\r\n",
       .statuses = {400}});
  add({.klass = "header",
       .name = "space before the colon of Transfer-Encoding",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nTransfer-Encoding : chunked\r\n"
                        "Connection: close\r\n",
                        "2\r\n{}\r\n0\r\n\r\n"),
       .statuses = {400}});
  add({.klass = "header",
       .name = "Expect: 100-continue with Content-Length: 0",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                        "Content-Length: 0\r\nConnection: close\r\n"),
       .close_ok = false,
       .message = "user_id is a required field and password is a required field"});
  add({.klass = "header",
       .name = "Expect: 100-continue, Content-Length 60, body never sent",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                        "Content-Length: 60\r\n")});
  add({.klass = "header",
       .name = "Expect: something-else",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nExpect: teapot\r\n"
                        "Content-Length: 2\r\nConnection: close\r\n",
                        "{}"),
       .statuses = {417}});

  // --- body size -----------------------------------------------------------------------------
  add({.klass = "body size",
       .name = "1 MB body",
       .bytes = Login(std::string(1'000'000, 'b')),
       .statuses = {413}});
  add({.klass = "body size",
       .name = "JSON with 10 000 keys (~90 KB)",
       .bytes = [] {
         std::string body = "{";
         for (int i = 0; i < 10'000; ++i) body += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
         return Login(body + "}");
       }(),
       .statuses = {413}});
  add({.klass = "body size",
       .name = "JSON with 1500 keys (fits in 16 KiB)",
       .bytes = [] {
         std::string body = "{";
         for (int i = 0; i < 1500; ++i) body += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
         return Login(body + "}");
       }(),
       .close_ok = false,
       .message = "user_id is a required field and password is a required field"});
  add({.klass = "body size",
       .name = "16 000 '[' (as deep as fits in 16 KiB)",
       .bytes = Login(std::string(16'000, '[')),
       .close_ok = false,
       .message = "Syntax error:",
       .message_is_prefix = true});
  add({.klass = "body size",
       .name = "100 000 '[' (over the 16 KiB limit)",
       .bytes = Login(std::string(100'000, '[')),
       .statuses = {413}});
  add({.klass = "body size",
       .name = "user_id nested 5000 deep (balanced)",
       .bytes = Login("{\"user_id\":" + std::string(5000, '[') + std::string(5000, ']') + "}"),
       .close_ok = false,
       .message = "Unmarshal type error:",
       .message_is_prefix = true});

  // --- body content --------------------------------------------------------------------------
  add({.klass = "body content",
       .name = "invalid UTF-8 in user_id",
       .bytes = Login("{\"user_id\":\"\xff\xfe" + john.substr(2) + "\",\"password\":\"x\"}"),
       .close_ok = false,
       .message = "user_id must be a valid uuid"});
  add({.klass = "body content",
       .name = "invalid UTF-8 in password",
       .bytes = Login(LoginJson(UnknownUser(4), "\xff\xfe\xc0\x80pw")),
       .statuses = {401},
       .close_ok = false});
  add({.klass = "body content",
       .name = "NUL byte in the JSON body",
       .bytes = Login(Bytes("{\"user_id\":\"\0\",\"password\":\"x\"}")),
       .close_ok = false,
       .message = "Syntax error:",
       .message_is_prefix = true});
  add({.klass = "body content",
       .name = "escaped NULs \\u0000 in the password",
       .bytes = Login(LoginJson(UnknownUser(5), "\\u0000\\u0000pw\\u0000")),
       .statuses = {401},
       .close_ok = false});
  add({.klass = "body content",
       .name = "escaped NUL \\u0000 in user_id",
       .bytes = Login(LoginJson(john + "\\u0000", "x")),
       .close_ok = false,
       .message = "user_id must be a valid uuid"});
  add({.klass = "body content",
       .name = "user_id ../../etc/passwd",
       .bytes = Login(LoginJson("../../etc/passwd", "x")),
       .close_ok = false,
       .message = "user_id must be a valid uuid"});
  add({.klass = "body content",
       .name = "user_id of 10 KB",
       .bytes = Login(LoginJson(std::string(10'000, 'u'), "x")),
       .close_ok = false,
       .message = "user_id must be a valid uuid"});
  add({.klass = "body content",
       .name = "unicode user_id",
       .bytes = Login(LoginJson("\xc3\xa4\xc3\xb6\xc3\xbc-\xe2\x98\x83-\xf0\x9f\x94\x91", "x")),
       .close_ok = false,
       .message = "user_id must be a valid uuid"});
  add({.klass = "body content",
       .name = "password of 10 KB",
       .bytes = Login(LoginJson(john, std::string(10'000, 'p'))),
       .close_ok = false,
       .message = "password must not be longer than 72 bytes"});
  add({.klass = "body content",
       .name = "numbers for user_id and password",
       .bytes = Login(R"({"user_id":123,"password":456})"),
       .close_ok = false,
       .message = "Unmarshal type error:",
       .message_is_prefix = true});
  add({.klass = "body content",
       .name = "Content-Type text/plain",
       .bytes = PostWith("/password/login", "Content-Type: text/plain\r\n", bad_login),
       .statuses = {415},
       .close_ok = false});
  add({.klass = "body content",
       .name = "multipart/form-data",
       .bytes = PostWith("/password/login", "Content-Type: multipart/form-data; boundary=b\r\n",
                         "--b\r\nContent-Disposition: form-data; name=\"user_id\"\r\n\r\n" +
                             john + "\r\n--b--\r\n"),
       .statuses = {415},
       .close_ok = false});

  // --- pipelining ----------------------------------------------------------------------------
  add({.klass = "pipelining",
       .name = "garbage pipelined after a valid request",
       .bytes = Request("GET", "/.well-known/jwks.json", "") + "\x01\x02GARBAGE \xff\r\n\r\n",
       .close_ok = false,
       .leading_ok = 1});
  add({.klass = "pipelining",
       .name = "slowloris: headers one byte per 200 ms",
       .bytes = Request("POST", "/password/login",
                        "Content-Type: application/json\r\nUser-Agent: slow-client/1.0\r\n"
                        "X-Padding: " +
                            std::string(200, 's') + "\r\nContent-Length: 2\r\n",
                        "{}"),
       .mode = Mode::kDribble,
       .why = "read_timeout (1 s here) must cut off a client that dribbles its header"});
  return cases;
}

// ChunkedMetadataCases: chunk extensions and trailers carry bytes that neither
// max_header_bytes nor max_body_bytes count, and trailer fields are not header fields. Each
// case's body is a well-formed login for an unknown user, so an answer of 401 shows that the
// server accepted the request and ran the login.
std::vector<Case> ChunkedMetadataCases(const std::string& bearer_token) {
  std::vector<Case> cases;
  const auto add = [&](Case c) { cases.push_back(std::move(c)); };
  add({.klass = "chunked",
       .name = "chunk extension of 4 MiB on one chunk",
       .bytes = ChunkedLogin(Chunk(LoginJson(UnknownUser(1), "x"),
                                   ";" + std::string(4 << 20, 'e')) +
                             "0\r\n\r\n"),
       .statuses = {400, 413, 431},
       .why = "4 MiB of chunk-extension bytes exceed both max_header_bytes (8 KiB) and "
              "max_body_bytes (16 KiB); a server that buffers and accepts them (and then answers "
              "the login, 401) can be made to hold ~100 MB per connection per second"});
  add({.klass = "chunked",
       .name = "trailer of 4 MiB after the last chunk",
       .bytes = ChunkedLogin(Chunk(LoginJson(UnknownUser(2), "x")) + "0\r\nX-Pad: " +
                             std::string(4 << 20, 't') + "\r\n\r\n"),
       .statuses = {400, 413, 431},
       .why = "trailer bytes must count against a limit like header bytes do; accepting 4 MiB "
              "of trailer (and answering the login, 401) means unbounded buffering"});
  add({.klass = "chunked",
       .name = "Content-Type only in the trailer",
       .bytes = ChunkedLogin(Chunk(LoginJson(UnknownUser(3), "x")) +
                                 "0\r\nContent-Type: application/json\r\n\r\n",
                             /*content_type=*/false),
       .statuses = {400, 415},
       .why = "RFC 9110 6.5.1: trailer fields must not be merged into the header section; "
              "with the trailer ignored the body has no media type (415), or trailers are "
              "refused (400); a 401 means the trailer was used as a header (so Authorization, "
              "Cookie or X-Forwarded-For could be smuggled past a proxy in a trailer)"});

  add({.klass = "chunked",
       .name = "Authorization only in the trailer of PUT /password",
       .bytes = Request("PUT", "/password",
                        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                        "Connection: close\r\n",
                        Chunk(LoginJson(kNoPassword, "Trailer-Set-1234")) +
                            "0\r\nAuthorization: Bearer " + bearer_token + "\r\n\r\n"),
       .statuses = {400, 401},
       .close_ok = false,
       .why = "a session token that arrives in a trailer must not authenticate the request "
              "(401 as without a token, or 400 refusing trailers); 200/201 means the trailer "
              "was merged into the header section and the password was set"});
  return cases;
}

// Run performs one case and checks it. Every assertion names the case.
Outcome RunCase(int port, const Case& c) {
  Outcome outcome{c.name, c.klass, "", "", 0};
  const auto start = Clock::now();
  const auto deadline = start + kCaseDeadline;
  RawSocket socket(port);
  EXPECT_TRUE(socket.ok()) << c.name << ": cannot connect";
  if (!socket.ok()) return outcome;

  std::string received;
  End end = End::kTimeout;
  switch (c.mode) {
    case Mode::kSend:
      socket.Send(c.bytes);  // the server may refuse before reading everything
      end = socket.ReadUntilClose(received, deadline);
      break;
    case Mode::kSendThenShutWrite:
      socket.Send(c.bytes);
      socket.ShutdownWrite();
      end = socket.ReadUntilClose(received, deadline);
      break;
    case Mode::kDribble: {
      bool closed = false;
      for (std::size_t i = 0; i < c.bytes.size() && Clock::now() < deadline && !closed; ++i) {
        if (!socket.Send(std::string_view(c.bytes).substr(i, 1))) break;
        closed = socket.Readable(milliseconds(200));
      }
      end = socket.ReadUntilClose(received, deadline);
      break;
    }
  }
  outcome.ms = std::chrono::duration_cast<milliseconds>(Clock::now() - start).count();

  EXPECT_NE(end, End::kTimeout)
      << c.name << ": the server kept the connection open for "
      << kCaseDeadline.count() / 1000 << " s; " << c.why << "\nreceived: " << received.substr(0, 300);

  std::string parse_error;
  const std::vector<Answer> answers = ParseAnswers(received, parse_error);
  EXPECT_EQ(parse_error, "") << c.name << ": unparsable bytes from the server";

  int final_index = 0;
  bool saw_error_answer = false;
  bool saw_other_answer = false;  // a 2xx/3xx where an error belonged (already a failure)
  for (const Answer& answer : answers) {
    outcome.summary += (outcome.summary.empty() ? "" : "+") + std::to_string(answer.status);
    EXPECT_LT(answer.status, 500) << c.name << ": server error " << answer.status_line << "\n"
                                  << answer.body;
    if (answer.status < 200) continue;  // 100 Continue is an interim answer
    const bool leading = final_index++ < c.leading_ok;
    if (leading) {
      EXPECT_EQ(answer.status, 200) << c.name << ": the valid request before the garbage\n"
                                    << answer.body;
      continue;
    }
    if (answer.status < 400) {
      ADD_FAILURE() << c.name << ": a bad request was served: " << answer.status_line << "\n"
                    << answer.body << "\n" << c.why;
      saw_other_answer = true;
      continue;
    }
    if (!c.statuses.empty() && !saw_error_answer) {
      EXPECT_TRUE(std::find(c.statuses.begin(), c.statuses.end(), answer.status) !=
                  c.statuses.end())
          << c.name << ": got " << answer.status_line << " " << answer.body
          << "allowed: " << ::testing::PrintToString(c.statuses) << "\n" << c.why;
    }
    // Hanko's error body: exactly {"code":<status>,"message":"..."}.
    EXPECT_EQ(answer.content_type, kJsonType) << c.name << ": " << answer.status_line;
    const json body = json::parse(answer.body, nullptr, false);
    EXPECT_TRUE(body.is_object() && body.size() == 2 && body.contains("code") &&
                body.contains("message") && body["message"].is_string() &&
                body["code"] == answer.status)
        << c.name << ": error body is not {\"code\",\"message\"}: " << answer.body;
    if (!saw_error_answer && body.is_object() && body.contains("message") &&
        body["message"].is_string()) {
      outcome.message = body["message"].get<std::string>();
      if (!c.message.empty()) {
        if (c.message_is_prefix) {
          EXPECT_TRUE(outcome.message.starts_with(c.message))
              << c.name << ": message " << answer.body;
        } else {
          EXPECT_EQ(outcome.message, c.message) << c.name;
        }
      }
    }
    saw_error_answer = true;
  }
  EXPECT_GE(final_index, c.leading_ok) << c.name << ": the valid request got no answer";
  if (!saw_error_answer && !saw_other_answer) {
    EXPECT_TRUE(c.close_ok) << c.name << ": expected an error answer, got "
                            << (answers.empty() ? "none" : outcome.summary) << " then "
                            << EndName(end) << "\n" << c.why;
    EXPECT_NE(end, End::kTimeout) << c.name;
  }
  // The connection's end is part of the outcome when no error answer came (or it was reset).
  if (!saw_error_answer || end != End::kEof) {
    outcome.summary += std::string(outcome.summary.empty() ? "" : "+") + EndName(end);
  }
  return outcome;
}

// -------------------------------------------------------------------------------------------

struct Memory {
  long rss_kib = -1;
  long hwm_kib = -1;
  char state = '?';
};

Memory ReadMemory(pid_t pid) {
  Memory memory;
  std::istringstream status(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) memory.rss_kib = std::atol(line.c_str() + 6);
    if (line.starts_with("VmHWM:")) memory.hwm_kib = std::atol(line.c_str() + 6);
    if (line.starts_with("State:")) {
      const std::size_t at = line.find_first_not_of(" \t", 6);
      if (at != std::string::npos) memory.state = line[at];
    }
  }
  return memory;
}

// PrintSummary writes one line per case, then the answers per class, to stdout.
void PrintSummary(const std::string& title, const std::vector<Outcome>& outcomes,
                  const std::string& footer) {
  std::ostringstream table;
  table << "\n=== " << title << ": " << outcomes.size() << " cases ===\n";
  char line[512];
  int index = 0;
  for (const Outcome& o : outcomes) {
    std::snprintf(line, sizeof line, "%3d  %-14s %-62.62s %-22s %6lld ms  %s\n", ++index,
                  o.klass.c_str(), o.name.c_str(), o.summary.c_str(), o.ms,
                  o.message.substr(0, 70).c_str());
    table << line;
  }
  std::map<std::string, std::map<std::string, int>> by_class;
  std::vector<std::string> class_order;
  for (const Outcome& o : outcomes) {
    if (!by_class.contains(o.klass)) class_order.push_back(o.klass);
    ++by_class[o.klass][o.summary];
  }
  table << "--- by class ---\n";
  for (const std::string& klass : class_order) {
    int total = 0;
    std::string parts;
    for (const auto& [summary, count] : by_class[klass]) {
      total += count;
      parts += (parts.empty() ? "" : ", ") + summary + " x" + std::to_string(count);
    }
    std::snprintf(line, sizeof line, "%-14s %2d cases: %s\n", klass.c_str(), total, parts.c_str());
    table << line;
  }
  if (!footer.empty()) table << footer << "\n";
  std::cout << table.str() << std::flush;
}

class BadInputTest : public PassgateServerTest {
 protected:
  TestConfigExtras ConfigExtras() const override {
    TestConfigExtras extras;
    extras.public_lines = "    read_timeout: 1s\n    idle_timeout: 1s\n";
    // Hanko's switch; keeps the login limiter from turning the checking logins into 429s.
    extras.extra_sections = "rate_limiter:\n  enabled: false\n";
    return extras;
  }

  void ExpectNormalLogin(const std::string& context) {
    const HttpReply reply =
        HttpCall(server_->http_port(), "POST", "/password/login",
                 {{"Content-Type", kJsonType}}, LoginJson(kJohn, "SuperSecure"));
    EXPECT_EQ(reply.status, 200) << context << ": " << reply.error << " " << reply.status_line
                                 << "\n" << reply.body;
    bool cookie = false;
    for (const std::string& value : reply.HeaderValues("Set-Cookie")) {
      cookie = cookie || value.starts_with("hanko=");
    }
    EXPECT_TRUE(cookie) << context;
  }

  // RunAll runs `cases` in order, checking after each that the server is still alive.
  std::vector<Outcome> RunAll(const std::vector<Case>& cases) {
    std::vector<Outcome> outcomes;
    for (const Case& c : cases) {
      SCOPED_TRACE(c.name);
      outcomes.push_back(RunCase(server_->http_port(), c));
      const Memory now = ReadMemory(server_->pid());
      EXPECT_TRUE(now.state != 'Z' && now.rss_kib > 0)
          << c.name << ": the server died\n" << server_->Log();
      if (now.state == 'Z' || now.rss_kib <= 0) break;
    }
    return outcomes;
  }
};

TEST_F(BadInputTest, MalformedRequestsGet4xxOrACloseAndTheServerSurvives) {
  ASSERT_NE(server_, nullptr);
  const int port = server_->http_port();
  const pid_t pid = server_->pid();
  ExpectNormalLogin("before the battery");
  const Memory before = ReadMemory(pid);

  std::vector<Outcome> outcomes = RunAll(Battery());
  ASSERT_GT(ReadMemory(pid).rss_kib, 0) << "the server is gone";

  // 50 connections opened and left idle: a normal request still works meanwhile, and the
  // server closes the idle ones itself (read_timeout from accept) without answering.
  {
    const std::string name = "50 idle connections, then a normal login";
    const auto start = Clock::now();
    std::vector<std::unique_ptr<RawSocket>> idle;
    for (int i = 0; i < 50; ++i) {
      idle.push_back(std::make_unique<RawSocket>(port));
      EXPECT_TRUE(idle.back()->ok()) << name << ": connection " << i;
    }
    ExpectNormalLogin(name);
    int closed = 0, answered = 0;
    for (auto& socket : idle) {
      std::string received;
      if (socket->ok() && socket->ReadUntilClose(received, start + kCaseDeadline) != End::kTimeout) {
        ++closed;
      }
      if (!received.empty()) ++answered;
    }
    EXPECT_EQ(closed, 50) << name << ": idle connections still open after "
                          << kCaseDeadline.count() / 1000 << " s";
    EXPECT_EQ(answered, 0) << name << ": the server wrote to connections that sent nothing";
    outcomes.push_back({name, "connections", "200 (idle: " + std::to_string(closed) + " closed)",
                        "", std::chrono::duration_cast<milliseconds>(Clock::now() - start).count()});
  }

  // Still up, still serving, memory bounded.
  ExpectNormalLogin("after the battery");
  EXPECT_EQ(HttpCall(port, "GET", "/.well-known/jwks.json").status, 200);
  const Memory after = ReadMemory(pid);
  EXPECT_NE(after.state, 'Z');
  EXPECT_GT(after.hwm_kib, 0);
  EXPECT_LT(after.hwm_kib, kMaxHighWaterKib)
      << "VmHWM " << after.hwm_kib << " KiB after the battery (bound " << kMaxHighWaterKib
      << " KiB)";

  std::ostringstream memory;
  memory << "--- server memory: VmRSS " << before.rss_kib << " -> " << after.rss_kib
         << " KiB, VmHWM " << before.hwm_kib << " -> " << after.hwm_kib << " KiB (bound "
         << kMaxHighWaterKib << " KiB) ---";
  PrintSummary("bad input battery", outcomes, memory.str());
}

// Chunk extensions and trailers: bounded like the header, and trailer fields never act as
// header fields (RFC 9110 6.5.1, RFC 9112 7.1.1/7.1.2).
TEST_F(BadInputTest, ChunkExtensionsAndTrailersAreBoundedAndNeverActAsHeaders) {
  ASSERT_NE(server_, nullptr);
  const std::string token = IssueToken(kNoPassword);
  ASSERT_FALSE(token.empty());
  const std::vector<Outcome> outcomes = RunAll(ChunkedMetadataCases(token));
  // Whatever happened, the user without a password must still have none.
  const HttpReply login = HttpCall(server_->http_port(), "POST", "/password/login",
                                   {{"Content-Type", kJsonType}},
                                   LoginJson(kNoPassword, "Trailer-Set-1234"));
  EXPECT_EQ(login.status, 401) << "a password set through a trailer-borne token works: "
                               << login.status_line;
  const Memory after = ReadMemory(server_->pid());
  PrintSummary("chunk extensions and trailers", outcomes,
               "--- server memory: VmRSS " + std::to_string(after.rss_kib) + " KiB, VmHWM " +
                   std::to_string(after.hwm_kib) + " KiB ---");
  ExpectNormalLogin("after the chunked cases");
}

}  // namespace
}  // namespace passgate::testing
