#ifndef PASSGATE_TESTS_FUZZ_JSON_ORACLE_H_
#define PASSGATE_TESTS_FUZZ_JSON_ORACLE_H_

// JsonOracle: what Go's json.Decoder must decode from a request body into a struct of string
// fields, according to nlohmann::json, for the bodies where nlohmann can be the judge. Shared
// by the json_body and http_translation fuzzers.
//
// nlohmann is only a judge when the two decoders must agree: the whole body (not just its
// first value) is one JSON value, the body is valid UTF-8 and has no unpaired surrogate
// escapes (nlohmann rejects both, Go replaces them with U+FFFD), the top-level object has no
// duplicate keys, and no key matches a field only case-insensitively (Go does, nlohmann has
// no notion of it). Otherwise Judge returns nullopt and the caller checks nothing more.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"

namespace passgate::fuzz {

// PASSGATE_FUZZ_CHECK traps (libFuzzer reports a crash with the input) when an invariant does not hold.
#define PASSGATE_FUZZ_CHECK(condition)                                                  \
  do {                                                                                  \
    if (!(condition)) {                                                                 \
      ::passgate::fuzz::Fail(#condition, __FILE__, __LINE__);                           \
    }                                                                                   \
  } while (false)

[[noreturn]] inline void Fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "fuzz invariant violated: %s at %s:%d\n", what, file, line);
  __builtin_trap();
}

// IsValidUtf8 is an independent strict UTF-8 check (no overlong forms, no surrogates, at most
// U+10FFFF), so the oracle does not trust the gateway's own decoder.
inline bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t width;
    std::uint32_t rune, min;
    if ((c & 0xE0) == 0xC0) {
      width = 2, rune = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      width = 3, rune = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      width = 4, rune = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (i + width > s.size()) return false;
    for (std::size_t k = 1; k < width; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      rune = (rune << 6) | (d & 0x3F);
    }
    if (rune < min || rune > 0x10FFFF || (rune >= 0xD800 && rune < 0xE000)) return false;
    i += width;
  }
  return true;
}

// FoldsTo: Go's case-insensitive field match (ASCII case, U+017F -> s, U+212A -> k).
inline bool FoldsTo(std::string_view key, std::string_view name) {
  std::string folded;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (key.substr(i, 2) == "\xC5\xBF") {
      folded += 's';
      i += 1;
    } else if (key.substr(i, 3) == "\xE2\x84\xAA") {
      folded += 'k';
      i += 2;
    } else {
      const char c = key[i];
      folded += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
  }
  return folded == name;
}

struct JudgedBody {
  enum Kind {
    kNull,        // top-level null: success, fields untouched
    kNotObject,   // array, string, number, bool: an Unmarshal type error
    kObject,      // see `values` and `type_error`
  } kind = kNull;
  // Per field: the string it must receive; absent (or null) members are not listed.
  std::map<std::string, std::string> values;
  // A member for a field holds a number, bool, array or object: Go reports a type error
  // (and still sets the other fields).
  bool type_error = false;
};

// Judge returns what Go must decode from `body` into `fields`, or nullopt when nlohmann
// cannot tell (see the file comment).
inline std::optional<JudgedBody> Judge(std::string_view body,
                                       std::span<const std::string_view> fields) {
  if (!IsValidUtf8(body)) return std::nullopt;
  if (body.size() > 10000) return std::nullopt;  // Go's nesting limit is 10000; nlohmann has none
  bool duplicate = false;
  bool ambiguous_key = false;
  std::set<std::string> top_keys;
  const nlohmann::json::parser_callback_t callback =
      [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1) {
          const std::string& key = parsed.get_ref<const std::string&>();
          if (!top_keys.insert(key).second) duplicate = true;
          for (std::string_view field : fields) {
            if (key != field && FoldsTo(key, field)) ambiguous_key = true;
          }
        }
        return true;
      };
  const nlohmann::json value = nlohmann::json::parse(body, callback, /*allow_exceptions=*/false);
  if (value.is_discarded() || duplicate || ambiguous_key) return std::nullopt;

  JudgedBody judged;
  if (value.is_null()) return judged;
  if (!value.is_object()) {
    judged.kind = JudgedBody::kNotObject;
    return judged;
  }
  judged.kind = JudgedBody::kObject;
  for (std::string_view field : fields) {
    const auto it = value.find(std::string(field));
    if (it == value.end() || it->is_null()) continue;
    if (it->is_string()) {
      judged.values[std::string(field)] = it->get<std::string>();
    } else {
      judged.type_error = true;
    }
  }
  return judged;
}

}  // namespace passgate::fuzz

#endif  // PASSGATE_TESTS_FUZZ_JSON_ORACLE_H_
