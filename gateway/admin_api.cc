#include "gateway/admin_api.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gateway/client_ip.h"
#include "gateway/go_json_encode.h"
#include "gateway/grpc_metadata.h"
#include "gateway/password_api.h"
#include "gateway/text.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace passgate::gateway {
namespace {

using passgate::v1::CreateUserRequest;
using passgate::v1::DeleteUserRequest;
using passgate::v1::DeleteUserResponse;
using passgate::v1::GetUserRequest;
using passgate::v1::ListUsersRequest;
using passgate::v1::ListUsersResponse;
using passgate::v1::User;
using passgate::v1::UserAdmin;

constexpr std::string_view kUsersPath = "/users";
constexpr std::string_view kBadUserId = "failed to parse userId as uuid";
// Metadata the service believes only from the in-process transport (server/admin_auth.h).
constexpr char kClientCertMetadata[] = "x-passgate-admin-client-cert";
// Hanko's defaults; the upper bound is the service's page size limit.
constexpr std::int64_t kDefaultPerPage = 20;
constexpr std::int64_t kMaxPerPage = 1000;

// ---------------------------------------------------------------------------------------------
// UUIDs.

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// ParseUuid accepts what Go's gofrs uuid.FromString accepts (canonical in either case, in
// braces, with a "urn:uuid:" prefix, or 32 bare hex digits) and returns the 16 bytes.
std::optional<std::array<unsigned char, 16>> ParseUuid(std::string_view text) {
  if (text.size() == 45 && EqualsIgnoreCase(text.substr(0, 9), "urn:uuid:")) {
    text.remove_prefix(9);
  } else if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, 36);
  }
  std::string hex;
  if (text.size() == 36) {
    for (std::size_t i = 0; i < text.size(); ++i) {
      const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
      if (dash_position != (text[i] == '-')) return std::nullopt;
      if (!dash_position) hex += text[i];
    }
  } else if (text.size() == 32) {
    hex = std::string(text);
  } else {
    return std::nullopt;
  }
  std::array<unsigned char, 16> bytes{};
  for (std::size_t i = 0; i < 16; ++i) {
    const int high = HexValue(hex[2 * i]);
    const int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return bytes;
}

std::string FormatUuid(const std::array<unsigned char, 16>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
  return out;
}

// CanonicalUuid returns `text` as a canonical lowercase UUID, or nullopt.
std::optional<std::string> CanonicalUuid(std::string_view text) {
  std::optional<std::array<unsigned char, 16>> bytes = ParseUuid(text);
  if (!bytes) return std::nullopt;
  return FormatUuid(*bytes);
}

std::string AsciiLowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Go's net/url query handling, for Hanko's query binding and Link header.

using GoQuery = std::map<std::string, std::vector<std::string>>;  // sorted, as Encode sorts

// GoQueryUnescape is url.QueryUnescape: '+' is a space, %XX a byte; nullopt for a bad escape.
std::optional<std::string> GoQueryUnescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// ParseGoQuery is url.ParseQuery: pairs split at '&', then at the first '='; pairs holding a
// ';' or a bad escape are dropped (Go reports them, and Echo ignores the report).
GoQuery ParseGoQuery(std::string_view raw) {
  GoQuery query;
  while (!raw.empty()) {
    const std::size_t amp = raw.find('&');
    std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (pair.find(';') != std::string_view::npos || pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::optional<std::string> key = GoQueryUnescape(pair.substr(0, eq));
    std::optional<std::string> value =
        GoQueryUnescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!key || !value) continue;
    query[*key].push_back(*value);
  }
  return query;
}

// GoQueryEscape is url.QueryEscape.
std::string GoQueryEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += c;
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

std::string EncodeGoQuery(const GoQuery& query) {
  std::string out;
  for (const auto& [key, values] : query) {
    for (const std::string& value : values) {
      if (!out.empty()) out += '&';
      out += GoQueryEscape(key) + "=" + GoQueryEscape(value);
    }
  }
  return out;
}

const std::string* FirstValue(const GoQuery& query, const std::string& key) {
  auto it = query.find(key);
  return it == query.end() || it->second.empty() ? nullptr : &it->second.front();
}

// GoQuote is strconv.Quote for the bytes Echo's binder puts into its messages.
std::string GoQuote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out + "\"";
}

// ParseGoInt is strconv.ParseInt(text, 10, 64); on failure the error text Echo's query
// binder returns.
absl::StatusOr<std::int64_t> ParseGoInt(std::string_view text) {
  const auto error = [&](std::string_view why) {
    return absl::InvalidArgumentError("strconv.ParseInt: parsing " + GoQuote(text) + ": " +
                                      std::string(why));
  };
  std::string_view digits = text;
  bool negative = false;
  if (!digits.empty() && (digits.front() == '+' || digits.front() == '-')) {
    negative = digits.front() == '-';
    digits.remove_prefix(1);
  }
  if (digits.empty()) return error("invalid syntax");
  std::uint64_t value = 0;
  bool overflow = false;
  for (const char c : digits) {
    if (c < '0' || c > '9') return error("invalid syntax");
    if (value > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) overflow = true;
    if (!overflow) value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  const std::uint64_t limit =
      static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + (negative ? 1 : 0);
  if (overflow || value > limit) return error("value out of range");
  if (negative) return static_cast<std::int64_t>(0 - value);
  return static_cast<std::int64_t>(value);
}

// ---------------------------------------------------------------------------------------------
// JSON out.

void AppendTime(std::string& out, const google::protobuf::Timestamp& ts) {
  out += '"';
  out += Rfc3339(ts);
  out += '"';
}

void AppendMember(std::string& out, std::string_view name) {
  if (out.back() != '{') out += ',';
  out += '"';
  out += name;
  out += "\":";
}

// ---------------------------------------------------------------------------------------------
// JSON in: encoding/json's view of an nlohmann value.

std::string_view GoKind(const nlohmann::json& value) {
  if (value.is_string()) return "string";
  if (value.is_boolean()) return "bool";
  if (value.is_number()) return "number";
  if (value.is_array()) return "array";
  return "object";
}

absl::Status TypeError(std::string_view expected, const nlohmann::json& got,
                       std::string_view field) {
  return absl::InvalidArgumentError("Unmarshal type error: expected=" + std::string(expected) +
                                    ", got=" + std::string(GoKind(got)) +
                                    ", field=" + std::string(field));
}

// Member finds a key as encoding/json does: exact match first, else ASCII case-insensitive.
const nlohmann::json* Member(const nlohmann::json& object, std::string_view name) {
  if (auto it = object.find(std::string(name)); it != object.end()) return &*it;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (EqualsIgnoreCase(it.key(), name)) return &it.value();
  }
  return nullptr;
}

// Present: the member exists and is not null (encoding/json leaves the field alone for null).
const nlohmann::json* Present(const nlohmann::json& object, std::string_view name) {
  const nlohmann::json* value = Member(object, name);
  return value == nullptr || value->is_null() ? nullptr : value;
}

absl::Status ReadEmail(const nlohmann::json& element, passgate::v1::Email& out) {
  if (element.is_null()) return absl::OkStatus();
  if (!element.is_object()) return TypeError("admin.CreateEmail", element, "emails");
  if (const nlohmann::json* address = Present(element, "address")) {
    if (!address->is_string()) return TypeError("string", *address, "emails.address");
    out.set_address(address->get<std::string>());
  }
  if (const nlohmann::json* primary = Present(element, "is_primary")) {
    if (!primary->is_boolean()) return TypeError("bool", *primary, "emails.is_primary");
    out.set_is_primary(primary->get<bool>());
  }
  if (const nlohmann::json* verified = Present(element, "is_verified")) {
    if (!verified->is_boolean()) return TypeError("bool", *verified, "emails.is_verified");
    out.set_is_verified(verified->get<bool>());
  }
  return absl::OkStatus();
}

// Go's zero time.Time, which Hanko replaces with "now".
constexpr std::int64_t kGoZeroTimeSeconds = -62135596800;

}  // namespace

// ---------------------------------------------------------------------------------------------
// Exposed translation.

std::string DerivedUuid(std::string_view namespace_uuid, std::string_view name) {
  const std::optional<std::array<unsigned char, 16>> space = ParseUuid(namespace_uuid);
  if (!space) return {};
  std::string input(reinterpret_cast<const char*>(space->data()), space->size());
  input.append(name);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr) != 1 ||
      length < 16) {
    return {};
  }
  std::array<unsigned char, 16> bytes{};
  std::copy_n(digest, bytes.size(), bytes.begin());
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x50);  // version 5
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC variant
  return FormatUuid(bytes);
}

std::string AdminUserJson(const User& user) {
  std::string out = "{";
  AppendMember(out, "id");
  AppendGoJsonString(out, user.id());
  if (user.emails_size() > 0) {
    AppendMember(out, "emails");
    out += '[';
    for (int i = 0; i < user.emails_size(); ++i) {
      const passgate::v1::Email& email = user.emails(i);
      if (i > 0) out += ',';
      out += '{';
      AppendMember(out, "id");
      AppendGoJsonString(out, DerivedUuid(user.id(), "email:" + AsciiLowercase(email.address())));
      AppendMember(out, "address");
      AppendGoJsonString(out, email.address());
      AppendMember(out, "is_verified");
      out += email.is_verified() ? "true" : "false";
      AppendMember(out, "is_primary");
      out += email.is_primary() ? "true" : "false";
      AppendMember(out, "created_at");
      AppendTime(out, user.created_at());
      AppendMember(out, "updated_at");
      AppendTime(out, user.updated_at());
      out += '}';
    }
    out += ']';
  }
  if (!user.username().empty()) {
    AppendMember(out, "username");
    out += '{';
    AppendMember(out, "id");
    AppendGoJsonString(out, DerivedUuid(user.id(), "username"));
    AppendMember(out, "username");
    AppendGoJsonString(out, user.username());
    AppendMember(out, "created_at");
    AppendTime(out, user.created_at());
    AppendMember(out, "updated_at");
    AppendTime(out, user.updated_at());
    out += '}';
  }
  AppendMember(out, "created_at");
  AppendTime(out, user.created_at());
  AppendMember(out, "updated_at");
  AppendTime(out, user.updated_at());
  if (user.has_password()) {
    AppendMember(out, "password");
    out += '{';
    AppendMember(out, "id");
    AppendGoJsonString(out, DerivedUuid(user.id(), "password"));
    AppendMember(out, "created_at");
    AppendTime(out, user.password().created_at());
    AppendMember(out, "updated_at");
    AppendTime(out, user.password().updated_at());
    out += '}';
  }
  out += '}';
  return out;
}

absl::StatusOr<CreateUserRequest> ParseCreateUserBody(std::string_view body) {
  CreateUserRequest request;
  if (TrimAsciiSpace(body).empty()) return request;
  nlohmann::json document;
  try {
    document = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& error) {
    // Never the parser's own text: it quotes the input. nlohmann counts one past the end for
    // a body that stops early, which encoding/json calls "unexpected EOF".
    if (error.byte > body.size()) return absl::InvalidArgumentError("unexpected EOF");
    return absl::InvalidArgumentError("Syntax error: offset=" + std::to_string(error.byte) +
                                      ", error=invalid character in JSON");
  }
  if (document.is_null()) return request;
  if (!document.is_object()) return TypeError("admin.CreateUser", document, "");

  if (const nlohmann::json* id = Present(document, "id")) {
    if (!id->is_string()) return TypeError("uuid.UUID", *id, "id");
    std::optional<std::string> canonical = CanonicalUuid(id->get<std::string>());
    if (!canonical) return absl::InvalidArgumentError(std::string(kBadUserId));
    if (*canonical != "00000000-0000-0000-0000-000000000000") request.set_user_id(*canonical);
  }
  if (const nlohmann::json* emails = Present(document, "emails")) {
    if (!emails->is_array()) return TypeError("[]admin.CreateEmail", *emails, "emails");
    for (const nlohmann::json& element : *emails) {
      if (absl::Status read = ReadEmail(element, *request.add_emails()); !read.ok()) return read;
    }
  }
  if (const nlohmann::json* username = Present(document, "username")) {
    if (!username->is_string()) return TypeError("string", *username, "username");
    request.set_username(username->get<std::string>());
  }
  if (const nlohmann::json* created_at = Present(document, "created_at")) {
    if (!created_at->is_string()) return TypeError("time.Time", *created_at, "created_at");
    google::protobuf::Timestamp at;
    if (!google::protobuf::util::TimeUtil::FromString(created_at->get<std::string>(), &at)) {
      return absl::InvalidArgumentError("created_at must be an RFC 3339 time");
    }
    if (at.seconds() != kGoZeroTimeSeconds || at.nanos() != 0) {
      *request.mutable_created_at() = at;
    }
  }
  return request;
}

std::string PaginationLinkHeader(std::string_view base, std::string_view raw_query,
                                 std::int64_t total, std::int64_t page, std::int64_t per_page) {
  std::int64_t last_page = total / per_page + (total % per_page == 0 ? 0 : 1);
  if (last_page == 0) last_page = 1;
  GoQuery query = ParseGoQuery(raw_query);
  const auto link = [&](std::string_view rel, std::int64_t to_page) {
    query["page"] = {std::to_string(to_page)};
    query["per_page"] = {std::to_string(per_page)};
    return "<" + std::string(base) + "?" + EncodeGoQuery(query) + ">; rel=\"" + std::string(rel) +
           "\"";
  };
  std::vector<std::string> links;
  if (page != 1 || page == last_page) links.push_back(link("first", 1));
  if (page != last_page) links.push_back(link("last", last_page));
  if (page < last_page) links.push_back(link("next", page + 1));
  if (page > 1) links.push_back(link("prev", page - 1));
  std::string out;
  for (const std::string& one : links) {
    if (!out.empty()) out += ',';
    out += one;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The handler.

namespace {

// AdminError maps a failed call: the service's texts for 400, 404 and 409 (they name the
// field, "user not found", "... already exists"), the status text otherwise.
HttpResponse AdminError(const grpc::Status& status) {
  const int http = status.error_code() == grpc::StatusCode::ALREADY_EXISTS
                       ? 409
                       : HttpStatusForGrpc(status.error_code());
  const bool explain = http == 400 || http == 404 || http == 409;
  return ErrorResponse(http, explain ? std::string_view(status.error_message()) : "");
}

// Forwarded: what each call carries as metadata.
struct Forwarded {
  std::string authorization;     // the Authorization header, verbatim
  std::string cert_common_name;  // verified by the HTTP server
  std::string client_ip;
  std::string user_agent;
  std::string request_id;
};

template <typename Request, typename Response>
struct Call {
  grpc::ClientContext context;
  Request request;
  Response response;
  std::function<void(const grpc::Status&, Response&)> done;
};

enum class Route { kUsers, kUser };

using Async = UserAdmin::Stub::async_interface;

}  // namespace

struct AdminApi::Impl {
  // Exchange is one request in flight. It points at the Impl without owning it: ~AdminApi
  // waits until every Exchange is gone, so the stub and its channel are always released on
  // the destroying thread, never on a gRPC callback thread (releasing a channel's last
  // reference there makes gRPC 1.51 join that thread from itself, grpc/grpc#32584).
  struct Exchange {
    explicit Exchange(const Impl* owner) : impl(owner) {
      std::lock_guard<std::mutex> lock(impl->mu);
      ++impl->in_flight;
    }
    ~Exchange() {
      // Notified under the lock: the waiter cannot destroy the Impl before it is released.
      std::lock_guard<std::mutex> lock(impl->mu);
      --impl->in_flight;
      impl->idle.notify_all();
    }
    Exchange(const Exchange&) = delete;
    Exchange& operator=(const Exchange&) = delete;

    const Impl* impl;
    Responder respond;
    std::string request_id;
    Forwarded forwarded;
  };
  using ExchangePtr = std::shared_ptr<const Exchange>;

  // WaitIdle returns once no Exchange is left.
  void WaitIdle() const {
    std::unique_lock<std::mutex> lock(mu);
    idle.wait(lock, [this] { return in_flight == 0; });
  }

  Impl(AdminApiOptions options_in, std::shared_ptr<grpc::Channel> channel)
      : options(std::move(options_in)),
        stub(UserAdmin::NewStub(std::move(channel))),
        client_ip_resolver(options.trusted_proxies) {}

  void Handle(HttpRequest request, Responder respond) const {
    auto exchange = std::make_shared<Exchange>(this);
    exchange->respond = std::move(respond);
    exchange->request_id = RequestIdOf(request);
    Forwarded& forwarded = exchange->forwarded;
    forwarded.authorization = std::string(request.Header("authorization").value_or(""));
    forwarded.cert_common_name = request.client_cert_common_name;
    forwarded.client_ip = client_ip_resolver.Resolve(request);
    forwarded.user_agent = std::string(request.Header("user-agent").value_or(""));
    forwarded.request_id = exchange->request_id;
    const ExchangePtr ex = std::move(exchange);

    Route route;
    std::string_view user_id;
    if (request.path == kUsersPath) {
      route = Route::kUsers;
    } else if (request.path.starts_with("/users/") &&
               request.path.find('/', kUsersPath.size() + 1) == std::string::npos) {
      route = Route::kUser;
      user_id = std::string_view(request.path).substr(kUsersPath.size() + 1);
    } else {
      return Send(*ex, ErrorResponse(404));
    }
    // Echo's Allow: OPTIONS first, then the route's methods in Echo's fixed order.
    const std::string_view allow =
        route == Route::kUsers ? "OPTIONS, GET, POST" : "OPTIONS, DELETE, GET";
    if (request.method == "OPTIONS") {
      HttpResponse response;
      response.status = 204;
      response.AddHeader("Allow", std::string(allow));
      return Send(*ex, std::move(response));
    }
    const bool allowed = route == Route::kUsers
                             ? request.method == "GET" || request.method == "POST"
                             : request.method == "GET" || request.method == "DELETE";
    if (!allowed) {
      HttpResponse response = ErrorResponse(405);
      response.AddHeader("Allow", std::string(allow));
      return Send(*ex, std::move(response));
    }
    // Deny by default, before looking at anything the caller sent.
    if (forwarded.authorization.empty() && forwarded.cert_common_name.empty()) {
      return Send(*ex, ErrorResponse(401));
    }
    if (route == Route::kUsers) {
      if (request.method == "POST") return CreateUser(ex, request);
      return ListUsers(ex, request);
    }
    const std::optional<std::string> id = CanonicalUuid(user_id);
    if (!id) return Send(*ex, ErrorResponse(400, kBadUserId));
    if (request.method == "GET") return GetUser(ex, *id);
    return DeleteUser(ex, *id);
  }

  // -- Routes ----------------------------------------------------------------------------------

  void CreateUser(const ExchangePtr& ex, const HttpRequest& request) const {
    // Echo's DefaultBinder.BindBody: no body binds nothing; a body must be JSON.
    if (!request.body.empty()) {
      std::string_view media_type = request.Header("content-type").value_or("");
      media_type = TrimAsciiSpace(media_type.substr(0, media_type.find(';')));
      if (!EqualsIgnoreCase(media_type, kJsonMediaType)) return Send(*ex, ErrorResponse(415));
    }
    absl::StatusOr<CreateUserRequest> call = ParseCreateUserBody(request.body);
    if (!call.ok()) return Send(*ex, ErrorResponse(400, std::string(call.status().message())));
    Start<CreateUserRequest, User>(
        ex, *std::move(call), [](Async* async, auto... args) { async->CreateUser(args...); },
        [ex](const grpc::Status& status, User& user) {
          ex->impl->Send(*ex, status.ok() ? JsonResponse(200, AdminUserJson(user) + "\n")
                                          : AdminError(status));
        });
  }

  void GetUser(const ExchangePtr& ex, const std::string& id) const {
    GetUserRequest call;
    call.set_user_id(id);
    Start<GetUserRequest, User>(
        ex, std::move(call), [](Async* async, auto... args) { async->GetUser(args...); },
        [ex](const grpc::Status& status, User& user) {
          ex->impl->Send(*ex, status.ok() ? JsonResponse(200, AdminUserJson(user) + "\n")
                                          : AdminError(status));
        });
  }

  void DeleteUser(const ExchangePtr& ex, const std::string& id) const {
    DeleteUserRequest call;
    call.set_user_id(id);
    Start<DeleteUserRequest, DeleteUserResponse>(
        ex, std::move(call), [](Async* async, auto... args) { async->DeleteUser(args...); },
        [ex](const grpc::Status& status, DeleteUserResponse&) {
          HttpResponse response;
          response.status = 204;  // Echo's c.NoContent: no body, no Content-Type
          ex->impl->Send(*ex, status.ok() ? std::move(response) : AdminError(status));
        });
  }

  // GET /users, Hanko's UserHandlerAdmin.List: bind page/per_page (ints), defaults 1 and 20,
  // user_id (comma-separated UUIDs), sort_direction desc|asc, e-mail lowercased.
  void ListUsers(const ExchangePtr& ex, const HttpRequest& request) const {
    const GoQuery query = ParseGoQuery(request.query);
    std::int64_t page = 0;
    std::int64_t per_page = 0;
    for (const auto& [name, target] :
         {std::pair<const char*, std::int64_t*>{"per_page", &per_page}, {"page", &page}}) {
      const std::string* text = FirstValue(query, name);
      if (text == nullptr || text->empty()) continue;
      absl::StatusOr<std::int64_t> value = ParseGoInt(*text);
      if (!value.ok()) return Send(*ex, ErrorResponse(400, std::string(value.status().message())));
      *target = *value;
    }
    // pop's Paginate turns a page below 1 into 1 and a per_page below 1 into 20; Hanko's
    // listing has no upper bound, the service has (one page per call).
    if (page < 1) page = 1;
    if (per_page < 1) per_page = kDefaultPerPage;
    if (per_page > kMaxPerPage) {
      return Send(*ex, ErrorResponse(400, "per_page must not be greater than " +
                                              std::to_string(kMaxPerPage)));
    }
    ListUsersRequest call;
    if (const std::string* ids = FirstValue(query, "user_id"); ids != nullptr && !ids->empty()) {
      std::string_view rest = *ids;
      for (;;) {
        const std::size_t comma = rest.find(',');
        const std::optional<std::string> id = CanonicalUuid(rest.substr(0, comma));
        if (!id) return Send(*ex, ErrorResponse(400, "failed to parse user_id as uuid"));
        call.add_user_ids(*id);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    }
    const std::string* direction = FirstValue(query, "sort_direction");
    if (direction != nullptr && !direction->empty() && *direction != "desc" &&
        *direction != "asc") {
      return Send(*ex, ErrorResponse(400, "sort_direction must be desc or asc"));
    }
    call.set_descending(direction == nullptr || direction->empty() || *direction == "desc");
    if (const std::string* email = FirstValue(query, "email")) {
      call.set_email(AsciiLowercase(*email));
    }
    call.set_page_size(static_cast<std::int32_t>(per_page));
    // The service caps the offset far below what could overflow here (page <= INT64_MAX).
    const std::int64_t max_pages_before = std::numeric_limits<std::int64_t>::max() / per_page;
    call.set_offset(page - 1 > max_pages_before ? std::numeric_limits<std::int64_t>::max()
                                                : (page - 1) * per_page);

    const std::string base =
        Scheme(request) + "://" + std::string(request.Header("host").value_or("")) + request.path;
    auto link_query = std::make_shared<const std::string>(request.query);
    auto link_base = std::make_shared<const std::string>(base);
    Start<ListUsersRequest, ListUsersResponse>(
        ex, std::move(call), [](Async* async, auto... args) { async->ListUsers(args...); },
        [ex, link_base, link_query, page, per_page](const grpc::Status& status,
                                                    ListUsersResponse& reply) {
          if (!status.ok()) return ex->impl->Send(*ex, AdminError(status));
          std::string body = "[";
          for (int i = 0; i < reply.users_size(); ++i) {
            if (i > 0) body += ',';
            body += AdminUserJson(reply.users(i));
          }
          body += "]\n";
          HttpResponse response = JsonResponse(200, std::move(body));
          response.AddHeader("Link", PaginationLinkHeader(*link_base, *link_query,
                                                          reply.total_size(), page, per_page));
          response.AddHeader("X-Total-Count", std::to_string(reply.total_size()));
          ex->impl->Send(*ex, std::move(response));
        });
  }

  // -- Helpers ---------------------------------------------------------------------------------

  // Scheme is Echo's c.Scheme() for the Link header: https on TLS, else X-Forwarded-Proto when
  // it says http or https.
  static std::string Scheme(const HttpRequest& request) {
    if (request.tls) return "https";
    const std::string_view proto = request.Header("x-forwarded-proto").value_or("");
    if (EqualsIgnoreCase(proto, "https")) return "https";
    return "http";
  }

  template <typename Request, typename Response, typename Method>
  void Start(const ExchangePtr& ex, Request request, Method method,
             std::function<void(const grpc::Status&, Response&)> done) const {
    auto call = std::make_unique<Call<Request, Response>>();
    call->context.set_deadline(std::chrono::system_clock::now() + options.deadline);
    const Forwarded& f = ex->forwarded;
    AddMetadataIfPresent(call->context, "authorization", f.authorization);
    AddMetadataIfPresent(call->context, kClientCertMetadata, f.cert_common_name);
    AddMetadataIfPresent(call->context, "x-passgate-client-ip", f.client_ip);
    AddMetadataIfPresent(call->context, "x-passgate-user-agent", f.user_agent);
    AddMetadataIfPresent(call->context, "x-request-id", f.request_id);
    call->request = std::move(request);
    call->done = std::move(done);
    auto* raw = call.release();
    method(stub->async(), &raw->context, &raw->request, &raw->response,
           std::function<void(grpc::Status)>([raw](grpc::Status status) {
             // Freed before `done` runs (see password_auth_client.cc's
             // Finish: the context holds a channel reference).
             std::unique_ptr<Call<Request, Response>> owned(raw);
             Response response = std::move(owned->response);
             auto finish = std::move(owned->done);
             owned.reset();
             finish(status, response);
           }));
  }

  void Send(const Exchange& ex, HttpResponse response) const {
    std::vector<std::pair<std::string, std::string>> headers;
    headers.emplace_back("X-Request-Id", ex.request_id);
    for (auto& header : response.headers) headers.push_back(std::move(header));
    response.headers = std::move(headers);
    ex.respond(std::move(response));
  }

  const AdminApiOptions options;
  const std::unique_ptr<UserAdmin::Stub> stub;
  const ClientIpResolver client_ip_resolver;
  mutable std::mutex mu;
  mutable std::condition_variable idle;
  mutable int in_flight = 0;  // guarded by mu
};

AdminApi::AdminApi(AdminApiOptions options, std::shared_ptr<grpc::Channel> channel) {
  if (options.deadline.count() <= 0) {
    std::fprintf(stderr, "AdminApi: deadline must be > 0\n");
    std::abort();
  }
  impl_ = std::make_unique<Impl>(std::move(options), std::move(channel));
}

AdminApi::~AdminApi() { impl_->WaitIdle(); }

void AdminApi::Handle(HttpRequest request, Responder respond) {
  impl_->Handle(std::move(request), std::move(respond));
}

}  // namespace passgate::gateway
