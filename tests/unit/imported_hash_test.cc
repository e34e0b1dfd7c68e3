#include "server/imported_hash.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace passgate::server {
namespace {

using ::testing::HasSubstr;

// A real bcrypt hash (Hanko's fixture user) and a real libsodium Argon2id hash.
constexpr char kBcrypt[] = "$2a$12$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVli";
constexpr char kSalt22[] = "Cf7k.dG6pznTUJ5u2u1pgu";
constexpr char kHash31[] = "6I4VXH5.9O0NZsDk8TwWwyBkZovYVli";
constexpr char kArgon2id[] =
    "$argon2id$v=19$m=19456,t=2,p=1$YJPc6aP260yoBqqRpxo+Vw$"
    "9mcxrUIIEqoNPzzH3aXWAuEyCTwtmn+HRrrwTAKMm48";

std::string Bcrypt(const std::string& prefix, const std::string& cost, const std::string& salt,
                   const std::string& hash) {
  return prefix + cost + "$" + salt + hash;
}

std::string Argon(const std::string& params, const std::string& salt = "YJPc6aP260yoBqqRpxo+Vw",
                  const std::string& hash = "9mcxrUIIEqoNPzzH3aXWAuEyCTwtmn+HRrrwTAKMm48") {
  return "$argon2id$v=19$" + params + "$" + salt + "$" + hash;
}

TEST(CheckImportableHashTest, AcceptsValidHashes) {
  const HashLimits limits;
  const std::string kGood[] = {
      kBcrypt,
      Bcrypt("$2b$", "12", kSalt22, kHash31),
      Bcrypt("$2y$", "04", kSalt22, kHash31),
      Bcrypt("$2a$", "14", kSalt22, kHash31),  // the default cap itself
      kArgon2id,
      Argon("m=262144,t=10,p=16"),              // every default cap itself
      Argon("m=8,t=1,p=1", "c2FsdHNhbHQ", "aGFzaGhhc2hoYXNoaGFzaA"),  // 8-byte salt, 16-byte hash
      Argon("m=19456,t=2,p=1", std::string(86, 'A'), std::string(86, 'A')),  // 64 bytes each
  };
  for (const std::string& hash : kGood) {
    EXPECT_TRUE(CheckImportableHash(hash, limits).ok()) << hash << ": "
                                                        << CheckImportableHash(hash, limits);
  }
}

TEST(CheckImportableHashTest, RejectsBadHashesWithAReasonThatNeverEchoesTheHash) {
  struct Case {
    std::string hash;
    const char* reason;
  };
  const Case kCases[] = {
      {"", "not a bcrypt ($2a$/$2b$/$2y$) or Argon2id hash"},
      {"SuperSecure", "not a bcrypt"},
      {"md5$5f4dcc3b5aa765d61d8327deb882cf99", "not a bcrypt"},
      {"$2x$12$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVli", "not a bcrypt"},
      {"$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "not a bcrypt"},
      {"$argon2d$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "not a bcrypt"},
      // bcrypt: cost
      {Bcrypt("$2b$", "16", kSalt22, kHash31), "bcrypt cost 16 is over the limit of 14"},
      {Bcrypt("$2b$", "31", kSalt22, kHash31), "bcrypt cost 31 is over the limit of 14"},
      {Bcrypt("$2b$", "03", kSalt22, kHash31), "bcrypt cost must be between 04 and 31"},
      {Bcrypt("$2b$", "32", kSalt22, kHash31), "bcrypt cost must be between 04 and 31"},
      {Bcrypt("$2b$", "99", kSalt22, kHash31), "bcrypt cost must be between 04 and 31"},
      {"$2b$1$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVlix",
       "bcrypt cost must be two digits"},
      {"$2b$1a$Cf7k.dG6pznTUJ5u2u1pgu6I4VXH5.9O0NZsDk8TwWwyBkZovYVli",
       "bcrypt cost must be two digits"},
      // bcrypt: length and alphabet
      {std::string(kBcrypt).substr(0, 59), "bcrypt hash must be 60 characters"},
      {std::string(kBcrypt) + "a", "bcrypt hash must be 60 characters"},
      {"$2b$12$", "bcrypt hash must be 60 characters"},
      {Bcrypt("$2b$", "12", "Cf7k+dG6pznTUJ5u2u1pgu", kHash31), "bcrypt's base64 alphabet"},
      {Bcrypt("$2b$", "12", kSalt22, "6I4VXH5=9O0NZsDk8TwWwyBkZovYVli"), "bcrypt's base64 alphabet"},
      {Bcrypt("$2b$", "12", kSalt22, "6I4VXH5$9O0NZsDk8TwWwyBkZovYVli"), "bcrypt's base64 alphabet"},
      {Bcrypt("$2b$", "12", "Cf7k.dG6pznTUJ5u2u1pgv", kHash31), "not canonically encoded"},
      {Bcrypt("$2b$", "12", kSalt22, "6I4VXH5.9O0NZsDk8TwWwyBkZovYVlj"), "not canonically encoded"},
      // Argon2id: structure and version
      {"$argon2id$", "must continue with v=19$"},
      {"$argon2id$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "must continue with v=19$"},
      {"$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "version must be 19"},
      {Argon("t=2,m=19456,p=1"), "parameters must read m=<KiB>,t=<passes>,p=<lanes>"},
      {Argon("m=19456,t=2"), "parameters must read"},
      {Argon("m=19456,t=2,p=1,k=3"), "parameters must read"},
      {Argon("m=019456,t=2,p=1"), "parameters must read"},
      {Argon("m=-1,t=2,p=1"), "parameters must read"},
      {Argon("m=4294967296,t=2,p=1"), "parameters must read"},
      {Argon("m=,t=2,p=1"), "parameters must read"},
      // Argon2id: limits
      {Argon("m=262145,t=2,p=1"), "Argon2id memory 262145 KiB is over the limit of 262144"},
      {Argon("m=4194304,t=1,p=1"), "is over the limit"},
      {Argon("m=19456,t=11,p=1"), "Argon2id time cost must be between 1 and 10"},
      {Argon("m=19456,t=0,p=1"), "Argon2id time cost must be between 1 and 10"},
      {Argon("m=19456,t=2,p=17"), "Argon2id parallelism must be between 1 and 16"},
      {Argon("m=19456,t=2,p=0"), "Argon2id parallelism must be between 1 and 16"},
      {Argon("m=31,t=2,p=4"), "at least 8 KiB per lane"},
      // Argon2id: salt and hash encoding and sizes
      {"$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ", "must end with $salt$hash"},
      {Argon("m=19456,t=2,p=1", "c2FsdHNhbHQ=", "aGFzaGhhc2hoYXNoaGFzaA"), "base64 without padding"},
      {Argon("m=19456,t=2,p=1", "c2FsdHNhbHQ", "aGFzaGhhc2hoYXNoaGFzaA=="), "base64 without padding"},
      {Argon("m=19456,t=2,p=1", "c2Fsd-NhbHQ", "aGFzaGhhc2hoYXNoaGFzaA"), "base64 without padding"},
      {Argon("m=19456,t=2,p=1", "c2FsdHNhbHQ", "aGFzaGhhc2hoYXNoaGFzaB"), "base64 without padding"},
      {Argon("m=19456,t=2,p=1", "c2FsdHNhbHQ", "aGFzaGhhc2hoYXNoaGFza"), "base64 without padding"},
      {Argon("m=19456,t=2,p=1", "", "aGFzaGhhc2hoYXNoaGFzaA"), "base64 without padding"},
      {Argon("m=19456,t=2,p=1", "c2FsdHNhbHQ", "aGFzaGhhc2hoYXNoaGFzaA$x"), "base64 without padding"},
      {Argon("m=19456,t=2,p=1", "c2FsdHNh", "aGFzaGhhc2hoYXNoaGFzaA"), "salt must be 8 to 64 bytes"},
      {Argon("m=19456,t=2,p=1", std::string(88, 'A'), "aGFzaGhhc2hoYXNoaGFzaA"),
       "salt must be 8 to 64 bytes"},
      {Argon("m=19456,t=2,p=1", "c2FsdHNhbHQ", "aGFzaGhhc2g"), "hash must be 16 to 64 bytes"},
      {Argon("m=19456,t=2,p=1", "c2FsdHNhbHQ", std::string(88, 'A')), "hash must be 16 to 64 bytes"},
  };
  const HashLimits limits;
  for (const Case& c : kCases) {
    const absl::Status status = CheckImportableHash(c.hash, limits);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.hash;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.reason)) << c.hash;
    if (c.hash.size() > 8) {
      EXPECT_EQ(std::string(status.message()).find(c.hash.substr(c.hash.size() - 8)),
                std::string::npos)
          << "echoed the hash: " << status;
    }
  }
}

TEST(CheckImportableHashTest, LimitsAreConfigurable) {
  HashLimits strict;
  strict.bcrypt_max_cost = 10;
  strict.argon2_max_memory_kib = 19455;
  strict.argon2_max_iterations = 1;
  strict.argon2_max_parallelism = 1;
  EXPECT_THAT(CheckImportableHash(kBcrypt, strict).message(),
              HasSubstr("bcrypt cost 12 is over the limit of 10 (password.import.bcrypt_max_cost)"));
  EXPECT_THAT(CheckImportableHash(kArgon2id, strict).message(),
              HasSubstr("(password.import.argon2_max_iterations)"));
  strict.argon2_max_iterations = 2;
  EXPECT_THAT(CheckImportableHash(kArgon2id, strict).message(),
              HasSubstr("(password.import.argon2_max_memory_kib)"));
  EXPECT_THAT(CheckImportableHash(Argon("m=19456,t=2,p=2"), strict).message(),
              HasSubstr("(password.import.argon2_max_parallelism)"));

  HashLimits generous;
  generous.bcrypt_max_cost = 31;
  generous.argon2_max_memory_kib = 4194304;
  EXPECT_TRUE(CheckImportableHash(Bcrypt("$2b$", "16", kSalt22, kHash31), generous).ok());
  EXPECT_TRUE(CheckImportableHash(Argon("m=2097152,t=1,p=4"), generous).ok());
}

}  // namespace
}  // namespace passgate::server
