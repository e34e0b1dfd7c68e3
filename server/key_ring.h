#ifndef PASSGATE_SERVER_KEY_RING_H_
#define PASSGATE_SERVER_KEY_RING_H_

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "server/clock.h"
#include "storage/store.h"

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
  bool signing = false;  // the newest key, used for new tokens
};

// KeyRing holds the decrypted signing keys. The newest key signs; every key verifies.
// Thread-safe; signing and verifying take no lock (the key set is an immutable snapshot
// replaced atomically by Rotate).
class KeyRing {
 public:
  // Load decrypts every stored key and generates (and stores) new ones until there is one
  // per secret. kInvalidArgument for bad options; kFailedPrecondition when a stored key
  // cannot be decrypted with any secret (the message names `secrets.keys`).
  static absl::StatusOr<std::unique_ptr<KeyRing>> Load(storage::Store& store,
                                                       const KeyRingOptions& options,
                                                       const Clock& clock);
  ~KeyRing();
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;

  // Rotate generates, stores and starts signing with a new key; old keys keep verifying.
  // Returns the new key's id.
  absl::StatusOr<std::string> Rotate();

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
  KeyRing(storage::Store& store, KeyRingOptions options, const Clock& clock);

  storage::Store& store_;
  const KeyRingOptions options_;
  const Clock& clock_;
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::mutex rotate_mutex_;  // serializes Rotate calls; readers never take it
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_KEY_RING_H_
