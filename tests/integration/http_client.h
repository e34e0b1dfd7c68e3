#ifndef PASSGATE_TESTS_INTEGRATION_HTTP_CLIENT_H_
#define PASSGATE_TESTS_INTEGRATION_HTTP_CLIENT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace passgate::testing {

// A deliberately small, blocking HTTP/1.1 client for the gateway's integration tests: POSIX
// sockets on 127.0.0.1, optional TLS through OpenSSL, no external HTTP library. It sends
// exactly the bytes it is given or builds, so tests can also send malformed requests.

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// HttpReply is one parsed response. `error` is non-empty when no complete response could be
// read (connect failure, timeout, close before the end, unparsable bytes); `status` is 0 then.
struct HttpReply {
  int status = 0;
  std::string status_line;  // "HTTP/1.1 200 OK", without CRLF
  HeaderList headers;       // names as sent, arrival order, repeats kept
  std::string body;         // de-chunked when the response was chunked
  std::string error;

  // Header returns the first value of `name` (matched case-insensitively), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
  // HeaderValues returns every value of `name` in arrival order.
  std::vector<std::string> HeaderValues(std::string_view name) const;
  bool HasHeader(std::string_view name) const { return Header(name).has_value(); }
  // HeaderNamesWithPrefix returns the lowercased names starting with `prefix` (lowercase).
  std::vector<std::string> HeaderNamesWithPrefix(std::string_view prefix) const;
};

// Describe renders a reply (status line, headers, body, client error) for failure messages.
std::string Describe(const HttpReply& reply);

// TlsClientOptions: verify the server against `ca_file` (PEM) and check its certificate for
// `host` (an IP literal is checked against IP SANs, anything else against DNS names and sent
// as SNI). An optional client certificate.
struct TlsClientOptions {
  std::string ca_file;
  std::string host = "127.0.0.1";
  std::string cert_file;
  std::string key_file;
};

// Every socket operation gives up after this long without progress. Generous on purpose: the
// tests run on a slow shared box and a login hashes with Argon2id.
inline constexpr std::chrono::seconds kHttpIoTimeout{60};

// BuildRequest renders a request to 127.0.0.1:`port`: request line, `Host`, the caller's
// headers in order, `Content-Length` when `body` is set (unless the caller sent one), and
// `Connection: close` when `close` is true.
std::string BuildRequest(int port, std::string_view method, std::string_view target,
                         const HeaderList& headers, const std::optional<std::string>& body,
                         bool close);

// ParseReply parses one complete response from `raw` (as SendRaw returns it). For a response
// without Content-Length or chunking the rest of `raw` is the body.
HttpReply ParseReply(std::string_view raw, std::string_view request_method = "GET");

// HttpConnection is one open TCP (or TLS) connection, for keep-alive tests and raw bytes.
class HttpConnection {
 public:
  // Open connects to 127.0.0.1:`port`, doing a verified TLS handshake when `tls` is given.
  // Returns null and sets `error` on failure.
  static std::unique_ptr<HttpConnection> Open(int port, std::string* error,
                                              const TlsClientOptions* tls = nullptr);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Send writes all of `bytes`; false when the peer is gone or the write timed out.
  bool Send(std::string_view bytes);
  // ReadReply reads exactly one response (the body framed by Content-Length, chunking, or
  // the end of the connection). `request_method` matters only for HEAD.
  HttpReply ReadReply(std::string_view request_method = "GET");
  // ReadUntilClose returns every byte until the peer closes, an error, or `timeout`.
  std::string ReadUntilClose(std::chrono::milliseconds timeout);
  // Call sends a request built by BuildRequest and reads its reply.
  HttpReply Call(std::string_view method, std::string_view target, const HeaderList& headers,
                 const std::optional<std::string>& body, bool close);

 private:
  struct Impl;
  explicit HttpConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// HttpCall opens a connection to 127.0.0.1:`port`, sends one request with `Connection: close`
// (and Content-Length when `body` is set), and returns the reply.
HttpReply HttpCall(int port, std::string_view method, std::string_view target,
                   const HeaderList& headers = {}, const std::optional<std::string>& body = {});

// PostLogin sends Hanko's POST /password/login with a JSON body of `user_id` and `password`
// (plus `extra` headers) through HttpCall.
HttpReply PostLogin(int port, const std::string& user_id, const std::string& password,
                    const HeaderList& extra = {});

// HttpsCall is HttpCall over TLS, verifying the server as `tls` says.
HttpReply HttpsCall(int port, const TlsClientOptions& tls, std::string_view method,
                    std::string_view target, const HeaderList& headers = {},
                    const std::optional<std::string>& body = {});

// SendRaw connects, writes `bytes` unchanged, and returns whatever came back until the server
// closed the connection or `timeout` passed. Empty when nothing came back (or no connect).
std::string SendRaw(int port, std::string_view bytes,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace passgate::testing

#endif  // PASSGATE_TESTS_INTEGRATION_HTTP_CLIENT_H_
