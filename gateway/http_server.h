#ifndef PASSGATE_GATEWAY_HTTP_SERVER_H_
#define PASSGATE_GATEWAY_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "gateway/http_message.h"

namespace passgate::gateway {

struct HttpServerOptions {
  // host:port to listen on; an empty host means all interfaces (Hanko's ":8000"); port 0
  // picks a free port.
  std::string address = "127.0.0.1:8000";
  // Request body limit; larger (declared or actual) bodies get 413. Default: 16 KiB.
  std::size_t max_body_bytes = 16 * 1024;
  // Request line + header limit; larger get 431. Default: 8 KiB.
  std::size_t max_header_bytes = 8 * 1024;
  // Time allowed to receive one whole request once its first byte arrived; slower clients
  // are disconnected (slowloris). Default: 10 s.
  std::chrono::milliseconds read_timeout{10'000};
  // Time a keep-alive connection may sit idle between requests. Default: 60 s.
  std::chrono::milliseconds idle_timeout{60'000};
  // Connections beyond this many are closed right after accept. Default: 1024.
  int max_connections = 1024;
  // I/O threads. Default: 1 (one thread saturates a core with Beast).
  int threads = 1;
  // TLS: PEM files; both empty = plain HTTP.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Client certificates (mutual TLS): a PEM file of the CAs that issue them; empty = none
  // asked for. When set (REQUIRES: TLS on), the server asks every client for a certificate;
  // one that is presented must verify against these CAs or the handshake fails, and its
  // subject common name reaches the handler as HttpRequest::client_cert_common_name. A client
  // without a certificate is still served (it may carry a bearer token instead): the handler
  // decides.
  std::string tls_client_ca_file;
};

// HttpServer is an async HTTP/1.1 server on Boost.Beast (keep-alive, TCP_NODELAY,
// optional TLS) that hands each complete request to an HttpHandler. Protocol errors get a
// Hanko-style JSON error (400, 413, 431) and the connection is closed.
class HttpServer {
 public:
  // Start binds and serves on background threads. kInvalidArgument for a bad address or
  // TLS files (naming which), kUnavailable when the port cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                           HttpHandler& handler);
  virtual ~HttpServer() = default;

  // port is the bound TCP port.
  virtual int port() const = 0;

  // Shutdown stops accepting, lets requests being handled finish (up to `grace`), closes
  // connections and joins the I/O threads. Idempotent.
  virtual void Shutdown(std::chrono::milliseconds grace) = 0;
};

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_HTTP_SERVER_H_
