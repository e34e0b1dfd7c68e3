#include "server/request_checks.h"

#include <regex>
#include <set>
#include <string>
#include <string_view>

#include "gtest/gtest.h"
#include "server/uuid.h"

namespace passgate::server {
namespace {

constexpr std::string_view kUserId = "38bf5a00-d7ea-40a5-a5de-48722c148925";

// ---------------------------------------------------------------------------------------------
// CheckUserIdAndPassword: Hanko's validator texts, joined by " and " in field order.

TEST(CheckUserIdAndPasswordTest, MessagesMatchHanko) {
  struct Case {
    std::string user_id;
    std::string password;
    std::string want;  // empty: OK
  };
  const Case kCases[] = {
      {"", "", "user_id is a required field and password is a required field"},
      {"", "SuperSecure", "user_id is a required field"},
      {std::string(kUserId), "", "password is a required field"},
      {"38BF5A00-D7EA-40A5-A5DE-48722C148925", "SuperSecure", "user_id must be a valid uuid"},
      {"not-a-uuid", "", "user_id must be a valid uuid and password is a required field"},
      {"not-a-uuid", "SuperSecure", "user_id must be a valid uuid"},
      {std::string(kUserId), "SuperSecure", ""},
      // Length is not this check's business: no minimum, no maximum.
      {std::string(kUserId), "x", ""},
      {std::string(kUserId), std::string(100, 'a'), ""},
  };
  for (const Case& c : kCases) {
    const absl::Status status = CheckUserIdAndPassword(c.user_id, c.password);
    const std::string input = "user_id=\"" + c.user_id + "\" password=\"" + c.password + "\"";
    if (c.want.empty()) {
      EXPECT_TRUE(status.ok()) << input << ": " << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << input;
      EXPECT_EQ(std::string(status.message()), c.want) << input;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CheckPasswordNotTooLong: 72 bytes, not characters.

TEST(CheckPasswordNotTooLongTest, LimitIsSeventyTwoBytes) {
  struct Case {
    std::string password;
    bool ok;
  };
  std::string umlauts36, umlauts37;
  for (int i = 0; i < 36; ++i) umlauts36 += "ä";
  umlauts37 = umlauts36 + "ä";
  const Case kCases[] = {
      {"a", true},
      {std::string(72, 'a'), true},
      {std::string(73, 'a'), false},
      {std::string(82, 'a'), false},
      {umlauts36, true},   // 36 runes, 72 bytes
      {umlauts37, false},  // 37 runes, 74 bytes
  };
  for (const Case& c : kCases) {
    const absl::Status status = CheckPasswordNotTooLong(c.password);
    const std::string input = std::to_string(c.password.size()) + " bytes";
    if (c.ok) {
      EXPECT_TRUE(status.ok()) << input << ": " << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << input;
      EXPECT_EQ(std::string(status.message()), "password must not be longer than 72 bytes")
          << input;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// CheckPasswordMinLength: code points, as Go's utf8.RuneCountInString counts them.

TEST(CheckPasswordMinLengthTest, CountsCodePointsNotBytes) {
  struct Case {
    std::string password;
    int min_length;
    std::string want;  // empty: OK
  };
  const Case kCases[] = {
      {"äöüäöüäö", 8, ""},                                            // 8 runes, 16 bytes
      {"äöüäöüä", 8, "password must be at least 8 characters long"},  // 7 runes, 14 bytes
      {"very", 8, "password must be at least 8 characters long"},
      {"1234567", 8, "password must be at least 8 characters long"},
      {"12345678", 8, ""},
      {"verybadpassword", 8, ""},
      {"123456789", 10, "password must be at least 10 characters long"},
      {"1234567890", 10, ""},
      {"x", 1, ""},
      // Four invalid bytes count as four runes, like Go.
      {"\xff\xfe\xfd\xfc", 4, ""},
  };
  for (const Case& c : kCases) {
    const absl::Status status = CheckPasswordMinLength(c.password, c.min_length);
    const std::string input = "\"" + c.password + "\" min " + std::to_string(c.min_length);
    if (c.want.empty()) {
      EXPECT_TRUE(status.ok()) << input << ": " << status;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << input;
      EXPECT_EQ(std::string(status.message()), c.want) << input;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// RuneCount: Go's utf8.RuneCountInString, including its one-rune-per-invalid-byte rule.

TEST(RuneCountTest, MatchesGoRuneCountInString) {
  struct Case {
    std::string text;
    std::size_t want;
    const char* what;
  };
  const Case kCases[] = {
      {"", 0, "empty"},
      {"abc", 3, "ascii"},
      {"äöü", 3, "2-byte sequences"},
      {"\xe2\x82\xac", 1, "euro sign, 3 bytes"},
      {"\xf0\x9f\x98\x80", 1, "emoji, 4 bytes"},
      {"a\xf0\x9f\x98\x80"
       "b",
       3, "emoji between ascii"},
      {"\xff", 1, "invalid byte 0xff"},
      {"\x80", 1, "lone continuation byte"},
      {"a\xff"
       "b",
       3, "invalid byte between ascii"},
      {"\xc3", 1, "truncated 2-byte sequence"},
      {"\xe2\x82", 2, "truncated 3-byte sequence: one per byte"},
      {"\xf0\x9f\x98", 3, "truncated 4-byte sequence: one per byte"},
      {"\xc3"
       "a",
       2, "lead byte followed by ascii"},
      {"\xc0\x80", 2, "overlong NUL"},
      {"\xe0\x80\x80", 3, "overlong 3-byte"},
      {"\xed\xa0\x80", 3, "UTF-16 surrogate"},
      {"\xf4\x90\x80\x80", 4, "above U+10FFFF"},
      {"\xf5\x80\x80\x80", 4, "invalid lead 0xf5"},
      {"\xf4\x8f\xbf\xbf", 1, "U+10FFFF itself"},
      {std::string("a\0b", 3), 3, "embedded NUL"},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(RuneCount(c.text), c.want) << c.what;
  }
}

// ---------------------------------------------------------------------------------------------
// IsPlausibleEmail

TEST(IsPlausibleEmailTest, KeepsGarbageOut) {
  struct Case {
    std::string address;
    bool want;
  };
  const std::string at_limit = std::string(320 - 12, 'a') + "@example.com";
  const Case kCases[] = {
      {"john.doe@example.com", true},
      {"john.doe+1@example.com", true},
      {"a@b", true},
      {"ä@example.com", true},
      {at_limit, true},
      {"a" + at_limit, false},  // 321 bytes
      {"", false},
      {"john.doe", false},
      {"@example.com", false},
      {"john.doe@", false},
      {"@", false},
      {"a@b@c", false},
      {"john doe@example.com", false},
      {"john.doe@example.com ", false},
      {"john\t@example.com", false},
      {"john\n@example.com", false},
      {"john\x7f@example.com", false},
      {std::string("john\0@example.com", 17), false},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(IsPlausibleEmail(c.address), c.want) << "\"" << c.address << "\"";
  }
}

// ---------------------------------------------------------------------------------------------
// IsCanonicalUuid: Hanko's `uuid` validator, any version, lowercase only.

TEST(IsCanonicalUuidTest, AcceptsOnlyLowercaseHyphenatedHex) {
  struct Case {
    std::string text;
    bool want;
  };
  const Case kCases[] = {
      {"38bf5a00-d7ea-40a5-a5de-48722c148925", true},
      {"6ba7b810-9dad-11d1-80b4-00c04fd430c8", true},  // version 1
      {"00000000-0000-0000-0000-000000000000", true},  // nil UUID
      {"ffffffff-ffff-ffff-ffff-ffffffffffff", true},
      {"38BF5A00-D7EA-40A5-A5DE-48722C148925", false},
      {"38bf5a00-d7ea-40a5-a5de-48722C148925", false},  // one uppercase digit
      {"38bf5a00d7ea40a5a5de48722c148925", false},
      {"{38bf5a00-d7ea-40a5-a5de-48722c148925}", false},
      {"urn:uuid:38bf5a00-d7ea-40a5-a5de-48722c148925", false},
      {"38bf5a00-d7ea-40a5-a5de-48722c14892", false},
      {"38bf5a00-d7ea-40a5-a5de-48722c1489250", false},
      {"38bf5a00-d7ea-40a5-a5de-48722c14892g", false},
      {"38bf5a00-d7ea-40a5-a5de_48722c148925", false},
      {"38bf5a0-0d7ea-40a5-a5de-48722c148925", false},  // hyphen in the wrong place
      {" 38bf5a00-d7ea-40a5-a5de-48722c14892", false},
      {"", false},
  };
  for (const Case& c : kCases) {
    EXPECT_EQ(IsCanonicalUuid(c.text), c.want) << "\"" << c.text << "\"";
  }
}

// ---------------------------------------------------------------------------------------------
// NewUuidV4

TEST(NewUuidV4Test, IsCanonicalVersion4WithRfc4122Variant) {
  static const std::regex kUuidV4(
      "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  for (int i = 0; i < 100; ++i) {
    const std::string uuid = NewUuidV4();
    EXPECT_TRUE(std::regex_match(uuid, kUuidV4)) << uuid;
    EXPECT_TRUE(IsCanonicalUuid(uuid)) << uuid;
  }
}

TEST(NewUuidV4Test, ThousandAreDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string uuid = NewUuidV4();
    EXPECT_TRUE(seen.insert(uuid).second) << "duplicate " << uuid;
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace passgate::server
