#ifndef PASSGATE_GATEWAY_GO_JSON_ENCODE_H_
#define PASSGATE_GATEWAY_GO_JSON_ENCODE_H_

// Output pieces that must be byte-identical to what Hanko's Go code writes with
// encoding/json, so that clients comparing bodies see no difference.

#include <string>
#include <string_view>

#include "google/protobuf/timestamp.pb.h"

namespace passgate::gateway {

// AppendGoJsonString appends `s` to `out` as a quoted JSON string exactly as Go's json.Encoder
// writes it (HTML-safe): '"', '\\' and \b \f \n \r \t get short escapes, other control
// bytes and '<', '>', '&' become \u00XX, U+2028/U+2029 become \u2028/\u2029, and every byte of
// invalid UTF-8 becomes \ufffd. Everything else is copied unchanged.
void AppendGoJsonString(std::string& out, std::string_view s);

// GoJsonString returns AppendGoJsonString's encoding of `s` as a new string.
//
//   out += ",\"issuer\":" + GoJsonString(claims.issuer());
std::string GoJsonString(std::string_view s);

// Rfc3339 formats `ts` like Go's time.Time.MarshalJSON for a UTC time, without the quotes:
// "2006-01-02T15:04:05Z", with the nanoseconds as a fraction whose trailing zeros are dropped
// ("...T15:04:05.5Z"); no fraction when nanos is 0. Times before 1970 are handled.
// REQUIRES: 0 <= ts.nanos() < 1e9 and a year in 0..9999 (the protobuf Timestamp range).
std::string Rfc3339(const google::protobuf::Timestamp& ts);

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_GO_JSON_ENCODE_H_
