#include "server/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passgate::server {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef";  // 32 characters
constexpr char kSecretsBlock[] = "secrets:\n  keys:\n    - 0123456789abcdef0123456789abcdef\n";

// MapEnv is an EnvLookup over a fixed set of variables.
EnvLookup MapEnv(std::map<std::string, std::string, std::less<>> vars = {}) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// TempFile writes `content` to a fresh file under the test's temporary directory.
std::string TempFile(std::string_view content) {
  std::string path = ::testing::TempDir() + "/passgate_config_test_XXXXXX";
  const int fd = ::mkstemp(path.data());
  EXPECT_GE(fd, 0);
  ::close(fd);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(ParseConfigTest, EmptyDocumentGivesDefaultsThatFailOnlyOnSecrets) {
  for (const char* yaml : {"", "~", "null", "# nothing here\n", "---\n"}) {
    const absl::StatusOr<Config> config = ParseConfig(yaml, MapEnv());
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_EQ(config.status().message(),
              "secrets.keys: at least one secret is required (or set PASSGATE_SECRETS_KEYS)")
        << yaml;

    const absl::StatusOr<Config> with_env =
        ParseConfig(yaml, MapEnv({{"PASSGATE_SECRETS_KEYS", kSecret}}));
    ASSERT_TRUE(with_env.ok()) << yaml << ": " << with_env.status();
    EXPECT_THAT(with_env->secrets.keys, ElementsAre(kSecret));
    EXPECT_THAT(with_env->ignored_keys, IsEmpty());
  }
}

TEST(ParseConfigTest, MinimalConfigHasEveryDocumentedDefault) {
  const absl::StatusOr<Config> config = ParseConfig(kSecretsBlock, MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  const Config& c = *config;

  EXPECT_TRUE(c.password.enabled);
  EXPECT_EQ(c.password.min_length, 8);
  EXPECT_EQ(c.password.hashing.memory_kib, 19456u);
  EXPECT_EQ(c.password.hashing.iterations, 2u);
  EXPECT_EQ(c.password.hashing.workers, 0);
  EXPECT_EQ(c.password.hashing.queue, 0);
  EXPECT_EQ(c.password.import.bcrypt_max_cost, 14);
  EXPECT_EQ(c.password.import.argon2_max_memory_kib, 262144u);
  EXPECT_EQ(c.password.import.argon2_max_iterations, 10u);
  EXPECT_EQ(c.password.import.argon2_max_parallelism, 16u);
  EXPECT_EQ(c.password.import.batch_size, 10000);

  EXPECT_EQ(c.session.lifespan, seconds(12 * 3600));
  EXPECT_FALSE(c.session.enable_auth_token_header);
  EXPECT_THAT(c.session.audience, ElementsAre("localhost"));
  EXPECT_EQ(c.session.issuer, "");
  EXPECT_EQ(c.session.limit, 5);
  EXPECT_EQ(c.session.cookie.name, "hanko");
  EXPECT_EQ(c.session.cookie.domain, "");
  EXPECT_TRUE(c.session.cookie.http_only);
  EXPECT_TRUE(c.session.cookie.secure);
  EXPECT_EQ(c.session.cookie.same_site, "strict");

  EXPECT_THAT(c.secrets.keys, ElementsAre(kSecret));
  EXPECT_EQ(c.secrets.key_algorithm, "RS256");
  EXPECT_EQ(c.secrets.rsa_bits, 2048);

  EXPECT_EQ(c.database.url, "sqlite://var/passgate.db");
  EXPECT_EQ(c.database.synchronous, "full");
  EXPECT_EQ(c.database.busy_timeout_ms, 5000);

  EXPECT_EQ(c.grpc.address, "127.0.0.1:50051");
  EXPECT_THAT(c.grpc.trusted_peers, IsEmpty());
  EXPECT_EQ(c.grpc.shutdown_grace, seconds(10));
  EXPECT_EQ(c.public_api.address, "127.0.0.1:8000");

  EXPECT_THAT(c.ignored_keys, IsEmpty());
}

TEST(ParseConfigTest, FullConfigWithEveryKeySet) {
  constexpr char kYaml[] = R"(
password:
  enabled: false
  min_length: 12
  hashing:
    memory_kib: 65536
    iterations: 3
    workers: 4
    queue: 16
  import:
    bcrypt_max_cost: 12
    argon2_max_memory_kib: 65536
    argon2_max_iterations: 4
    argon2_max_parallelism: 2
    batch_size: 500
session:
  lifespan: "1h"
  enable_auth_token_header: true
  audience:
    - app.example.com
    - api.example.com
  issuer: https://auth.example.com
  limit: 3
  cookie:
    name: sid
    domain: .example.com
    http_only: false
    secure: true
    same_site: None
secrets:
  keys:
    - 0123456789abcdef0123456789abcdef
    - another-secret-that-is-long-enough
  key_algorithm: EdDSA
  rsa_bits: 4096
database:
  dialect: sqlite3
  url: sqlite:///var/lib/passgate/passgate.db
  synchronous: NORMAL
  busy_timeout_ms: 0
server:
  grpc:
    address: "[::1]:0"
    trusted_peers: ["10.0.0.1", "::1"]
    shutdown_grace: 1m30s
  public:
    address: "0.0.0.0:8080"
)";
  const absl::StatusOr<Config> config = ParseConfig(kYaml, MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  const Config& c = *config;

  EXPECT_FALSE(c.password.enabled);
  EXPECT_EQ(c.password.min_length, 12);
  EXPECT_EQ(c.password.hashing.memory_kib, 65536u);
  EXPECT_EQ(c.password.hashing.iterations, 3u);
  EXPECT_EQ(c.password.hashing.workers, 4);
  EXPECT_EQ(c.password.hashing.queue, 16);
  EXPECT_EQ(c.password.import.bcrypt_max_cost, 12);
  EXPECT_EQ(c.password.import.argon2_max_memory_kib, 65536u);
  EXPECT_EQ(c.password.import.argon2_max_iterations, 4u);
  EXPECT_EQ(c.password.import.argon2_max_parallelism, 2u);
  EXPECT_EQ(c.password.import.batch_size, 500);

  EXPECT_EQ(c.session.lifespan, seconds(3600));
  EXPECT_TRUE(c.session.enable_auth_token_header);
  EXPECT_THAT(c.session.audience, ElementsAre("app.example.com", "api.example.com"));
  EXPECT_EQ(c.session.issuer, "https://auth.example.com");
  EXPECT_EQ(c.session.limit, 3);
  EXPECT_EQ(c.session.cookie.name, "sid");
  EXPECT_EQ(c.session.cookie.domain, "example.com");
  EXPECT_FALSE(c.session.cookie.http_only);
  EXPECT_TRUE(c.session.cookie.secure);
  EXPECT_EQ(c.session.cookie.same_site, "none");

  EXPECT_THAT(c.secrets.keys, ElementsAre(kSecret, "another-secret-that-is-long-enough"));
  EXPECT_EQ(c.secrets.key_algorithm, "EdDSA");
  EXPECT_EQ(c.secrets.rsa_bits, 4096);

  EXPECT_EQ(c.database.url, "sqlite:///var/lib/passgate/passgate.db");
  EXPECT_EQ(c.database.synchronous, "normal");
  EXPECT_EQ(c.database.busy_timeout_ms, 0);

  EXPECT_EQ(c.grpc.address, "[::1]:0");
  EXPECT_THAT(c.grpc.trusted_peers, ElementsAre("10.0.0.1", "::1"));
  EXPECT_EQ(c.grpc.shutdown_grace, seconds(90));
  EXPECT_EQ(c.public_api.address, "0.0.0.0:8080");

  EXPECT_THAT(c.ignored_keys, IsEmpty());
}

TEST(ParseConfigTest, GatewayAndTlsKeys) {
  const absl::StatusOr<Config> config = ParseConfig(std::string(kSecretsBlock) + R"(
server:
  grpc:
    tls: {cert_file: /etc/pg/grpc.crt, key_file: /etc/pg/grpc.key, client_ca_file: /etc/pg/ca.crt}
  public:
    cors: {allow_origins: ["https://a.example", "*"], unsafe_wildcard_origin_allowed: true}
    trusted_proxies: [10.0.0.2, "::1"]
    max_body_bytes: 4096
    max_header_bytes: 2048
    read_timeout: 5s
    idle_timeout: 2m
    max_connections: 10
    threads: 2
    upstream_deadline: 3s
    upstream:
      address: "localhost:50051"
      tls: {client_ca_file: /etc/pg/ca.crt, cert_file: /etc/pg/gw.crt, key_file: /etc/pg/gw.key}
    tls: {cert_file: /etc/pg/https.crt, key_file: /etc/pg/https.key}
)", MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  const Config& c = *config;
  EXPECT_EQ(c.grpc.tls.client_ca_file, "/etc/pg/ca.crt");
  EXPECT_EQ(c.grpc.tls.key_file, "/etc/pg/grpc.key");
  EXPECT_THAT(c.public_api.cors_allow_origins, ElementsAre("https://a.example", "*"));
  EXPECT_TRUE(c.public_api.cors_unsafe_wildcard_origin_allowed);
  EXPECT_THAT(c.public_api.trusted_proxies, ElementsAre("10.0.0.2", "::1"));
  EXPECT_EQ(c.public_api.max_body_bytes, 4096);
  EXPECT_EQ(c.public_api.max_header_bytes, 2048);
  EXPECT_EQ(c.public_api.read_timeout, seconds(5));
  EXPECT_EQ(c.public_api.idle_timeout, seconds(120));
  EXPECT_EQ(c.public_api.max_connections, 10);
  EXPECT_EQ(c.public_api.threads, 2);
  EXPECT_EQ(c.public_api.upstream_deadline, seconds(3));
  EXPECT_EQ(c.public_api.upstream_address, "localhost:50051");
  EXPECT_EQ(c.public_api.upstream_tls.cert_file, "/etc/pg/gw.crt");
  EXPECT_EQ(c.public_api.tls.cert_file, "/etc/pg/https.crt");
  EXPECT_THAT(c.ignored_keys, IsEmpty());
}

TEST(ParseConfigTest, AudienceMayBeASingleString) {
  const absl::StatusOr<Config> config =
      ParseConfig(std::string(kSecretsBlock) + "session:\n  audience: example.com\n", MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->session.audience, ElementsAre("example.com"));
}

TEST(ParseConfigTest, NullValuesKeepTheDefaults) {
  // Hanko's sample config leaves optional keys such as audience and issuer empty.
  const absl::StatusOr<Config> config = ParseConfig(
      std::string(kSecretsBlock) + "session:\n  audience:\n  issuer:\n  cookie:\npassword:\n",
      MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->session.audience, ElementsAre("localhost"));
  EXPECT_EQ(config->session.issuer, "");
  EXPECT_EQ(config->session.cookie.name, "hanko");
  EXPECT_THAT(config->ignored_keys, IsEmpty());
}

// The shape of the config Hanko's own handler tests run with (§12 of hanko-behaviour.md),
// with the database moved to sqlite.
TEST(ParseConfigTest, HankoTestConfigLoadsAndReportsIgnoredKeys) {
  constexpr char kYaml[] = R"(
webauthn:
  relying_party:
    id: localhost
    display_name: Test Relying Party
    origins:
      - http://localhost:8080
  timeout: 60000
secrets:
  keys:
    - abcdefghijklmnop
passcode:
  smtp:
    host: localhost
    port: "2500"
  ttl: 300
password:
  enabled: true
  min_password_length: 10
database:
  database: hanko
  user: hanko
  password: hanko
  host: localhost
  port: "5432"
  dialect: sqlite
  url: sqlite://hanko-test.db
session:
  lifespan: 1h
  audience: [localhost]
  cookie:
    same_site: none
    secure: false
    http_only: false
    retention: persistent
rate_limiter:
  enabled: false
  password_limits:
    tokens: 5
    interval: 1m
server:
  public:
    address: ":8000"
    cors:
      allow_origins: ["http://localhost:8888"]
  admin:
    address: ":8001"
audit_log:
  console_output:
    enabled: true
service:
  name: Hanko Authentication Service
)";
  const absl::StatusOr<Config> config = ParseConfig(kYaml, MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  const Config& c = *config;
  EXPECT_THAT(c.secrets.keys, ElementsAre("abcdefghijklmnop"));
  EXPECT_EQ(c.password.min_length, 10);  // Hanko's older key name
  EXPECT_EQ(c.session.lifespan, seconds(3600));
  EXPECT_EQ(c.session.cookie.same_site, "none");
  EXPECT_FALSE(c.session.cookie.secure);
  EXPECT_FALSE(c.session.cookie.http_only);
  EXPECT_EQ(c.database.url, "sqlite://hanko-test.db");
  EXPECT_EQ(c.public_api.address, ":8000");
  EXPECT_THAT(c.public_api.cors_allow_origins, ElementsAre("http://localhost:8888"));
  // Document order; unknown subtrees are reported once, by their top path.
  EXPECT_THAT(
      c.ignored_keys,
      ElementsAre("webauthn", "passcode", "database.database", "database.user",
                  "database.host", "database.port", "session.cookie.retention", "service"));
  // Hanko's unauthenticated admin address loads, but without credentials opens nothing.
  EXPECT_EQ(c.admin.address, ":8001");
  EXPECT_TRUE(c.admin.enabled());
  EXPECT_TRUE(c.admin.tokens.empty());
  EXPECT_TRUE(c.audit_log.console_enabled);
  EXPECT_FALSE(c.rate_limiter.enabled);
  EXPECT_EQ(c.rate_limiter.password_limits.tokens, 5);
  EXPECT_EQ(c.rate_limiter.password_limits.interval, seconds(60));
}

TEST(ParseConfigTest, AdminSectionIsOffByDefault) {
  const absl::StatusOr<Config> config = ParseConfig(kSecretsBlock, MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_FALSE(config->admin.enabled());
  EXPECT_TRUE(config->password.revoke_sessions_on_change);
}

TEST(ParseConfigTest, AdminTokensNameTheirCallersAndTheEnvironmentAddsOne) {
  const std::string yaml = std::string(kSecretsBlock) +
                           "server:\n  admin:\n    address: 127.0.0.1:8001\n"
                           "    grpc_address: 127.0.0.1:50052\n    auth:\n      tokens:\n"
                           "        signup: 0123456789abcdef0123456789abcdef\n"
                           "password:\n  revoke_sessions_on_change: false\n";
  const absl::StatusOr<Config> config =
      ParseConfig(yaml, MapEnv({{"PASSGATE_ADMIN_TOKEN", "fedcba9876543210fedcba9876543210"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->admin.grpc_address, "127.0.0.1:50052");
  ASSERT_EQ(config->admin.tokens.size(), 2u);
  EXPECT_EQ(config->admin.tokens[0].first, "signup");
  EXPECT_EQ(config->admin.tokens[1].first, "env");
  EXPECT_FALSE(config->password.revoke_sessions_on_change);
}

TEST(ParseConfigTest, AdminMisconfigurationsNameTheKeyAndNeverEchoATokens) {
  struct Case {
    std::string yaml;
    std::string key;
  };
  const std::string admin = std::string(kSecretsBlock) + "server:\n  admin:\n";
  const Case cases[] = {
      {admin + "    address: nonsense\n", "server.admin.address"},
      {admin + "    grpc_address: 1.2.3.4\n", "server.admin.grpc_address"},
      {admin + "    auth:\n      tokens:\n        short: s3cr3t-but-short\n",
       "server.admin.auth.tokens.short"},
      {admin + "    auth:\n      tokens: [a, b]\n", "server.admin.auth.tokens"},
      {admin + "    auth:\n      tokens:\n        \"has space\": 0123456789abcdef0123456789abcdef\n",
       "server.admin.auth.tokens"},
      {admin + "    tls:\n      client_ca_file: ca.pem\n", "server.admin.tls.client_ca_file"},
      {admin + "    tls:\n      cert_file: c.pem\n", "server.admin.tls"},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<Config> config = ParseConfig(c.yaml, MapEnv());
    ASSERT_FALSE(config.ok()) << c.yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(config.status().message()), StartsWith(c.key)) << c.yaml;
    EXPECT_THAT(std::string(config.status().message()), Not(HasSubstr("s3cr3t")));
  }
}

TEST(ParseConfigTest, MinLengthWinsWhenBothNamesAgree) {
  const std::string yaml =
      std::string(kSecretsBlock) + "password:\n  min_length: 9\n  min_password_length: 9\n";
  const absl::StatusOr<Config> config = ParseConfig(yaml, MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->password.min_length, 9);
}

struct BadConfig {
  std::string yaml;
  std::string error_prefix;
};

// Each case is appended to a valid secrets block unless it starts with "secrets:" or
// "!bare ", which is stripped.
std::vector<BadConfig> BadConfigs() {
  return {
      // secrets
      {"!bare password: {enabled: true}",
       "secrets.keys: at least one secret is required (or set PASSGATE_SECRETS_KEYS)"},
      {"secrets: {keys: []}", "secrets.keys: at least one secret is required"},
      {"secrets:\n  keys: [0123456789abcdef, short]",
       "secrets.keys[1]: must be at least 16 characters long"},
      {"secrets:\n  keys: 0123456789abcdef", "secrets.keys: expected a list of strings"},
      {"secrets:\n  keys: [{a: b}]", "secrets.keys[0]: expected a string"},
      {"secrets: [a]", "secrets: expected a mapping"},
      {"secrets: {keys: [0123456789abcdef], key_algorithm: HS256}",
       "secrets.key_algorithm: must be one of RS256, ES256, EdDSA, got \"HS256\""},
      {"secrets: {keys: [0123456789abcdef], key_algorithm: rs256}", "secrets.key_algorithm: "},
      {"secrets: {keys: [0123456789abcdef], rsa_bits: 1024}",
       "secrets.rsa_bits: must be 2048, 3072 or 4096, got 1024"},
      {"secrets: {keys: [0123456789abcdef], rsa_bits: big}",
       "secrets.rsa_bits: expected an integer, got \"big\""},
      // session
      {"session: 5", "session: expected a mapping"},
      {"session: {lifespan: 12x}", "session.lifespan: invalid duration \"12x\""},
      {"session: {lifespan: 3600}", "session.lifespan: invalid duration \"3600\": missing unit"},
      {"session: {lifespan: 0s}", "session.lifespan: must be at least 1s"},
      {"session: {lifespan: [1h]}", "session.lifespan: expected a duration"},
      {"session: {limit: 0}", "session.limit: must be at least 1, got 0"},
      {"session: {limit: five}", "session.limit: expected an integer, got \"five\""},
      {"session: {limit: 1.5}", "session.limit: expected an integer, got \"1.5\""},
      {"session: {limit: 99999999999999999999}", "session.limit: must be at most 2147483647"},
      {"session: {audience: []}", "session.audience: at least one audience is required"},
      {"session: {audience: [a, '']}", "session.audience[1]: must not be empty"},
      {"session: {audience: {a: b}}", "session.audience: expected a string or a list"},
      {"session: {enable_auth_token_header: yes}",
       "session.enable_auth_token_header: expected true or false, got \"yes\""},
      {"session: {cookie: {same_site: relaxed}}",
       "session.cookie.same_site: must be strict, lax or none, got \"relaxed\""},
      {"session: {cookie: {name: 'a;b'}}", "session.cookie.name: "},
      {"session: {cookie: {name: ''}}", "session.cookie.name: "},
      {"session: {cookie: {domain: 'a.com; x=y'}}", "session.cookie.domain: "},
      {"session: {cookie: {http_only: 1}}", "session.cookie.http_only: expected true or false"},
      {"session: {cookie: {secure: [true]}}", "session.cookie.secure: expected true or false"},
      {"session: {issuer: {a: b}}", "session.issuer: expected a string"},
      // password
      {"password: {enabled: maybe}", "password.enabled: expected true or false"},
      {"password: {min_length: 0}", "password.min_length: must be between 1 and 72, got 0"},
      {"password: {min_length: 73}", "password.min_length: must be between 1 and 72, got 73"},
      {"password: {min_password_length: 73}", "password.min_password_length: must be between"},
      {"password: {min_length: 8, min_password_length: 10}",
       "password.min_password_length: conflicts with password.min_length"},
      {"password: {hashing: {memory_kib: 7}}",
       "password.hashing.memory_kib: must be between 8 and 4194304"},
      {"password: {hashing: {memory_kib: 4194305}}",
       "password.hashing.memory_kib: must be between"},
      {"password: {hashing: {iterations: 0}}",
       "password.hashing.iterations: must be between 1 and 1024"},
      {"password: {hashing: {iterations: 1025}}", "password.hashing.iterations: must be between"},
      {"password: {hashing: {workers: -1}}",
       "password.hashing.workers: must be between 0 and 1024"},
      {"password: {hashing: {workers: 1025}}", "password.hashing.workers: must be between"},
      {"password: {hashing: {queue: -1}}", "password.hashing.queue: must be between 0 and 65536"},
      {"password: {import: {bcrypt_max_cost: 3}}",
       "password.import.bcrypt_max_cost: must be between 4 and 31"},
      {"password: {import: {bcrypt_max_cost: 32}}", "password.import.bcrypt_max_cost: must be"},
      {"password: {import: {argon2_max_memory_kib: 7}}",
       "password.import.argon2_max_memory_kib: must be between 8 and 4194304"},
      {"password: {import: {argon2_max_iterations: 0}}",
       "password.import.argon2_max_iterations: must be between 1 and 1024"},
      {"password: {import: {argon2_max_parallelism: 256}}",
       "password.import.argon2_max_parallelism: must be between 1 and 255"},
      {"password: {import: {batch_size: 0}}",
       "password.import.batch_size: must be between 1 and 100000"},
      {"password: {hashing: {queue: 65537}}", "password.hashing.queue: must be between"},
      // database
      {"database: {synchronous: off}", "database.synchronous: must be full or normal, got \"off\""},
      {"database: {busy_timeout_ms: -1}", "database.busy_timeout_ms: must be at least 0, got -1"},
      {"database: {url: ''}", "database.url: must not be empty"},
      {"database: {url: 'mysql://hanko:hanko@localhost:3306/hanko'}",
       "database.url: unsupported database URL scheme \"mysql\"; expected sqlite:///"},
      {"database: {url: 'postgres://hanko:hanko@localhost/hanko?no_such_option=1'}",
       "database.url: not a valid PostgreSQL connection URI"},
      {"database: {url: 'sqlite://'}", "database.url: sqlite database URL has an empty path"},
      {"database: {url: 'var/passgate.db'}", "database.url: database URL has no scheme"},
      {"database: {dialect: mysql}", "database.dialect: must be sqlite or postgres"},
      {"database: {pool_timeout: 0s}", "database.pool_timeout: must be at least 1s"},
      {"database: {connect_timeout: 1s}", "database.connect_timeout: must be at least 2s"},
      {"database: {query_timeout: 0s}", "database.query_timeout: must be at least 1s"},
      {"database: {max_connections: -1}", "database.max_connections: must be between 0 and 1000"},
      // server
      {"server: {grpc: {address: ''}}", "server.grpc.address: "},
      {"server: {grpc: {address: localhost}}", "server.grpc.address: "},
      {"server: {grpc: {address: ':50051'}}", "server.grpc.address: "},
      {"server: {grpc: {address: 'localhost:65536'}}", "server.grpc.address: "},
      {"server: {grpc: {address: 'localhost:-1'}}", "server.grpc.address: "},
      {"server: {grpc: {address: 'localhost:http'}}", "server.grpc.address: "},
      {"server: {grpc: {address: '::1:50051'}}", "server.grpc.address: "},
      {"server: {grpc: {address: '[::1:50051'}}", "server.grpc.address: "},
      {"server: {grpc: {address: '[nope]:50051'}}", "server.grpc.address: "},
      {"server: {grpc: {trusted_peers: [10.0.0.1, not-an-ip]}}",
       "server.grpc.trusted_peers[1]: expected an IPv4 or IPv6 address, got \"not-an-ip\""},
      {"server: {grpc: {trusted_peers: ['10.0.0.0/8']}}", "server.grpc.trusted_peers[0]: "},
      {"server: {grpc: {trusted_peers: 10.0.0.1}}",
       "server.grpc.trusted_peers: expected a list of strings"},
      // rate limiter
      {"rate_limiter: {store: memcached}",
       "rate_limiter.store: must be in_memory or redis, got \"memcached\""},
      {"rate_limiter: {store: redis}",
       "rate_limiter.redis_config.address: required when rate_limiter.store is redis"},
      {"rate_limiter: {store: redis, redis_config: {address: ''}}",
       "rate_limiter.redis_config.address: required when rate_limiter.store is redis"},
      {"rate_limiter: {store: redis, redis_config: {address: redis}}",
       "rate_limiter.redis_config.address: expected host:port or [ipv6]:port, got \"redis\""},
      {"rate_limiter: {store: redis, redis_config: {address: ':6379'}}",
       "rate_limiter.redis_config.address: expected host:port"},
      {"rate_limiter: {store: redis, redis_config: {address: 'redis:0'}}",
       "rate_limiter.redis_config.address: port must be 1..65535"},
      {"rate_limiter: {store: redis, redis_config: {address: 'redis:65536'}}",
       "rate_limiter.redis_config.address: expected host:port"},
      {"rate_limiter: {store: redis, redis_config: {address: 'redis://redis:6379'}}",
       "rate_limiter.redis_config.address: expected host:port, not a URL"},
      {"rate_limiter: {redis_config: {address: [a]}}",
       "rate_limiter.redis_config.address: expected a string"},
      {"rate_limiter: {redis_config: {timeout_ms: 0}}",
       "rate_limiter.redis_config.timeout_ms: must be between 1 and 60000, got 0"},
      {"rate_limiter: {redis_config: {timeout_ms: 60001}}",
       "rate_limiter.redis_config.timeout_ms: must be between 1 and 60000, got 60001"},
      {"rate_limiter: {redis_config: {timeout_ms: 1s}}",
       "rate_limiter.redis_config.timeout_ms: expected an integer"},
      {"rate_limiter: {redis_config: {key_prefix: ''}}",
       "rate_limiter.redis_config.key_prefix: must be 1 to 128 printable ASCII characters"},
      {"rate_limiter: {redis_config: {key_prefix: 'a b'}}",
       "rate_limiter.redis_config.key_prefix: must be 1 to 128 printable ASCII characters"},
      {"rate_limiter: {redis_config: {on_unavailable: allow}}",
       "rate_limiter.redis_config.on_unavailable: must be unavailable or too_many_requests, got "
       "\"allow\""},
      {"rate_limiter: {redis_config: {on_unavailable: 429}}",
       "rate_limiter.redis_config.on_unavailable: must be unavailable or too_many_requests"},
      {"rate_limiter: {redis_config: []}", "rate_limiter.redis_config: expected a mapping"},
      {"rate_limiter: {password_limits: {tokens: 0}}", "rate_limiter.password_limits.tokens: "},
      {"rate_limiter: {ip_limits: {interval: 0s}}",
       "rate_limiter.ip_limits.interval: must be at least 1s"},
      {"rate_limiter: {max_keys: 10}", "rate_limiter.max_keys: "},
      // the REST gateway and TLS
      {"server: {public: {trusted_proxies: [proxy]}}",
       "server.public.trusted_proxies[0]: expected an IPv4 or IPv6 address, got \"proxy\""},
      {"server: {public: {max_body_bytes: 0}}", "server.public.max_body_bytes: "},
      {"server: {public: {max_header_bytes: 100}}", "server.public.max_header_bytes: "},
      {"server: {public: {read_timeout: 0s}}", "server.public.read_timeout: must be at least 1s"},
      {"server: {public: {idle_timeout: 0s}}", "server.public.idle_timeout: must be at least 1s"},
      {"server: {public: {upstream_deadline: 0s}}",
       "server.public.upstream_deadline: must be at least 1s"},
      {"server: {public: {max_connections: 0}}", "server.public.max_connections: "},
      {"server: {public: {threads: 0}}", "server.public.threads: "},
      {"server: {public: {upstream: {address: nohost}}}", "server.public.upstream.address: "},
      {"server: {public: {cors: {unsafe_wildcard_origin_allowed: maybe}}}",
       "server.public.cors.unsafe_wildcard_origin_allowed: expected true or false"},
      {"server: {public: {tls: {cert_file: c.pem}}}",
       "server.public.tls: cert_file and key_file must be set together"},
      {"server: {grpc: {tls: {key_file: k.pem}}}",
       "server.grpc.tls: cert_file and key_file must be set together"},
      {"server: {grpc: {tls: {client_ca_file: ca.pem}}}",
       "server.grpc.tls.client_ca_file: requires cert_file and key_file"},
      {"server: {public: {upstream: {tls: {cert_file: c.pem}}}}",
       "server.public.upstream.tls: cert_file and key_file"},
      {"server: {grpc: {shutdown_grace: 1.5s}}",
       "server.grpc.shutdown_grace: invalid duration \"1.5s\""},
      {"server: {public: {address: '8000'}}", "server.public.address: "},
      {"server: {public: {address: 'localhost:99999'}}", "server.public.address: "},
      // document shape
      {"!bare - a\n- b", "config: "},
      {"!bare just a string", "config: "},
      {"!bare ? [a, b]\n: c", "config: keys must be strings"},
      {"session: {lifespan: 1h, lifespan: 2h}", "session.lifespan: duplicate key"},
      {"!bare webauthn: {}\nwebauthn: {}", "webauthn: duplicate key"},
  };
}

TEST(ParseConfigTest, BadConfigsNameTheOffendingKey) {
  for (const BadConfig& bad : BadConfigs()) {
    std::string yaml = bad.yaml;
    if (yaml.rfind("!bare ", 0) == 0) {
      yaml.erase(0, 6);
    } else if (yaml.rfind("secrets:", 0) != 0) {
      yaml = std::string(kSecretsBlock) + yaml + "\n";
    }
    const absl::StatusOr<Config> config = ParseConfig(yaml, MapEnv());
    ASSERT_FALSE(config.ok()) << yaml;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument) << yaml;
    EXPECT_THAT(std::string(config.status().message()), StartsWith(bad.error_prefix)) << yaml;
  }
}

TEST(ParseConfigTest, SecretValuesNeverAppearInErrors) {
  constexpr char kShort[] = "Sup3rS3cr3t";                   // too short
  constexpr char kLong[] = "Sup3rS3cr3t-long-enough-value";  // valid
  constexpr char kDbPassword[] = "hunter2-db-password";
  const std::vector<std::pair<std::string, EnvLookup>> cases = {
      {"secrets: {keys: [Sup3rS3cr3t]}", MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value, Sup3rS3cr3t]}", MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value, {Sup3rS3cr3t: x}]}", MapEnv()},
      {"secrets: {keys: Sup3rS3cr3t-long-enough-value}", MapEnv()},
      {"secrets: Sup3rS3cr3t-long-enough-value", MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value, ", MapEnv()},
      {"", MapEnv({{"PASSGATE_SECRETS_KEYS", "Sup3rS3cr3t-long-enough-value,Sup3rS3cr3t"}})},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "database: {url: 'postgres://admin:hunter2-db-password@db/hanko%zz'}",
       MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "database: {url: 'admin:hunter2-db-password@db://x'}",
       MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "database: {url: {password: hunter2-db-password}}",
       MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}",
       MapEnv({{"PASSGATE_DATABASE_URL", "mysql://u:hunter2-db-password@h/d"}})},
      // The Redis password, from the file or the environment, next to every Redis error.
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "rate_limiter: {store: redis, redis_config: {password: hunter2-db-password}}",
       MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "rate_limiter: {store: redis, redis_config: {address: 'redis:1', password: "
       "hunter2-db-password, timeout_ms: 0}}",
       MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "rate_limiter: {store: redis, redis_config: {password: [hunter2-db-password]}}",
       MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "rate_limiter: {store: redis, redis_config: {password: {hunter2-db-password: x}}}",
       MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "rate_limiter: {store: redis, redis_config: {address: "
       "'redis://:hunter2-db-password@redis:6379'}}",
       MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "rate_limiter: {store: redis, redis_config: {address: ':hunter2-db-password@redis:1'}}",
       MapEnv()},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\n"
       "rate_limiter: {store: redis, redis_config: {on_unavailable: nope}}",
       MapEnv({{"PASSGATE_REDIS_PASSWORD", "hunter2-db-password"}})},
      {"secrets: {keys: [Sup3rS3cr3t-long-enough-value]}\nrate_limiter: {store: redis}",
       MapEnv({{"PASSGATE_REDIS_PASSWORD", "hunter2-db-password"}})},
  };
  for (const auto& [yaml, env] : cases) {
    const absl::StatusOr<Config> config = ParseConfig(yaml, env);
    ASSERT_FALSE(config.ok()) << yaml;
    const std::string message(config.status().message());
    EXPECT_THAT(message, Not(HasSubstr(kShort))) << yaml;
    EXPECT_THAT(message, Not(HasSubstr(kLong))) << yaml;
    EXPECT_THAT(message, Not(HasSubstr(kDbPassword))) << yaml;
  }
}

TEST(ParseConfigTest, MalformedYamlIsReportedWithItsPosition) {
  const absl::StatusOr<Config> config = ParseConfig("a: [1, 2", MapEnv());
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), StartsWith("config: line 1, column "));
}

TEST(ParseConfigTest, CookieSameSiteIsCaseInsensitive) {
  for (const char* value : {"Strict", "LAX", "none", "None"}) {
    const absl::StatusOr<Config> config = ParseConfig(
        std::string(kSecretsBlock) + "session: {cookie: {same_site: " + value + "}}\n", MapEnv());
    ASSERT_TRUE(config.ok()) << value << ": " << config.status();
    std::string lower(value);
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_EQ(config->session.cookie.same_site, lower);
  }
}

TEST(ParseConfigTest, AcceptedAddresses) {
  for (const char* address :
       {"127.0.0.1:50051", "localhost:0", "[::]:50051", "grpc.internal:65535"}) {
    const absl::StatusOr<Config> config = ParseConfig(
        std::string(kSecretsBlock) + "server: {grpc: {address: '" + address + "'}}\n", MapEnv());
    ASSERT_TRUE(config.ok()) << address << ": " << config.status();
    EXPECT_EQ(config->grpc.address, address);
  }
}

TEST(ParseConfigTest, RedisRateLimiterDefaults) {
  const absl::StatusOr<Config> config = ParseConfig(kSecretsBlock, MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  const Config::RateLimiter& c = config->rate_limiter;
  EXPECT_EQ(c.store, "in_memory");
  EXPECT_EQ(c.redis.address, "");
  EXPECT_EQ(c.redis.password, "");
  EXPECT_EQ(c.redis.timeout_ms, 250);
  EXPECT_EQ(c.redis.key_prefix, "passgate:ratelimit:");
  EXPECT_EQ(c.redis.on_unavailable, "unavailable");
}

TEST(ParseConfigTest, RedisRateLimiterWithEveryKeySet) {
  const absl::StatusOr<Config> config =
      ParseConfig(std::string(kSecretsBlock) +
                      "rate_limiter:\n"
                      "  store: redis\n"
                      "  redis_config:\n"
                      "    address: redis.internal:6380\n"
                      "    password: from-the-file\n"
                      "    timeout_ms: 60000\n"
                      "    key_prefix: 'acme:login:'\n"
                      "    on_unavailable: too_many_requests\n",
                  MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  const Config::RateLimiter& c = config->rate_limiter;
  EXPECT_EQ(c.store, "redis");
  EXPECT_EQ(c.redis.address, "redis.internal:6380");
  EXPECT_EQ(c.redis.password, "from-the-file");
  EXPECT_EQ(c.redis.timeout_ms, 60000);
  EXPECT_EQ(c.redis.key_prefix, "acme:login:");
  EXPECT_EQ(c.redis.on_unavailable, "too_many_requests");
  EXPECT_THAT(config->ignored_keys, IsEmpty());
}

TEST(ParseConfigTest, RedisAcceptedValues) {
  for (const char* section : {
           "{store: redis, redis_config: {address: '127.0.0.1:6379'}}",
           "{store: redis, redis_config: {address: '[::1]:6379', timeout_ms: 1}}",
           "{store: redis, redis_config: {address: 'redis:65535', on_unavailable: unavailable}}",
           "{store: in_memory, redis_config: {on_unavailable: too_many_requests}}",
           "{store: in_memory}",
       }) {
    const absl::StatusOr<Config> config = ParseConfig(
        std::string(kSecretsBlock) + "rate_limiter: " + section + "\n", MapEnv());
    EXPECT_TRUE(config.ok()) << section << ": " << config.status();
  }
}

// --- Environment overrides -----------------------------------------------------------------

TEST(EnvironmentTest, SecretsKeysAreSplitOnCommasDroppingEmptyEntries) {
  const absl::StatusOr<Config> config = ParseConfig(
      kSecretsBlock,
      MapEnv({{"PASSGATE_SECRETS_KEYS", ",first-secret-0123456789,,second-secret-0123456789,"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->secrets.keys,
              ElementsAre("first-secret-0123456789", "second-secret-0123456789"));
}

TEST(EnvironmentTest, EmptyVariablesCountAsUnset) {
  const absl::StatusOr<Config> config =
      ParseConfig(kSecretsBlock, MapEnv({{"PASSGATE_SECRETS_KEYS", ""},
                                         {"PASSGATE_SECRETS_KEYS_FILE", ""},
                                         {"PASSGATE_DATABASE_URL", ""}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->secrets.keys, ElementsAre(kSecret));
  EXPECT_EQ(config->database.url, "sqlite://var/passgate.db");
}

TEST(EnvironmentTest, SecretsKeysFileHasOneSecretPerLine) {
  const std::string path = TempFile(
      "\nfirst-secret-0123456789\r\n   \nsecond-secret-0123456789\nthird-secret-0123456789");
  const absl::StatusOr<Config> config =
      ParseConfig("", MapEnv({{"PASSGATE_SECRETS_KEYS_FILE", path}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_THAT(config->secrets.keys,
              ElementsAre("first-secret-0123456789", "second-secret-0123456789",
                          "third-secret-0123456789"));
  ::unlink(path.c_str());
}

TEST(EnvironmentTest, UnreadableSecretsKeysFileNamesTheVariableAndPath) {
  const std::string path = ::testing::TempDir() + "/passgate_config_test_no_such_file";
  const absl::StatusOr<Config> config =
      ParseConfig(kSecretsBlock, MapEnv({{"PASSGATE_SECRETS_KEYS_FILE", path}}));
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith("PASSGATE_SECRETS_KEYS_FILE: cannot read \"" + path + "\""));
}

TEST(EnvironmentTest, EmptySecretsKeysFileIsAnError) {
  const std::string path = TempFile("\n\r\n");
  const absl::StatusOr<Config> config =
      ParseConfig(kSecretsBlock, MapEnv({{"PASSGATE_SECRETS_KEYS_FILE", path}}));
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith("PASSGATE_SECRETS_KEYS_FILE: no secrets in"));
  ::unlink(path.c_str());
}

TEST(EnvironmentTest, SecretsKeysAndKeysFileTogetherIsAnError) {
  const std::string path = TempFile("first-secret-0123456789\n");
  const absl::StatusOr<Config> config =
      ParseConfig(kSecretsBlock, MapEnv({{"PASSGATE_SECRETS_KEYS", "first-secret-0123456789"},
                                         {"PASSGATE_SECRETS_KEYS_FILE", path}}));
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()),
              StartsWith("PASSGATE_SECRETS_KEYS_FILE: cannot be combined with "
                         "PASSGATE_SECRETS_KEYS"));
  ::unlink(path.c_str());
}

TEST(ParseConfigTest, PostgresDatabaseSettings) {
  const absl::StatusOr<Config> config = ParseConfig(
      std::string(kSecretsBlock) +
          "database:\n"
          "  dialect: postgres\n"
          "  url: 'PostgreSQL://passgate@db.internal:5432/passgate?sslmode=verify-full'\n"
          "  password: from-the-file\n"
          "  max_connections: 12\n"
          "  pool_timeout: 2s\n"
          "  connect_timeout: 3s\n"
          "  query_timeout: 4s\n",
      MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->database.password, "from-the-file");
  EXPECT_EQ(config->database.max_connections, 12);
  EXPECT_EQ(config->database.pool_timeout, seconds(2));
  EXPECT_EQ(config->database.connect_timeout, seconds(3));
  EXPECT_EQ(config->database.query_timeout, seconds(4));
  const absl::StatusOr<Config> defaults =
      ParseConfig(std::string(kSecretsBlock) + "database: {url: 'postgres://h/d'}\n", MapEnv());
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_EQ(defaults->database.max_connections, 0) << "0 = hashing workers + 2";
  EXPECT_EQ(defaults->database.pool_timeout, seconds(5));
  EXPECT_EQ(defaults->database.connect_timeout, seconds(5));
  EXPECT_EQ(defaults->database.query_timeout, seconds(10));
}

TEST(EnvironmentTest, DatabasePasswordFromTheEnvironmentOverridesTheFile) {
  const absl::StatusOr<Config> config = ParseConfig(
      std::string(kSecretsBlock) + "database: {url: 'postgres://u@h/d', password: file-pw}\n",
      MapEnv({{"PASSGATE_DATABASE_PASSWORD", "env-pw"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->database.password, "env-pw");
}

TEST(EnvironmentTest, DatabaseUrlOverridesTheFileBeforeValidation) {
  // The file's URL would be rejected; the override is what gets validated.
  const absl::StatusOr<Config> config =
      ParseConfig(std::string(kSecretsBlock) + "database: {url: 'mysql://u:p@h/d'}\n",
                  MapEnv({{"PASSGATE_DATABASE_URL", "sqlite:///srv/passgate.db"}}));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->database.url, "sqlite:///srv/passgate.db");
}

TEST(EnvironmentTest, RedisPasswordOverridesTheFile) {
  const std::string yaml = std::string(kSecretsBlock) +
                           "rate_limiter: {store: redis, redis_config: {address: 'redis:6379', "
                           "password: from-the-file}}\n";
  const absl::StatusOr<Config> overridden =
      ParseConfig(yaml, MapEnv({{"PASSGATE_REDIS_PASSWORD", "from-the-environment"}}));
  ASSERT_TRUE(overridden.ok()) << overridden.status();
  EXPECT_EQ(overridden->rate_limiter.redis.password, "from-the-environment");

  const absl::StatusOr<Config> empty_env =
      ParseConfig(yaml, MapEnv({{"PASSGATE_REDIS_PASSWORD", ""}}));
  ASSERT_TRUE(empty_env.ok()) << empty_env.status();
  EXPECT_EQ(empty_env->rate_limiter.redis.password, "from-the-file");

  const absl::StatusOr<Config> env_only = ParseConfig(
      std::string(kSecretsBlock) +
          "rate_limiter: {store: redis, redis_config: {address: 'redis:6379'}}\n",
      MapEnv({{"PASSGATE_REDIS_PASSWORD", "from-the-environment"}}));
  ASSERT_TRUE(env_only.ok()) << env_only.status();
  EXPECT_EQ(env_only->rate_limiter.redis.password, "from-the-environment");
}

TEST(EnvironmentTest, ProcessEnvReadsTheRealEnvironment) {
  ::setenv("PASSGATE_CONFIG_TEST_VARIABLE", "value", 1);
  ::unsetenv("PASSGATE_CONFIG_TEST_UNSET");
  const EnvLookup env = ProcessEnv();
  EXPECT_EQ(env("PASSGATE_CONFIG_TEST_VARIABLE"), "value");
  EXPECT_EQ(env("PASSGATE_CONFIG_TEST_UNSET"), std::nullopt);
  ::unsetenv("PASSGATE_CONFIG_TEST_VARIABLE");
}

// --- LoadConfigFile ---------------------------------------------------------------------------

TEST(LoadConfigFileTest, MissingFileIsNotFound) {
  const std::string path = ::testing::TempDir() + "/passgate_config_test_missing.yaml";
  const absl::StatusOr<Config> config = LoadConfigFile(path, MapEnv());
  ASSERT_EQ(config.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(config.status().message(), "config file " + path + ": not found");
}

TEST(LoadConfigFileTest, DirectoryIsInvalidArgument) {
  const absl::StatusOr<Config> config = LoadConfigFile(::testing::TempDir(), MapEnv());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LoadConfigFileTest, ReadsAndParsesTheFile) {
  const std::string path = TempFile(std::string(kSecretsBlock) + "session: {limit: 2}\n");
  const absl::StatusOr<Config> config = LoadConfigFile(path, MapEnv());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->session.limit, 2);
  ::unlink(path.c_str());
}

TEST(LoadConfigFileTest, ParseErrorsAreNotPrefixed) {
  const std::string path = TempFile(std::string(kSecretsBlock) + "session: {limit: 0}\n");
  const absl::StatusOr<Config> config = LoadConfigFile(path, MapEnv());
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), StartsWith("session.limit: "));
  ::unlink(path.c_str());
}

// --- ParseGoDuration --------------------------------------------------------------------------

TEST(ParseGoDurationTest, Valid) {
  const struct {
    const char* text;
    std::int64_t seconds;
  } kCases[] = {
      {"12h", 43200},
      {"1m", 60},
      {"1h30m", 5400},
      {"90s", 90},
      {"1h0m0s", 3600},
      {"1.5h", 5400},
      {"0.5h", 1800},
      {".5m", 30},
      {"2.m", 120},
      {"15h115m", 60900},
      {"0", 0},
      {"0s", 0},
      {"+1s", 1},
      {"1000ms", 1},
      {"2000000us", 2},
      {"1s1000ms", 2},
      {"3000000000ns", 3},
      {"1\xC2\xB5s999999000ns", 1},
      {"720h", 2592000},
      {"2562047h", 2562047LL * 3600},
  };
  for (const auto& c : kCases) {
    const absl::StatusOr<seconds> parsed = ParseGoDuration(c.text);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status();
    EXPECT_EQ(parsed->count(), c.seconds) << c.text;
  }
}

TEST(ParseGoDurationTest, Invalid) {
  for (const char* text : {"",         "12",          "12x",
                           "-1h",      "-0",          "h",
                           ".h",       ".",           "+",
                           "1.5s",     "1ms",         "1h30",
                           "1 h",      " 1h",         "1h ",
                           "1H",       "1d",          "99999999999999999999h",
                           "2562048h", "9223372037s", "9223372036854775807ns1s"}) {
    const absl::StatusOr<seconds> parsed = ParseGoDuration(text);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << '"' << text << '"';
    EXPECT_THAT(std::string(parsed.status().message()), StartsWith("invalid duration \"")) << text;
  }
}

TEST(ParseGoDurationTest, ErrorsSayWhy) {
  EXPECT_EQ(ParseGoDuration("12x").status().message(),
            "invalid duration \"12x\": unknown unit \"x\"");
  EXPECT_EQ(ParseGoDuration("12").status().message(), "invalid duration \"12\": missing unit");
  EXPECT_EQ(ParseGoDuration("1.5s").status().message(),
            "invalid duration \"1.5s\": not a whole number of seconds");
  EXPECT_EQ(ParseGoDuration("-1h").status().message(),
            "invalid duration \"-1h\": must not be negative");
  EXPECT_EQ(ParseGoDuration("99999999999999999999h").status().message(),
            "invalid duration \"99999999999999999999h\": out of range");
}

}  // namespace
}  // namespace passgate::server
