// Fuzzes configuration parsing (server/config.*: ParseConfig, the YAML walk, environment
// overrides, Go durations and validation). The input is the YAML text; each input is parsed
// without environment and with PASSGATE_SECRETS_KEYS set to a sentinel secret (which gets
// past the secrets check and exercises the rest of validation).
//
// Invariants:
//   - no crash, hang or UB (yaml-cpp itself is not instrumented, but its results are used);
//   - either a Config or a kInvalidArgument error with a non-empty message that never
//     contains the secret;
//   - deterministic: the same text gives the same result twice (checked with the secret);
//   - a Config that parses keeps every promise of config.h/config.cc's Validate: secrets
//     present and >= 16 bytes, key algorithm and RSA size from their sets, durations >= 1s
//     (lifespan, timeouts, rate-limit intervals; shutdown grace >= 0), limits and sizes
//     within their documented ranges, normalized enums (same_site, synchronous), a
//     database URL the store layer accepts (sqlite:// with a path or postgres://, any case
//     of scheme), no leading dot in the cookie domain, TLS files in pairs.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/config.h"
#include "storage/database_url.h"
#include "tests/fuzz/json_oracle.h"

namespace {

using passgate::server::Config;
using passgate::server::EnvLookup;
using passgate::server::ParseConfig;
using std::chrono::seconds;

constexpr char kSentinel[] = "fuzz-sentinel-secret-7f3a9c";

EnvLookup Env(bool with_secret) {
  return [with_secret](std::string_view name) -> std::optional<std::string> {
    if (with_secret && name == "PASSGATE_SECRETS_KEYS") return std::string(kSentinel);
    return std::nullopt;
  };
}

bool In(long long value, long long min, long long max) { return value >= min && value <= max; }

// Fingerprint: the parsed values, to compare two parses of the same text.
std::string Fingerprint(const Config& c) {
  return absl::StrCat(
      absl::StrJoin(c.secrets.keys, "|"), ";", c.secrets.key_algorithm, ";", c.secrets.rsa_bits,
      ";", c.session.lifespan.count(), ";", absl::StrJoin(c.session.audience, "|"), ";",
      c.session.issuer, ";", c.session.limit, ";", c.session.cookie.name, ";",
      c.session.cookie.domain, ";", c.session.cookie.same_site, ";", c.password.min_length, ";",
      c.password.hashing.memory_kib, ";", c.password.import.bcrypt_max_cost, ";",
      c.password.import.argon2_max_memory_kib, ";", c.password.import.batch_size, ";", c.database.url, ";", c.database.synchronous, ";",
      c.grpc.address, ";", c.public_api.address, ";", c.public_api.max_body_bytes, ";",
      c.rate_limiter.password_limits.tokens, ";", c.rate_limiter.password_limits.interval.count(),
      ";", absl::StrJoin(c.ignored_keys, "|"));
}

void CheckValid(const Config& c) {
  PASSGATE_FUZZ_CHECK(!c.secrets.keys.empty());
  for (const std::string& key : c.secrets.keys) PASSGATE_FUZZ_CHECK(key.size() >= 16);
  const std::string& alg = c.secrets.key_algorithm;
  PASSGATE_FUZZ_CHECK(alg == "RS256" || alg == "ES256" || alg == "EdDSA");
  PASSGATE_FUZZ_CHECK(c.secrets.rsa_bits == 2048 || c.secrets.rsa_bits == 3072 ||
                      c.secrets.rsa_bits == 4096);

  PASSGATE_FUZZ_CHECK(c.session.lifespan >= seconds(1));
  PASSGATE_FUZZ_CHECK(c.session.limit >= 1);
  PASSGATE_FUZZ_CHECK(!c.session.audience.empty());
  for (const std::string& audience : c.session.audience) PASSGATE_FUZZ_CHECK(!audience.empty());
  PASSGATE_FUZZ_CHECK(!c.session.cookie.name.empty());
  PASSGATE_FUZZ_CHECK(!c.session.cookie.domain.starts_with("."));
  PASSGATE_FUZZ_CHECK(c.session.cookie.domain.find_first_of(" ;,") == std::string::npos);
  const std::string& same_site = c.session.cookie.same_site;
  PASSGATE_FUZZ_CHECK(same_site == "strict" || same_site == "lax" || same_site == "none");

  PASSGATE_FUZZ_CHECK(In(c.password.min_length, 1, 72));
  PASSGATE_FUZZ_CHECK(In(c.password.hashing.memory_kib, 8, 4194304));
  PASSGATE_FUZZ_CHECK(In(c.password.hashing.iterations, 1, 1024));
  PASSGATE_FUZZ_CHECK(In(c.password.hashing.workers, 0, 1024));
  PASSGATE_FUZZ_CHECK(In(c.password.hashing.queue, 0, 65536));
  PASSGATE_FUZZ_CHECK(In(c.password.import.bcrypt_max_cost, 4, 31));
  PASSGATE_FUZZ_CHECK(In(c.password.import.argon2_max_memory_kib, 8, 4194304));
  PASSGATE_FUZZ_CHECK(In(c.password.import.argon2_max_iterations, 1, 1024));
  PASSGATE_FUZZ_CHECK(In(c.password.import.argon2_max_parallelism, 1, 255));
  PASSGATE_FUZZ_CHECK(In(c.password.import.batch_size, 1, 100000));

  PASSGATE_FUZZ_CHECK(c.database.synchronous == "full" || c.database.synchronous == "normal");
  PASSGATE_FUZZ_CHECK(c.database.busy_timeout_ms >= 0);
  // The scheme is case-insensitive (RFC 3986) and may name PostgreSQL; whatever the config
  // accepted must be a URL the store layer can open.
  PASSGATE_FUZZ_CHECK(passgate::storage::DatabaseBackendFromUrl(c.database.url).ok());

  PASSGATE_FUZZ_CHECK(!c.grpc.address.empty() && !c.public_api.address.empty() &&
                      !c.public_api.upstream_address.empty());
  PASSGATE_FUZZ_CHECK(c.grpc.shutdown_grace >= seconds(0));
  PASSGATE_FUZZ_CHECK(c.public_api.read_timeout >= seconds(1));
  PASSGATE_FUZZ_CHECK(c.public_api.idle_timeout >= seconds(1));
  PASSGATE_FUZZ_CHECK(c.public_api.upstream_deadline >= seconds(1));
  PASSGATE_FUZZ_CHECK(In(c.public_api.max_body_bytes, 1, 1048576));
  PASSGATE_FUZZ_CHECK(In(c.public_api.max_header_bytes, 1024, 65536));
  PASSGATE_FUZZ_CHECK(c.public_api.max_connections >= 1);
  PASSGATE_FUZZ_CHECK(In(c.public_api.threads, 1, 64));
  for (const Config::Tls* tls : {&c.grpc.tls, &c.public_api.tls, &c.public_api.upstream_tls}) {
    PASSGATE_FUZZ_CHECK(tls->cert_file.empty() == tls->key_file.empty());
  }
  PASSGATE_FUZZ_CHECK(c.grpc.tls.client_ca_file.empty() || !c.grpc.tls.cert_file.empty());

  PASSGATE_FUZZ_CHECK(c.audit_log.console_output == "stdout" ||
                      c.audit_log.console_output == "stderr");
  PASSGATE_FUZZ_CHECK(c.rate_limiter.store == "in_memory");
  PASSGATE_FUZZ_CHECK(c.rate_limiter.max_keys >= 1000);
  for (const Config::Limit* limit : {&c.rate_limiter.password_limits, &c.rate_limiter.ip_limits,
                                     &c.rate_limiter.user_limits}) {
    PASSGATE_FUZZ_CHECK(limit->interval >= seconds(1));
  }
}

// Check parses `text` (twice when `twice`, to check determinism; yaml-cpp is the slow part)
// and checks the result.
void Check(std::string_view text, bool with_secret, bool twice) {
  const absl::StatusOr<Config> first = ParseConfig(text, Env(with_secret));
  if (twice) {
    const absl::StatusOr<Config> second = ParseConfig(text, Env(with_secret));
    PASSGATE_FUZZ_CHECK(first.ok() == second.ok());
    PASSGATE_FUZZ_CHECK(first.status().message() == second.status().message());
    if (first.ok()) PASSGATE_FUZZ_CHECK(Fingerprint(*first) == Fingerprint(*second));
  }
  if (!first.ok()) {
    PASSGATE_FUZZ_CHECK(first.status().code() == absl::StatusCode::kInvalidArgument);
    PASSGATE_FUZZ_CHECK(!first.status().message().empty());
    // Unless the text holds it itself (libFuzzer copies compared strings into inputs), where
    // quoting a bad value would be right.
    if (!absl::StrContains(absl::string_view(text.data(), text.size()), kSentinel)) {
      PASSGATE_FUZZ_CHECK(!absl::StrContains(first.status().message(), kSentinel));
    }
    return;
  }
  CheckValid(*first);
  if (with_secret) {
    PASSGATE_FUZZ_CHECK(first->secrets.keys.size() == 1 && first->secrets.keys[0] == kSentinel);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16384) return 0;  // config files are small; keeps yaml-cpp's recursion bounded
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Check(text, /*with_secret=*/false, /*twice=*/false);
  Check(text, /*with_secret=*/true, /*twice=*/true);
  return 0;
}
