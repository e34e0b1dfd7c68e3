#ifndef PASSGATE_SERVER_PASSWORD_HASHER_H_
#define PASSGATE_SERVER_PASSWORD_HASHER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace passgate::server {

// Argon2idParams: the cost of a new hash. Parallelism is always 1 (libsodium's only choice).
struct Argon2idParams {
  // Memory in KiB. Default: 19456 (19 MiB, OWASP). REQUIRES: 8 <= memory_kib <= 4194304.
  std::uint32_t memory_kib = 19456;
  // Passes. Default: 2 (OWASP). REQUIRES: 1 <= iterations <= 1024.
  std::uint32_t iterations = 2;
};

// PasswordHasher hashes new passwords and verifies stored hashes. Implementations are
// thread-safe and compare in constant time.
class PasswordHasher {
 public:
  virtual ~PasswordHasher() = default;

  // Hash returns a new PHC-format hash of `password`. kInternal when memory runs out.
  virtual absl::StatusOr<std::string> Hash(std::string_view password) const = 0;

  // Verify returns true only when `stored_hash` is well formed and matches `password`.
  // A malformed or unsupported stored hash returns false (never crashes).
  virtual bool Verify(std::string_view password, std::string_view stored_hash) const = 0;

  // NeedsRehash returns true when `stored_hash` is not an Argon2id hash with the configured
  // parameters (e.g. an imported bcrypt hash or an older cost).
  virtual bool NeedsRehash(std::string_view stored_hash) const = 0;

  // DummyVerify does the full work of one Verify with the configured parameters and throws
  // the result away, so an unknown user costs what a wrong password costs.
  virtual void DummyVerify(std::string_view password) const = 0;
};

// Argon2idHasher stores Argon2id (libsodium crypto_pwhash_str*) and also verifies bcrypt
// `$2a$`, `$2b$` and `$2y$` hashes (libxcrypt crypt_rn) imported from Hanko.
class Argon2idHasher final : public PasswordHasher {
 public:
  // The constructor computes the dummy hash DummyVerify checks against (one hash's cost).
  explicit Argon2idHasher(Argon2idParams params);

  absl::StatusOr<std::string> Hash(std::string_view password) const override;
  bool Verify(std::string_view password, std::string_view stored_hash) const override;
  bool NeedsRehash(std::string_view stored_hash) const override;
  void DummyVerify(std::string_view password) const override;

  const Argon2idParams& params() const { return params_; }

 private:
  Argon2idParams params_;
  std::string dummy_hash_;
};

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_PASSWORD_HASHER_H_
