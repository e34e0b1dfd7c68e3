#ifndef PASSGATE_GATEWAY_GO_JSON_DECODE_H_
#define PASSGATE_GATEWAY_GO_JSON_DECODE_H_

// Request bodies, decoded exactly like Echo's DefaultBinder (encoding/json.Decoder.Decode into
// a struct of string fields), so that every 400 text matches Hanko's. nlohmann::json cannot
// do this: it rejects invalid UTF-8 and lone surrogates that Go silently replaces with U+FFFD,
// matches keys case-sensitively, and reports different offsets.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace passgate::gateway {

// BodyField is one `string` field of the Go struct a body is decoded into.
struct BodyField {
  std::string_view name;  // the json tag
  std::string* value;     // receives the decoded string; left alone when the body has none
};

// DecodeGoJson decodes `body` into `fields` like json.NewDecoder(body).Decode(&goStruct) and
// returns Echo's error text on failure, nullopt on success. `go_type` is the struct's Go name
// ("handler.PasswordLoginBody"), which Go puts into type errors.
//
// Go's rules, all kept:
//   - Only the first JSON value counts; bytes after it are ignored.
//   - A top-level null decodes nothing; any other non-object is a type error.
//   - Keys match a field's tag exactly, else case-insensitively (with Go's folding of U+017F
//     and U+212A); the last occurrence of a key wins; unknown keys are skipped.
//   - A JSON null leaves a field unchanged; a number, bool, array or object is a type error,
//     but decoding goes on and the first such error is reported (fields decoded before and
//     after it keep their values).
//   - Strings are unescaped with invalid UTF-8 and unpaired surrogates turned into U+FFFD.
//
// Error texts: "EOF", "unexpected EOF",
// "Syntax error: offset=<n>, error=invalid character in JSON" and
// "Unmarshal type error: expected=<type>, got=<kind>, field=<tag>, offset=<n>". They never
// quote the body (it may hold a password).
//
//   std::string user_id, password;
//   const BodyField fields[] = {{"user_id", &user_id}, {"password", &password}};
//   if (std::optional<std::string> error =
//           DecodeGoJson(body, "handler.PasswordLoginBody", fields)) {
//     return ErrorResponse(400, *error);
//   }
std::optional<std::string> DecodeGoJson(std::string_view body, std::string_view go_type,
                                        std::span<const BodyField> fields);

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_GO_JSON_DECODE_H_
