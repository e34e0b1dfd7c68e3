#include "tests/integration/http_client.h"

#include "nlohmann/json.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>

namespace passgate::testing {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && Lower(a) == Lower(b);
}

std::string_view TrimOws(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string OpenSslErrors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out;
}

void IgnoreSigpipeOnce() {
  // A server closing early must surface as a failed write, not kill the test binary.
  static const bool done = [] {
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}

// ReplyReader parses one response out of `buffer`, calling `fill` for more bytes. `fill`
// appends to the buffer and returns false at the end of the stream (or on an error, which it
// records in `fill_error`). Bytes after the response stay in `buffer` for the next one.
class ReplyReader {
 public:
  ReplyReader(std::string& buffer, std::function<bool()> fill, const std::string& fill_error)
      : buffer_(buffer), fill_(std::move(fill)), fill_error_(fill_error) {}

  HttpReply Read(std::string_view request_method) {
    HttpReply reply;
    std::size_t head_end;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill_()) {
        reply.error = buffer_.empty() ? "connection closed before a response"
                                      : "connection closed inside the response head";
        return Fail(reply);
      }
    }
    const std::string head = buffer_.substr(0, head_end);
    buffer_.erase(0, head_end + 4);

    std::size_t line_end = head.find("\r\n");
    reply.status_line = head.substr(0, line_end);
    // "HTTP/1.1 200 OK"
    if (!reply.status_line.starts_with("HTTP/1.") || reply.status_line.size() < 12 ||
        reply.status_line[8] != ' ') {
      reply.error = "bad status line: " + reply.status_line;
      return Fail(reply);
    }
    const std::string code = reply.status_line.substr(9, 3);
    if (!std::all_of(code.begin(), code.end(), [](unsigned char c) { return std::isdigit(c); })) {
      reply.error = "bad status code: " + reply.status_line;
      return Fail(reply);
    }
    const int status = std::stoi(code);
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string_view line = std::string_view(head).substr(
          start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        reply.error = "bad header line: " + std::string(line);
        return Fail(reply);
      }
      reply.headers.emplace_back(std::string(line.substr(0, colon)),
                                 std::string(TrimOws(line.substr(colon + 1))));
    }

    const bool no_body = EqualsIgnoreCase(request_method, "HEAD") || status / 100 == 1 ||
                         status == 204 || status == 304;
    if (!no_body) {
      const std::optional<std::string> transfer_encoding = reply.Header("transfer-encoding");
      const std::optional<std::string> content_length = reply.Header("content-length");
      if (transfer_encoding && Lower(*transfer_encoding).find("chunked") != std::string::npos) {
        if (!ReadChunked(reply)) return Fail(reply);
      } else if (content_length) {
        const std::size_t length = std::stoul(*content_length);
        if (!Need(length)) {
          reply.error = "connection closed inside the body (Content-Length " + *content_length +
                        ", got " + std::to_string(buffer_.size()) + ")";
          return Fail(reply);
        }
        reply.body = buffer_.substr(0, length);
        buffer_.erase(0, length);
      } else {
        while (fill_()) {
        }
        reply.body = std::move(buffer_);
        buffer_.clear();
      }
    }
    reply.status = status;
    return reply;
  }

 private:
  HttpReply& Fail(HttpReply& reply) {
    if (!fill_error_.empty()) reply.error += " (" + fill_error_ + ")";
    reply.status = 0;
    return reply;
  }

  bool Need(std::size_t bytes) {
    while (buffer_.size() < bytes) {
      if (!fill_()) return false;
    }
    return true;
  }

  bool ReadLine(std::string& line) {
    std::size_t end;
    while ((end = buffer_.find("\r\n")) == std::string::npos) {
      if (!fill_()) return false;
    }
    line = buffer_.substr(0, end);
    buffer_.erase(0, end + 2);
    return true;
  }

  bool ReadChunked(HttpReply& reply) {
    for (;;) {
      std::string size_line;
      if (!ReadLine(size_line)) {
        reply.error = "connection closed inside a chunk header";
        return false;
      }
      std::size_t size = 0;
      try {
        size = std::stoul(size_line.substr(0, size_line.find(';')), nullptr, 16);
      } catch (...) {
        reply.error = "bad chunk size: " + size_line;
        return false;
      }
      if (size == 0) {
        std::string trailer;
        do {
          if (!ReadLine(trailer)) {
            reply.error = "connection closed inside the chunked trailer";
            return false;
          }
        } while (!trailer.empty());
        return true;
      }
      if (!Need(size + 2)) {
        reply.error = "connection closed inside a chunk";
        return false;
      }
      reply.body.append(buffer_, 0, size);
      buffer_.erase(0, size + 2);
    }
  }

  std::string& buffer_;
  std::function<bool()> fill_;
  const std::string& fill_error_;
};

}  // namespace

std::optional<std::string> HttpReply::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

std::vector<std::string> HttpReply::HeaderValues(std::string_view name) const {
  std::vector<std::string> values;
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) values.push_back(value);
  }
  return values;
}

std::vector<std::string> HttpReply::HeaderNamesWithPrefix(std::string_view prefix) const {
  std::vector<std::string> names;
  for (const auto& [key, value] : headers) {
    const std::string lower = Lower(key);
    if (lower.starts_with(prefix)) names.push_back(lower);
  }
  return names;
}

std::string BuildRequest(int port, std::string_view method, std::string_view target,
                         const HeaderList& headers, const std::optional<std::string>& body,
                         bool close) {
  std::string request;
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  request += "Host: 127.0.0.1:" + std::to_string(port) + "\r\n";
  bool has_length = false;
  for (const auto& [name, value] : headers) {
    has_length = has_length || EqualsIgnoreCase(name, "content-length");
    request += name + ": " + value + "\r\n";
  }
  if (body && !has_length) request += "Content-Length: " + std::to_string(body->size()) + "\r\n";
  if (close) request += "Connection: close\r\n";
  request += "\r\n";
  if (body) request += *body;
  return request;
}

HttpReply ParseReply(std::string_view raw, std::string_view request_method) {
  std::string buffer(raw);
  const std::string no_error;
  ReplyReader reader(
      buffer, [] { return false; }, no_error);
  return reader.Read(request_method);
}

struct HttpConnection::Impl {
  int fd = -1;
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  std::string buffer;
  std::string last_error;

  ~Impl() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (fd >= 0) close(fd);
  }

  void SetTimeouts(std::chrono::milliseconds timeout) {
    timeval tv{};
    const auto ms = std::max<std::chrono::milliseconds::rep>(timeout.count(), 1);
    tv.tv_sec = static_cast<time_t>(ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  // ReadSome appends what arrives next; false at the end of the stream or on an error.
  bool ReadSome() {
    char chunk[16384];
    if (ssl != nullptr) {
      const int n = SSL_read(ssl, chunk, sizeof chunk);
      if (n > 0) {
        buffer.append(chunk, static_cast<std::size_t>(n));
        return true;
      }
      const int code = SSL_get_error(ssl, n);
      if (code != SSL_ERROR_ZERO_RETURN) {
        last_error = "SSL_read error " + std::to_string(code) + " errno " + std::strerror(errno) +
                     " " + OpenSslErrors();
      }
      return false;
    }
    for (;;) {
      const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer.append(chunk, static_cast<std::size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        last_error = errno == EAGAIN || errno == EWOULDBLOCK ? "read timed out"
                                                             : std::string(std::strerror(errno));
      }
      return false;
    }
  }

  bool WriteAll(std::string_view bytes) {
    while (!bytes.empty()) {
      if (ssl != nullptr) {
        const int n = SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size()));
        if (n <= 0) {
          last_error = "SSL_write failed: " + OpenSslErrors();
          return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        last_error = std::string("write failed: ") + std::strerror(errno);
        return false;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  bool StartTls(const TlsClientOptions& tls, std::string* error) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) {
      *error = "SSL_CTX_new: " + OpenSslErrors();
      return false;
    }
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
    // A peer that closes without close_notify ends the stream; the framing says if it was
    // complete.
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (SSL_CTX_load_verify_locations(ctx, tls.ca_file.c_str(), nullptr) != 1) {
      *error = "cannot load CA " + tls.ca_file + ": " + OpenSslErrors();
      return false;
    }
    if (!tls.cert_file.empty()) {
      if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1 ||
          SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        *error = "cannot load client certificate: " + OpenSslErrors();
        return false;
      }
    }
    ssl = SSL_new(ctx);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    in6_addr ignored;
    const bool is_ip = inet_pton(AF_INET, tls.host.c_str(), &ignored) == 1 ||
                       inet_pton(AF_INET6, tls.host.c_str(), &ignored) == 1;
    if (is_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, tls.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_host(param, tls.host.c_str(), 0);
      SSL_set_tlsext_host_name(ssl, tls.host.c_str());
    }
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) != 1) {
      const long verify = SSL_get_verify_result(ssl);
      *error = "TLS handshake failed: " + OpenSslErrors() +
               (verify != X509_V_OK
                    ? std::string(" (verify: ") + X509_verify_cert_error_string(verify) + ")"
                    : std::string());
      return false;
    }
    if (SSL_get_verify_result(ssl) != X509_V_OK) {
      *error = "certificate not verified";
      return false;
    }
    return true;
  }
};

HttpConnection::HttpConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpConnection::~HttpConnection() = default;

std::unique_ptr<HttpConnection> HttpConnection::Open(int port, std::string* error,
                                                     const TlsClientOptions* tls) {
  IgnoreSigpipeOnce();
  auto impl = std::make_unique<Impl>();
  impl->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (impl->fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return nullptr;
  }
  const int one = 1;
  setsockopt(impl->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  impl->SetTimeouts(kHttpIoTimeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(impl->fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    *error = "connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    return nullptr;
  }
  if (tls != nullptr && !impl->StartTls(*tls, error)) return nullptr;
  return std::unique_ptr<HttpConnection>(new HttpConnection(std::move(impl)));
}

bool HttpConnection::Send(std::string_view bytes) { return impl_->WriteAll(bytes); }

HttpReply HttpConnection::ReadReply(std::string_view request_method) {
  impl_->last_error.clear();
  ReplyReader reader(
      impl_->buffer, [this] { return impl_->ReadSome(); }, impl_->last_error);
  return reader.Read(request_method);
}

std::string HttpConnection::ReadUntilClose(std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    impl_->SetTimeouts(left);
    if (!impl_->ReadSome()) break;
  }
  impl_->SetTimeouts(kHttpIoTimeout);
  return std::exchange(impl_->buffer, std::string());
}

HttpReply HttpConnection::Call(std::string_view method, std::string_view target,
                               const HeaderList& headers, const std::optional<std::string>& body,
                               bool close) {
  // The port only goes into Host, which the gateway ignores; the peer's port is what we
  // connected to, so take it from the socket.
  sockaddr_in peer{};
  socklen_t length = sizeof peer;
  getpeername(impl_->fd, reinterpret_cast<sockaddr*>(&peer), &length);
  const std::string request =
      BuildRequest(ntohs(peer.sin_port), method, target, headers, body, close);
  if (!Send(request)) {
    HttpReply reply;
    reply.error = "cannot send the request: " + impl_->last_error;
    return reply;
  }
  return ReadReply(method);
}

HttpReply HttpCall(int port, std::string_view method, std::string_view target,
                   const HeaderList& headers, const std::optional<std::string>& body) {
  std::string error;
  std::unique_ptr<HttpConnection> connection = HttpConnection::Open(port, &error);
  if (connection == nullptr) {
    HttpReply reply;
    reply.error = error;
    return reply;
  }
  return connection->Call(method, target, headers, body, /*close=*/true);
}

HttpReply HttpsCall(int port, const TlsClientOptions& tls, std::string_view method,
                    std::string_view target, const HeaderList& headers,
                    const std::optional<std::string>& body) {
  std::string error;
  std::unique_ptr<HttpConnection> connection = HttpConnection::Open(port, &error, &tls);
  if (connection == nullptr) {
    HttpReply reply;
    reply.error = error;
    return reply;
  }
  return connection->Call(method, target, headers, body, /*close=*/true);
}

std::string SendRaw(int port, std::string_view bytes, std::chrono::milliseconds timeout) {
  std::string error;
  std::unique_ptr<HttpConnection> connection = HttpConnection::Open(port, &error);
  if (connection == nullptr) return {};
  // A server may answer and close before taking every byte; what it said still counts.
  connection->Send(bytes);
  return connection->ReadUntilClose(timeout);
}

HttpReply PostLogin(int port, const std::string& user_id, const std::string& password,
                    const HeaderList& extra) {
  HeaderList headers = {{"Content-Type", "application/json"}};
  headers.insert(headers.end(), extra.begin(), extra.end());
  return HttpCall(port, "POST", "/password/login", headers,
                  nlohmann::json({{"user_id", user_id}, {"password", password}}).dump());
}

std::string Describe(const HttpReply& reply) {
  std::ostringstream out;
  if (!reply.error.empty()) out << "[client error: " << reply.error << "] ";
  out << reply.status_line << "\n";
  for (const auto& [name, value] : reply.headers) out << name << ": " << value << "\n";
  out << "\n" << reply.body;
  return out.str();
}

}  // namespace passgate::testing
