#ifndef PASSGATE_GATEWAY_HTTP_MESSAGE_H_
#define PASSGATE_GATEWAY_HTTP_MESSAGE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace passgate::gateway {

// HttpRequest is one parsed HTTP/1.1 request, independent of Boost.Beast so that only the
// transport's translation unit pays Beast's compile time.
struct HttpRequest {
  std::string method;  // as sent, e.g. "POST"
  std::string path;    // target before '?', not percent-decoded
  std::string query;   // after '?', may be empty
  // Header fields in arrival order; names lowercased, values as sent (OWS trimmed).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string peer_ip;  // the TCP peer ("127.0.0.1", "::1")
  bool tls = false;
  // The subject common name of a TLS client certificate that the server verified against
  // HttpServerOptions::tls_client_ca_file; empty when none was presented (or the listener
  // does not ask for one). Never taken from a header.
  std::string client_cert_common_name;

  // Header returns the first value of `name` (lowercase), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
      if (key == name) return std::string_view(value);
    }
    return std::nullopt;
  }
};

// HttpResponse: status, ordered header fields (repeats allowed, e.g. Set-Cookie) and body.
// The transport adds Content-Length, Date-less framing and Connection handling.
struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  void AddHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

// Responder delivers the response of one request; call it exactly once, from any thread.
using Responder = std::function<void(HttpResponse)>;

// HttpHandler answers requests asynchronously. Handle must not block: it starts work (e.g.
// an async gRPC call) and calls `respond` when done.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  virtual void Handle(HttpRequest request, Responder respond) = 0;
};

// NewRequestId returns a fresh X-Request-Id as Echo generates it: 32 random alphanumerics.
std::string NewRequestId();

// RequestIdOf returns the request's X-Request-Id when it is a short printable token (1 to 128
// visible ASCII characters; it only correlates logs), else a fresh one (NewRequestId).
std::string RequestIdOf(const HttpRequest& request);

inline constexpr std::string_view kJsonMediaType = "application/json";

// JsonResponse: `status` with `body` as application/json.
HttpResponse JsonResponse(int status, std::string body);

// StatusText returns Go's http.StatusText for `status` ("Unauthorized", "Not Found",
// "Request Entity Too Large", "Request Header Fields Too Large", ...), which Hanko uses as
// the message of its error bodies.
std::string_view StatusText(int status);

// ErrorResponse builds Hanko's error reply: `{"code":<status>,"message":"<text>"}` plus a
// newline, Content-Type application/json. `message` defaults to StatusText(status).
HttpResponse ErrorResponse(int status, std::string_view message = {});

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_HTTP_MESSAGE_H_
