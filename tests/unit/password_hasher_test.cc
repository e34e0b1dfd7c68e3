#include "server/password_hasher.h"

#include <crypt.h>

#include <memory>
#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace passgate::server {
namespace {

// Fast parameters for unit tests; one test below uses the production defaults.
constexpr Argon2idParams kFast{.memory_kib = 64, .iterations = 1};

// Hanko's fixture user 38bf5a00-…: bcrypt cost 12 of "SuperSecure".
constexpr std::string_view kHankoHash =
    "$2a$12$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVli";

// BcryptCost4 hashes `password` with libxcrypt as "$2b$04$…".
std::string BcryptCost4(const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn("$2b$", 4, nullptr, 0, setting, sizeof(setting)), nullptr);
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_rn(password.c_str(), setting, data.get(), sizeof(crypt_data));
  EXPECT_NE(hash, nullptr);
  return hash == nullptr ? std::string() : std::string(hash);
}

class PasswordHasherTest : public ::testing::Test {
 protected:
  Argon2idHasher hasher_{kFast};
};

TEST_F(PasswordHasherTest, HashThenVerify) {
  absl::StatusOr<std::string> hash = hasher_.Hash("correct horse");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_TRUE(hasher_.Verify("correct horse", *hash));
  EXPECT_FALSE(hasher_.Verify("correct horsf", *hash));
  EXPECT_FALSE(hasher_.Verify("", *hash));
}

TEST_F(PasswordHasherTest, HashIsArgon2idWithConfiguredParams) {
  absl::StatusOr<std::string> hash = hasher_.Hash("password");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m=64,t=1,p=1$")) << *hash;
  // A fresh salt every time.
  absl::StatusOr<std::string> again = hasher_.Hash("password");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(*hash, *again);
}

TEST(PasswordHasherDefaultsTest, DefaultParamsRoundTrip) {
  const Argon2idHasher hasher(Argon2idParams{});
  absl::StatusOr<std::string> hash = hasher.Hash("SuperSecure");
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *hash;
  EXPECT_TRUE(hasher.Verify("SuperSecure", *hash));
  EXPECT_FALSE(hasher.Verify("verybadpassword", *hash));
  EXPECT_FALSE(hasher.NeedsRehash(*hash));
}

TEST_F(PasswordHasherTest, VerifiesHankoBcryptFixture) {
  EXPECT_TRUE(hasher_.Verify("SuperSecure", kHankoHash));
  EXPECT_FALSE(hasher_.Verify("verybadpassword", kHankoHash));
}

TEST_F(PasswordHasherTest, VerifiesEveryBcryptPrefix) {
  const std::string b = BcryptCost4("imported pass");
  ASSERT_TRUE(b.starts_with("$2b$04$")) << b;
  for (std::string_view prefix : {"$2a$", "$2b$", "$2y$"}) {
    std::string hash = b;
    hash.replace(0, prefix.size(), prefix);
    EXPECT_TRUE(hasher_.Verify("imported pass", hash)) << hash;
    EXPECT_FALSE(hasher_.Verify("imported pasS", hash)) << hash;
    EXPECT_TRUE(hasher_.NeedsRehash(hash)) << hash;
  }
  // $2x$ (the buggy pre-2011 variant) is not accepted.
  std::string x = b;
  x.replace(0, 4, "$2x$");
  EXPECT_FALSE(hasher_.Verify("imported pass", x));
}

TEST_F(PasswordHasherTest, BcryptRejectsTamperedOrExtendedHash) {
  const std::string hash = BcryptCost4("pw");
  EXPECT_TRUE(hasher_.Verify("pw", hash));
  EXPECT_FALSE(hasher_.Verify("pw", hash + "x"));
  std::string flipped = hash;
  flipped.back() = flipped.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(hasher_.Verify("pw", flipped));
  EXPECT_FALSE(hasher_.Verify("pw", hash.substr(0, hash.size() - 1)));
}

TEST_F(PasswordHasherTest, BcryptRejectsPasswordWithNul) {
  const std::string hash = BcryptCost4("abc");
  ASSERT_TRUE(hasher_.Verify("abc", hash));
  // "abc\0def" would reach crypt as "abc"; it must not match.
  EXPECT_FALSE(hasher_.Verify(std::string_view("abc\0def", 7), hash));
  EXPECT_FALSE(hasher_.Verify(std::string_view("abc\0", 4), hash));
}

TEST_F(PasswordHasherTest, MalformedHashesAreFalse) {
  constexpr std::string_view kMalformed[] = {
      "",
      "$argon2id$garbage",
      "$argon2id$v=19$m=64,t=1,p=1$",
      "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
      "$2a$12$short",
      "$2a$",
      "$2b$99$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVli",
      "plaintext",
      "*0",
      "*1",
      "$1$salt$hash",
      "$6$salt$hash",
  };
  for (std::string_view hash : kMalformed) {
    EXPECT_FALSE(hasher_.Verify("plaintext", hash)) << hash;
    EXPECT_FALSE(hasher_.Verify("", hash)) << hash;
    EXPECT_TRUE(hasher_.NeedsRehash(hash)) << hash;
  }
}

TEST_F(PasswordHasherTest, HashWithEmbeddedNulIsMalformed) {
  absl::StatusOr<std::string> hash = hasher_.Hash("pw");
  ASSERT_TRUE(hash.ok());
  const std::string with_nul = *hash + std::string("\0junk", 5);
  EXPECT_FALSE(hasher_.Verify("pw", with_nul));
}

TEST_F(PasswordHasherTest, SeventyTwoBytePasswordWorks) {  // Hanko M1
  const std::string password(72, 'p');
  absl::StatusOr<std::string> hash = hasher_.Hash(password);
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(hasher_.Verify(password, *hash));
  EXPECT_FALSE(hasher_.Verify(password.substr(0, 71), *hash));

  const std::string bcrypt = BcryptCost4(password);
  EXPECT_TRUE(hasher_.Verify(password, bcrypt));
  EXPECT_FALSE(hasher_.Verify(password.substr(0, 71), bcrypt));
}

TEST_F(PasswordHasherTest, NeedsRehash) {
  absl::StatusOr<std::string> hash = hasher_.Hash("pw");
  ASSERT_TRUE(hash.ok());
  EXPECT_FALSE(hasher_.NeedsRehash(*hash));
  EXPECT_TRUE(Argon2idHasher({.memory_kib = 128, .iterations = 1}).NeedsRehash(*hash));
  EXPECT_TRUE(Argon2idHasher({.memory_kib = 64, .iterations = 2}).NeedsRehash(*hash));
  EXPECT_TRUE(hasher_.NeedsRehash(kHankoHash));
  EXPECT_TRUE(hasher_.NeedsRehash(BcryptCost4("pw")));
}

TEST_F(PasswordHasherTest, DummyVerifyRuns) {
  hasher_.DummyVerify("anything");
  hasher_.DummyVerify("");
  hasher_.DummyVerify(std::string(72, 'x'));
}

TEST_F(PasswordHasherTest, Argon2idHashesEveryByte) {
  const std::string with_nul("abc\0def", 7);
  absl::StatusOr<std::string> hash = hasher_.Hash(with_nul);
  ASSERT_TRUE(hash.ok());
  EXPECT_TRUE(hasher_.Verify(with_nul, *hash));
  EXPECT_FALSE(hasher_.Verify("abc", *hash));
  EXPECT_FALSE(hasher_.Verify(std::string_view("abc\0", 4), *hash));

  std::string all_bytes;
  for (int i = 0; i < 72; ++i) all_bytes.push_back(static_cast<char>(i * 3 + 200));
  absl::StatusOr<std::string> binary = hasher_.Hash(all_bytes);
  ASSERT_TRUE(binary.ok());
  EXPECT_TRUE(hasher_.Verify(all_bytes, *binary));
}

}  // namespace
}  // namespace passgate::server
