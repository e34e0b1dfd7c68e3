#include "server/key_ring.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/jose.h"
#include "storage/memory_store.h"

namespace passgate::server {
namespace {

using nlohmann::json;

// Secrets are at least 16 bytes (secrets.keys).
const std::string kSecretA = "secret-A-0123456789abcdef";
const std::string kSecretB = "secret-B-0123456789abcdef";
const std::string kSecretC = "secret-C-0123456789abcdef";
const std::string kWrongSecret = "wrong-secret-0123456789";

class FixedClock final : public Clock {
 public:
  TimePoint Now() const override { return now; }
  TimePoint now = TimePoint(std::chrono::seconds(1700000000));
};

KeyRingOptions Options(KeyAlgorithm algorithm, std::vector<std::string> secrets) {
  KeyRingOptions options;
  options.algorithm = algorithm;
  options.secrets = std::move(secrets);
  return options;
}

std::vector<std::string> SplitToken(const std::string& token) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = token.find('.', start);
    parts.push_back(token.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string Join(std::string_view header, std::string_view payload, std::string_view signature) {
  return std::string(header) + "." + std::string(payload) + "." + std::string(signature);
}

std::string Decode(std::string_view part) {
  std::optional<std::string> decoded = Base64UrlDecode(part);
  EXPECT_TRUE(decoded.has_value()) << part;
  return decoded.value_or("");
}

bool IsUuidV4(const std::string& s) {
  static const std::regex kUuidV4(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  return std::regex_match(s, kUuidV4);
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// PublicKeyFromJwk builds an OpenSSL public key from nothing but the published JWK, so the
// tests check the JWKS the way a relying party would use it.
PkeyPtr PublicKeyFromJwk(const PublicJwk& jwk) {
  if (jwk.kty == "OKP") {
    const std::string x = Decode(jwk.x);
    return PkeyPtr(EVP_PKEY_new_raw_public_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x.data()), x.size()));
  }
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  std::string point;
  const char* type = nullptr;
  if (jwk.kty == "RSA") {
    type = "RSA";
    const std::string n_bytes = Decode(jwk.n);
    const std::string e_bytes = Decode(jwk.e);
    n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n_bytes.data()),
                  static_cast<int>(n_bytes.size()), nullptr);
    e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e_bytes.data()),
                  static_cast<int>(e_bytes.size()), nullptr);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
  } else {
    type = "EC";
    point = "\x04" + Decode(jwk.x) + Decode(jwk.y);
    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0);
    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  }
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (ctx == nullptr || params == nullptr || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(n);
  BN_free(e);
  return PkeyPtr(pkey);
}

// VerifyWithJwk checks a token's signature with OpenSSL directly, using only the JWK.
bool VerifyWithJwk(const std::string& token, const PublicJwk& jwk) {
  PkeyPtr pkey = PublicKeyFromJwk(jwk);
  if (pkey == nullptr) return false;
  const std::size_t last_dot = token.rfind('.');
  const std::string input = token.substr(0, last_dot);
  std::string sig = Decode(token.substr(last_dot + 1));
  if (jwk.kty == "EC") sig = EcdsaRawToDer(sig, 32).value_or("");
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, jwk.kty == "OKP" ? nullptr : EVP_sha256(), nullptr,
                           pkey.get()) == 1 &&
      EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

// DecryptStoredKey decrypts a stored row with the documented at-rest scheme:
// XChaCha20-Poly1305, key = BLAKE2b-256(secret, personal "passgate.jwk.v1"),
// associated data = kid "|" algorithm, ciphertext = nonce || sealed PKCS#8 DER.
std::optional<std::string> DecryptStoredKey(const storage::StoredKey& row,
                                            std::string_view secret) {
  unsigned char key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  static constexpr char kPersonal[] = "passgate.jwk.v1";
  crypto_generichash_blake2b_salt_personal(
      key, sizeof(key), reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
      nullptr, 0, nullptr, reinterpret_cast<const unsigned char*>(kPersonal));
  const std::string ad = row.id + "|" + row.algorithm;
  constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  if (row.ciphertext.size() < kNonce + crypto_aead_xchacha20poly1305_ietf_ABYTES) {
    return std::nullopt;
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(row.ciphertext.data());
  std::string plaintext(row.ciphertext.size(), '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(plaintext.data()), &len, nullptr, nonce + kNonce,
          row.ciphertext.size() - kNonce, reinterpret_cast<const unsigned char*>(ad.data()),
          ad.size(), nonce, key) != 0) {
    return std::nullopt;
  }
  plaintext.resize(len);
  return plaintext;
}

class KeyRingTest : public ::testing::Test {
 protected:
  std::unique_ptr<KeyRing> MustLoad(const KeyRingOptions& options) {
    absl::StatusOr<std::unique_ptr<KeyRing>> ring = KeyRing::Load(*store_, options, clock_);
    EXPECT_TRUE(ring.ok()) << ring.status();
    return ring.ok() ? *std::move(ring) : nullptr;
  }

  std::vector<storage::StoredKey> StoredKeys() {
    absl::StatusOr<std::vector<storage::StoredKey>> keys = store_->ListKeys();
    EXPECT_TRUE(keys.ok()) << keys.status();
    return keys.ok() ? *keys : std::vector<storage::StoredKey>{};
  }

  std::string MustSign(const KeyRing& ring, const json& claims) {
    absl::StatusOr<std::string> token = ring.SignJwt(claims);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.value_or("");
  }

  void ExpectUnauthenticated(const KeyRing& ring, const std::string& token) {
    absl::StatusOr<json> result = ring.VerifyJwt(token);
    ASSERT_FALSE(result.ok()) << token;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated) << token;
    EXPECT_EQ(result.status().message(), "Unauthorized") << token;
  }

  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
  FixedClock clock_;
  const json claims_ = {{"sub", "38bf5a00-d7ea-40a5-a5de-48722c148925"},
                        {"aud", {"localhost"}},
                        {"iat", 1700000000},
                        {"exp", 1700003600}};
};

TEST(KeyAlgorithmTest, NamesRoundTrip) {
  for (KeyAlgorithm algorithm :
       {KeyAlgorithm::kRS256, KeyAlgorithm::kES256, KeyAlgorithm::kEdDSA}) {
    absl::StatusOr<KeyAlgorithm> parsed = ParseKeyAlgorithm(KeyAlgorithmName(algorithm));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, algorithm);
  }
  EXPECT_EQ(KeyAlgorithmName(KeyAlgorithm::kRS256), "RS256");
  EXPECT_EQ(KeyAlgorithmName(KeyAlgorithm::kES256), "ES256");
  EXPECT_EQ(KeyAlgorithmName(KeyAlgorithm::kEdDSA), "EdDSA");
  for (std::string_view bad : {"", "rs256", "none", "HS256", "PS256", "Ed25519", "RS256 "}) {
    absl::StatusOr<KeyAlgorithm> parsed = ParseKeyAlgorithm(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(KeyRingTest, LoadGeneratesOneEncryptedKeyPerSecret) {
  std::unique_ptr<KeyRing> ring =
      MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA, kSecretB, kSecretC}));
  ASSERT_NE(ring, nullptr);

  const std::vector<KeyInfo> keys = ring->Keys();
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_TRUE(keys[0].signing);
  EXPECT_FALSE(keys[1].signing);
  EXPECT_FALSE(keys[2].signing);

  const std::vector<storage::StoredKey> stored = StoredKeys();
  ASSERT_EQ(stored.size(), 3u);
  const std::vector<PublicJwk> jwks = ring->PublicKeys();
  ASSERT_EQ(jwks.size(), 3u);
  for (std::size_t i = 0; i < stored.size(); ++i) {
    const storage::StoredKey& row = stored[i];
    // Keys() and PublicKeys() are newest first; the store lists oldest first.
    EXPECT_EQ(row.id, keys[2 - i].kid);
    EXPECT_EQ(row.id, jwks[2 - i].kid);
    EXPECT_TRUE(IsUuidV4(row.id)) << row.id;
    EXPECT_EQ(row.algorithm, "RS256");
    EXPECT_EQ(keys[2 - i].algorithm, "RS256");
    EXPECT_EQ(row.created_at, clock_.now);

    // Not plaintext: no PEM text, no DER private key, not even the public modulus.
    EXPECT_EQ(row.ciphertext.find("PRIVATE KEY"), std::string::npos);
    EXPECT_EQ(row.ciphertext.find(Decode(jwks[2 - i].n)), std::string::npos);
    // Every key is sealed with the first secret, in the documented format.
    EXPECT_FALSE(DecryptStoredKey(row, kSecretB).has_value());
    const std::optional<std::string> der = DecryptStoredKey(row, kSecretA);
    ASSERT_TRUE(der.has_value());
    EXPECT_EQ(row.ciphertext.find(*der), std::string::npos);
    const auto* p = reinterpret_cast<const unsigned char*>(der->data());
    PKCS8_PRIV_KEY_INFO* p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der->size()));
    ASSERT_NE(p8, nullptr);
    PkeyPtr pkey(EVP_PKCS82PKEY(p8));
    PKCS8_PRIV_KEY_INFO_free(p8);
    ASSERT_NE(pkey, nullptr);
    EXPECT_TRUE(EVP_PKEY_is_a(pkey.get(), "RSA"));
    EXPECT_EQ(EVP_PKEY_get_bits(pkey.get()), 2048);
  }
}

TEST_F(KeyRingTest, ReloadKeepsKeysAndVerifiesOldTokens) {
  const KeyRingOptions options = Options(KeyAlgorithm::kEdDSA, {kSecretA, kSecretB});
  std::unique_ptr<KeyRing> first = MustLoad(options);
  ASSERT_NE(first, nullptr);
  const std::string token = MustSign(*first, claims_);

  std::unique_ptr<KeyRing> second = MustLoad(options);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(StoredKeys().size(), 2u);
  ASSERT_EQ(second->Keys().size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(second->Keys()[i].kid, first->Keys()[i].kid);
    EXPECT_EQ(second->PublicKeys()[i].x, first->PublicKeys()[i].x);
  }
  absl::StatusOr<json> verified = second->VerifyJwt(token);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(*verified, claims_);
}

TEST_F(KeyRingTest, NewFirstSecretStillReadsKeysSealedWithTheOldOne) {
  std::unique_ptr<KeyRing> old_ring = MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA}));
  ASSERT_NE(old_ring, nullptr);
  const std::string old_kid = old_ring->Keys()[0].kid;
  const std::string token = MustSign(*old_ring, claims_);

  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kRS256, {kWrongSecret, kSecretA}));
  ASSERT_NE(ring, nullptr);
  // One key per secret: the old key plus a new one sealed with the new first secret.
  const std::vector<KeyInfo> keys = ring->Keys();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[1].kid, old_kid);
  EXPECT_NE(keys[0].kid, old_kid);
  EXPECT_TRUE(ring->VerifyJwt(token).ok());
  const std::vector<storage::StoredKey> stored = StoredKeys();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_TRUE(DecryptStoredKey(stored[1], kWrongSecret).has_value());
}

TEST_F(KeyRingTest, UndecryptableKeyFailsPrecondition) {
  ASSERT_NE(MustLoad(Options(KeyAlgorithm::kEdDSA, {kSecretA})), nullptr);
  const std::string kid = StoredKeys().at(0).id;

  absl::StatusOr<std::unique_ptr<KeyRing>> ring =
      KeyRing::Load(*store_, Options(KeyAlgorithm::kEdDSA, {kSecretB, kWrongSecret}), clock_);
  ASSERT_FALSE(ring.ok());
  EXPECT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string message(ring.status().message());
  EXPECT_NE(message.find("secrets.keys"), std::string::npos) << message;
  EXPECT_NE(message.find(kid), std::string::npos) << message;
  EXPECT_EQ(message.find(kSecretB), std::string::npos) << message;
  EXPECT_EQ(message.find(kWrongSecret), std::string::npos) << message;
  EXPECT_EQ(StoredKeys().size(), 1u);  // nothing generated
}

TEST_F(KeyRingTest, CiphertextIsBoundToKidAndAlgorithm) {
  ASSERT_NE(MustLoad(Options(KeyAlgorithm::kEdDSA, {kSecretA, kSecretB})), nullptr);
  const std::vector<storage::StoredKey> stored = StoredKeys();
  ASSERT_EQ(stored.size(), 2u);

  {  // Ciphertexts swapped between rows.
    std::unique_ptr<storage::Store> swapped = storage::NewMemoryStore();
    storage::StoredKey a = stored[0];
    storage::StoredKey b = stored[1];
    std::swap(a.ciphertext, b.ciphertext);
    ASSERT_TRUE(swapped->AddKey(a).ok());
    ASSERT_TRUE(swapped->AddKey(b).ok());
    absl::StatusOr<std::unique_ptr<KeyRing>> ring =
        KeyRing::Load(*swapped, Options(KeyAlgorithm::kEdDSA, {kSecretA, kSecretB}), clock_);
    ASSERT_FALSE(ring.ok());
    EXPECT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  {  // Algorithm column rewritten.
    std::unique_ptr<storage::Store> relabeled = storage::NewMemoryStore();
    storage::StoredKey a = stored[0];
    a.algorithm = "ES256";
    ASSERT_TRUE(relabeled->AddKey(a).ok());
    absl::StatusOr<std::unique_ptr<KeyRing>> ring =
        KeyRing::Load(*relabeled, Options(KeyAlgorithm::kEdDSA, {kSecretA}), clock_);
    ASSERT_FALSE(ring.ok());
    EXPECT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  {  // Unknown algorithm, and a truncated ciphertext.
    std::unique_ptr<storage::Store> broken = storage::NewMemoryStore();
    storage::StoredKey a = stored[0];
    a.algorithm = "HS256";
    storage::StoredKey b = stored[1];
    b.ciphertext.resize(10);
    ASSERT_TRUE(broken->AddKey(a).ok());
    absl::StatusOr<std::unique_ptr<KeyRing>> ring =
        KeyRing::Load(*broken, Options(KeyAlgorithm::kEdDSA, {kSecretA}), clock_);
    EXPECT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition);
    std::unique_ptr<storage::Store> truncated = storage::NewMemoryStore();
    ASSERT_TRUE(truncated->AddKey(b).ok());
    ring = KeyRing::Load(*truncated, Options(KeyAlgorithm::kEdDSA, {kSecretA}), clock_);
    EXPECT_EQ(ring.status().code(), absl::StatusCode::kFailedPrecondition);
  }
}

TEST_F(KeyRingTest, BadOptionsAreInvalidArgument) {
  const std::string short_secret = "only15bytes!!!!";
  ASSERT_EQ(short_secret.size(), 15u);
  struct Case {
    KeyRingOptions options;
    std::string_view key;
  };
  KeyRingOptions rsa_1024 = Options(KeyAlgorithm::kRS256, {kSecretA});
  rsa_1024.rsa_bits = 1024;
  KeyRingOptions rsa_2049 = Options(KeyAlgorithm::kRS256, {kSecretA});
  rsa_2049.rsa_bits = 2049;
  const Case cases[] = {
      {Options(KeyAlgorithm::kRS256, {}), "secrets.keys"},
      {Options(KeyAlgorithm::kRS256, {short_secret}), "secrets.keys"},
      {Options(KeyAlgorithm::kRS256, {kSecretA, short_secret}), "secrets.keys"},
      {Options(KeyAlgorithm::kRS256, {""}), "secrets.keys"},
      {rsa_1024, "secrets.rsa_bits"},
      {rsa_2049, "secrets.rsa_bits"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::unique_ptr<KeyRing>> ring = KeyRing::Load(*store_, c.options, clock_);
    ASSERT_FALSE(ring.ok()) << c.key;
    EXPECT_EQ(ring.status().code(), absl::StatusCode::kInvalidArgument) << ring.status();
    const std::string message(ring.status().message());
    EXPECT_NE(message.find(c.key), std::string::npos) << message;
    EXPECT_EQ(message.find(short_secret), std::string::npos) << message;
  }
  EXPECT_TRUE(StoredKeys().empty());
}

struct AlgorithmCase {
  KeyAlgorithm algorithm;
  std::size_t signature_bytes;
};

class KeyRingAlgorithmTest : public KeyRingTest,
                             public ::testing::WithParamInterface<AlgorithmCase> {};

TEST_P(KeyRingAlgorithmTest, SignThenVerify) {
  const AlgorithmCase& param = GetParam();
  std::unique_ptr<KeyRing> ring = MustLoad(Options(param.algorithm, {kSecretA}));
  ASSERT_NE(ring, nullptr);
  const std::string kid = ring->Keys()[0].kid;
  const std::string token = MustSign(*ring, claims_);

  const std::vector<std::string> parts = SplitToken(token);
  ASSERT_EQ(parts.size(), 3u);
  const std::string alg(KeyAlgorithmName(param.algorithm));
  EXPECT_EQ(Decode(parts[0]), R"({"alg":")" + alg + R"(","kid":")" + kid + R"(","typ":"JWT"})");
  EXPECT_EQ(Decode(parts[1]), claims_.dump());
  EXPECT_EQ(Decode(parts[2]).size(), param.signature_bytes);

  absl::StatusOr<json> verified = ring->VerifyJwt(token);
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_EQ(*verified, claims_);
  // The published JWK verifies the token on its own.
  EXPECT_TRUE(VerifyWithJwk(token, ring->PublicKeys()[0]));

  // Each signature is fresh work, and a second token verifies too (ES256 is randomized).
  const std::string again = MustSign(*ring, claims_);
  EXPECT_TRUE(ring->VerifyJwt(again).ok());
}

INSTANTIATE_TEST_SUITE_P(Algorithms, KeyRingAlgorithmTest,
                         ::testing::Values(AlgorithmCase{KeyAlgorithm::kRS256, 256},
                                           AlgorithmCase{KeyAlgorithm::kES256, 64},
                                           AlgorithmCase{KeyAlgorithm::kEdDSA, 64}),
                         [](const ::testing::TestParamInfo<AlgorithmCase>& info) {
                           return std::string(KeyAlgorithmName(info.param.algorithm));
                         });

TEST_F(KeyRingTest, DefaultHeaderIsHankoByteForByte) {
  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA}));
  ASSERT_NE(ring, nullptr);
  const std::string token = MustSign(*ring, claims_);
  const std::string kid = ring->Keys()[0].kid;
  EXPECT_EQ(Decode(SplitToken(token)[0]),
            std::string(R"({"alg":"RS256","kid":")") + kid + R"(","typ":"JWT"})");
}

TEST_F(KeyRingTest, SignRejectsNonObjectAndNonUtf8Claims) {
  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kEdDSA, {kSecretA}));
  ASSERT_NE(ring, nullptr);
  EXPECT_EQ(ring->SignJwt(json::array({1, 2})).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ring->SignJwt(json("x")).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ring->SignJwt(json{{"sub", "\xff\xfe"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(KeyRingTest, TamperedTokensAreUnauthenticated) {
  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA}));
  ASSERT_NE(ring, nullptr);
  const std::string token = MustSign(*ring, claims_);
  ASSERT_TRUE(ring->VerifyJwt(token).ok());
  const std::vector<std::string> parts = SplitToken(token);
  const std::string kid = ring->Keys()[0].kid;

  json other_claims = claims_;
  other_claims["sub"] = "6a565180-2366-45b1-8785-39f7902c7f2e";
  std::string flipped_sig = Decode(parts[2]);
  flipped_sig[100] = static_cast<char>(flipped_sig[100] ^ 0x01);
  const std::string extra_header =
      Base64UrlEncode(R"({"alg":"RS256","kid":")" + kid + R"(","typ":"JWT","x":1})");
  const std::string crit_header = Base64UrlEncode(
      R"({"alg":"RS256","b64":false,"crit":["b64"],"kid":")" + kid + R"(","typ":"JWT"})");

  const std::string bad_tokens[] = {
      Join(parts[0], Base64UrlEncode(other_claims.dump()), parts[2]),     // payload
      Join(parts[0], parts[1], Base64UrlEncode(flipped_sig)),             // signature
      Join(parts[0], parts[1], parts[2].substr(0, parts[2].size() - 4)),  // truncated sig
      Join(parts[0], parts[1], parts[2] + "AAAA"),                        // longer sig
      Join(extra_header, parts[1], parts[2]),                             // header
      Join(crit_header, parts[1], parts[2]),                              // crit extension
      Join(parts[0], parts[1], ""),                                       // empty signature
      Join(parts[0], "", parts[2]),                                       // empty payload
      Join("", parts[1], parts[2]),                                       // empty header
      parts[0] + "." + parts[1],                                          // two parts
      token + ".",                                                        // four parts
      token + "." + parts[2],                                             // four parts
      parts[0] + ".." + parts[1] + "." + parts[2],
      Join(parts[0] + "=", parts[1], parts[2]),  // padding
      Join(parts[0], parts[1], parts[2] + "="),
      Join(parts[0], parts[1] + " ", parts[2]),  // whitespace
      " " + token,
      token + "\n",
      Join(Base64UrlEncode("not json"), parts[1], parts[2]),
      Join(Base64UrlEncode("[1,2]"), parts[1], parts[2]),
      Join(Base64UrlEncode(R"({"kid":")" + kid + R"("})"), parts[1], parts[2]),  // no alg
      Join(Base64UrlEncode(R"({"alg":"RS256"})"), parts[1], parts[2]),           // no kid
      Join(Base64UrlEncode(R"({"alg":["RS256"],"kid":")" + kid + R"("})"), parts[1], parts[2]),
      Join(Base64UrlEncode(R"({"alg":"RS256","kid":7})"), parts[1], parts[2]),
      std::string(),
      "..",
      "a.b.c",
      token.substr(0, token.size() / 2),
  };
  for (const std::string& bad : bad_tokens) ExpectUnauthenticated(*ring, bad);

  // Longer than 16 KiB, even if otherwise well formed.
  json big = claims_;
  big["pad"] = std::string(16 * 1024, 'x');
  const std::string big_token = MustSign(*ring, big);
  ExpectUnauthenticated(*ring, big_token);
}

TEST_F(KeyRingTest, AlgorithmConfusionIsRejected) {
  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA}));
  ASSERT_NE(ring, nullptr);
  const std::string token = MustSign(*ring, claims_);
  const std::vector<std::string> parts = SplitToken(token);
  const PublicJwk jwk = ring->PublicKeys()[0];
  const std::string& kid = jwk.kid;
  auto header = [&](std::string_view alg, std::string_view key_id) {
    return Base64UrlEncode(json{{"alg", alg}, {"kid", key_id}, {"typ", "JWT"}}.dump());
  };

  // alg "none": with an empty signature (the classic form) and with any bytes.
  const std::string none_header = header("none", kid);
  ExpectUnauthenticated(*ring, none_header + "." + parts[1] + ".");
  ExpectUnauthenticated(*ring, Join(none_header, parts[1], parts[2]));
  ExpectUnauthenticated(*ring, Join(header("None", kid), parts[1], parts[2]));

  // HS256 keyed with the public key's bytes.
  const std::string hs_header = header("HS256", kid);
  const std::string input = hs_header + "." + parts[1];
  const std::string hmac_key = Decode(jwk.n);
  unsigned char mac[EVP_MAX_MD_SIZE];
  std::size_t mac_len = 0;
  ASSERT_NE(EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, hmac_key.data(), hmac_key.size(),
                      reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
                      sizeof(mac), &mac_len),
            nullptr);
  ExpectUnauthenticated(
      *ring,
      input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), mac_len)));

  // Another asymmetric alg naming the RSA key, with the real RSA signature or 64 bytes.
  for (std::string_view alg : {"ES256", "EdDSA", "PS256", "RS384", "rs256"}) {
    ExpectUnauthenticated(*ring, Join(header(alg, kid), parts[1], parts[2]));
    ExpectUnauthenticated(
        *ring, Join(header(alg, kid), parts[1], Base64UrlEncode(std::string(64, '\x01'))));
  }

  // Unknown kid, with the otherwise untouched header layout.
  ExpectUnauthenticated(
      *ring, Join(header("RS256", "6a565180-2366-45b1-8785-39f7902c7f2e"), parts[1], parts[2]));
  ExpectUnauthenticated(*ring, Join(header("RS256", ""), parts[1], parts[2]));
}

TEST_F(KeyRingTest, MixedAlgorithmsArePinnedPerKey) {
  std::unique_ptr<KeyRing> rsa_ring = MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA}));
  ASSERT_NE(rsa_ring, nullptr);
  const std::string rsa_token = MustSign(*rsa_ring, claims_);
  // Switching the configured algorithm keeps old keys; the new key is ES256.
  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kES256, {kSecretA, kSecretB}));
  ASSERT_NE(ring, nullptr);
  const std::vector<KeyInfo> keys = ring->Keys();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].algorithm, "ES256");
  EXPECT_EQ(keys[1].algorithm, "RS256");
  const std::string es_token = MustSign(*ring, claims_);
  EXPECT_TRUE(ring->VerifyJwt(rsa_token).ok());
  EXPECT_TRUE(ring->VerifyJwt(es_token).ok());

  // Each token re-labelled with the other key's kid and alg fails.
  const std::vector<std::string> rsa = SplitToken(rsa_token);
  const std::vector<std::string> es = SplitToken(es_token);
  const std::string rs_header_es_kid =
      Base64UrlEncode(json{{"alg", "RS256"}, {"kid", keys[0].kid}, {"typ", "JWT"}}.dump());
  const std::string es_header_rs_kid =
      Base64UrlEncode(json{{"alg", "ES256"}, {"kid", keys[1].kid}, {"typ", "JWT"}}.dump());
  ExpectUnauthenticated(*ring, Join(rs_header_es_kid, rsa[1], rsa[2]));
  ExpectUnauthenticated(*ring, Join(es_header_rs_kid, es[1], es[2]));
  ExpectUnauthenticated(*ring, Join(rsa[0], es[1], es[2]));
  ExpectUnauthenticated(*ring, Join(es[0], rsa[1], rsa[2]));
}

TEST_F(KeyRingTest, RotateSignsWithNewKeyAndKeepsOldOnes) {
  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA}));
  ASSERT_NE(ring, nullptr);
  const std::string old_kid = ring->Keys()[0].kid;
  const std::string old_token = MustSign(*ring, claims_);

  clock_.now += std::chrono::hours(1);
  absl::StatusOr<std::string> new_kid = ring->Rotate();
  ASSERT_TRUE(new_kid.ok()) << new_kid.status();
  EXPECT_NE(*new_kid, old_kid);
  EXPECT_TRUE(IsUuidV4(*new_kid));

  const std::string new_token = MustSign(*ring, claims_);
  const json header = json::parse(Decode(SplitToken(new_token)[0]));
  EXPECT_EQ(header["kid"], *new_kid);
  EXPECT_TRUE(ring->VerifyJwt(old_token).ok());
  EXPECT_TRUE(ring->VerifyJwt(new_token).ok());

  const std::vector<PublicJwk> jwks = ring->PublicKeys();
  ASSERT_EQ(jwks.size(), 2u);
  EXPECT_EQ(jwks[0].kid, *new_kid);
  EXPECT_EQ(jwks[1].kid, old_kid);
  const std::vector<KeyInfo> keys = ring->Keys();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_TRUE(keys[0].signing);
  EXPECT_FALSE(keys[1].signing);
  EXPECT_EQ(keys[0].created_at, clock_.now);

  // The rotation is durable: a reload signs with the rotated key and keeps both.
  std::unique_ptr<KeyRing> reloaded = MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA}));
  ASSERT_NE(reloaded, nullptr);
  ASSERT_EQ(reloaded->Keys().size(), 2u);
  EXPECT_EQ(reloaded->Keys()[0].kid, *new_kid);
  EXPECT_TRUE(reloaded->VerifyJwt(old_token).ok());
  EXPECT_TRUE(reloaded->VerifyJwt(new_token).ok());
}

TEST_F(KeyRingTest, RotateWithClockGoingBackwardsKeepsOrder) {
  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kEdDSA, {kSecretA}));
  ASSERT_NE(ring, nullptr);
  clock_.now -= std::chrono::hours(1);
  absl::StatusOr<std::string> new_kid = ring->Rotate();
  ASSERT_TRUE(new_kid.ok());
  std::unique_ptr<KeyRing> reloaded = MustLoad(Options(KeyAlgorithm::kEdDSA, {kSecretA}));
  ASSERT_NE(reloaded, nullptr);
  EXPECT_EQ(reloaded->Keys()[0].kid, *new_kid);
}

TEST_F(KeyRingTest, PublicKeysHaveTheRfcMembers) {
  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA}));
  ASSERT_NE(ring, nullptr);
  const PublicJwk rsa = ring->PublicKeys()[0];
  EXPECT_EQ(rsa.kty, "RSA");
  EXPECT_EQ(rsa.alg, "RS256");
  EXPECT_EQ(rsa.use, "sig");
  EXPECT_EQ(rsa.e, "AQAB");
  const std::string n = Decode(rsa.n);
  ASSERT_EQ(n.size(), 256u);
  EXPECT_NE(n[0], '\0');  // no leading zero octet
  EXPECT_TRUE(rsa.crv.empty() && rsa.x.empty() && rsa.y.empty());

  std::unique_ptr<storage::Store> ec_store = storage::NewMemoryStore();
  absl::StatusOr<std::unique_ptr<KeyRing>> ec_ring =
      KeyRing::Load(*ec_store, Options(KeyAlgorithm::kES256, {kSecretA}), clock_);
  ASSERT_TRUE(ec_ring.ok());
  const PublicJwk ec = (*ec_ring)->PublicKeys()[0];
  EXPECT_EQ(ec.kty, "EC");
  EXPECT_EQ(ec.crv, "P-256");
  EXPECT_EQ(ec.alg, "ES256");
  EXPECT_EQ(ec.use, "sig");
  EXPECT_EQ(Decode(ec.x).size(), 32u);
  EXPECT_EQ(Decode(ec.y).size(), 32u);
  EXPECT_TRUE(ec.n.empty() && ec.e.empty());

  std::unique_ptr<storage::Store> ed_store = storage::NewMemoryStore();
  absl::StatusOr<std::unique_ptr<KeyRing>> ed_ring =
      KeyRing::Load(*ed_store, Options(KeyAlgorithm::kEdDSA, {kSecretA}), clock_);
  ASSERT_TRUE(ed_ring.ok());
  const PublicJwk okp = (*ed_ring)->PublicKeys()[0];
  EXPECT_EQ(okp.kty, "OKP");
  EXPECT_EQ(okp.crv, "Ed25519");
  EXPECT_EQ(okp.alg, "EdDSA");
  EXPECT_EQ(okp.use, "sig");
  EXPECT_EQ(Decode(okp.x).size(), 32u);
  EXPECT_TRUE(okp.y.empty() && okp.n.empty() && okp.e.empty());
}

TEST_F(KeyRingTest, ConcurrentSignAndVerifyDuringRotation) {
  std::unique_ptr<KeyRing> ring = MustLoad(Options(KeyAlgorithm::kRS256, {kSecretA}));
  ASSERT_NE(ring, nullptr);
  constexpr int kSigners = 4;
  constexpr int kRotations = 5;
  constexpr int kMinTokensPerSigner = 20;
  std::atomic<bool> rotations_done{false};
  std::atomic<int> failures{0};
  std::vector<std::vector<std::string>> tokens(kSigners);

  std::vector<std::thread> threads;
  for (int t = 0; t < kSigners; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kMinTokensPerSigner || !rotations_done.load(); ++i) {
        absl::StatusOr<std::string> token = ring->SignJwt(json{{"thread", t}, {"i", i}});
        if (!token.ok()) {
          ++failures;
          continue;
        }
        absl::StatusOr<json> claims = ring->VerifyJwt(*token);
        if (!claims.ok() || (*claims)["i"] != i) ++failures;
        tokens[t].push_back(*std::move(token));
        (void)ring->PublicKeys();
      }
    });
  }
  std::thread rotator([&] {
    for (int r = 0; r < kRotations; ++r) {
      if (!ring->Rotate().ok()) ++failures;
    }
    rotations_done = true;
  });
  rotator.join();
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ring->Keys().size(), 1u + kRotations);
  EXPECT_EQ(StoredKeys().size(), 1u + kRotations);
  for (const std::vector<std::string>& per_thread : tokens) {
    EXPECT_GE(per_thread.size(), static_cast<std::size_t>(kMinTokensPerSigner));
    for (const std::string& token : per_thread) EXPECT_TRUE(ring->VerifyJwt(token).ok());
  }
}

// --- Several replicas on one store -----------------------------------------------------

TEST_F(KeyRingTest, ReplicasStartingAtOnceOnAnEmptyStoreShareTheirKeys) {
  constexpr int kReplicas = 4;
  const KeyRingOptions options = Options(KeyAlgorithm::kEdDSA, {kSecretA, kSecretB});
  std::vector<std::unique_ptr<KeyRing>> rings(kReplicas);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      ready.fetch_add(1);
      while (ready.load() < kReplicas) std::this_thread::yield();
      absl::StatusOr<std::unique_ptr<KeyRing>> ring = KeyRing::Load(*store_, options, clock_);
      if (ring.ok()) rings[i] = *std::move(ring);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(StoredKeys().size(), 2u) << "one key per secret, not per replica";
  for (int i = 0; i < kReplicas; ++i) {
    ASSERT_NE(rings[i], nullptr) << i;
    ASSERT_EQ(rings[i]->Keys().size(), 2u) << i;
    EXPECT_EQ(rings[i]->Keys()[0].kid, rings[0]->Keys()[0].kid) << i;
    // A token of one replica verifies on every other.
    EXPECT_TRUE(rings[i]->VerifyJwt(MustSign(*rings[0], claims_)).ok()) << i;
  }
}

TEST_F(KeyRingTest, RotatedKeyIsPublishedAtOnceAndSignsAfterTheActivationDelay) {
  KeyRingOptions options = Options(KeyAlgorithm::kEdDSA, {kSecretA});
  options.activation_delay = std::chrono::seconds(60);
  std::unique_ptr<KeyRing> ring = MustLoad(options);
  ASSERT_NE(ring, nullptr);
  const std::string first_kid = ring->Keys()[0].kid;
  EXPECT_TRUE(ring->Keys()[0].signing) << "the first key of an empty store signs at once";

  absl::StatusOr<std::string> rotated = ring->Rotate();
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  ASSERT_EQ(ring->PublicKeys().size(), 2u);
  EXPECT_EQ(ring->PublicKeys()[0].kid, *rotated) << "published before it signs";
  auto kid_of = [&](const std::string& token) {
    return json::parse(Decode(SplitToken(token)[0]))["kid"].get<std::string>();
  };
  EXPECT_EQ(kid_of(MustSign(*ring, claims_)), first_kid);
  EXPECT_FALSE(ring->Keys()[0].signing);
  EXPECT_EQ(ring->Keys()[0].activates_at, ring->Keys()[0].created_at + std::chrono::seconds(60));

  clock_.now += std::chrono::seconds(59);
  EXPECT_EQ(kid_of(MustSign(*ring, claims_)), first_kid);
  clock_.now += std::chrono::seconds(1);
  EXPECT_EQ(kid_of(MustSign(*ring, claims_)), *rotated);
  EXPECT_TRUE(ring->Keys()[0].signing);

  // An explicit delay of zero signs at once.
  absl::StatusOr<std::string> urgent = ring->Rotate(std::chrono::seconds(0));
  ASSERT_TRUE(urgent.ok());
  EXPECT_EQ(kid_of(MustSign(*ring, claims_)), *urgent);
}

TEST_F(KeyRingTest, RefreshPicksUpAnotherReplicasRotation) {
  KeyRingOptions options = Options(KeyAlgorithm::kEdDSA, {kSecretA});
  options.activation_delay = std::chrono::seconds(30);
  std::unique_ptr<KeyRing> a = MustLoad(options);
  std::unique_ptr<KeyRing> b = MustLoad(options);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  absl::StatusOr<std::string> rotated = a->Rotate();
  ASSERT_TRUE(rotated.ok());
  EXPECT_EQ(b->PublicKeys().size(), 1u);
  absl::StatusOr<KeyRefreshReport> report = b->Refresh();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->added, 1);
  EXPECT_TRUE(report->skipped.empty());
  ASSERT_EQ(b->PublicKeys().size(), 2u);
  EXPECT_EQ(b->PublicKeys()[0].kid, *rotated);
  clock_.now += std::chrono::seconds(30);
  // Both replicas switch at the same activation time, and verify each other's tokens.
  EXPECT_TRUE(b->VerifyJwt(MustSign(*a, claims_)).ok());
  EXPECT_TRUE(a->VerifyJwt(MustSign(*b, claims_)).ok());
  EXPECT_EQ(SplitToken(MustSign(*a, claims_))[0], SplitToken(MustSign(*b, claims_))[0]);
  // Nothing new: nothing added.
  EXPECT_EQ(b->Refresh()->added, 0);
}

TEST_F(KeyRingTest, RefreshSkipsKeysNoSecretDecrypts) {
  std::unique_ptr<KeyRing> a = MustLoad(Options(KeyAlgorithm::kEdDSA, {kSecretA}));
  std::unique_ptr<KeyRing> other = MustLoad(Options(KeyAlgorithm::kEdDSA, {kSecretB, kSecretA}));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(other, nullptr);  // added a key encrypted with kSecretB, which `a` cannot read
  absl::StatusOr<KeyRefreshReport> report = a->Refresh();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->skipped.size(), 1u);
  EXPECT_EQ(a->PublicKeys().size(), 1u);
}

TEST_F(KeyRingTest, UnknownKidMakesTheRingRefresh) {
  std::unique_ptr<KeyRing> a = MustLoad(Options(KeyAlgorithm::kEdDSA, {kSecretA}));
  std::unique_ptr<KeyRing> b = MustLoad(Options(KeyAlgorithm::kEdDSA, {kSecretA}));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Rotate(std::chrono::seconds(0)).ok());
  const std::string token = MustSign(*a, claims_);
  // Refreshes for unknown kids are at most a second apart (forged kids cost no database
  // load); b loaded just now, so wait that second out.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(b->VerifyJwt(token).ok()) << "the unknown kid made b reload its keys";
  EXPECT_EQ(b->PublicKeys().size(), 2u);
}

}  // namespace
}  // namespace passgate::server
