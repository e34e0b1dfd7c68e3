#include <cstdint>
#include <optional>
#include <string>

#include "gateway/go_json_decode.h"
#include "gateway/go_json_encode.h"
#include "gtest/gtest.h"

namespace passgate::gateway {
namespace {

// Each case decodes into a struct with fields "user_id", "password" and "key"; `error` empty
// means success.
struct DecodeCase {
  const char* body;
  const char* error;
  const char* user_id;
  const char* password;
  const char* key;
};

TEST(GoJsonDecodeTest, MatchesGoAndEcho) {
  const DecodeCase kCases[] = {
      {" \r\n\t", "EOF", "", "", ""},
      {"{", "unexpected EOF", "", "", ""},
      {R"({"user_id":"u)", "unexpected EOF", "", "", ""},
      {"{x", "Syntax error: offset=2, error=invalid character in JSON", "", "", ""},
      {R"({"a":1,})", "Syntax error: offset=8, error=invalid character in JSON", "", "", ""},
      {R"({"user_id":true})",
       "Unmarshal type error: expected=string, got=bool, field=user_id, offset=15", "", "", ""},
      {"[1]", "Unmarshal type error: expected=test.Body, got=array, field=, offset=1", "", "", ""},
      // Go keeps decoding after a type error and reports only the first one.
      {R"({"user_id":1,"password":"p","key":{}})",
       "Unmarshal type error: expected=string, got=number, field=user_id, offset=12", "", "p", ""},
      {R"({"user_id":"u","password":"p"} trailing {)", "", "u", "p", ""},
      {R"({"USER_ID":"u","Password":"p"})", "", "u", "p", ""},
      {"{\"\xE2\x84\xAA"
       "ey\":\"k\"}",
       "", "", "", "k"},  // Kelvin sign folds to 'k'
      {R"({"user_id":"a","user_id":"b","password":null})", "", "b", "", ""},
      {R"({"password":"\ud800x"})", "", "", "\xEF\xBF\xBDx", ""},
      {"{\"password\":\"a\xFF"
       "b\"}",
       "", "",
       "a\xEF\xBF\xBD"
       "b",
       ""},
      {R"({"password":"\ud83d\ude00\u00e9"})", "", "", "\xF0\x9F\x98\x80\xC3\xA9", ""},
      {"null", "", "", "", ""},
  };
  for (const DecodeCase& c : kCases) {
    std::string user_id, password, key;
    const BodyField fields[] = {{"user_id", &user_id}, {"password", &password}, {"key", &key}};
    const std::optional<std::string> error = DecodeGoJson(c.body, "test.Body", fields);
    EXPECT_EQ(error.value_or(""), c.error) << c.body;
    EXPECT_EQ(user_id, c.user_id) << c.body;
    EXPECT_EQ(password, c.password) << c.body;
    EXPECT_EQ(key, c.key) << c.body;
  }
}

TEST(GoJsonDecodeTest, ExactTagBeatsCaseInsensitiveMatch) {
  std::string lower, upper;
  const BodyField fields[] = {{"name", &lower}, {"NAME", &upper}};
  EXPECT_EQ(DecodeGoJson(R"({"NAME":"x","Name":"y"})", "test.Body", fields), std::nullopt);
  EXPECT_EQ(upper, "x");
  EXPECT_EQ(lower, "y");
}

TEST(GoJsonDecodeTest, NullLeavesFieldsUntouched) {
  std::string user_id = "kept";
  const BodyField fields[] = {{"user_id", &user_id}};
  EXPECT_EQ(DecodeGoJson(" null ", "test.Body", fields), std::nullopt);
  EXPECT_EQ(DecodeGoJson(R"({"user_id":null})", "test.Body", fields), std::nullopt);
  EXPECT_EQ(user_id, "kept");
}

TEST(GoJsonEncodeTest, StringsAreEscapedLikeGo) {
  const struct {
    const char* in;
    const char* out;
  } kCases[] = {
      {"", R"("")"},
      {"plain", R"("plain")"},
      {"a\"b\\c/", R"("a\"b\\c/")"},
      {"\b\f\n\r\t", R"("\b\f\n\r\t")"},
      {"\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\""},
      {"<a href=x&y>", R"("\u003ca href=x\u0026y\u003e")"},
      {"caf\xC3\xA9 \xF0\x9F\x98\x80", "\"caf\xC3\xA9 \xF0\x9F\x98\x80\""},
      {"\xE2\x80\xA8\xE2\x80\xA9", R"("\u2028\u2029")"},
      {"a\xFF\xC3", R"("a\ufffd\ufffd")"},
      {"\xED\xA0\x80", R"("\ufffd\ufffd\ufffd")"},  // an encoded surrogate is invalid
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(GoJsonString(c.in), c.out) << c.in;
    std::string appended = "x";
    AppendGoJsonString(appended, c.in);
    EXPECT_EQ(appended, std::string("x") + c.out) << c.in;
  }
}

TEST(GoJsonEncodeTest, Rfc3339LikeGoTimeMarshalJson) {
  const struct {
    std::int64_t seconds;
    int nanos;
    const char* text;
  } kCases[] = {
      {0, 0, "1970-01-01T00:00:00Z"},
      {-1, 0, "1969-12-31T23:59:59Z"},
      {951782400, 0, "2000-02-29T00:00:00Z"},
      {1700000000, 500000000, "2023-11-14T22:13:20.5Z"},
      {1700000000, 123000, "2023-11-14T22:13:20.000123Z"},
      {1700000000, 1, "2023-11-14T22:13:20.000000001Z"},
      {253402300799, 0, "9999-12-31T23:59:59Z"},
  };
  for (const auto& c : kCases) {
    google::protobuf::Timestamp ts;
    ts.set_seconds(c.seconds);
    ts.set_nanos(c.nanos);
    EXPECT_EQ(Rfc3339(ts), c.text) << c.seconds << "." << c.nanos;
  }
}

}  // namespace
}  // namespace passgate::gateway
