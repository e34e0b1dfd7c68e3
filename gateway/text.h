#ifndef PASSGATE_GATEWAY_TEXT_H_
#define PASSGATE_GATEWAY_TEXT_H_

// Small ASCII helpers shared by the gateway's translation units. They take std::string_view
// on purpose: Debian's absl::string_view is a distinct type, so absl's own helpers do not
// accept these views.

#include <cstddef>
#include <string_view>
#include <vector>

#include "gateway/http_message.h"

namespace passgate::gateway {

// AsciiLower returns `c` with 'A'..'Z' mapped to 'a'..'z'; every other byte is unchanged.
inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// EqualsIgnoreCase reports whether `a` and `b` are equal up to ASCII case. Bytes >= 0x80 must
// match exactly.
inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// IsAsciiSpace reports whether `c` is one of JSON's four white-space bytes: ' ', '\t', '\n',
// '\r'.
inline bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// TrimAsciiSpace returns `s` without leading and trailing IsAsciiSpace bytes. The result
// views the same characters as `s`.
inline std::string_view TrimAsciiSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// HeaderValues returns every value of the header `name` (lowercase) in arrival order; empty
// when there is none. The views live as long as `request`.
inline std::vector<std::string_view> HeaderValues(const HttpRequest& request,
                                                  std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [key, value] : request.headers) {
    if (key == name) values.emplace_back(value);
  }
  return values;
}

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_TEXT_H_
