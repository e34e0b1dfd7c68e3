// Fuzzes the gateway's Go-compatible JSON body decoder (gateway/go_json_decode.*, which runs
// gateway/go_json_scanner.* first) with the login body's two string fields.
//
// Invariants, checked on every input:
//   - no crash, hang, leak or UB (ASan/UBSan);
//   - deterministic: decoding the same bytes twice gives the same error and the same fields;
//   - an error is non-empty, at most 200 bytes, and is one of the documented texts ("EOF",
//     "unexpected EOF", "Syntax error: ...", "Unmarshal type error: ...") - it never quotes
//     the body, so nothing of a password can leak into a 400;
//   - the scanner's value length lies within the body, and the decoder's syntax verdict
//     agrees with it;
//   - where nlohmann::json can judge (tests/fuzz/json_oracle.h: valid UTF-8, one whole value,
//     exact lowercase unique keys): the body decodes iff nlohmann says so, with the same
//     strings; null leaves the fields alone; a non-string member is a type error.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gateway/go_json_decode.h"
#include "gateway/go_json_scanner.h"
#include "tests/fuzz/json_oracle.h"

namespace {

using passgate::fuzz::Judge;
using passgate::fuzz::JudgedBody;
using passgate::gateway::BodyField;
using passgate::gateway::DecodeGoJson;
using passgate::gateway::ScanFirstValue;
using passgate::gateway::ScanResult;

constexpr std::string_view kUnset = "\x01unset";  // a value no JSON body decodes to

struct Decoded {
  std::optional<std::string> error;
  std::string user_id{kUnset};
  std::string password{kUnset};

  bool operator==(const Decoded&) const = default;
};

Decoded Decode(std::string_view body) {
  Decoded out;
  const BodyField fields[] = {{"user_id", &out.user_id}, {"password", &out.password}};
  out.error = DecodeGoJson(body, "handler.PasswordLoginBody", fields);
  return out;
}

bool StartsWith(const std::string& s, std::string_view prefix) { return s.starts_with(prefix); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  const ScanResult scan = ScanFirstValue(body);
  if (scan.kind == ScanResult::kOk) {
    PASSGATE_FUZZ_CHECK(scan.length > 0 && scan.length <= body.size());
  }
  if (scan.kind == ScanResult::kSyntaxError) PASSGATE_FUZZ_CHECK(scan.offset <= body.size());

  const Decoded first = Decode(body);
  const Decoded second = Decode(body);
  PASSGATE_FUZZ_CHECK(first == second);

  if (first.error) {
    const std::string& e = *first.error;
    PASSGATE_FUZZ_CHECK(!e.empty() && e.size() <= 200);
    PASSGATE_FUZZ_CHECK(e == "EOF" || e == "unexpected EOF" || StartsWith(e, "Syntax error: ") ||
                        StartsWith(e, "Unmarshal type error: "));
  }
  // The decoder reports exactly the scanner's syntax verdict.
  switch (scan.kind) {
    case ScanResult::kEof:
      PASSGATE_FUZZ_CHECK(first.error == "EOF");
      break;
    case ScanResult::kUnexpectedEof:
      PASSGATE_FUZZ_CHECK(first.error == "unexpected EOF");
      break;
    case ScanResult::kSyntaxError:
      PASSGATE_FUZZ_CHECK(first.error && StartsWith(*first.error, "Syntax error: "));
      break;
    case ScanResult::kOk:
      PASSGATE_FUZZ_CHECK(!first.error || StartsWith(*first.error, "Unmarshal type error: "));
      break;
  }

  const std::string_view names[] = {"user_id", "password"};
  const std::optional<JudgedBody> judged = Judge(body, names);
  if (!judged) return 0;
  PASSGATE_FUZZ_CHECK(scan.kind == ScanResult::kOk);
  switch (judged->kind) {
    case JudgedBody::kNull:
      PASSGATE_FUZZ_CHECK(first == Decoded{});
      break;
    case JudgedBody::kNotObject:
      PASSGATE_FUZZ_CHECK(first.error && StartsWith(*first.error, "Unmarshal type error: "));
      PASSGATE_FUZZ_CHECK(first.user_id == kUnset && first.password == kUnset);
      break;
    case JudgedBody::kObject: {
      PASSGATE_FUZZ_CHECK(first.error.has_value() == judged->type_error);
      const auto expected = [&](const char* field) {
        const auto it = judged->values.find(field);
        return it == judged->values.end() ? std::string(kUnset) : it->second;
      };
      PASSGATE_FUZZ_CHECK(first.user_id == expected("user_id"));
      PASSGATE_FUZZ_CHECK(first.password == expected("password"));
      break;
    }
  }
  return 0;
}
