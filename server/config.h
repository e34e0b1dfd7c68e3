#ifndef PASSGATE_SERVER_CONFIG_H_
#define PASSGATE_SERVER_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace passgate::server {

// Config is passgate's whole configuration, parsed once from YAML (Hanko's key names where
// Hanko has one), validated, then shared read-only. Every field states its YAML key and
// default.
struct Config {
  struct Cookie {
    std::string name = "hanko";                 // session.cookie.name
    std::string domain;                         // session.cookie.domain (leading dot dropped)
    bool http_only = true;                      // session.cookie.http_only
    bool secure = true;                         // session.cookie.secure
    std::string same_site = "strict";           // session.cookie.same_site: strict|lax|none
  };
  struct Session {
    std::chrono::seconds lifespan{12 * 3600};   // session.lifespan, Go duration, >= 1s
    bool enable_auth_token_header = false;      // session.enable_auth_token_header
    std::vector<std::string> audience{"localhost"};  // session.audience, non-empty
    std::string issuer;                         // session.issuer, empty = no iss claim
    int limit = 5;                              // session.limit, >= 1
    Cookie cookie;
  };
  struct Hashing {
    std::uint32_t memory_kib = 19456;           // password.hashing.memory_kib, 8..4194304
    std::uint32_t iterations = 2;               // password.hashing.iterations, 1..1024
    int workers = 0;                            // password.hashing.workers, 0 = CPU cores
    int queue = 0;                              // password.hashing.queue, 0 = 2 x workers
  };
  // What an imported password hash may cost a hashing worker (server/imported_hash.h).
  struct Import {
    int bcrypt_max_cost = 14;                       // password.import.bcrypt_max_cost, 4..31
    std::uint32_t argon2_max_memory_kib = 262144;   // .argon2_max_memory_kib, 8..4194304
    std::uint32_t argon2_max_iterations = 10;       // .argon2_max_iterations, 1..1024
    std::uint32_t argon2_max_parallelism = 16;      // .argon2_max_parallelism, 1..255
    int batch_size = 10000;                         // .batch_size, users per transaction, 1..100000
  };
  struct Password {
    bool enabled = true;                        // password.enabled
    int min_length = 8;                         // password.min_length, 1..72
    // password.revoke_sessions_on_change: a password change (by the user or an admin) ends
    // every other session of the user at once.
    bool revoke_sessions_on_change = true;
    Hashing hashing;
    Import import;
  };
  struct Secrets {
    std::vector<std::string> keys;              // secrets.keys, required, each >= 16 bytes
    std::string key_algorithm = "RS256";        // secrets.key_algorithm: RS256|ES256|EdDSA
    int rsa_bits = 2048;                        // secrets.rsa_bits: 2048|3072|4096
    // secrets.key_refresh_interval: how often a running server re-reads the stored keys
    // (rotations by other replicas or the CLI), >= 1s.
    std::chrono::seconds key_refresh_interval{30};
    // secrets.key_activation_delay: a rotated key is published at once and signs only after
    // this, so every replica and JWKS consumer has it first. The default covers the refresh
    // interval, the gateway's 10 s JWKS cache and the JWKS's Cache-Control max-age=600.
    // >= key_refresh_interval.
    std::chrono::seconds key_activation_delay{660};
  };
  struct Database {
    std::string url = "sqlite://var/passgate.db";  // database.url: sqlite://... or
                                                // postgres://user@host:port/db?sslmode=...
    std::string password;                       // database.password: replaces the URL's
                                                // password (PostgreSQL); empty = the URL's
    std::string synchronous = "full";           // database.synchronous: full|normal (SQLite)
    int busy_timeout_ms = 5000;                 // database.busy_timeout_ms, >= 0 (SQLite)
    int max_connections = 0;                    // database.max_connections (PostgreSQL pool),
                                                // 0 = hashing workers + 2
    std::chrono::seconds pool_timeout{5};       // database.pool_timeout: wait for a pooled
                                                // connection, then UNAVAILABLE; >= 1s
    std::chrono::seconds connect_timeout{5};    // database.connect_timeout, >= 2s
    std::chrono::seconds query_timeout{10};     // database.query_timeout: wait for one
                                                // statement's answer, then UNAVAILABLE; >= 1s
  };
  // TLS material as PEM file paths; all empty = plaintext.
  struct Tls {
    std::string cert_file;                      // *.tls.cert_file (certificate chain)
    std::string key_file;                       // *.tls.key_file (private key)
    // server.grpc.tls.client_ca_file: when set, gRPC callers must present a certificate
    // signed by this CA (mTLS). server.public.upstream.tls.client_ca_file: the CA that signed
    // the service's certificate (the gateway verifies it).
    std::string client_ca_file;
  };
  struct Grpc {
    std::string address = "127.0.0.1:50051";    // server.grpc.address (host:port, port 0 = any)
    Tls tls;                                    // server.grpc.tls.*
    std::vector<std::string> trusted_peers;     // server.grpc.trusted_peers: IPs whose
                                                // x-passgate-client-* metadata is believed
    std::chrono::seconds shutdown_grace{10};    // server.grpc.shutdown_grace
  };
  struct Public {
    std::string address = "127.0.0.1:8000";     // server.public.address (the REST gateway)
    std::vector<std::string> cors_allow_origins;  // server.public.cors.allow_origins
    bool cors_unsafe_wildcard_origin_allowed = false;  // ...cors.unsafe_wildcard_origin_allowed
    std::vector<std::string> trusted_proxies;   // server.public.trusted_proxies: IPs whose
                                                // X-Forwarded-For / X-Real-IP are believed
    int max_body_bytes = 16 * 1024;             // server.public.max_body_bytes, 1..1048576
    int max_header_bytes = 8 * 1024;            // server.public.max_header_bytes, 1024..65536
    std::chrono::seconds read_timeout{10};      // server.public.read_timeout, >= 1s
    std::chrono::seconds idle_timeout{60};      // server.public.idle_timeout, >= 1s
    int max_connections = 1024;                 // server.public.max_connections, >= 1
    int threads = 1;                            // server.public.threads, 1..64
    std::chrono::seconds upstream_deadline{10}; // server.public.upstream_deadline: per gRPC call
    // server.public.upstream.address: the gRPC service for `passgate serve gateway`.
    std::string upstream_address = "127.0.0.1:50051";
    Tls upstream_tls;                           // server.public.upstream.tls.* (client side)
    Tls tls;                                    // server.public.tls.* (HTTPS)
  };
  // server.admin.*: the admin API (UserAdmin over gRPC, Hanko's admin user routes over
  // HTTP). Off unless an address is set; then deny by default: every call needs a bearer
  // token from auth.tokens or a client certificate signed by tls.client_ca_file, and with
  // neither configured every call is refused (a Hanko config.yaml with its unauthenticated
  // admin address still loads, but opens nothing).
  struct Admin {
    std::string address;                        // server.admin.address: HTTP admin routes
                                                // (Hanko's admin API), empty = off
    std::string grpc_address;                   // server.admin.grpc_address: gRPC UserAdmin,
                                                // empty = off
    Tls tls;                                    // server.admin.tls.*: both listeners;
                                                // client_ca_file = accept mTLS callers
    // server.admin.auth.tokens: caller name -> static bearer token (>= 32 characters); the
    // name is what audit events record. PASSGATE_ADMIN_TOKEN adds one named "env".
    std::vector<std::pair<std::string, std::string>> tokens;
    bool enabled() const { return !address.empty() || !grpc_address.empty(); }
  };

  struct Limit {
    int tokens;
    std::chrono::seconds interval;
  };
  // rate_limiter.redis_config.*: the Redis that replicas share when rate_limiter.store is
  // redis (server/redis_login_counter.h).
  struct Redis {
    std::string address;                        // .address: host:port, required for redis
    std::string password;                       // .password, optional (AUTH); never echoed
    int timeout_ms = 250;                       // .timeout_ms: connect and per command, 1..60000
    std::string key_prefix = "passgate:ratelimit:";  // .key_prefix: 1..128 printable ASCII,
                                                // no spaces
    // .on_unavailable: unavailable|too_many_requests. Logins fail closed while Redis cannot
    // answer: gRPC UNAVAILABLE (HTTP 503), or RESOURCE_EXHAUSTED with retry-after 1 (HTTP 429).
    std::string on_unavailable = "unavailable";
  };
  struct RateLimiter {
    bool enabled = true;                        // rate_limiter.enabled
    std::string store = "in_memory";            // rate_limiter.store: in_memory|redis
    Limit password_limits{5, std::chrono::seconds(60)};  // rate_limiter.password_limits.
                                                // {tokens,interval}: per (user, client IP)
    Limit ip_limits{100, std::chrono::seconds(60)};  // rate_limiter.ip_limits: per client IP
    Limit user_limits{30, std::chrono::seconds(60)};  // rate_limiter.user_limits: per user
    int max_keys = 1'000'000;                   // rate_limiter.max_keys: windows kept per
                                                // limit (memory bound, in_memory), >= 1000
    Redis redis;                                // rate_limiter.redis_config.*
  };

  struct AuditLog {
    bool console_enabled = true;                // audit_log.console_output.enabled
    std::string console_output = "stdout";      // audit_log.console_output.output: stdout|stderr
  };

  Password password;
  Session session;
  RateLimiter rate_limiter;
  AuditLog audit_log;
  Secrets secrets;
  Database database;
  Grpc grpc;
  Public public_api;
  Admin admin;
  // Keys in the file that passgate does not use (Hanko sections such as webauthn);
  // reported as a warning by the caller, never an error, so a Hanko config.yaml loads.
  std::vector<std::string> ignored_keys;
};

// EnvLookup returns an environment variable's value, or nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// ProcessEnv reads the real environment.
EnvLookup ProcessEnv();

// ParseConfig parses YAML text, applies environment overrides, and validates.
// Environment (overrides the file):
//   PASSGATE_SECRETS_KEYS      comma-separated secrets.keys
//   PASSGATE_SECRETS_KEYS_FILE file with one secret per line
//   PASSGATE_DATABASE_URL      database.url
//   PASSGATE_DATABASE_PASSWORD database.password
//   PASSGATE_REDIS_PASSWORD    rate_limiter.redis_config.password
//   PASSGATE_ADMIN_TOKEN       one more server.admin.auth.tokens entry, named "env"
// Errors are kInvalidArgument with a message that starts with the offending key, e.g.
// "session.lifespan: invalid duration \"12x\"". Secret values never appear in messages.
// An empty document gives the defaults (which fail validation only for secrets.keys).
absl::StatusOr<Config> ParseConfig(std::string_view yaml_text, const EnvLookup& env);

// LoadConfigFile reads `path` and calls ParseConfig. kNotFound when the file is missing.
absl::StatusOr<Config> LoadConfigFile(const std::string& path, const EnvLookup& env);

// ParseGoDuration parses Go's time.ParseDuration syntax restricted to whole seconds or more
// ("12h", "1m30s", "90s", "1h0m0s"). kInvalidArgument otherwise.
absl::StatusOr<std::chrono::seconds> ParseGoDuration(std::string_view text);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_CONFIG_H_
