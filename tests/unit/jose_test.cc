#include "server/jose.h"

#include <string>
#include <string_view>

#include "gtest/gtest.h"

namespace passgate::server {
namespace {

struct Vector {
  std::string_view decoded;
  std::string_view encoded;
};

// RFC 4648 §10 without padding, plus inputs that use the two url-alphabet characters.
constexpr Vector kVectors[] = {
    {"", ""},
    {"f", "Zg"},
    {"fo", "Zm8"},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg"},
    {"fooba", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy"},
    {"\xfb\xff", "-_8"},
    {"\xfb\xef\xbe", "----"},
    {"\xff\xff\xff", "____"},
    {std::string_view("\0\0\0", 3), "AAAA"},
};

TEST(Base64UrlTest, EncodesKnownVectors) {
  for (const Vector& v : kVectors) {
    EXPECT_EQ(Base64UrlEncode(v.decoded), v.encoded) << v.encoded;
  }
}

TEST(Base64UrlTest, DecodesKnownVectors) {
  for (const Vector& v : kVectors) {
    const std::optional<std::string> decoded = Base64UrlDecode(v.encoded);
    ASSERT_TRUE(decoded.has_value()) << v.encoded;
    EXPECT_EQ(*decoded, v.decoded) << v.encoded;
  }
}

TEST(Base64UrlTest, RoundTripsEveryByteAndLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= all.size(); ++len) {
    const std::string data = all.substr(all.size() - len);
    const std::string encoded = Base64UrlEncode(data);
    EXPECT_EQ(encoded.find_first_of("=+/"), std::string::npos) << len;
    const std::optional<std::string> decoded = Base64UrlDecode(encoded);
    ASSERT_TRUE(decoded.has_value()) << len;
    EXPECT_EQ(*decoded, data) << len;
  }
}

TEST(Base64UrlTest, RejectsNonCanonicalOrForeignInput) {
  constexpr std::string_view kBad[] = {
      "Zg==",          // padding
      "Zg=",           // partial padding
      "Zm9v=",         // padding after a full quantum
      "Zm9v+w",        // '+' from the standard alphabet
      "Zm9v/w",        // '/' from the standard alphabet
      "Zm 9v",         // space
      "Zm9v\n",        // newline
      "\tZm9v",        // tab
      "Zm9v.",         // JWS separator
      "Zh",            // "f" with non-zero unused bits (canonical: "Zg")
      "Zm9",           // "fo" with non-zero unused bits (canonical: "Zm8")
      "Zm9vY",         // impossible length 4n+1
      "Z",             // impossible length
      "Zm9v\xc3\xa9",  // non-ASCII
  };
  for (std::string_view bad : kBad) {
    EXPECT_FALSE(Base64UrlDecode(bad).has_value()) << bad;
  }
  EXPECT_FALSE(Base64UrlDecode(std::string_view("Zm\0v", 4)).has_value());
}

// Found by tests/fuzz/jwt: libsodium 1.0.18 decoded any byte >= 0x80 like '_', so a token's
// signature part had other accepted spellings.
TEST(Base64UrlTest, RejectsEveryNonAsciiByteWhereUnderscoreWouldDecode) {
  ASSERT_EQ(Base64UrlDecode("__8"), std::optional<std::string>("\xff\xff"));
  for (int byte = 0x80; byte <= 0xff; ++byte) {
    const std::string encoded = std::string(1, static_cast<char>(byte)) + "_8";
    EXPECT_FALSE(Base64UrlDecode(encoded).has_value()) << "byte " << byte;
  }
}

TEST(EcdsaSignatureTest, RawRoundTripsThroughDer) {
  std::string raw(64, '\0');
  for (std::size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<char>(i * 7 + 1);
  raw[0] = '\0';  // R with a leading zero byte must come back padded
  raw[1] = '\0';
  raw[32] = '\x80';  // S with the top bit set needs a DER sign byte
  const std::optional<std::string> der = EcdsaRawToDer(raw, 32);
  ASSERT_TRUE(der.has_value());
  EXPECT_EQ(static_cast<unsigned char>((*der)[0]), 0x30);  // SEQUENCE
  const std::optional<std::string> back = EcdsaDerToRaw(*der, 32);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, raw);
}

TEST(EcdsaSignatureTest, RejectsMalformedInput) {
  EXPECT_FALSE(EcdsaRawToDer(std::string(63, '\x01'), 32).has_value());
  EXPECT_FALSE(EcdsaRawToDer(std::string(65, '\x01'), 32).has_value());
  EXPECT_FALSE(EcdsaRawToDer("", 32).has_value());
  EXPECT_FALSE(EcdsaDerToRaw("", 32).has_value());
  EXPECT_FALSE(EcdsaDerToRaw("not der at all", 32).has_value());

  const std::optional<std::string> der = EcdsaRawToDer(std::string(64, '\x01'), 32);
  ASSERT_TRUE(der.has_value());
  EXPECT_FALSE(EcdsaDerToRaw(*der + "x", 32).has_value());  // trailing bytes
  // A component that does not fit the requested size.
  EXPECT_FALSE(EcdsaDerToRaw(*der, 16).has_value());
}

}  // namespace
}  // namespace passgate::server
