// The Boost.Beast transport. Beast is confined to this translation unit (it costs 10-20 s of
// compile time per file that includes it).
//
// Threading: one io_context run by `threads` threads. With more than one, the acceptor and
// every connection have their own strand, so a connection's handlers never run concurrently;
// with one thread they cannot, and the plain io_context executor serves. The HttpHandler is
// called on the connection's executor; its Responder may run on any thread and only posts the
// response back onto that executor.
//
// Timeouts (beast::tcp_stream deadlines, which cover every operation started until changed):
//   - A new connection must deliver its first whole request (TLS handshake included) within
//     read_timeout of accept.
//   - Between keep-alive requests, one read_some waits up to idle_timeout for the first byte
//     of the next request; on expiry the connection closes silently.
//   - Once that first byte is in, the rest of the request (header and body) must arrive
//     within read_timeout of it, so a client dribbling bytes (slowloris) is cut off.
//   - While the handler works there is no deadline (no read is pending then).
//   - Writing a response must finish within read_timeout.
//   - After a response that closes the connection, the server shuts its sending side and
//     drains what the client still sends for up to min(read_timeout, 2 s), so that unread
//     request bytes do not turn the close into a TCP reset that destroys the error reply
//     before the client has read it (Go's "lingering close").
//
// Parsing uses Beast's basic_parser with our own callbacks (fields kept in arrival order);
// responses are serialized here (handler header order kept, repeats included), always as
// HTTP/1.1 with Content-Length.
//
// Shutdown: stop accepting; requests read from then on get 503 and every response closes
// its connection; wait up to `grace` for handler calls to be answered and written; then stop
// the io_context, join its threads and drop all connections.
//
// Lifetime: a connection (Session) lives as long as an operation or an unanswered Responder
// refers to it. Responders can outlive the server, so they reach their Session through an
// InFlight registry that Shutdown empties: a late Responder then finds nothing to answer.
//
// Nothing here logs: request headers and bodies carry passwords and tokens.

#include "gateway/http_server.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "boost/asio/dispatch.hpp"
#include "boost/asio/executor_work_guard.hpp"
#include "boost/asio/io_context.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/ip/v6_only.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/ssl.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "boost/asio/write.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "boost/beast/ssl.hpp"
#include "gateway/text.h"

namespace passgate::gateway {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

// How much a lingering close reads and throws away before giving up and closing anyway.
constexpr std::size_t kMaxDrainBytes = 256 * 1024;
constexpr std::chrono::milliseconds kMaxLinger{2'000};
// Read size when waiting for the first byte of a keep-alive request.
constexpr std::size_t kReadChunk = 4096;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// HasToken reports whether the comma-separated list `value` contains `token`.
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    if (EqualsIgnoreCase(TrimSpace(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

std::string_view ToStd(beast::string_view s) { return std::string_view(s.data(), s.size()); }

// IsToken: RFC 9110 token characters, which is what a header name must consist of.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// SafeHeaderValue replaces CR, LF and NUL with spaces (as Go does), so a value can never end
// the header early.
std::string SafeHeaderValue(std::string value) {
  for (char& c : value) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  return value;
}

// SplitTarget splits an origin-form ("/a?b") or absolute-form ("http://h/a?b") target.
void SplitTarget(std::string_view target, std::string& path, std::string& query) {
  if (!target.empty() && target.front() != '/') {
    const std::size_t scheme_end = target.find("://");
    if (scheme_end != std::string_view::npos) {
      const std::size_t start = target.find_first_of("/?", scheme_end + 3);
      target = start == std::string_view::npos ? std::string_view() : target.substr(start);
    }
  }
  const std::size_t mark = target.find('?');
  path = std::string(target.substr(0, mark));
  if (mark != std::string_view::npos) query = std::string(target.substr(mark + 1));
  if (path.empty()) path = "/";
}

std::string PeerIp(const tcp::endpoint& endpoint) {
  net::ip::address address = endpoint.address();
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  return address.to_string();
}

const boost::system::error_category& HttpErrorCategory() {
  return http::make_error_code(http::error::bad_method).category();
}

// ---------------------------------------------------------------------------------------
// In-flight accounting, shared by the server and every outstanding Responder.

class ResponseSink {
 public:
  virtual ~ResponseSink() = default;
  // Deliver queues `response` for writing on the connection's executor. Any thread.
  virtual void Deliver(HttpResponse response) = 0;
};

class InFlight;

// PendingResponse is the state behind one Responder: it answers at most once, and answers
// 500 if the handler drops the Responder without calling it.
class PendingResponse {
 public:
  PendingResponse(std::shared_ptr<InFlight> in_flight, std::shared_ptr<ResponseSink> sink)
      : in_flight_(std::move(in_flight)), sink_(std::move(sink)) {}
  // Nobody else holds this object any more (the last shared_ptr released it, which orders
  // every earlier Respond before this), so answered_ can be read without the lock, and only a
  // dropped Responder pays for rendering the 500.
  ~PendingResponse() {
    if (!answered_) Respond(ErrorResponse(500));
  }
  PendingResponse(const PendingResponse&) = delete;
  PendingResponse& operator=(const PendingResponse&) = delete;

  void Respond(HttpResponse response);

 private:
  friend class InFlight;
  std::shared_ptr<InFlight> in_flight_;
  // Guarded by in_flight_->mu_.
  std::shared_ptr<ResponseSink> sink_;
  bool answered_ = false;
};

// InFlight counts requests from the handler call until their response is written, so that
// Shutdown can wait for them, and tracks unanswered Responders so Shutdown can cut them loose.
class InFlight {
 public:
  void Add(PendingResponse* pending) {
    std::lock_guard lock(mu_);
    ++count_;
    pending_.insert(pending);
  }

  void Finished() {
    std::lock_guard lock(mu_);
    if (--count_ == 0) idle_.notify_all();
  }

  // WaitIdle returns when nothing is in flight or after `grace`.
  void WaitIdle(std::chrono::milliseconds grace) {
    std::unique_lock lock(mu_);
    idle_.wait_for(lock, grace, [this] { return count_ == 0; });
  }

  // Abandon detaches every unanswered Responder from its connection and returns the
  // connections, for the caller to release (outside the lock) while the io_context exists.
  std::vector<std::shared_ptr<ResponseSink>> Abandon() {
    std::vector<std::shared_ptr<ResponseSink>> sinks;
    std::lock_guard lock(mu_);
    for (PendingResponse* pending : pending_) sinks.push_back(std::move(pending->sink_));
    pending_.clear();
    return sinks;
  }

 private:
  friend class PendingResponse;
  std::mutex mu_;
  std::condition_variable idle_;
  int count_ = 0;
  std::unordered_set<PendingResponse*> pending_;
};

void PendingResponse::Respond(HttpResponse response) {
  std::lock_guard lock(in_flight_->mu_);
  if (answered_) return;
  answered_ = true;
  in_flight_->pending_.erase(this);
  if (sink_ == nullptr) return;  // the server has shut down
  // Delivered under the lock: Shutdown cannot destroy the io_context in between.
  sink_->Deliver(std::move(response));
  sink_.reset();
}

// ---------------------------------------------------------------------------------------
// Per-server state that connections use.

struct ServerCore {
  ServerCore(const HttpServerOptions& options, HttpHandler& handler)
      : options(options), handler(handler) {}

  const HttpServerOptions options;
  HttpHandler& handler;
  std::optional<ssl::context> tls;
  std::atomic<int> connections{0};
  std::atomic<bool> stopping{false};
  const std::shared_ptr<InFlight> in_flight = std::make_shared<InFlight>();
};

// RequestParser builds an HttpRequest straight from Beast's parser callbacks. This keeps the
// header fields in arrival order (Beast's own fields container would group repeated names)
// and spares an intermediate message.
class RequestParser final : public http::basic_parser<true> {
 public:
  RequestParser(std::size_t max_header_bytes, std::size_t max_body_bytes)
      : max_extension_bytes_(max_header_bytes) {
    header_limit(static_cast<std::uint32_t>(
        std::min<std::size_t>(max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
    body_limit(max_body_bytes);
  }

  HttpRequest& request() { return request_; }
  http::verb method() const { return method_; }
  int http_version() const { return version_; }

 private:
  void on_request_impl(http::verb method, beast::string_view method_string,
                       beast::string_view target, int version, error_code&) override {
    method_ = method;
    version_ = version;
    request_.method = std::string(ToStd(method_string));
    SplitTarget(ToStd(target), request_.path, request_.query);
  }
  void on_response_impl(int, beast::string_view, int, error_code&) override {}
  void on_field_impl(http::field, beast::string_view name, beast::string_view value,
                     error_code& ec) override {
    // Beast reports chunked trailer fields here too. Taking them as headers would let a body
    // smuggle in Authorization or Content-Type after the fact; no client of this API sends
    // trailers, so they are refused (400).
    if (headers_done_) {
      ec = http::error::bad_field;
      return;
    }
    std::string lower(ToStd(name));
    for (char& c : lower) c = AsciiLower(c);
    request_.headers.emplace_back(std::move(lower), std::string(ToStd(value)));
  }
  void on_header_impl(error_code&) override { headers_done_ = true; }
  void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
    if (length) request_.body.reserve(*length);  // Beast has checked it against body_limit
  }
  std::size_t on_body_impl(beast::string_view body, error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view extensions,
                            error_code& ec) override {
    // Chunk extensions are ignored, but they count neither as header nor as body for Beast:
    // cap their total like headers (431), or a client could stream them without end.
    extension_bytes_ += extensions.size();
    if (extension_bytes_ > max_extension_bytes_) ec = http::error::header_limit;
  }
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
    request_.body.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  HttpRequest request_;
  http::verb method_ = http::verb::unknown;
  int version_ = 11;
  bool headers_done_ = false;
  const std::size_t max_extension_bytes_;
  std::size_t extension_bytes_ = 0;
};

// VerifiedClientCommonName returns the subject CN of the client certificate OpenSSL verified
// on `ssl`, or empty (none sent, no CN, or not printable ASCII up to 128 bytes).
std::string VerifiedClientCommonName(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return {};
  const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  const std::string_view cn(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                            static_cast<std::size_t>(ASN1_STRING_length(data)));
  if (cn.empty() || cn.size() > 128) return {};
  for (const char c : cn) {
    if (c < 0x20 || c > 0x7e) return {};
  }
  return std::string(cn);
}

// Session serves one connection; Stream is beast::tcp_stream or ssl_stream<tcp_stream>.
template <class Stream>
class Session final : public ResponseSink, public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

 public:
  template <class... StreamArgs>
  Session(ServerCore& core, std::string peer_ip, StreamArgs&&... stream_args)
      : core_(core),
        stream_(std::forward<StreamArgs>(stream_args)...),
        executor_(stream_.get_executor()),
        peer_ip_(std::move(peer_ip)) {
    // Bound what one connection may buffer: a whole request at the limits plus read slack.
    // Beast does not count a chunk-size line or trailer toward its limits, so without this
    // a single line could grow the buffer without end (the read then fails: 413).
    buffer_.max_size(core.options.max_header_bytes + core.options.max_body_bytes + 2 * kReadChunk);
  }

  ~Session() override { core_.connections.fetch_sub(1); }

  void Start() {
    net::dispatch(executor_, [self = this->shared_from_this()] { self->Begin(); });
  }

  void Deliver(HttpResponse response) override {
    net::post(executor_,
              [self = this->shared_from_this(), response = std::move(response)]() mutable {
                self->Write(std::move(response), /*counted=*/true);
              });
  }

 private:
  beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

  void Begin() {
    Tcp().expires_after(core_.options.read_timeout);
    if constexpr (kTls) {
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](const error_code& ec) {
                                if (ec) return self->CloseNow();
                                self->client_cert_common_name_ =
                                    VerifiedClientCommonName(self->stream_.native_handle());
                                self->ReadHeader();
                              });
    } else {
      ReadHeader();
    }
  }

  // AwaitNextRequest runs after a keep-alive response: idle_timeout for the first byte, then
  // read_timeout for the whole request.
  void AwaitNextRequest() {
    if (buffer_.size() > 0) {  // pipelined: the next request has already begun
      Tcp().expires_after(core_.options.read_timeout);
      return ReadHeader();
    }
    Tcp().expires_after(core_.options.idle_timeout);
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
                              if (ec) return self->CloseNow();  // idle timeout or the client left
                              self->buffer_.commit(n);
                              self->Tcp().expires_after(self->core_.options.read_timeout);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    parser_.emplace(core_.options.max_header_bytes, core_.options.max_body_bytes);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(const error_code& ec) {
    if (ec) return OnReadError(ec);
    const HttpRequest& request = parser_->request();
    // As Go: HTTP/1.1 requires exactly one Host; HTTP/1.0 allows none.
    int hosts = 0;
    for (const auto& field : request.headers) hosts += field.first == "host" ? 1 : 0;
    if (hosts > 1 || (hosts == 0 && parser_->http_version() == 11)) return Fail(400);
    // Only "chunked" is supported (as in Go); anything else would leave the body's end unknown.
    int transfer_encodings = 0;
    for (const auto& [name, value] : request.headers) {
      if (name != "transfer-encoding") continue;
      if (++transfer_encodings > 1 || !EqualsIgnoreCase(value, "chunked")) return Fail(501);
    }
    if (const auto expect = request.Header("expect")) {
      if (!EqualsIgnoreCase(*expect, "100-continue")) return Fail(417);
      if (parser_->http_version() == 11 && !parser_->is_done()) {
        net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                         [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                           if (ec) return self->CloseNow();
                           self->ReadBody();
                         });
        return;
      }
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return Dispatch();
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](const error_code& ec, std::size_t) {
                       if (ec) return self->OnReadError(ec);
                       self->Dispatch();
                     });
  }

  void OnReadError(const error_code& ec) {
    if (ec == http::error::header_limit) return Fail(431);
    if (ec == http::error::body_limit || ec == http::error::buffer_overflow) return Fail(413);
    if (ec == http::error::bad_version) return Fail(IsWellFormedVersion() ? 505 : 400);
    // end_of_stream / partial_message: the client left. Anything else outside Beast's HTTP
    // category is a timeout (the stream is already closed) or a transport error.
    if (ec.category() == HttpErrorCategory() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      return Fail(400);
    }
    CloseNow();
  }

  // IsWellFormedVersion: whether the unparsed request line ends in "HTTP/<digit>.<digit>",
  // i.e. Beast refused the version as unsupported (505) rather than malformed (400).
  bool IsWellFormedVersion() const {
    const auto data = buffer_.data();
    std::string_view line(static_cast<const char*>(data.data()), data.size());
    line = line.substr(0, line.find("\r\n"));
    const std::size_t space = line.rfind(' ');
    if (space == std::string_view::npos) return false;
    const std::string_view version = line.substr(space + 1);
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    return version.size() == 8 && version.starts_with("HTTP/") && digit(version[5]) &&
           version[6] == '.' && digit(version[7]);
  }

  void Dispatch() {
    keep_alive_ = parser_->keep_alive();
    head_ = parser_->method() == http::verb::head;
    http10_ = parser_->http_version() == 10;
    HttpRequest request = std::move(parser_->request());
    parser_.reset();
    if (core_.stopping.load()) {
      keep_alive_ = false;
      return Write(ErrorResponse(503), /*counted=*/false);
    }
    request.peer_ip = peer_ip_;
    request.tls = kTls;
    request.client_cert_common_name = client_cert_common_name_;

    Tcp().expires_never();  // no read is pending while the handler works
    auto pending = std::make_shared<PendingResponse>(core_.in_flight, this->shared_from_this());
    core_.in_flight->Add(pending.get());
    try {
      core_.handler.Handle(std::move(request), [pending](HttpResponse response) {
        pending->Respond(std::move(response));
      });
    } catch (const std::exception&) {
      // A throwing handler must not take the I/O thread down; no-op if it already answered.
      pending->Respond(ErrorResponse(500));
    }
  }

  // Fail answers a request that could not be read and closes the connection.
  void Fail(int status) {
    parser_.reset();
    keep_alive_ = false;
    head_ = false;
    http10_ = false;
    Write(ErrorResponse(status), /*counted=*/false);
  }

  // Write sends `response`; `counted` marks a handler's answer, which ends an in-flight entry.
  // The head is serialized here rather than by Beast's fields, which would group repeated
  // names together instead of keeping the handler's order.
  void Write(HttpResponse response, bool counted) {
    if (response.status < 200 || response.status > 999) response = ErrorResponse(500);
    // Every response carries X-Request-Id (Hanko's contract), including the transport's own
    // 400/413/431/503 answers, which never reach the handler that normally sets it.
    if (std::none_of(response.headers.begin(), response.headers.end(),
                     [](const auto& h) { return EqualsIgnoreCase(h.first, "x-request-id"); })) {
      response.AddHeader("X-Request-Id", NewRequestId());
    }
    const std::string_view text = StatusText(response.status);
    // Always HTTP/1.1, the highest version we conform to (RFC 9110 §6.2), as Go does.
    out_head_ = absl::StrCat(
        "HTTP/1.1 ", response.status, " ",
        text.empty() ? absl::StrCat("status code ", response.status) : std::string(text), "\r\n");
    bool close_asked = false;
    for (auto& [name, value] : response.headers) {
      if (!IsToken(name)) continue;
      // Framing belongs to the transport.
      if (EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "transfer-encoding")) {
        continue;
      }
      if (EqualsIgnoreCase(name, "connection")) {
        close_asked = close_asked || HasToken(value, "close");
        continue;
      }
      absl::StrAppend(&out_head_, name, ": ", SafeHeaderValue(std::move(value)), "\r\n");
    }
    // 204 and 304 carry neither a body nor its framing. HEAD gets the Content-Length the GET
    // would have had, without the body.
    const bool bodiless = response.status == 204 || response.status == 304;
    if (!bodiless) absl::StrAppend(&out_head_, "Content-Length: ", response.body.size(), "\r\n");
    keep_alive_ = keep_alive_ && !close_asked && !core_.stopping.load();
    if (!keep_alive_) {
      out_head_ += "Connection: close\r\n";
    } else if (http10_) {  // HTTP/1.0 closes unless told otherwise
      out_head_ += "Connection: keep-alive\r\n";
    }
    out_head_ += "\r\n";
    out_body_ = bodiless || head_ ? std::string() : std::move(response.body);

    Tcp().expires_after(core_.options.read_timeout);
    const std::array<net::const_buffer, 2> buffers = {net::buffer(out_head_),
                                                      net::buffer(out_body_)};
    net::async_write(stream_, buffers,
                     [self = this->shared_from_this(), counted](const error_code& ec, std::size_t) {
                       self->OnWrite(ec, counted);
                     });
  }

  void OnWrite(const error_code& ec, bool counted) {
    out_head_.clear();
    out_body_.clear();
    if (counted) core_.in_flight->Finished();
    if (ec) return CloseNow();
    if (!keep_alive_) return Linger();
    AwaitNextRequest();
  }

  void Linger() {
    Tcp().expires_after(
        std::min<std::chrono::milliseconds>(core_.options.read_timeout, kMaxLinger));
    if constexpr (kTls) {
      stream_.async_shutdown(
          [self = this->shared_from_this()](const error_code&) { self->ShutdownSendAndDrain(); });
    } else {
      ShutdownSendAndDrain();
    }
  }

  void ShutdownSendAndDrain() {
    error_code ec;
    Tcp().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return CloseNow();
    Drain();
  }

  void Drain() {
    // What is drained is thrown away; never let it grow the (size-capped) buffer.
    buffer_.consume(buffer_.size());
    Tcp().async_read_some(buffer_.prepare(kReadChunk),
                          [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
                            self->drained_ += n;
                            if (ec || self->drained_ > kMaxDrainBytes) return self->CloseNow();
                            self->Drain();
                          });
  }

  void CloseNow() { Tcp().close(); }

  ServerCore& core_;
  Stream stream_;
  const net::any_io_executor executor_;  // the connection's (strand when threads > 1)
  const std::string peer_ip_;
  std::string client_cert_common_name_;  // set once, after the TLS handshake
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::string out_head_;  // the response being written
  std::string out_body_;
  bool keep_alive_ = false;
  bool head_ = false;
  bool http10_ = false;
  std::size_t drained_ = 0;
};

using PlainSession = Session<beast::tcp_stream>;
using TlsSession = Session<beast::ssl_stream<beast::tcp_stream>>;

// ---------------------------------------------------------------------------------------
// Start-up helpers.

struct ListenAddress {
  std::string host;  // empty: all interfaces
  std::uint16_t port = 0;
};

absl::StatusOr<ListenAddress> ParseAddress(std::string_view address) {
  const auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", std::string(address), "\": ", std::string(why)));
  };
  std::string_view host;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    const std::size_t close = address.find(']');
    if (close == std::string_view::npos) return invalid("missing ']'");
    host = address.substr(1, close - 1);
    const std::string_view rest = address.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return invalid("want [host]:port");
    port = rest.substr(1);
    if (host.empty()) return invalid("empty IPv6 host");
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return invalid("want host:port");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return invalid("IPv6 hosts need [brackets]");
  }
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return invalid("bad port");
  }
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(value)};
}

absl::Status LoadTls(const HttpServerOptions& options, ssl::context& context) {
  SSL_CTX* native = context.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return absl::InternalError("cannot restrict TLS to 1.2+");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An encrypted key must fail start-up, not wait for a passphrase on the terminal.
  context.set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });
  error_code ec;
  context.use_certificate_chain_file(options.tls_cert_file, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls_cert_file \"", options.tls_cert_file,
                     "\": cannot load certificate chain: ", ec.message()));
  }
  context.use_private_key_file(options.tls_key_file, ssl::context::pem, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("tls_key_file \"", options.tls_key_file,
                                                   "\": cannot load private key: ", ec.message()));
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls_key_file \"", options.tls_key_file, "\" does not match tls_cert_file"));
  }
  if (!options.tls_client_ca_file.empty()) {
    const std::string& ca = options.tls_client_ca_file;
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str());
    if (names == nullptr || SSL_CTX_load_verify_locations(native, ca.c_str(), nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return absl::InvalidArgumentError(
          absl::StrCat("tls_client_ca_file \"", ca, "\": cannot load CA certificates"));
    }
    SSL_CTX_set_client_CA_list(native, names);  // takes ownership
    // Ask, do not require: a certificate that is sent must verify, none is also fine.
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
    // Resumed sessions keep the verified certificate; OpenSSL refuses to resume (and fails
    // the handshake) without a session id context once verification is on.
    static constexpr unsigned char kSessionContext[] = "passgate-http";
    SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  }
  return absl::OkStatus();
}

absl::Status ValidateOptions(const HttpServerOptions& options) {
  if (options.max_header_bytes == 0) return absl::InvalidArgumentError("max_header_bytes is 0");
  if (options.read_timeout.count() <= 0) {
    return absl::InvalidArgumentError("read_timeout must be positive");
  }
  if (options.idle_timeout.count() <= 0) {
    return absl::InvalidArgumentError("idle_timeout must be positive");
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError("max_connections must be at least 1");
  }
  if (options.threads < 1) return absl::InvalidArgumentError("threads must be at least 1");
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls_cert_file and tls_key_file must be set together");
  }
  if (!options.tls_client_ca_file.empty() && options.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("tls_client_ca_file needs tls_cert_file and tls_key_file");
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------

class BeastHttpServer final : public HttpServer {
 public:
  BeastHttpServer(const HttpServerOptions& options, HttpHandler& handler)
      : core_(options, handler),
        io_(std::make_unique<net::io_context>(options.threads)),
        work_(std::in_place, io_->get_executor()),
        acceptor_(std::make_unique<tcp::acceptor>(NewExecutor())),
        retry_timer_(std::make_unique<net::steady_timer>(acceptor_->get_executor())) {
    const HttpResponse busy = ErrorResponse(503);
    reject_reply_ = absl::StrCat(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: ", busy.headers.front().second,
        "\r\nContent-Length: ", busy.body.size(), "\r\nConnection: close\r\n\r\n", busy.body);
  }

  ~BeastHttpServer() override { Shutdown(std::chrono::milliseconds(0)); }

  BeastHttpServer(const BeastHttpServer&) = delete;
  BeastHttpServer& operator=(const BeastHttpServer&) = delete;

  absl::Status EnableTls() {
    core_.tls.emplace(ssl::context::tls_server);
    return LoadTls(core_.options, *core_.tls);
  }

  absl::Status Listen(const ListenAddress& address) {
    std::vector<tcp::endpoint> endpoints;
    if (address.host.empty()) {
      // Dual stack "::" first (IPv4 arrives as v4-mapped), plain IPv4 if IPv6 is missing.
      endpoints.emplace_back(net::ip::address_v6::any(), address.port);
      endpoints.emplace_back(net::ip::address_v4::any(), address.port);
    } else {
      error_code ec;
      const net::ip::address ip = net::ip::make_address(address.host, ec);
      if (!ec) {
        endpoints.emplace_back(ip, address.port);
      } else {
        tcp::resolver resolver(*io_);
        const auto results = resolver.resolve(address.host, std::to_string(address.port),
                                              tcp::resolver::passive, ec);
        if (ec || results.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "address \"", core_.options.address,
              "\": cannot resolve host: ", ec ? ec.message() : std::string("no addresses")));
        }
        for (const auto& entry : results) endpoints.push_back(entry.endpoint());
      }
    }

    error_code ec;
    for (const tcp::endpoint& endpoint : endpoints) {
      ec = {};
      acceptor_->open(endpoint.protocol(), ec);
      if (ec) continue;  // e.g. no IPv6 on this host
      if (endpoint.address().is_v6() && address.host.empty()) {
        acceptor_->set_option(net::ip::v6_only(false), ec);
      }
      acceptor_->set_option(net::socket_base::reuse_address(true), ec);
      acceptor_->bind(endpoint, ec);
      if (!ec) acceptor_->listen(net::socket_base::max_listen_connections, ec);
      if (!ec) {
        port_ = acceptor_->local_endpoint().port();
        return absl::OkStatus();
      }
      error_code ignored;
      acceptor_->close(ignored);
      // Only a missing address family is worth the next candidate; "in use" is final.
      if (ec != net::error::address_family_not_supported &&
          ec != boost::system::errc::address_not_available) {
        break;
      }
    }
    return absl::UnavailableError(
        absl::StrCat("cannot listen on \"", core_.options.address, "\": ", ec.message()));
  }

  void Run() {
    net::post(acceptor_->get_executor(), [this] { Accept(); });
    threads_.reserve(static_cast<std::size_t>(core_.options.threads));
    for (int i = 0; i < core_.options.threads; ++i) {
      threads_.emplace_back([this] { io_->run(); });
    }
  }

  int port() const override { return port_; }

  // Must not be called from a handler (it joins the I/O threads).
  void Shutdown(std::chrono::milliseconds grace) override {
    std::lock_guard lock(shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;

    core_.stopping.store(true);
    net::post(acceptor_->get_executor(), [this] {
      error_code ignored;
      acceptor_->close(ignored);
      retry_timer_->cancel();
    });
    if (!threads_.empty()) core_.in_flight->WaitIdle(grace);

    work_.reset();
    io_->stop();
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
    // Connections still waiting for their handler close here; their Responders become no-ops.
    core_.in_flight->Abandon().clear();
    retry_timer_.reset();
    acceptor_.reset();
    io_.reset();  // destroys the remaining connections with their pending operations
  }

 private:
  // NewExecutor gives the acceptor and each connection its executor. Several I/O threads need
  // a strand per connection so that its handlers never overlap; one thread (the default) runs
  // them one at a time anyway, and there the strand's queueing, locking and type-erased
  // copies were about a tenth of a cached JWKS request's CPU (perf), so it is left out.
  net::any_io_executor NewExecutor() {
    if (core_.options.threads == 1) return io_->get_executor();
    return net::make_strand(*io_);
  }

  void Accept() {
    acceptor_->async_accept(
        NewExecutor(),
        [this](const error_code& ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
  }

  void OnAccept(const error_code& ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_->is_open()) return;
    if (ec) {
      // E.g. out of file descriptors: back off (5 ms doubling to 1 s, as Go) instead of spinning.
      accept_backoff_ = std::min<std::chrono::milliseconds>(
          accept_backoff_.count() == 0 ? std::chrono::milliseconds(5) : accept_backoff_ * 2,
          std::chrono::milliseconds(1000));
      retry_timer_->expires_after(accept_backoff_);
      retry_timer_->async_wait([this](const error_code& wait_ec) {
        if (!wait_ec && acceptor_->is_open()) Accept();
      });
      return;
    }
    accept_backoff_ = std::chrono::milliseconds(0);
    if (!core_.stopping.load()) Serve(std::move(socket));
    Accept();
  }

  // Serve runs on the acceptor's executor, the only place `connections` grows.
  void Serve(tcp::socket socket) {
    if (core_.connections.load() >= core_.options.max_connections) return Reject(socket);
    error_code ec;
    const tcp::endpoint peer = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    socket.set_option(tcp::no_delay(true), ec);
    core_.connections.fetch_add(1);
    if (core_.tls) {
      std::make_shared<TlsSession>(core_, PeerIp(peer), std::move(socket), *core_.tls)->Start();
    } else {
      std::make_shared<PlainSession>(core_, PeerIp(peer), std::move(socket))->Start();
    }
  }

  // Reject closes a connection over max_connections; plain HTTP clients get a best-effort
  // 503 first (one non-blocking write, so the accept loop never waits on a client).
  void Reject(tcp::socket& socket) {
    error_code ignored;
    if (!core_.tls) {
      socket.non_blocking(true, ignored);
      socket.write_some(net::buffer(reject_reply_), ignored);
    }
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  ServerCore core_;
  std::unique_ptr<net::io_context> io_;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<net::steady_timer> retry_timer_;
  std::chrono::milliseconds accept_backoff_{0};
  std::string reject_reply_;
  std::vector<std::thread> threads_;
  int port_ = 0;
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              HttpHandler& handler) {
  if (absl::Status status = ValidateOptions(options); !status.ok()) return status;
  absl::StatusOr<ListenAddress> address = ParseAddress(options.address);
  if (!address.ok()) return address.status();
  auto server = std::make_unique<BeastHttpServer>(options, handler);
  if (!options.tls_cert_file.empty()) {
    if (absl::Status status = server->EnableTls(); !status.ok()) return status;
  }
  if (absl::Status status = server->Listen(*address); !status.ok()) return status;
  server->Run();
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace passgate::gateway
