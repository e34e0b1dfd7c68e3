#include "server/password_hasher.h"

#include <crypt.h>
#include <sodium.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/status/status.h"
#include "server/sodium_init.h"

namespace passgate::server {
namespace {

constexpr std::string_view kArgon2idPrefix = "$argon2id$";

bool IsBcrypt(std::string_view hash) {
  return hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$");
}

unsigned long long OpsLimit(const Argon2idParams& params) { return params.iterations; }
std::size_t MemLimit(const Argon2idParams& params) {
  return static_cast<std::size_t>(params.memory_kib) * 1024;
}

// WipedString is a NUL-terminated copy of secret bytes, zeroed when it goes out of scope.
class WipedString {
 public:
  explicit WipedString(std::string_view bytes) : value_(bytes) {}
  ~WipedString() { sodium_memzero(value_.data(), value_.size()); }
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  const char* c_str() const { return value_.c_str(); }

 private:
  std::string value_;
};

bool VerifyArgon2id(std::string_view password, std::string_view stored_hash) {
  // libsodium reads the hash as a C string; an embedded NUL would make it check a prefix.
  if (stored_hash.find('\0') != std::string_view::npos) return false;
  const std::string hash(stored_hash);
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

bool VerifyBcrypt(std::string_view password, std::string_view stored_hash) {
  // crypt takes C strings: a password with a NUL cannot be what was hashed, and a hash with
  // a NUL is malformed.
  if (password.find('\0') != std::string_view::npos) return false;
  if (stored_hash.find('\0') != std::string_view::npos) return false;
  const WipedString phrase(password);
  const std::string setting(stored_hash);
  // struct crypt_data is about 32 KiB: too large for a worker's stack. make_unique
  // value-initializes it, which zeroes it as crypt_rn requires.
  auto data = std::make_unique<crypt_data>();
  const char* result = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  bool match = false;
  if (result != nullptr && result[0] != '*') {
    const std::string_view computed(result);
    match = computed.size() == stored_hash.size() &&
            sodium_memcmp(computed.data(), stored_hash.data(), computed.size()) == 0;
  }
  sodium_memzero(data.get(), sizeof(crypt_data));
  return match;
}

}  // namespace

Argon2idHasher::Argon2idHasher(Argon2idParams params) : params_(params) {
  EnsureSodium();
  // The dummy password is random so the dummy hash can never match anything users send.
  std::array<unsigned char, 32> random_password;
  randombytes_buf(random_password.data(), random_password.size());
  absl::StatusOr<std::string> dummy = Hash(std::string_view(
      reinterpret_cast<const char*>(random_password.data()), random_password.size()));
  sodium_memzero(random_password.data(), random_password.size());
  if (!dummy.ok()) {
    // Without a dummy hash an unknown user would be answered measurably faster. The
    // parameters were validated with the config, so this is memory exhaustion at start-up.
    std::fprintf(stderr, "passgate: cannot compute the Argon2id dummy hash (m=%u KiB, t=%u): %s\n",
                 params_.memory_kib, params_.iterations,
                 std::string(dummy.status().message()).c_str());
    std::abort();
  }
  dummy_hash_ = *std::move(dummy);
}

absl::StatusOr<std::string> Argon2idHasher::Hash(std::string_view password) const {
  EnsureSodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), OpsLimit(params_),
                            MemLimit(params_), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return absl::InternalError("argon2id: hashing failed (out of memory or invalid parameters)");
  }
  return std::string(out);
}

bool Argon2idHasher::Verify(std::string_view password, std::string_view stored_hash) const {
  EnsureSodium();
  if (stored_hash.starts_with(kArgon2idPrefix)) return VerifyArgon2id(password, stored_hash);
  if (IsBcrypt(stored_hash)) return VerifyBcrypt(password, stored_hash);
  return false;
}

bool Argon2idHasher::NeedsRehash(std::string_view stored_hash) const {
  if (!stored_hash.starts_with(kArgon2idPrefix)) return true;
  if (stored_hash.find('\0') != std::string_view::npos) return true;
  const std::string hash(stored_hash);
  return crypto_pwhash_str_needs_rehash(hash.c_str(), OpsLimit(params_), MemLimit(params_)) != 0;
}

void Argon2idHasher::DummyVerify(std::string_view password) const {
  EnsureSodium();
  // volatile keeps the compiler from discarding a call whose result nobody reads.
  volatile int result =
      crypto_pwhash_str_verify(dummy_hash_.c_str(), password.data(), password.size());
  static_cast<void>(result);
}

}  // namespace passgate::server
