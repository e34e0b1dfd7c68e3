#include "server/runtime.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/database_url.h"
#include "storage/sqlite_store.h"

namespace passgate::server {

absl::StatusOr<KeyRingOptions> KeyRingOptionsFrom(const Config& config) {
  absl::StatusOr<KeyAlgorithm> algorithm = ParseKeyAlgorithm(config.secrets.key_algorithm);
  if (!algorithm.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("secrets.key_algorithm: ", algorithm.status().message()));
  }
  KeyRingOptions options;
  options.algorithm = *algorithm;
  options.rsa_bits = config.secrets.rsa_bits;
  options.secrets = config.secrets.keys;
  return options;
}

Argon2idParams HashingParamsFrom(const Config& config) {
  return Argon2idParams{config.password.hashing.memory_kib, config.password.hashing.iterations};
}

SessionPolicy SessionPolicyFrom(const Config& config) {
  SessionPolicy policy;
  policy.lifespan = config.session.lifespan;
  policy.audience = config.session.audience;
  policy.issuer = config.session.issuer;
  policy.limit = static_cast<std::size_t>(config.session.limit);
  return policy;
}

absl::StatusOr<std::unique_ptr<Runtime>> OpenRuntime(const Config& config, RuntimeParts parts) {
  auto runtime = std::make_unique<Runtime>();
  runtime->config = config;

  absl::StatusOr<std::string> path = storage::SqlitePathFromUrl(config.database.url);
  if (!path.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("database.url: ", path.status().message()));
  }
  storage::SqliteOptions sqlite;
  sqlite.path = *path;
  sqlite.synchronous = config.database.synchronous;
  sqlite.busy_timeout_ms = config.database.busy_timeout_ms;
  absl::StatusOr<std::unique_ptr<storage::Store>> store = storage::OpenSqliteStore(sqlite);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("database ", *path, ": ", store.status().message()));
  }
  runtime->store = *std::move(store);

  if (parts.hasher) runtime->hasher = std::make_unique<Argon2idHasher>(HashingParamsFrom(config));
  if (parts.keys) {
    absl::StatusOr<KeyRingOptions> options = KeyRingOptionsFrom(config);
    if (!options.ok()) return options.status();
    absl::StatusOr<std::unique_ptr<KeyRing>> keys =
        KeyRing::Load(*runtime->store, *options, runtime->clock);
    if (!keys.ok()) return keys.status();
    runtime->keys = *std::move(keys);
  }
  return runtime;
}

}  // namespace passgate::server
