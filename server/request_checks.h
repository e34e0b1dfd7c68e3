#ifndef PASSGATE_SERVER_REQUEST_CHECKS_H_
#define PASSGATE_SERVER_REQUEST_CHECKS_H_

#include <cstddef>
#include <string_view>

#include "absl/status/status.h"

namespace passgate::server {

// kMaxPasswordBytes: bcrypt reads at most 72 bytes; Hanko rejects longer passwords and so
// does passgate, for every algorithm, so a password means the same thing everywhere.
inline constexpr std::size_t kMaxPasswordBytes = 72;

// CheckUserIdAndPassword reproduces Hanko's validator for {user_id, password} bodies:
// every failing field, in the order user_id, password, joined by " and ", e.g.
// "user_id is a required field and password is a required field". The texts are
// "user_id is a required field", "user_id must be a valid uuid" and
// "password is a required field". kInvalidArgument on failure.
absl::Status CheckUserIdAndPassword(std::string_view user_id, std::string_view password);

// CheckPasswordLength: kInvalidArgument "password must not be longer than 72 bytes".
absl::Status CheckPasswordNotTooLong(std::string_view password);

// CheckPasswordMinLength: kInvalidArgument "password must be at least N characters long"
// when `password` has fewer than `min_length` Unicode code points (Go's RuneCountInString:
// each invalid byte counts as one).
absl::Status CheckPasswordMinLength(std::string_view password, int min_length);

// IsPlausibleEmail: one '@' with text on both sides, no whitespace, at most 320 bytes.
// Deliverability is the mail system's business; this only keeps garbage out.
bool IsPlausibleEmail(std::string_view address);

// RuneCount counts code points the way Go's utf8.RuneCountInString does.
std::size_t RuneCount(std::string_view text);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_REQUEST_CHECKS_H_
