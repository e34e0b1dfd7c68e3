#include "gateway/go_json_decode.h"

#include <cstddef>
#include <cstdint>

#include "gateway/go_json_scanner.h"
#include "gateway/text.h"
#include "gateway/utf8.h"

namespace passgate::gateway {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// GetU4 is Go's getu4: the rune of a `\uXXXX` escape at s[i], or -1.
std::int32_t GetU4(std::string_view s, std::size_t i) {
  if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return -1;
  std::int32_t rune = 0;
  for (std::size_t k = i + 2; k < i + 6; ++k) {
    const int h = HexValue(s[k]);
    if (h < 0) return -1;
    rune = rune * 16 + h;
  }
  return rune;
}

// GoUnquote is Go's unquoteBytes for the contents of a scanned (hence well-formed) string:
// invalid UTF-8 and unpaired surrogates become U+FFFD.
std::string GoUnquote(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\') {
      const char e = i + 1 < s.size() ? s[i + 1] : '\0';
      switch (e) {
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          std::int32_t rune = GetU4(s, i);
          i += 6;
          if (rune < 0) return out;  // cannot happen after the scanner
          if (rune >= 0xD800 && rune < 0xE000) {
            const std::int32_t low = GetU4(s, i);
            if (rune < 0xDC00 && low >= 0xDC00 && low < 0xE000) {
              AppendUtf8(out, 0x10000 + ((rune - 0xD800) << 10) + (low - 0xDC00));
              i += 6;
              continue;
            }
            rune = 0xFFFD;
          }
          AppendUtf8(out, static_cast<std::uint32_t>(rune));
          continue;
        }
        default:  // '"', '\\', '/'
          out.push_back(e);
          break;
      }
      i += 2;
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x80) {
      out.push_back(c);
      ++i;
      continue;
    }
    std::uint32_t rune = 0;
    const std::size_t width = DecodeUtf8(s, i, rune);
    if (width == 0) {
      AppendUtf8(out, 0xFFFD);
      ++i;
    } else {
      out.append(s.substr(i, width));
      i += width;
    }
  }
  return out;
}

// FoldEquals is Go's case-insensitive struct field matching for an ASCII field name: besides
// ASCII case, U+017F (long s) folds to 's' and U+212A (Kelvin sign) to 'k'.
bool FoldEquals(std::string_view key, std::string_view name) {
  std::size_t i = 0, j = 0;
  while (i < key.size() && j < name.size()) {
    char k = key[i];
    if (static_cast<unsigned char>(k) < 0x80) {
      ++i;
    } else {
      std::uint32_t rune = 0;
      const std::size_t width = DecodeUtf8(key, i, rune);
      if (rune == 0x17F && width == 2) {
        k = 's';
      } else if (rune == 0x212A && width == 3) {
        k = 'k';
      } else {
        return false;
      }
      i += width;
    }
    if (AsciiLower(k) != AsciiLower(name[j])) return false;
    ++j;
  }
  return i == key.size() && j == name.size();
}

// ValueWalker walks a value that ScanFirstValue accepted, so it need not re-check syntax.
class ValueWalker {
 public:
  explicit ValueWalker(std::string_view data) : data_(data) {}

  std::size_t SkipSpace(std::size_t p) const {
    while (p < data_.size() && IsAsciiSpace(data_[p])) ++p;
    return p;
  }
  // StringEnd: p at the opening quote; returns the index after the closing quote.
  std::size_t StringEnd(std::size_t p) const {
    for (std::size_t i = p + 1; i < data_.size(); ++i) {
      if (data_[i] == '\\') {
        ++i;
      } else if (data_[i] == '"') {
        return i + 1;
      }
    }
    return data_.size();
  }
  // LiteralEnd is Go's rescanLiteral for numbers, true, false and null.
  std::size_t LiteralEnd(std::size_t p) const {
    switch (data_[p]) {
      case 't':
      case 'n':
        return p + 4;
      case 'f':
        return p + 5;
      default:
        break;
    }
    while (p < data_.size() &&
           std::string_view("0123456789.eE+-").find(data_[p]) != std::string_view::npos) {
      ++p;
    }
    return p;
  }
  std::size_t ValueEnd(std::size_t p) const {
    const char c = data_[p];
    if (c == '"') return StringEnd(p);
    if (c != '{' && c != '[') return LiteralEnd(p);
    int depth = 0;
    while (p < data_.size()) {
      const char d = data_[p];
      if (d == '"') {
        p = StringEnd(p);
        continue;
      }
      if (d == '{' || d == '[') ++depth;
      if (d == '}' || d == ']') {
        if (--depth == 0) return p + 1;
      }
      ++p;
    }
    return p;
  }

 private:
  std::string_view data_;
};

// GoTypeName is what Go calls the kind of JSON value starting with `c`.
std::string_view GoTypeName(char c) {
  switch (c) {
    case '{':
      return "object";
    case '[':
      return "array";
    case '"':
      return "string";
    case 't':
    case 'f':
      return "bool";
    default:
      return "number";
  }
}

std::string UnmarshalTypeError(std::string_view expected, std::string_view got,
                               std::string_view field, std::size_t offset) {
  return "Unmarshal type error: expected=" + std::string(expected) + ", got=" + std::string(got) +
         ", field=" + std::string(field) + ", offset=" + std::to_string(offset);
}

}  // namespace

std::optional<std::string> DecodeGoJson(std::string_view body, std::string_view go_type,
                                        std::span<const BodyField> fields) {
  const ScanResult scan = ScanFirstValue(body);
  switch (scan.kind) {
    case ScanResult::kEof:
      return "EOF";
    case ScanResult::kUnexpectedEof:
      return "unexpected EOF";
    case ScanResult::kSyntaxError:
      // Go: "invalid character 'x' looking for beginning of value"; the character is dropped.
      return "Syntax error: offset=" + std::to_string(scan.offset) +
             ", error=invalid character in JSON";
    case ScanResult::kOk:
      break;
  }
  const ValueWalker walk(body.substr(0, scan.length));
  std::size_t p = walk.SkipSpace(0);
  const char top = body[p];
  if (top == 'n') return std::nullopt;  // null leaves the struct untouched
  if (top != '{') {
    const std::size_t offset = (top == '[') ? p + 1 : walk.ValueEnd(p);
    return UnmarshalTypeError(go_type, GoTypeName(top), "", offset);
  }
  std::optional<std::string> first_error;  // Go keeps decoding and reports the first one
  p = walk.SkipSpace(p + 1);
  while (p < scan.length && body[p] != '}') {
    const std::size_t key_end = walk.StringEnd(p);
    const std::string key = GoUnquote(body.substr(p + 1, key_end - p - 2));
    p = walk.SkipSpace(walk.SkipSpace(key_end) + 1);  // skip ':'
    const BodyField* field = nullptr;
    for (const BodyField& f : fields) {
      if (key == f.name) field = &f;
    }
    if (field == nullptr) {
      for (const BodyField& f : fields) {
        if (FoldEquals(key, f.name)) {
          field = &f;
          break;
        }
      }
    }
    const char c = body[p];
    const std::size_t end = walk.ValueEnd(p);
    if (field != nullptr && c == '"') {
      *field->value = GoUnquote(body.substr(p + 1, end - p - 2));
    } else if (field != nullptr && c != 'n' && !first_error) {
      const std::size_t offset = (c == '{' || c == '[') ? p + 1 : end;
      first_error = UnmarshalTypeError("string", GoTypeName(c), field->name, offset);
    }
    p = walk.SkipSpace(end);
    if (p < scan.length && body[p] == ',') p = walk.SkipSpace(p + 1);
  }
  return first_error;
}

}  // namespace passgate::gateway
