#include "server/config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/database_url.h"
#include "yaml-cpp/yaml.h"

namespace passgate::server {
namespace {

constexpr absl::string_view kEnvSecretsKeys = "PASSGATE_SECRETS_KEYS";
constexpr absl::string_view kEnvSecretsKeysFile = "PASSGATE_SECRETS_KEYS_FILE";
constexpr absl::string_view kEnvDatabaseUrl = "PASSGATE_DATABASE_URL";
constexpr absl::string_view kEnvDatabasePassword = "PASSGATE_DATABASE_PASSWORD";
constexpr absl::string_view kEnvRedisPassword = "PASSGATE_REDIS_PASSWORD";
constexpr absl::string_view kEnvAdminToken = "PASSGATE_ADMIN_TOKEN";
constexpr std::size_t kMinSecretLength = 16;

std::string Quote(absl::string_view text) {
  return absl::StrCat("\"", absl::CHexEscape(text), "\"");
}

absl::Status KeyError(absl::string_view key, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(key, ": ", what));
}

// ---------------------------------------------------------------------------------------------
// The YAML walk. Each known key has a Handler that stores its value into Config; a key with no
// handler is recorded in ignored_keys without looking inside it. A null value (`key:` or `~`)
// counts as absent and keeps the default, as it does for Hanko's Go loader.

using Handler = std::function<absl::Status(const YAML::Node& value, const std::string& key)>;

struct Field {
  std::string_view name;
  Handler handle;
};

absl::Status WalkMap(const YAML::Node& node, const std::string& path,
                     const std::vector<Field>& fields, std::vector<std::string>& ignored) {
  if (!node.IsMap()) return KeyError(path, "expected a mapping of keys");
  std::vector<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return KeyError(path.empty() ? "config" : path, "keys must be strings");
    }
    const std::string& name = entry.first.Scalar();
    const std::string key = path.empty() ? name : absl::StrCat(path, ".", name);
    // yaml-cpp keeps both copies of a repeated key; Go's YAML loader rejects them, and so do we
    // rather than silently pick one.
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return KeyError(key, "duplicate key");
    }
    seen.push_back(name);
    const Field* field = nullptr;
    for (const Field& f : fields) {
      if (f.name == name) field = &f;
    }
    if (field == nullptr) {
      ignored.push_back(key);
      continue;
    }
    if (entry.second.IsNull()) continue;
    if (absl::Status status = field->handle(entry.second, key); !status.ok()) return status;
  }
  return absl::OkStatus();
}

Handler Section(std::vector<Field> fields, std::vector<std::string>& ignored) {
  return [fields = std::move(fields), &ignored](const YAML::Node& node, const std::string& key) {
    return WalkMap(node, key, fields, ignored);
  };
}

// String values are never echoed back: some of them (database.url, secrets) hold credentials.
Handler String(std::string* out) {
  return [out](const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) return KeyError(key, "expected a string");
    *out = node.Scalar();
    return absl::OkStatus();
  };
}

Handler Bool(bool* out) {
  return [out](const YAML::Node& node, const std::string& key) {
    // YAML 1.2 core schema spellings only; Go's YAML loader also rejects yes/no/on/off here.
    if (node.IsScalar()) {
      const std::string& s = node.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") {
        *out = true;
        return absl::OkStatus();
      }
      if (s == "false" || s == "False" || s == "FALSE") {
        *out = false;
        return absl::OkStatus();
      }
      return KeyError(key, absl::StrCat("expected true or false, got ", Quote(s)));
    }
    return KeyError(key, "expected true or false");
  };
}

// Int accepts a decimal integer (quoted or not) within [min, max].
template <typename T>
Handler Int(T* out, std::int64_t min, std::int64_t max) {
  return [out, min, max](const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) return KeyError(key, "expected an integer");
    const std::string& s = node.Scalar();
    std::string_view digits = s;
    if (digits.size() > 1 && digits.front() == '+' && digits[1] != '-') digits.remove_prefix(1);
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    const bool all_digits = !digits.empty() && end == digits.data() + digits.size();
    if (ec == std::errc::result_out_of_range && all_digits) {
      value = digits.front() == '-' ? std::numeric_limits<std::int64_t>::min()
                                    : std::numeric_limits<std::int64_t>::max();
    } else if (ec != std::errc() || !all_digits) {
      return KeyError(key, absl::StrCat("expected an integer, got ", Quote(s)));
    }
    if (value < min || value > max) {
      const bool bounded = max < std::numeric_limits<T>::max();
      if (bounded) {
        return KeyError(key, absl::StrCat("must be between ", min, " and ", max, ", got ", s));
      }
      return value < min ? KeyError(key, absl::StrCat("must be at least ", min, ", got ", s))
                         : KeyError(key, absl::StrCat("must be at most ", max, ", got ", s));
    }
    *out = static_cast<T>(value);
    return absl::OkStatus();
  };
}

Handler Duration(std::chrono::seconds* out) {
  return [out](const YAML::Node& node, const std::string& key) {
    if (!node.IsScalar()) return KeyError(key, "expected a duration such as \"12h\" or \"90s\"");
    absl::StatusOr<std::chrono::seconds> parsed = ParseGoDuration(node.Scalar());
    if (!parsed.ok()) return KeyError(key, parsed.status().message());
    *out = *parsed;
    return absl::OkStatus();
  };
}

// StringList accepts a sequence of strings, or a single string when `allow_single` is set.
// Entries are never echoed back (secrets.keys uses this).
Handler StringList(std::vector<std::string>* out, bool allow_single) {
  return [out, allow_single](const YAML::Node& node, const std::string& key) {
    if (allow_single && node.IsScalar()) {
      *out = {node.Scalar()};
      return absl::OkStatus();
    }
    if (!node.IsSequence()) {
      return KeyError(key, allow_single ? "expected a string or a list of strings"
                                        : "expected a list of strings");
    }
    std::vector<std::string> values;
    for (std::size_t i = 0; i < node.size(); ++i) {
      if (!node[i].IsScalar()) {
        return KeyError(absl::StrCat(key, "[", i, "]"), "expected a string");
      }
      values.push_back(node[i].Scalar());
    }
    *out = std::move(values);
    return absl::OkStatus();
  };
}

// NamedSecrets accepts a mapping of names to secret strings (server.admin.auth.tokens).
// Names may be echoed in errors, values never.
Handler NamedSecrets(std::vector<std::pair<std::string, std::string>>* out) {
  return [out](const YAML::Node& node, const std::string& key) {
    if (!node.IsMap()) return KeyError(key, "expected a mapping of caller names to tokens");
    std::vector<std::pair<std::string, std::string>> values;
    for (const auto& entry : node) {
      if (!entry.first.IsScalar() || !entry.second.IsScalar()) {
        return KeyError(key, "expected a mapping of caller names to tokens");
      }
      values.emplace_back(entry.first.Scalar(), entry.second.Scalar());
    }
    *out = std::move(values);
    return absl::OkStatus();
  };
}

Handler TlsSection(Config::Tls& tls, std::vector<std::string>& ignored) {
  return Section({{"cert_file", String(&tls.cert_file)},
                  {"key_file", String(&tls.key_file)},
                  {"client_ca_file", String(&tls.client_ca_file)}},
                 ignored);
}

Handler LimitSection(Config::Limit& limit, std::vector<std::string>& ignored) {
  return Section({{"tokens", Int(&limit.tokens, 1, std::numeric_limits<int>::max())},
                  {"interval", Duration(&limit.interval)}},
                 ignored);
}

// What the walk reads besides Config's own fields.
struct FileExtras {
  std::optional<int> min_password_length;  // Hanko's older name for password.min_length
  bool min_length_set = false;
};

std::vector<Field> RootFields(Config& c, FileExtras& extras, std::vector<std::string>& ignored) {
  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  Handler min_length = Int(&c.password.min_length, 1, 72);
  Handler int_min_password_length = [&extras](const YAML::Node& node, const std::string& key) {
    int value = 0;
    absl::Status status = Int(&value, 1, 72)(node, key);
    if (status.ok()) extras.min_password_length = value;
    return status;
  };
  return {
      {"password",
       Section(
           {{"enabled", Bool(&c.password.enabled)},
            {"revoke_sessions_on_change", Bool(&c.password.revoke_sessions_on_change)},
            {"min_length",
             [min_length, &extras](const YAML::Node& node, const std::string& key) {
               extras.min_length_set = true;
               return min_length(node, key);
             }},
            {"min_password_length", int_min_password_length},
            {"hashing", Section({{"memory_kib", Int(&c.password.hashing.memory_kib, 8, 4194304)},
                                 {"iterations", Int(&c.password.hashing.iterations, 1, 1024)},
                                 {"workers", Int(&c.password.hashing.workers, 0, 1024)},
                                 {"queue", Int(&c.password.hashing.queue, 0, 65536)}},
                                ignored)},
            {"import",
             Section({{"bcrypt_max_cost", Int(&c.password.import.bcrypt_max_cost, 4, 31)},
                      {"argon2_max_memory_kib",
                       Int(&c.password.import.argon2_max_memory_kib, 8, 4194304)},
                      {"argon2_max_iterations",
                       Int(&c.password.import.argon2_max_iterations, 1, 1024)},
                      {"argon2_max_parallelism",
                       Int(&c.password.import.argon2_max_parallelism, 1, 255)},
                      {"batch_size", Int(&c.password.import.batch_size, 1, 100000)}},
                     ignored)}},
           ignored)},
      {"session", Section({{"lifespan", Duration(&c.session.lifespan)},
                           {"enable_auth_token_header", Bool(&c.session.enable_auth_token_header)},
                           {"audience", StringList(&c.session.audience, /*allow_single=*/true)},
                           {"issuer", String(&c.session.issuer)},
                           {"limit", Int(&c.session.limit, 1, kIntMax)},
                           {"cookie", Section({{"name", String(&c.session.cookie.name)},
                                               {"domain", String(&c.session.cookie.domain)},
                                               {"http_only", Bool(&c.session.cookie.http_only)},
                                               {"secure", Bool(&c.session.cookie.secure)},
                                               {"same_site", String(&c.session.cookie.same_site)}},
                                              ignored)}},
                          ignored)},
      {"secrets",
       Section({{"keys", StringList(&c.secrets.keys, /*allow_single=*/false)},
                {"key_algorithm", String(&c.secrets.key_algorithm)},
                {"rsa_bits", Int(&c.secrets.rsa_bits, std::numeric_limits<int>::min(), kIntMax)},
                {"key_refresh_interval", Duration(&c.secrets.key_refresh_interval)},
                {"key_activation_delay", Duration(&c.secrets.key_activation_delay)}},
               ignored)},
      {"database", Section({{"url", String(&c.database.url)},
                            {"password", String(&c.database.password)},
                            {"synchronous", String(&c.database.synchronous)},
                            {"busy_timeout_ms", Int(&c.database.busy_timeout_ms, 0, kIntMax)},
                            {"max_connections", Int(&c.database.max_connections, 0, 1000)},
                            {"pool_timeout", Duration(&c.database.pool_timeout)},
                            {"connect_timeout", Duration(&c.database.connect_timeout)},
                            {"query_timeout", Duration(&c.database.query_timeout)},
                            {"dialect",
                             [](const YAML::Node& node, const std::string& key) {
                               // Hanko's key; the URL's scheme is what selects the store.
                               const std::string dialect =
                                   node.IsScalar() ? absl::AsciiStrToLower(node.Scalar()) : "";
                               if (dialect == "sqlite" || dialect == "sqlite3" ||
                                   dialect == "postgres" || dialect == "postgresql")
                                 return absl::OkStatus();
                               return KeyError(
                                   key,
                                   "must be sqlite or postgres (the store is chosen by "
                                   "database.url: sqlite:///path.db or postgres://...)");
                             }}},
                           ignored)},
      {"audit_log",
       Section({{"console_output",
                 Section({{"enabled", Bool(&c.audit_log.console_enabled)},
                          {"output", String(&c.audit_log.console_output)}},
                         ignored)}},
               ignored)},
      {"rate_limiter",
       Section({{"enabled", Bool(&c.rate_limiter.enabled)},
                {"store", String(&c.rate_limiter.store)},
                {"password_limits", LimitSection(c.rate_limiter.password_limits, ignored)},
                {"ip_limits", LimitSection(c.rate_limiter.ip_limits, ignored)},
                {"user_limits", LimitSection(c.rate_limiter.user_limits, ignored)},
                {"max_keys", Int(&c.rate_limiter.max_keys, 1000, kIntMax)},
                {"redis_config",
                 Section({{"address", String(&c.rate_limiter.redis.address)},
                          {"password", String(&c.rate_limiter.redis.password)},
                          {"timeout_ms", Int(&c.rate_limiter.redis.timeout_ms, 1, 60000)},
                          {"key_prefix", String(&c.rate_limiter.redis.key_prefix)},
                          {"on_unavailable", String(&c.rate_limiter.redis.on_unavailable)}},
                         ignored)}},
               ignored)},
      {"server",
       Section(
           {{"grpc", Section({{"address", String(&c.grpc.address)},
                              {"trusted_peers", StringList(&c.grpc.trusted_peers, false)},
                              {"shutdown_grace", Duration(&c.grpc.shutdown_grace)},
                              {"tls", TlsSection(c.grpc.tls, ignored)}},
                             ignored)},
            {"public",
             Section(
                 {{"address", String(&c.public_api.address)},
                  {"cors",
                   Section({{"allow_origins", StringList(&c.public_api.cors_allow_origins, false)},
                            {"unsafe_wildcard_origin_allowed",
                             Bool(&c.public_api.cors_unsafe_wildcard_origin_allowed)}},
                           ignored)},
                  {"trusted_proxies", StringList(&c.public_api.trusted_proxies, false)},
                  {"max_body_bytes", Int(&c.public_api.max_body_bytes, 1, 1048576)},
                  {"max_header_bytes", Int(&c.public_api.max_header_bytes, 1024, 65536)},
                  {"read_timeout", Duration(&c.public_api.read_timeout)},
                  {"idle_timeout", Duration(&c.public_api.idle_timeout)},
                  {"max_connections", Int(&c.public_api.max_connections, 1, kIntMax)},
                  {"threads", Int(&c.public_api.threads, 1, 64)},
                  {"upstream_deadline", Duration(&c.public_api.upstream_deadline)},
                  {"upstream", Section({{"address", String(&c.public_api.upstream_address)},
                                        {"tls", TlsSection(c.public_api.upstream_tls, ignored)}},
                                       ignored)},
                  {"tls", TlsSection(c.public_api.tls, ignored)}},
                 ignored)},
            {"admin", Section({{"address", String(&c.admin.address)},
                               {"grpc_address", String(&c.admin.grpc_address)},
                               {"tls", TlsSection(c.admin.tls, ignored)},
                               {"auth", Section({{"tokens", NamedSecrets(&c.admin.tokens)}},
                                                ignored)}},
                              ignored)}},
           ignored)},
  };
}

// ---------------------------------------------------------------------------------------------
// Environment overrides.

// NonEmptyEnv treats a variable set to "" as unset, so `VAR=${VAR:-}` in a unit file or
// compose file does not wipe the configured value.
std::optional<std::string> NonEmptyEnv(const EnvLookup& env, absl::string_view name) {
  std::optional<std::string> value = env(std::string_view(name.data(), name.size()));
  if (value.has_value() && value->empty()) return std::nullopt;
  return value;
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path, int* error_number) {
  *error_number = 0;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error_number = errno;
    return absl::UnavailableError(std::strerror(errno));
  }
  std::string content;
  char buffer[8192];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      *error_number = errno;
      ::close(fd);
      return absl::UnavailableError(std::strerror(*error_number));
    }
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return content;
}

absl::Status ApplyEnvironment(const EnvLookup& env, Config& c) {
  const std::optional<std::string> keys = NonEmptyEnv(env, kEnvSecretsKeys);
  const std::optional<std::string> keys_file = NonEmptyEnv(env, kEnvSecretsKeysFile);
  if (keys.has_value() && keys_file.has_value()) {
    return KeyError(kEnvSecretsKeysFile, absl::StrCat("cannot be combined with ", kEnvSecretsKeys,
                                                      "; set only one of them"));
  }
  if (keys.has_value()) {
    c.secrets.keys = absl::StrSplit(*keys, ',', absl::SkipEmpty());
  }
  if (keys_file.has_value()) {
    int error_number = 0;
    absl::StatusOr<std::string> content = ReadWholeFile(*keys_file, &error_number);
    if (!content.ok()) {
      return KeyError(kEnvSecretsKeysFile, absl::StrCat("cannot read ", Quote(*keys_file), ": ",
                                                        content.status().message()));
    }
    std::vector<std::string> secrets;
    for (absl::string_view line : absl::StrSplit(*content, '\n')) {
      while (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      secrets.emplace_back(line);
    }
    if (secrets.empty()) {
      return KeyError(kEnvSecretsKeysFile, absl::StrCat("no secrets in ", Quote(*keys_file)));
    }
    c.secrets.keys = std::move(secrets);
  }
  if (std::optional<std::string> url = NonEmptyEnv(env, kEnvDatabaseUrl); url.has_value()) {
    c.database.url = *url;
  }
  if (std::optional<std::string> password = NonEmptyEnv(env, kEnvDatabasePassword);
      password.has_value()) {
    c.database.password = *password;
  }
  if (std::optional<std::string> password = NonEmptyEnv(env, kEnvRedisPassword);
      password.has_value()) {
    c.rate_limiter.redis.password = *password;
  }
  if (std::optional<std::string> token = NonEmptyEnv(env, kEnvAdminToken); token.has_value()) {
    std::erase_if(c.admin.tokens, [](const auto& entry) { return entry.first == "env"; });
    c.admin.tokens.emplace_back("env", *token);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Validation.

bool IsIpLiteral(const std::string& text) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return ::inet_pton(AF_INET, text.c_str(), buffer) == 1 ||
         ::inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

// CheckHostPort accepts `host:port` and `[ipv6]:port` with port 0..65535. The host may be
// empty (Go's ":8000", all interfaces) only when `allow_empty_host` is set.
absl::Status CheckHostPort(absl::string_view key, const std::string& address,
                           bool allow_empty_host) {
  const auto bad = [&](absl::string_view why) {
    return KeyError(key, absl::StrCat("expected host:port or [ipv6]:port, got ", Quote(address),
                                      " (", why, ")"));
  };
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("missing port");
  const std::string host = address.substr(0, colon);
  const absl::string_view port = absl::string_view(address).substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    unsigned char buffer[sizeof(struct in6_addr)];
    if (host.size() < 2 || host.back() != ']' ||
        ::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), buffer) != 1) {
      return bad("invalid IPv6 address");
    }
  } else if (host.empty()) {
    if (!allow_empty_host) return bad("missing host");
  } else if (host.find_first_of(":[] \t/") != std::string::npos) {
    return bad("invalid host; write IPv6 addresses in brackets");
  }
  int port_number = -1;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || port_number < 0 ||
      port_number > 65535) {
    return bad("port must be 0..65535");
  }
  return absl::OkStatus();
}

// IsCookieToken reports whether `text` is an RFC 6265 cookie-name token, so that a name can
// never break the Set-Cookie header.
bool IsCookieToken(std::string_view text) {
  if (text.empty()) return false;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || std::strchr("()<>@,;:\\\"/[]?={}", ch) != nullptr) return false;
  }
  return true;
}

bool IsCookieDomain(std::string_view text) {
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || ch == ';' || ch == ',') return false;
  }
  return true;
}

// IsKeyPrefix: printable ASCII without spaces, so keys stay readable in redis-cli and a
// prefix can never smuggle in a separator that another deployment's keys use.
bool IsKeyPrefix(std::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

absl::Status ValidateRateLimiterStore(const Config::RateLimiter& limiter) {
  if (limiter.store != "in_memory" && limiter.store != "redis") {
    return KeyError("rate_limiter.store",
                    absl::StrCat("must be in_memory or redis, got ", Quote(limiter.store)));
  }
  const Config::Redis& redis = limiter.redis;
  if (redis.on_unavailable != "unavailable" && redis.on_unavailable != "too_many_requests") {
    return KeyError("rate_limiter.redis_config.on_unavailable",
                    absl::StrCat("must be unavailable or too_many_requests, got ",
                                 Quote(redis.on_unavailable)));
  }
  if (!IsKeyPrefix(redis.key_prefix)) {
    return KeyError("rate_limiter.redis_config.key_prefix",
                    "must be 1 to 128 printable ASCII characters without spaces");
  }
  if (redis.address.empty()) {
    if (limiter.store == "redis") {
      return KeyError("rate_limiter.redis_config.address",
                      "required when rate_limiter.store is redis (host:port)");
    }
    return absl::OkStatus();
  }
  // A URL may carry credentials: say what is wrong without echoing it.
  if (absl::StrContains(redis.address, "@") || absl::StrContains(redis.address, "://")) {
    return KeyError("rate_limiter.redis_config.address",
                    "expected host:port, not a URL (set the password in "
                    "rate_limiter.redis_config.password or PASSGATE_REDIS_PASSWORD)");
  }
  if (absl::Status s =
          CheckHostPort("rate_limiter.redis_config.address", redis.address, false);
      !s.ok()) {
    return s;
  }
  const std::string port = redis.address.substr(redis.address.rfind(':') + 1);
  if (port.find_first_not_of('0') == std::string::npos) {
    return KeyError("rate_limiter.redis_config.address", "port must be 1..65535, got 0");
  }
  return absl::OkStatus();
}

// kMinAdminTokenLength: 32 characters, e.g. `openssl rand -hex 16`, are beyond guessing.
constexpr std::size_t kMinAdminTokenLength = 32;

absl::Status ValidateAdmin(const Config::Admin& admin) {
  for (const auto& [key, address] : {std::pair{"server.admin.address", &admin.address},
                                     std::pair{"server.admin.grpc_address", &admin.grpc_address}}) {
    if (address->empty()) continue;
    // An empty host means all interfaces, as in Hanko's default ":8001".
    if (absl::Status s = CheckHostPort(key, *address, true); !s.ok()) return s;
  }
  const Config::Tls& tls = admin.tls;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return KeyError("server.admin.tls", "cert_file and key_file must be set together");
  }
  if (tls.cert_file.empty() && !tls.client_ca_file.empty()) {
    return KeyError("server.admin.tls.client_ca_file",
                    "requires cert_file and key_file (mTLS needs TLS)");
  }
  std::vector<std::string_view> names;
  for (const auto& [name, token] : admin.tokens) {
    const bool printable = !name.empty() && name.size() <= 64 &&
                           std::all_of(name.begin(), name.end(),
                                       [](char ch) { return ch > 0x20 && ch < 0x7f; });
    if (!printable) {
      return KeyError("server.admin.auth.tokens",
                      "caller names must be 1 to 64 printable ASCII characters without spaces");
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      return KeyError("server.admin.auth.tokens", absl::StrCat("duplicate caller name ", Quote(name)));
    }
    names.push_back(name);
    if (token.size() < kMinAdminTokenLength ||
        !std::all_of(token.begin(), token.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; })) {
      return KeyError(absl::StrCat("server.admin.auth.tokens.", name),
                      absl::StrCat("must be at least ", kMinAdminTokenLength,
                                   " printable characters without spaces"));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(Config& c) {
  // secrets
  if (c.secrets.keys.empty()) {
    return KeyError("secrets.keys",
                    absl::StrCat("at least one secret is required (or set ", kEnvSecretsKeys, ")"));
  }
  for (std::size_t i = 0; i < c.secrets.keys.size(); ++i) {
    if (c.secrets.keys[i].size() < kMinSecretLength) {
      return KeyError(absl::StrCat("secrets.keys[", i, "]"),
                      absl::StrCat("must be at least ", kMinSecretLength, " characters long"));
    }
  }
  const std::string& alg = c.secrets.key_algorithm;
  if (alg != "RS256" && alg != "ES256" && alg != "EdDSA") {
    return KeyError("secrets.key_algorithm",
                    absl::StrCat("must be one of RS256, ES256, EdDSA, got ", Quote(alg)));
  }
  const int bits = c.secrets.rsa_bits;
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    return KeyError("secrets.rsa_bits", absl::StrCat("must be 2048, 3072 or 4096, got ", bits));
  }

  // session
  if (c.session.lifespan < std::chrono::seconds(1)) {
    return KeyError("session.lifespan", "must be at least 1s");
  }
  if (c.session.limit < 1) {
    return KeyError("session.limit", absl::StrCat("must be at least 1, got ", c.session.limit));
  }
  if (c.session.audience.empty()) {
    return KeyError("session.audience", "at least one audience is required");
  }
  for (std::size_t i = 0; i < c.session.audience.size(); ++i) {
    if (c.session.audience[i].empty()) {
      return KeyError(absl::StrCat("session.audience[", i, "]"), "must not be empty");
    }
  }
  Config::Cookie& cookie = c.session.cookie;
  if (!IsCookieToken(cookie.name)) {
    return KeyError(
        "session.cookie.name",
        absl::StrCat("must be a non-empty cookie name token, got ", Quote(cookie.name)));
  }
  if (absl::StartsWith(cookie.domain, ".")) cookie.domain.erase(0, 1);
  if (!IsCookieDomain(cookie.domain)) {
    return KeyError(
        "session.cookie.domain",
        absl::StrCat("must not contain spaces, ';' or ',', got ", Quote(cookie.domain)));
  }
  const std::string same_site = absl::AsciiStrToLower(cookie.same_site);
  if (same_site != "strict" && same_site != "lax" && same_site != "none") {
    return KeyError("session.cookie.same_site",
                    absl::StrCat("must be strict, lax or none, got ", Quote(cookie.same_site)));
  }
  cookie.same_site = same_site;

  // password
  if (c.password.min_length < 1 || c.password.min_length > 72) {
    return KeyError("password.min_length", "must be between 1 and 72");
  }

  // database
  const std::string synchronous = absl::AsciiStrToLower(c.database.synchronous);
  if (synchronous != "full" && synchronous != "normal") {
    return KeyError("database.synchronous",
                    absl::StrCat("must be full or normal, got ", Quote(c.database.synchronous)));
  }
  c.database.synchronous = synchronous;
  if (c.database.busy_timeout_ms < 0) {
    return KeyError("database.busy_timeout_ms", "must be at least 0");
  }
  if (c.secrets.key_refresh_interval < std::chrono::seconds(1)) {
    return KeyError("secrets.key_refresh_interval", "must be at least 1s");
  }
  if (c.secrets.key_activation_delay < c.secrets.key_refresh_interval) {
    return KeyError("secrets.key_activation_delay",
                    "must be at least secrets.key_refresh_interval (a rotated key must reach "
                    "every replica before it signs)");
  }

  // Only the scheme is ever printed: the rest of a URL may hold a password.
  if (c.database.url.empty()) return KeyError("database.url", "must not be empty");
  if (absl::StatusOr<storage::DatabaseBackend> backend =
          storage::DatabaseBackendFromUrl(c.database.url);
      !backend.ok()) {
    return KeyError("database.url", backend.status().message());
  }
  if (c.database.pool_timeout < std::chrono::seconds(1)) {
    return KeyError("database.pool_timeout", "must be at least 1s");
  }
  if (c.database.query_timeout < std::chrono::seconds(1)) {
    return KeyError("database.query_timeout", "must be at least 1s");
  }
  if (c.database.connect_timeout < std::chrono::seconds(2)) {
    return KeyError("database.connect_timeout", "must be at least 2s (libpq's minimum)");
  }

  // server
  if (absl::Status s = CheckHostPort("server.grpc.address", c.grpc.address, false); !s.ok()) {
    return s;
  }
  for (std::size_t i = 0; i < c.grpc.trusted_peers.size(); ++i) {
    if (!IsIpLiteral(c.grpc.trusted_peers[i])) {
      return KeyError(
          absl::StrCat("server.grpc.trusted_peers[", i, "]"),
          absl::StrCat("expected an IPv4 or IPv6 address, got ", Quote(c.grpc.trusted_peers[i])));
    }
  }
  if (c.grpc.shutdown_grace < std::chrono::seconds(0)) {
    return KeyError("server.grpc.shutdown_grace", "must not be negative");
  }
  if (c.audit_log.console_output != "stdout" && c.audit_log.console_output != "stderr") {
    return KeyError("audit_log.console_output.output",
                    absl::StrCat("must be stdout or stderr, got ", Quote(c.audit_log.console_output)));
  }
  if (absl::Status s = ValidateRateLimiterStore(c.rate_limiter); !s.ok()) return s;
  for (const auto& [key, limit] :
       {std::pair{"rate_limiter.password_limits.interval", c.rate_limiter.password_limits},
        std::pair{"rate_limiter.ip_limits.interval", c.rate_limiter.ip_limits},
        std::pair{"rate_limiter.user_limits.interval", c.rate_limiter.user_limits}}) {
    if (limit.interval < std::chrono::seconds(1)) return KeyError(key, "must be at least 1s");
  }
  if (absl::Status s = CheckHostPort("server.public.address", c.public_api.address, true);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckHostPort("server.public.upstream.address",
                                     c.public_api.upstream_address, false);
      !s.ok()) {
    return s;
  }
  for (std::size_t i = 0; i < c.public_api.trusted_proxies.size(); ++i) {
    if (!IsIpLiteral(c.public_api.trusted_proxies[i])) {
      return KeyError(absl::StrCat("server.public.trusted_proxies[", i, "]"),
                      absl::StrCat("expected an IPv4 or IPv6 address, got ",
                                   Quote(c.public_api.trusted_proxies[i])));
    }
  }
  for (const auto& [key, value] :
       {std::pair{"server.public.read_timeout", c.public_api.read_timeout},
        std::pair{"server.public.idle_timeout", c.public_api.idle_timeout},
        std::pair{"server.public.upstream_deadline", c.public_api.upstream_deadline}}) {
    if (value < std::chrono::seconds(1)) return KeyError(key, "must be at least 1s");
  }
  for (const auto& [key, tls] : {std::pair{"server.grpc.tls", &c.grpc.tls},
                                 std::pair{"server.public.tls", &c.public_api.tls}}) {
    if (tls->cert_file.empty() != tls->key_file.empty()) {
      return KeyError(key, "cert_file and key_file must be set together");
    }
    if (tls->cert_file.empty() && !tls->client_ca_file.empty()) {
      return KeyError(absl::StrCat(key, ".client_ca_file"),
                      "requires cert_file and key_file (mTLS needs TLS)");
    }
  }
  if (absl::Status s = ValidateAdmin(c.admin); !s.ok()) return s;
  const Config::Tls& upstream = c.public_api.upstream_tls;
  if (upstream.cert_file.empty() != upstream.key_file.empty()) {
    return KeyError("server.public.upstream.tls",
                    "cert_file and key_file (the client certificate) must be set together");
  }
  return absl::OkStatus();
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

absl::StatusOr<Config> ParseConfig(std::string_view yaml_text, const EnvLookup& env) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) return absl::InvalidArgumentError(absl::StrCat("config: ", e.msg));
    return absl::InvalidArgumentError(absl::StrCat("config: line ", e.mark.line + 1, ", column ",
                                                   e.mark.column + 1, ": ", e.msg));
  }

  Config config;
  if (!root.IsNull()) {
    if (!root.IsMap()) {
      return absl::InvalidArgumentError("config: the document must be a mapping of keys");
    }
    FileExtras extras;
    const std::vector<Field> fields = RootFields(config, extras, config.ignored_keys);
    try {
      if (absl::Status status = WalkMap(root, "", fields, config.ignored_keys); !status.ok()) {
        return status;
      }
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat("config: ", e.msg));
    }
    if (extras.min_password_length.has_value()) {
      if (!extras.min_length_set) {
        config.password.min_length = *extras.min_password_length;
      } else if (config.password.min_length != *extras.min_password_length) {
        return KeyError("password.min_password_length",
                        "conflicts with password.min_length; set only password.min_length");
      }
    }
  }

  if (absl::Status status = ApplyEnvironment(env, config); !status.ok()) return status;
  if (absl::Status status = Validate(config); !status.ok()) return status;
  return config;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path, const EnvLookup& env) {
  int error_number = 0;
  absl::StatusOr<std::string> content = ReadWholeFile(path, &error_number);
  if (!content.ok()) {
    const std::string message =
        absl::StrCat("config file ", path, ": ",
                     error_number == ENOENT ? "not found" : std::strerror(error_number));
    if (error_number == ENOENT) return absl::NotFoundError(message);
    if (error_number == EISDIR) return absl::InvalidArgumentError(message);
    return absl::UnavailableError(message);
  }
  return ParseConfig(*content, env);
}

// Port of Go's time.ParseDuration, then restricted to non-negative whole seconds.
absl::StatusOr<std::chrono::seconds> ParseGoDuration(std::string_view input) {
  const absl::string_view original(input.data(), input.size());
  absl::string_view text = original;
  const auto invalid = [original](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration ", Quote(original), why.empty() ? "" : ": ", why));
  };
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 63;
  struct Unit {
    absl::string_view name;
    std::uint64_t nanoseconds;
  };
  static constexpr Unit kUnits[] = {
      {"ns", 1},
      {"us", 1000},
      {"\xC2\xB5s", 1000},  // U+00B5 micro sign
      {"\xCE\xBCs", 1000},  // U+03BC Greek mu
      {"ms", 1000000},
      {"s", 1000000000},
      {"m", 60 * std::uint64_t{1000000000}},
      {"h", 3600 * std::uint64_t{1000000000}},
  };
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };

  if (text.empty()) return invalid("empty");
  if (text.front() == '-') return invalid("must not be negative");
  if (text.front() == '+') text.remove_prefix(1);
  if (text == "0") return std::chrono::seconds(0);
  if (text.empty()) return invalid("");

  std::uint64_t total = 0;  // nanoseconds
  while (!text.empty()) {
    if (text.front() != '.' && !is_digit(text.front())) return invalid("");

    std::uint64_t whole = 0;
    std::size_t i = 0;
    for (; i < text.size() && is_digit(text[i]); ++i) {
      if (whole > kLimit / 10) return invalid("out of range");
      whole = whole * 10 + static_cast<std::uint64_t>(text[i] - '0');
      if (whole > kLimit) return invalid("out of range");
    }
    const bool pre = i > 0;
    text.remove_prefix(i);

    std::uint64_t fraction = 0;
    double scale = 1;
    bool post = false;
    if (!text.empty() && text.front() == '.') {
      text.remove_prefix(1);
      bool overflow = false;
      for (i = 0; i < text.size() && is_digit(text[i]); ++i) {
        if (overflow) continue;
        if (fraction > (kLimit - 1) / 10) {
          overflow = true;
          continue;
        }
        const std::uint64_t next = fraction * 10 + static_cast<std::uint64_t>(text[i] - '0');
        if (next > kLimit) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      post = i > 0;
      text.remove_prefix(i);
    }
    if (!pre && !post) return invalid("");

    for (i = 0; i < text.size() && text[i] != '.' && !is_digit(text[i]); ++i) {
    }
    if (i == 0) return invalid("missing unit");
    const absl::string_view unit_name = text.substr(0, i);
    text.remove_prefix(i);
    const Unit* unit = nullptr;
    for (const Unit& u : kUnits) {
      if (u.name == unit_name) unit = &u;
    }
    if (unit == nullptr) return invalid(absl::StrCat("unknown unit ", Quote(unit_name)));

    if (whole > kLimit / unit->nanoseconds) return invalid("out of range");
    std::uint64_t value = whole * unit->nanoseconds;
    if (fraction > 0) {
      // As in Go: a double is exact enough for fractions of an hour in nanoseconds.
      value += static_cast<std::uint64_t>(static_cast<double>(fraction) *
                                          (static_cast<double>(unit->nanoseconds) / scale));
      if (value > kLimit) return invalid("out of range");
    }
    total += value;
    if (total > kLimit) return invalid("out of range");
  }
  if (total > kLimit - 1) return invalid("out of range");
  if (total % 1000000000 != 0) return invalid("not a whole number of seconds");
  return std::chrono::seconds(static_cast<std::int64_t>(total / 1000000000));
}

}  // namespace passgate::server
