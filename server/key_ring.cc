#include "server/key_ring.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/jose.h"
#include "server/sodium_init.h"

namespace passgate::server {
namespace {

// Tokens are a few hundred bytes; the cap bounds the work an attacker can ask for.
constexpr std::size_t kMaxTokenBytes = 16 * 1024;
constexpr std::size_t kEs256ComponentBytes = 32;
constexpr std::size_t kEd25519SignatureBytes = 64;

// Domain separation for the at-rest key: BLAKE2b personalization, exactly 16 bytes.
constexpr char kKeyPersonalization[] = "passgate.jwk.v1";
static_assert(sizeof(kKeyPersonalization) == crypto_generichash_blake2b_PERSONALBYTES);
constexpr std::size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kAeadKeyBytes = crypto_aead_xchacha20poly1305_ietf_KEYBYTES;
static_assert(kAeadKeyBytes <= crypto_generichash_blake2b_BYTES_MAX);

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct BignumDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct Pkcs8Deleter {
  void operator()(PKCS8_PRIV_KEY_INFO* p8) const { PKCS8_PRIV_KEY_INFO_free(p8); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;
using Pkcs8Ptr = std::unique_ptr<PKCS8_PRIV_KEY_INFO, Pkcs8Deleter>;

// SecretBytes holds private key material and zeroes it when it goes out of scope. A heap
// buffer (not std::string, whose short-string buffer a move would copy) so a move leaves
// no copy behind.
class SecretBytes {
 public:
  explicit SecretBytes(std::size_t size)
      : data_(std::make_unique<unsigned char[]>(size)), size_(size) {}
  ~SecretBytes() { Wipe(); }
  SecretBytes(SecretBytes&& other) noexcept
      : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    Wipe();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  unsigned char* data() { return data_.get(); }
  const unsigned char* data() const { return data_.get(); }
  std::size_t size() const { return size_; }
  // Shrink forgets the tail after zeroing it; the buffer itself is not reallocated.
  void Shrink(std::size_t size) {
    if (size >= size_) return;
    sodium_memzero(data_.get() + size, size_ - size);
    size_ = size;
  }

 private:
  void Wipe() {
    if (data_ != nullptr) sodium_memzero(data_.get(), size_);
  }
  std::unique_ptr<unsigned char[]> data_;
  std::size_t size_;
};

// A decrypted key and everything that can be computed once for it.
struct LoadedKey {
  std::string kid;
  KeyAlgorithm algorithm = KeyAlgorithm::kRS256;
  PkeyPtr pkey;  // only read after construction; OpenSSL allows concurrent readers
  // Contexts initialised once for RS256/ES256 (null for EdDSA); each call works on a copy.
  // OpenSSL 3 fetches the digest and signature implementations from its provider store on
  // every *Init; copying a ready context skips that lookup (see NewSignatureContext).
  MdCtxPtr sign_template;
  MdCtxPtr verify_template;
  storage::TimePoint created_at;
  storage::TimePoint activates_at;
  PublicJwk jwk;
  std::string header_b64;  // base64url of {"alg":…,"kid":…,"typ":"JWT"}
};

absl::Status Unauthorized() { return absl::UnauthenticatedError("Unauthorized"); }

// NewKid returns a random UUID v4 in lowercase canonical form.
std::string NewKid() {
  std::array<unsigned char, 16> b;
  randombytes_buf(b.data(), b.size());
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0f]);
  }
  return out;
}

std::string AssociatedData(std::string_view kid, std::string_view algorithm) {
  std::string ad(kid);
  ad += '|';
  ad += algorithm;
  return ad;
}

// DeriveAeadKey hashes a secret from secrets.keys into the XChaCha20-Poly1305 key.
SecretBytes DeriveAeadKey(std::string_view secret) {
  SecretBytes key(kAeadKeyBytes);
  crypto_generichash_blake2b_salt_personal(
      key.data(), key.size(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
      /*key=*/nullptr, 0, /*salt=*/nullptr,
      reinterpret_cast<const unsigned char*>(kKeyPersonalization));
  return key;
}

// Encrypt returns nonce || AEAD(plaintext), bound to the key's id and algorithm.
std::string Encrypt(const SecretBytes& plaintext, std::string_view secret, std::string_view kid,
                    std::string_view algorithm) {
  const SecretBytes key = DeriveAeadKey(secret);
  const std::string ad = AssociatedData(kid, algorithm);
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long ciphertext_len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonceBytes, &ciphertext_len, plaintext.data(),
                                             plaintext.size(),
                                             reinterpret_cast<const unsigned char*>(ad.data()),
                                             ad.size(), /*nsec=*/nullptr, nonce, key.data());
  out.resize(kNonceBytes + ciphertext_len);
  return out;
}

// Decrypt tries every secret in order; nullopt when none authenticates the ciphertext.
std::optional<SecretBytes> Decrypt(std::string_view ciphertext,
                                   const std::vector<std::string>& secrets, std::string_view kid,
                                   std::string_view algorithm) {
  if (ciphertext.size() < kNonceBytes + kTagBytes) return std::nullopt;
  const auto* nonce = reinterpret_cast<const unsigned char*>(ciphertext.data());
  const std::string ad = AssociatedData(kid, algorithm);
  for (const std::string& secret : secrets) {
    const SecretBytes key = DeriveAeadKey(secret);
    SecretBytes plaintext(ciphertext.size() - kNonceBytes - kTagBytes);
    unsigned long long plaintext_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            plaintext.data(), &plaintext_len, /*nsec=*/nullptr, nonce + kNonceBytes,
            ciphertext.size() - kNonceBytes, reinterpret_cast<const unsigned char*>(ad.data()),
            ad.size(), nonce, key.data()) == 0) {
      plaintext.Shrink(static_cast<std::size_t>(plaintext_len));
      return plaintext;
    }
  }
  return std::nullopt;
}

absl::StatusOr<SecretBytes> EncodePrivateKey(EVP_PKEY* pkey) {
  Pkcs8Ptr p8(EVP_PKEY2PKCS8(pkey));
  if (p8 == nullptr) {
    ERR_clear_error();
    return absl::InternalError("signing key: cannot encode the private key as PKCS#8");
  }
  unsigned char* der = nullptr;
  const int der_len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
  if (der_len <= 0) {
    ERR_clear_error();
    return absl::InternalError("signing key: cannot encode the private key as PKCS#8");
  }
  SecretBytes out(static_cast<std::size_t>(der_len));
  std::copy_n(der, der_len, out.data());
  OPENSSL_clear_free(der, static_cast<std::size_t>(der_len));
  return out;
}

bool HasAlgorithmType(EVP_PKEY* pkey, KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kRS256:
      return EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bits(pkey) >= 2048;
    case KeyAlgorithm::kES256: {
      if (!EVP_PKEY_is_a(pkey, "EC")) return false;
      char group[64] = {};
      std::size_t group_len = 0;
      if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                         &group_len) != 1) {
        return false;
      }
      return std::string_view(group, group_len) == "prime256v1";
    }
    case KeyAlgorithm::kEdDSA:
      return EVP_PKEY_is_a(pkey, "ED25519");
  }
  return false;
}

// DecodePrivateKey parses PKCS#8 DER and checks that it is a key for `algorithm`.
PkeyPtr DecodePrivateKey(const SecretBytes& der, KeyAlgorithm algorithm) {
  const unsigned char* p = der.data();
  Pkcs8Ptr p8(d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der.size())));
  if (p8 == nullptr || p != der.data() + der.size()) {
    ERR_clear_error();
    return nullptr;
  }
  PkeyPtr pkey(EVP_PKCS82PKEY(p8.get()));
  if (pkey == nullptr || !HasAlgorithmType(pkey.get(), algorithm)) {
    ERR_clear_error();
    return nullptr;
  }
  return pkey;
}

absl::StatusOr<PkeyPtr> GenerateKey(KeyAlgorithm algorithm, int rsa_bits) {
  PkeyPtr pkey;
  switch (algorithm) {
    case KeyAlgorithm::kRS256:
      // The default public exponent is 65537.
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_bits)));
      break;
    case KeyAlgorithm::kES256:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
      break;
    case KeyAlgorithm::kEdDSA:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
      break;
  }
  if (pkey == nullptr) {
    ERR_clear_error();
    return absl::InternalError(absl::StrCat("signing key: cannot generate a ",
                                            std::string(KeyAlgorithmName(algorithm)), " key"));
  }
  return pkey;
}

std::optional<std::string> BignumParam(EVP_PKEY* pkey, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  BignumPtr bn(raw);
  const int size = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::string out(static_cast<std::size_t>(size), '\0');
  auto* buf = reinterpret_cast<unsigned char*>(out.data());
  if (pad_to > 0 ? BN_bn2binpad(bn.get(), buf, size) != size : BN_bn2bin(bn.get(), buf) != size) {
    return std::nullopt;
  }
  return out;
}

std::optional<PublicJwk> MakePublicJwk(const std::string& kid, KeyAlgorithm algorithm,
                                       EVP_PKEY* pkey) {
  PublicJwk jwk;
  jwk.kid = kid;
  jwk.alg = std::string(KeyAlgorithmName(algorithm));
  switch (algorithm) {
    case KeyAlgorithm::kRS256: {
      // RFC 7518 §6.3.1: unsigned big-endian, no leading zero octets.
      std::optional<std::string> n = BignumParam(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
      std::optional<std::string> e = BignumParam(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
      if (!n || !e) return std::nullopt;
      jwk.kty = "RSA";
      jwk.n = Base64UrlEncode(*n);
      jwk.e = Base64UrlEncode(*e);
      break;
    }
    case KeyAlgorithm::kES256: {
      // RFC 7518 §6.2.1.2: coordinates are the full field size, 32 bytes for P-256.
      const int size = static_cast<int>(kEs256ComponentBytes);
      std::optional<std::string> x = BignumParam(pkey, OSSL_PKEY_PARAM_EC_PUB_X, size);
      std::optional<std::string> y = BignumParam(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, size);
      if (!x || !y) return std::nullopt;
      jwk.kty = "EC";
      jwk.crv = "P-256";
      jwk.x = Base64UrlEncode(*x);
      jwk.y = Base64UrlEncode(*y);
      break;
    }
    case KeyAlgorithm::kEdDSA: {
      std::size_t len = 0;
      if (EVP_PKEY_get_raw_public_key(pkey, nullptr, &len) != 1) return std::nullopt;
      std::string x(len, '\0');
      if (EVP_PKEY_get_raw_public_key(pkey, reinterpret_cast<unsigned char*>(x.data()), &len) !=
          1) {
        ERR_clear_error();
        return std::nullopt;
      }
      x.resize(len);
      jwk.kty = "OKP";
      jwk.crv = "Ed25519";
      jwk.x = Base64UrlEncode(x);
      break;
    }
  }
  return jwk;
}

absl::StatusOr<std::shared_ptr<const LoadedKey>> MakeLoadedKey(std::string kid,
                                                               KeyAlgorithm algorithm, PkeyPtr pkey,
                                                               storage::TimePoint created_at,
                                                               storage::TimePoint activates_at) {
  std::optional<PublicJwk> jwk = MakePublicJwk(kid, algorithm, pkey.get());
  if (!jwk) {
    return absl::InternalError(absl::StrCat("signing key ", kid, ": cannot read the public key"));
  }
  auto key = std::make_shared<LoadedKey>();
  // nlohmann::json sorts object members, which yields exactly alg, kid, typ.
  const nlohmann::json header = {
      {"alg", KeyAlgorithmName(algorithm)}, {"kid", kid}, {"typ", "JWT"}};
  key->header_b64 = Base64UrlEncode(header.dump());
  key->kid = std::move(kid);
  key->algorithm = algorithm;
  key->pkey = std::move(pkey);
  if (algorithm != KeyAlgorithm::kEdDSA) {
    key->sign_template.reset(EVP_MD_CTX_new());
    key->verify_template.reset(EVP_MD_CTX_new());
    if (key->sign_template == nullptr || key->verify_template == nullptr ||
        EVP_DigestSignInit(key->sign_template.get(), nullptr, EVP_sha256(), nullptr,
                           key->pkey.get()) != 1 ||
        EVP_DigestVerifyInit(key->verify_template.get(), nullptr, EVP_sha256(), nullptr,
                             key->pkey.get()) != 1) {
      ERR_clear_error();
      return absl::InternalError(absl::StrCat("signing key ", key->kid, ": cannot use the key"));
    }
  }
  key->created_at = created_at;
  key->activates_at = activates_at;
  key->jwk = *std::move(jwk);
  return key;
}

// GeneratedKey is a new key: the row to store and the key ready to use.
struct GeneratedKey {
  storage::StoredKey row;
  std::shared_ptr<const LoadedKey> key;
};

// GenerateKeyRow creates a key encrypted with the first secret; the caller stores it.
absl::StatusOr<GeneratedKey> GenerateKeyRow(const KeyRingOptions& options,
                                            storage::TimePoint created_at,
                                            storage::TimePoint activates_at) {
  absl::StatusOr<PkeyPtr> pkey = GenerateKey(options.algorithm, options.rsa_bits);
  if (!pkey.ok()) return pkey.status();
  absl::StatusOr<SecretBytes> der = EncodePrivateKey(pkey->get());
  if (!der.ok()) return der.status();
  GeneratedKey out;
  out.row.id = NewKid();
  out.row.algorithm = std::string(KeyAlgorithmName(options.algorithm));
  out.row.ciphertext = Encrypt(*der, options.secrets.front(), out.row.id, out.row.algorithm);
  out.row.created_at = created_at;
  out.row.activates_at = activates_at;
  absl::StatusOr<std::shared_ptr<const LoadedKey>> key =
      MakeLoadedKey(out.row.id, options.algorithm, *std::move(pkey), created_at, activates_at);
  if (!key.ok()) return key.status();
  out.key = *std::move(key);
  return out;
}

// DecryptStoredKey turns a stored row back into a usable key. kFailedPrecondition when no
// secret decrypts it or it is not a key of its algorithm.
absl::StatusOr<std::shared_ptr<const LoadedKey>> DecryptStoredKey(const storage::StoredKey& row,
                                                                  const KeyRingOptions& options) {
  absl::StatusOr<KeyAlgorithm> algorithm = ParseKeyAlgorithm(row.algorithm);
  if (!algorithm.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("stored signing key ", row.id, " has an unknown algorithm"));
  }
  std::optional<SecretBytes> der = Decrypt(row.ciphertext, options.secrets, row.id, row.algorithm);
  if (!der) {
    return absl::FailedPreconditionError(
        absl::StrCat("secrets.keys: cannot decrypt stored signing key ", row.id,
                     "; was the first secret changed?"));
  }
  PkeyPtr pkey = DecodePrivateKey(*der, *algorithm);
  if (pkey == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "stored signing key ", row.id, " is not a valid ", row.algorithm, " private key"));
  }
  return MakeLoadedKey(row.id, *algorithm, std::move(pkey), row.created_at, row.activates_at);
}

// NextCreatedAt never goes back in time, so the store's order (by created_at) stays the
// order in which keys were made even if the wall clock steps backwards.
storage::TimePoint NextCreatedAt(const Clock& clock,
                                 const std::vector<std::shared_ptr<const LoadedKey>>& keys) {
  const storage::TimePoint now = clock.Now();
  if (keys.empty()) return now;
  return std::max(now, keys.back()->created_at);
}

// NewSignatureContext returns a context ready for one EVP_DigestSign (sign) or
// EVP_DigestVerify: a copy of the key's template where it has one (copying only reads the
// template, so threads share it), else freshly initialised (EdDSA: no digest). Null on error.
MdCtxPtr NewSignatureContext(const LoadedKey& key, bool sign) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return nullptr;
  const EVP_MD_CTX* ready = sign ? key.sign_template.get() : key.verify_template.get();
  const bool ok =
      ready != nullptr ? EVP_MD_CTX_copy_ex(ctx.get(), ready) == 1
      : sign ? EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey.get()) == 1
             : EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey.get()) == 1;
  return ok ? std::move(ctx) : nullptr;
}

absl::StatusOr<std::string> Sign(const LoadedKey& key, std::string_view input) {
  MdCtxPtr ctx = NewSignatureContext(key, /*sign=*/true);
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  std::size_t sig_len = 0;
  if (ctx == nullptr || EVP_DigestSign(ctx.get(), nullptr, &sig_len, data, input.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("jwt: signing failed");
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len, data,
                     input.size()) != 1) {
    ERR_clear_error();
    return absl::InternalError("jwt: signing failed");
  }
  sig.resize(sig_len);
  if (key.algorithm == KeyAlgorithm::kES256) {
    std::optional<std::string> raw = EcdsaDerToRaw(sig, kEs256ComponentBytes);
    if (!raw) return absl::InternalError("jwt: signing failed");
    return *std::move(raw);
  }
  return sig;
}

bool VerifySignature(const LoadedKey& key, std::string_view input, std::string_view sig) {
  std::string der;
  switch (key.algorithm) {
    case KeyAlgorithm::kRS256:
      if (sig.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key.pkey.get()))) {
        return false;
      }
      break;
    case KeyAlgorithm::kES256: {
      std::optional<std::string> converted = EcdsaRawToDer(sig, kEs256ComponentBytes);
      if (!converted) return false;
      der = *std::move(converted);
      sig = der;
      break;
    }
    case KeyAlgorithm::kEdDSA:
      if (sig.size() != kEd25519SignatureBytes) return false;
      break;
  }
  MdCtxPtr ctx = NewSignatureContext(key, /*sign=*/false);
  const bool ok =
      ctx != nullptr &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

absl::Status ValidateOptions(const KeyRingOptions& options) {
  if (options.secrets.empty()) {
    return absl::InvalidArgumentError("secrets.keys: at least one secret is required");
  }
  for (std::size_t i = 0; i < options.secrets.size(); ++i) {
    if (options.secrets[i].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("secrets.keys: secret #", i + 1, " is shorter than 16 bytes"));
    }
  }
  if (options.rsa_bits != 2048 && options.rsa_bits != 3072 && options.rsa_bits != 4096) {
    return absl::InvalidArgumentError(
        absl::StrCat("secrets.rsa_bits: must be 2048, 3072 or 4096, got ", options.rsa_bits));
  }
  if (options.activation_delay < std::chrono::seconds(0)) {
    return absl::InvalidArgumentError("secrets.key_activation_delay: must not be negative");
  }
  switch (options.algorithm) {
    case KeyAlgorithm::kRS256:
    case KeyAlgorithm::kES256:
    case KeyAlgorithm::kEdDSA:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("secrets.key_algorithm: unknown algorithm");
}

}  // namespace

struct KeyRing::Snapshot {
  std::vector<std::shared_ptr<const LoadedKey>> keys;  // oldest first

  const LoadedKey* Find(std::string_view kid) const {
    for (const auto& key : keys) {
      if (key->kid == kid) return key.get();
    }
    return nullptr;
  }

  // Signing is the newest key active at `now`. Should every key still wait (replica clocks
  // apart by more than the activation delay), the oldest, published the longest, signs.
  const LoadedKey& Signing(storage::TimePoint now) const {
    for (auto it = keys.rbegin(); it != keys.rend(); ++it) {
      if ((*it)->activates_at <= now) return **it;
    }
    return *keys.front();
  }
};

std::string_view KeyAlgorithmName(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::kRS256:
      return "RS256";
    case KeyAlgorithm::kES256:
      return "ES256";
    case KeyAlgorithm::kEdDSA:
      return "EdDSA";
  }
  return "unknown";
}

absl::StatusOr<KeyAlgorithm> ParseKeyAlgorithm(std::string_view name) {
  for (KeyAlgorithm algorithm :
       {KeyAlgorithm::kRS256, KeyAlgorithm::kES256, KeyAlgorithm::kEdDSA}) {
    if (name == KeyAlgorithmName(algorithm)) return algorithm;
  }
  return absl::InvalidArgumentError("key algorithm: must be RS256, ES256 or EdDSA");
}

KeyRing::KeyRing(storage::KeyStore& store, KeyRingOptions options, const Clock& clock)
    : store_(store), options_(std::move(options)), clock_(clock) {}

KeyRing::~KeyRing() = default;

absl::StatusOr<std::unique_ptr<KeyRing>> KeyRing::Load(storage::KeyStore& store,
                                                       const KeyRingOptions& options,
                                                       const Clock& clock) {
  if (absl::Status status = ValidateOptions(options); !status.ok()) return status;
  EnsureSodium();
  std::vector<std::shared_ptr<const LoadedKey>> keys;
  for (bool reread = true;;) {
    if (reread) {
      // (Re)read what is stored: ours, or what another replica stored first.
      absl::StatusOr<std::vector<storage::StoredKey>> stored = store.ListKeys();
      if (!stored.ok()) return stored.status();
      keys.clear();
      for (const storage::StoredKey& row : *stored) {
        absl::StatusOr<std::shared_ptr<const LoadedKey>> key = DecryptStoredKey(row, options);
        if (!key.ok()) return key.status();
        keys.push_back(*std::move(key));
      }
    }
    if (keys.size() >= options.secrets.size()) break;
    const storage::TimePoint created_at = NextCreatedAt(clock, keys);
    // The first key of an empty store signs at once; a key added beside others is a rotation.
    const storage::TimePoint activates_at =
        keys.empty() ? created_at : created_at + options.activation_delay;
    absl::StatusOr<GeneratedKey> generated = GenerateKeyRow(options, created_at, activates_at);
    if (!generated.ok()) return generated.status();
    absl::StatusOr<bool> added = store.AddKeyIfFewer(generated->row, options.secrets.size());
    if (!added.ok()) return added.status();
    if (*added) keys.push_back(generated->key);
    // Refused: another replica stored its key first; read it on the next round.
    reread = !*added;
  }

  std::unique_ptr<KeyRing> ring(new KeyRing(store, options, clock));
  ring->snapshot_.store(std::make_shared<const Snapshot>(Snapshot{std::move(keys)}),
                        std::memory_order_release);
  ring->last_refresh_ = std::chrono::steady_clock::now();
  return ring;
}

absl::StatusOr<std::string> KeyRing::Rotate(std::optional<std::chrono::seconds> activation_delay) {
  const std::chrono::seconds delay = activation_delay.value_or(options_.activation_delay);
  if (delay < std::chrono::seconds(0)) {
    return absl::InvalidArgumentError("key activation delay must not be negative");
  }
  std::lock_guard<std::mutex> lock(write_mutex_);
  std::shared_ptr<const Snapshot> current = snapshot_.load(std::memory_order_acquire);
  const storage::TimePoint created_at = NextCreatedAt(clock_, current->keys);
  absl::StatusOr<GeneratedKey> generated =
      GenerateKeyRow(options_, created_at, created_at + delay);
  if (!generated.ok()) return generated.status();
  if (absl::Status status = store_.AddKey(generated->row); !status.ok()) return status;
  Snapshot next{current->keys};
  next.keys.push_back(generated->key);
  snapshot_.store(std::make_shared<const Snapshot>(std::move(next)), std::memory_order_release);
  return generated->row.id;
}

absl::StatusOr<KeyRefreshReport> KeyRing::Refresh() {
  std::lock_guard<std::mutex> lock(write_mutex_);
  return RefreshLocked();
}

absl::StatusOr<KeyRefreshReport> KeyRing::RefreshLocked() const {
  absl::StatusOr<std::vector<storage::StoredKey>> stored = store_.ListKeys();
  if (!stored.ok()) return stored.status();
  last_refresh_ = std::chrono::steady_clock::now();
  const std::shared_ptr<const Snapshot> current = snapshot_.load(std::memory_order_acquire);
  KeyRefreshReport report;
  Snapshot next;
  for (const storage::StoredKey& row : *stored) {
    bool known = false;
    for (const auto& key : current->keys) {
      if (key->kid == row.id) {
        next.keys.push_back(key);  // decrypted already
        known = true;
        break;
      }
    }
    if (known) continue;
    absl::StatusOr<std::shared_ptr<const LoadedKey>> key = DecryptStoredKey(row, options_);
    if (!key.ok()) {
      report.skipped.push_back(row.id);
      continue;
    }
    next.keys.push_back(*std::move(key));
    ++report.added;
  }
  // Never drop to an empty ring (a store emptied by hand): keep signing with what we have.
  if (next.keys.empty()) return report;
  if (report.added > 0 || next.keys.size() != current->keys.size()) {
    snapshot_.store(std::make_shared<const Snapshot>(std::move(next)), std::memory_order_release);
  }
  return report;
}

std::shared_ptr<const KeyRing::Snapshot> KeyRing::RefreshForUnknownKid(
    const std::shared_ptr<const Snapshot>& seen) const {
  constexpr auto kMinGap = std::chrono::seconds(1);
  std::lock_guard<std::mutex> lock(write_mutex_);
  std::shared_ptr<const Snapshot> current = snapshot_.load(std::memory_order_acquire);
  if (current != seen) return current;  // refreshed while we waited for the lock
  if (std::chrono::steady_clock::now() - last_refresh_ < kMinGap) return current;
  (void)RefreshLocked();  // a store error leaves the ring as it was; the token is refused
  return snapshot_.load(std::memory_order_acquire);
}

absl::StatusOr<std::string> KeyRing::SignJwt(const nlohmann::json& claims) const {
  if (!claims.is_object()) return absl::InvalidArgumentError("jwt: claims must be a JSON object");
  std::string payload;
  try {
    payload = claims.dump();
  } catch (const nlohmann::json::exception&) {
    return absl::InvalidArgumentError("jwt: claims contain a string that is not UTF-8");
  }
  const std::shared_ptr<const Snapshot> snapshot = snapshot_.load(std::memory_order_acquire);
  const LoadedKey& key = snapshot->Signing(clock_.Now());
  std::string token = absl::StrCat(key.header_b64, ".", Base64UrlEncode(payload));
  absl::StatusOr<std::string> sig = Sign(key, token);
  if (!sig.ok()) return sig.status();
  absl::StrAppend(&token, ".", Base64UrlEncode(*sig));
  return token;
}

absl::StatusOr<nlohmann::json> KeyRing::VerifyJwt(std::string_view token) const {
  if (token.size() > kMaxTokenBytes) return Unauthorized();
  const std::size_t first_dot = token.find('.');
  if (first_dot == std::string_view::npos) return Unauthorized();
  const std::size_t second_dot = token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos) return Unauthorized();
  if (token.find('.', second_dot + 1) != std::string_view::npos) return Unauthorized();
  const std::string_view header_part = token.substr(0, first_dot);
  const std::string_view payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_part = token.substr(second_dot + 1);
  if (header_part.empty() || payload_part.empty() || signature_part.empty()) {
    return Unauthorized();
  }

  const std::optional<std::string> header_bytes = Base64UrlDecode(header_part);
  if (!header_bytes) return Unauthorized();
  const nlohmann::json header = nlohmann::json::parse(*header_bytes, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return Unauthorized();
  const auto alg = header.find("alg");
  const auto kid = header.find("kid");
  if (alg == header.end() || !alg->is_string() || kid == header.end() || !kid->is_string()) {
    return Unauthorized();
  }
  // RFC 7515 §4.1.11: extensions we do not implement (e.g. b64=false) must be refused.
  if (header.contains("crit")) return Unauthorized();

  std::shared_ptr<const Snapshot> snapshot = snapshot_.load(std::memory_order_acquire);
  const LoadedKey* key = snapshot->Find(kid->get_ref<const std::string&>());
  if (key == nullptr) {
    // Perhaps another replica rotated and this one has not refreshed yet.
    snapshot = RefreshForUnknownKid(snapshot);
    key = snapshot->Find(kid->get_ref<const std::string&>());
  }
  if (key == nullptr) return Unauthorized();
  // The algorithm is pinned by the key, never chosen by the token.
  if (alg->get_ref<const std::string&>() != KeyAlgorithmName(key->algorithm)) {
    return Unauthorized();
  }

  const std::optional<std::string> signature = Base64UrlDecode(signature_part);
  if (!signature) return Unauthorized();
  if (!VerifySignature(*key, token.substr(0, second_dot), *signature)) return Unauthorized();

  const std::optional<std::string> payload_bytes = Base64UrlDecode(payload_part);
  if (!payload_bytes) return Unauthorized();
  nlohmann::json payload = nlohmann::json::parse(*payload_bytes, nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) return Unauthorized();
  return payload;
}

std::vector<PublicJwk> KeyRing::PublicKeys() const {
  const std::shared_ptr<const Snapshot> snapshot = snapshot_.load(std::memory_order_acquire);
  std::vector<PublicJwk> out;
  out.reserve(snapshot->keys.size());
  for (auto it = snapshot->keys.rbegin(); it != snapshot->keys.rend(); ++it) {
    out.push_back((*it)->jwk);
  }
  return out;
}

std::vector<KeyInfo> KeyRing::Keys() const {
  const std::shared_ptr<const Snapshot> snapshot = snapshot_.load(std::memory_order_acquire);
  const LoadedKey* signing = &snapshot->Signing(clock_.Now());
  std::vector<KeyInfo> out;
  out.reserve(snapshot->keys.size());
  for (auto it = snapshot->keys.rbegin(); it != snapshot->keys.rend(); ++it) {
    out.push_back(KeyInfo{(*it)->kid, std::string(KeyAlgorithmName((*it)->algorithm)),
                          (*it)->created_at, (*it)->activates_at, it->get() == signing});
  }
  return out;
}

}  // namespace passgate::server
