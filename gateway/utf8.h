#ifndef PASSGATE_GATEWAY_UTF8_H_
#define PASSGATE_GATEWAY_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace passgate::gateway {

// AppendUtf8 appends the UTF-8 encoding of `rune` to `out`.
// REQUIRES: `rune` <= 0x10FFFF and not a surrogate (callers pass U+FFFD instead).
void AppendUtf8(std::string& out, std::uint32_t rune);

// DecodeUtf8 decodes one rune at s[i] the way Go's utf8.DecodeRune does: overlong forms,
// surrogates and values above U+10FFFF are invalid. Returns the width in bytes (2 to 4) and
// sets `rune`, or returns 0 when the bytes at s[i] are not a valid multi-byte sequence
// (`rune` is then unspecified). It returns 0 for an ASCII byte too: callers handle ASCII
// first.
// REQUIRES: i < s.size().
//
//   std::uint32_t rune = 0;
//   if (std::size_t width = DecodeUtf8(s, i, rune); width == 0) { /* U+FFFD, 1 byte */ }
std::size_t DecodeUtf8(std::string_view s, std::size_t i, std::uint32_t& rune);

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_UTF8_H_
