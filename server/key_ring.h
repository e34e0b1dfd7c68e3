#ifndef PASSGATE_SERVER_KEY_RING_H_
#define PASSGATE_SERVER_KEY_RING_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "server/clock.h"
#include "storage/key_store.h"

namespace passgate::server {

enum class KeyAlgorithm { kRS256, kES256, kEdDSA };

// KeyAlgorithmName returns the JOSE name: "RS256", "ES256" or "EdDSA".
std::string_view KeyAlgorithmName(KeyAlgorithm algorithm);
// ParseKeyAlgorithm accepts exactly the JOSE names; kInvalidArgument otherwise.
absl::StatusOr<KeyAlgorithm> ParseKeyAlgorithm(std::string_view name);

struct KeyRingOptions {
  // Algorithm of newly generated keys. Default: RS256 (what Hanko and its SDKs expect).
  KeyAlgorithm algorithm = KeyAlgorithm::kRS256;
  // RSA modulus size for new RS256 keys. Default: 2048. REQUIRES: 2048, 3072 or 4096.
  int rsa_bits = 2048;
  // secrets.keys: the first secret encrypts keys at rest; every secret is tried when
  // decrypting, so a new secret can be put first while old keys stay readable.
  // One signing key is generated per secret when fewer are stored.
  // REQUIRES: non-empty, each at least 16 bytes.
  std::vector<std::string> secrets;
  // How long after Rotate the new key starts signing. Until then it is published (JWKS) and
  // verifies, so every replica (which refreshes its ring periodically) and every JWKS consumer
  // has it before the first token it signs. Keys made for an empty store sign at once (no
  // token exists yet). Default: 0 (at once). REQUIRES: >= 0.
  std::chrono::seconds activation_delay{0};
};

// KeyRefreshReport says what one KeyRing::Refresh found.
struct KeyRefreshReport {
  int added = 0;                     // keys new to this ring
  std::vector<std::string> skipped;  // kids no secret of this replica decrypts
};

// PublicJwk is the public half of one key as published in the JWKS (RFC 7517/7518/8037).
// Members that do not apply to the key type are empty.
struct PublicJwk {
  std::string kid, kty, alg, use = "sig";
  std::string n, e;      // RSA
  std::string crv, x, y; // EC (P-256) and OKP (Ed25519; no y)
};

struct KeyInfo {
  std::string kid;
  std::string algorithm;
  storage::TimePoint created_at;
  storage::TimePoint activates_at;  // signing starts then (published before)
  bool signing = false;  // the key used for new tokens now
};

// KeyRing holds the decrypted signing keys. The newest key whose activation time has come
// signs; every key verifies and is published. Several replicas share the keys through the
// store: each refreshes its ring periodically (Refresh, see KeyRefresher) and at once when a
// token names a kid it does not know (at most once a second, so forged kids cannot turn into
// a database load). Thread-safe; signing and verifying take no lock on the hot path (the key
// set is an immutable snapshot replaced atomically).
class KeyRing {
 public:
  // Load decrypts every stored key and generates (and stores) new ones until there is one
  // per secret. Generation is decided under the store's lock (KeyStore::AddKeyIfFewer), so
  // replicas starting at once on an empty database end up with the same keys: a replica
  // whose candidate was refused uses what the others stored. kInvalidArgument for bad
  // options; kFailedPrecondition when a stored key cannot be decrypted with any secret (the
  // message names `secrets.keys`).
  static absl::StatusOr<std::unique_ptr<KeyRing>> Load(storage::KeyStore& store,
                                                       const KeyRingOptions& options,
                                                       const Clock& clock);
  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // Rotate generates and stores a new key, published at once and signing after
  // options.activation_delay (`activation_delay` overrides it when given, e.g. 0 after a
  // key compromise); old keys keep verifying. Returns the new key's id.
  absl::StatusOr<std::string> Rotate(std::optional<std::chrono::seconds> activation_delay = {});

  // Refresh reloads the key list from the store: keys other replicas added (rotations) join
  // the ring. A key no secret decrypts is skipped and reported (tokens it signs will not
  // verify here). Errors: the store's.
  absl::StatusOr<KeyRefreshReport> Refresh();

  // SignJwt returns a compact JWS of `claims` signed by the newest key, with the header
  // {"alg":<alg>,"kid":<kid>,"typ":"JWT"} (members in this order).
  absl::StatusOr<std::string> SignJwt(const nlohmann::json& claims) const;

  // VerifyJwt checks the compact JWS: three base64url parts, a JSON header whose `kid`
  // names a known key and whose `alg` equals that key's algorithm (pinned; "none" and
  // algorithm confusion are rejected), and the signature. Returns the payload object.
  // kUnauthenticated for every kind of bad token. Does not check claims.
  absl::StatusOr<nlohmann::json> VerifyJwt(std::string_view token) const;

  // PublicKeys returns every key's public half, newest first.
  std::vector<PublicJwk> PublicKeys() const;

  // Keys lists id, algorithm and age of every key, newest first.
  std::vector<KeyInfo> Keys() const;

 private:
  struct Snapshot;
  KeyRing(storage::KeyStore& store, KeyRingOptions options, const Clock& clock);

  absl::StatusOr<KeyRefreshReport> RefreshLocked() const;
  // RefreshForUnknownKid refreshes unless another thread already did since `seen` was read
  // or the last refresh is under a second old; returns the snapshot to look in again.
  std::shared_ptr<const Snapshot> RefreshForUnknownKid(
      const std::shared_ptr<const Snapshot>& seen) const;

  storage::KeyStore& store_;
  const KeyRingOptions options_;
  const Clock& clock_;
  mutable std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  // Serializes Rotate and Refresh (writers of snapshot_); readers never take it.
  mutable std::mutex write_mutex_;
  mutable std::chrono::steady_clock::time_point last_refresh_;  // guarded by write_mutex_
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_KEY_RING_H_
