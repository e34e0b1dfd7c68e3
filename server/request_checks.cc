#include "server/request_checks.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/uuid.h"

namespace passgate::server {

absl::Status CheckUserIdAndPassword(std::string_view user_id, std::string_view password) {
  std::vector<std::string> errors;
  if (user_id.empty()) {
    errors.push_back("user_id is a required field");
  } else if (!IsCanonicalUuid(user_id)) {
    errors.push_back("user_id must be a valid uuid");
  }
  if (password.empty()) errors.push_back("password is a required field");
  if (errors.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors, " and "));
}

absl::Status CheckPasswordNotTooLong(std::string_view password) {
  if (password.size() <= kMaxPasswordBytes) return absl::OkStatus();
  return absl::InvalidArgumentError("password must not be longer than 72 bytes");
}

absl::Status CheckPasswordMinLength(std::string_view password, int min_length) {
  if (RuneCount(password) >= static_cast<std::size_t>(min_length)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("password must be at least ", min_length, " characters long"));
}

bool IsPlausibleEmail(std::string_view address) {
  const auto at = address.find('@');
  return address.size() <= 320 && at != std::string_view::npos && at > 0 &&
         at + 1 < address.size() && address.find('@', at + 1) == std::string_view::npos &&
         std::none_of(address.begin(), address.end(), [](char c) {
           return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
         });
}

std::size_t RuneCount(std::string_view text) {
  std::size_t runes = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 1;
    unsigned min_code = 0;
    if (lead >= 0xc2 && lead <= 0xdf) {
      length = 2, min_code = 0x80;
    } else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3, min_code = 0x800;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4, min_code = 0x10000;
    }
    bool valid = length == 1 ? lead < 0x80 : i + length <= text.size();
    unsigned code = length == 1 ? lead : lead & (0x7fu >> length);
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xc0) != 0x80) valid = false;
      code = (code << 6) | (cont & 0x3fu);
    }
    if (valid && length > 1 &&
        (code < min_code || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))) {
      valid = false;
    }
    // Like Go, an invalid sequence counts as one rune per byte consumed.
    i += valid ? length : 1;
    ++runes;
  }
  return runes;
}

}  // namespace passgate::server
