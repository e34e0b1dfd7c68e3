#include "gateway/password_api.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace passgate::gateway {
namespace {

using passgate::v1::Jwks;
using passgate::v1::LoginRequest;
using passgate::v1::LoginResponse;
using passgate::v1::SetPasswordRequest;
using passgate::v1::SetPasswordResponse;
using passgate::v1::ValidateSessionRequest;
using passgate::v1::ValidateSessionResponse;

constexpr std::string_view kJson = "application/json";
// Echo's c.JSON(status, nil): the JSON literal null plus the encoder's newline.
constexpr std::string_view kNullBody = "null\n";
// Echo's jwt extractors stop after this many values per source.
constexpr std::size_t kMaxTokenCandidates = 20;

// ---------------------------------------------------------------------------------------------
// Small string helpers (std only: Debian's absl::string_view is not std::string_view).

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

bool IsAsciiSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view TrimAsciiSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> HeaderValues(const HttpRequest& request, std::string_view name) {
  std::vector<std::string_view> values;
  for (const auto& [key, value] : request.headers) {
    if (key == name) values.emplace_back(value);
  }
  return values;
}

void AppendUtf8(std::string& out, std::uint32_t rune) {
  if (rune < 0x80) {
    out.push_back(static_cast<char>(rune));
  } else if (rune < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (rune >> 6)));
    out.push_back(static_cast<char>(0x80 | (rune & 0x3F)));
  } else if (rune < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (rune >> 12)));
    out.push_back(static_cast<char>(0x80 | ((rune >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (rune & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (rune >> 18)));
    out.push_back(static_cast<char>(0x80 | ((rune >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((rune >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (rune & 0x3F)));
  }
}

// DecodeUtf8 decodes one rune at s[i] the way Go's utf8.DecodeRune does: overlong forms,
// surrogates and values above U+10FFFF are invalid. Returns the width (0 when invalid).
std::size_t DecodeUtf8(std::string_view s, std::size_t i, std::uint32_t& rune) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  std::size_t width = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    width = 2;
    rune = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    width = 3;
    rune = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    width = 4;
    rune = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + width > s.size()) return 0;
  for (std::size_t k = 1; k < width; ++k) {
    const unsigned char cc = byte(i + k);
    if (k == 1 ? (cc < lo || cc > hi) : (cc < 0x80 || cc > 0xBF)) return 0;
    rune = (rune << 6) | (cc & 0x3F);
  }
  return width;
}

// ---------------------------------------------------------------------------------------------
// Request bodies, decoded exactly like Echo's DefaultBinder (encoding/json.Decoder.Decode into
// a struct of string fields), so that every 400 text matches Hanko's. nlohmann::json cannot
// do this: it rejects invalid UTF-8 and lone surrogates that Go silently replaces with U+FFFD,
// matches keys case-sensitively, and reports different offsets.

// GoScanner is a port of the state machine in Go's encoding/json/scanner.go.
class GoScanner {
 public:
  enum Op {
    kContinue,
    kBeginLiteral,
    kBeginObject,
    kObjectKey,
    kObjectValue,
    kEndObject,
    kBeginArray,
    kArrayValue,
    kEndArray,
    kSkipSpace,
    kEnd,
    kError,
  };

  Op Step(unsigned char c) {
    switch (state_) {
      case State::kBeginValueOrEmpty:
        if (IsSpace(c)) return kSkipSpace;
        if (c == ']') return EndValue(c);
        return BeginValue(c);
      case State::kBeginValue:
        return BeginValue(c);
      case State::kBeginStringOrEmpty:
        if (IsSpace(c)) return kSkipSpace;
        if (c == '}') {
          parse_.back() = Parse::kObjectValue;
          return EndValue(c);
        }
        return BeginString(c);
      case State::kBeginString:
        return BeginString(c);
      case State::kEndValue:
        return EndValue(c);
      case State::kEndTop:
        return EndTop(c);
      case State::kInString:
        if (c == '"') return Next(State::kEndValue);
        if (c == '\\') return Next(State::kInStringEsc);
        if (c < 0x20) return Error();
        return kContinue;
      case State::kInStringEsc:
        switch (c) {
          case 'b':
          case 'f':
          case 'n':
          case 'r':
          case 't':
          case '\\':
          case '/':
          case '"':
            return Next(State::kInString);
          case 'u':
            return Next(State::kInStringEscU);
          default:
            return Error();
        }
      case State::kInStringEscU:
        return IsHex(c) ? Next(State::kInStringEscU1) : Error();
      case State::kInStringEscU1:
        return IsHex(c) ? Next(State::kInStringEscU12) : Error();
      case State::kInStringEscU12:
        return IsHex(c) ? Next(State::kInStringEscU123) : Error();
      case State::kInStringEscU123:
        return IsHex(c) ? Next(State::kInString) : Error();
      case State::kNeg:
        if (c == '0') return Next(State::k0);
        if (c >= '1' && c <= '9') return Next(State::k1);
        return Error();
      case State::k1:
        if (IsDigit(c)) return kContinue;
        return State0(c);
      case State::k0:
        return State0(c);
      case State::kDot:
        return IsDigit(c) ? Next(State::kDot0) : Error();
      case State::kDot0:
        if (IsDigit(c)) return kContinue;
        if (c == 'e' || c == 'E') return Next(State::kE);
        return EndValue(c);
      case State::kE:
        if (c == '+' || c == '-') return Next(State::kESign);
        return IsDigit(c) ? Next(State::kE0) : Error();
      case State::kESign:
        return IsDigit(c) ? Next(State::kE0) : Error();
      case State::kE0:
        if (IsDigit(c)) return kContinue;
        return EndValue(c);
      case State::kT:
        return c == 'r' ? Next(State::kTr) : Error();
      case State::kTr:
        return c == 'u' ? Next(State::kTru) : Error();
      case State::kTru:
        return c == 'e' ? Next(State::kEndValue) : Error();
      case State::kF:
        return c == 'a' ? Next(State::kFa) : Error();
      case State::kFa:
        return c == 'l' ? Next(State::kFal) : Error();
      case State::kFal:
        return c == 's' ? Next(State::kFals) : Error();
      case State::kFals:
        return c == 'e' ? Next(State::kEndValue) : Error();
      case State::kN:
        return c == 'u' ? Next(State::kNu) : Error();
      case State::kNu:
        return c == 'l' ? Next(State::kNul) : Error();
      case State::kNul:
        return c == 'l' ? Next(State::kEndValue) : Error();
      case State::kError:
        return kError;
    }
    return kError;
  }

  // EndValue is Go's stateEndValue, which the decoder also calls directly.
  Op EndValue(unsigned char c) {
    if (parse_.empty()) {
      state_ = State::kEndTop;
      return EndTop(c);
    }
    if (IsSpace(c)) {
      state_ = State::kEndValue;
      return kSkipSpace;
    }
    switch (parse_.back()) {
      case Parse::kObjectKey:
        if (c == ':') {
          parse_.back() = Parse::kObjectValue;
          return Next(State::kBeginValue, kObjectKey);
        }
        return Error();
      case Parse::kObjectValue:
        if (c == ',') {
          parse_.back() = Parse::kObjectKey;
          return Next(State::kBeginString, kObjectValue);
        }
        if (c == '}') {
          Pop();
          return kEndObject;
        }
        return Error();
      case Parse::kArrayValue:
        if (c == ',') return Next(State::kBeginValue, kArrayValue);
        if (c == ']') {
          Pop();
          return kEndArray;
        }
        return Error();
    }
    return Error();
  }

 private:
  enum class State {
    kBeginValueOrEmpty,
    kBeginValue,
    kBeginStringOrEmpty,
    kBeginString,
    kEndValue,
    kEndTop,
    kInString,
    kInStringEsc,
    kInStringEscU,
    kInStringEscU1,
    kInStringEscU12,
    kInStringEscU123,
    kNeg,
    k1,
    k0,
    kDot,
    kDot0,
    kE,
    kESign,
    kE0,
    kT,
    kTr,
    kTru,
    kF,
    kFa,
    kFal,
    kFals,
    kN,
    kNu,
    kNul,
    kError,
  };
  enum class Parse { kObjectKey, kObjectValue, kArrayValue };
  static constexpr std::size_t kMaxNestingDepth = 10000;  // Go's maxNestingDepth

  static bool IsSpace(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
  static bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
  static bool IsHex(unsigned char c) {
    return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  Op Next(State state, Op op = kContinue) {
    state_ = state;
    return op;
  }
  Op Error() {
    state_ = State::kError;
    return kError;
  }
  Op Push(Parse parse, State next, Op op) {
    parse_.push_back(parse);
    if (parse_.size() > kMaxNestingDepth) return Error();
    return Next(next, op);
  }
  void Pop() {
    parse_.pop_back();
    state_ = parse_.empty() ? State::kEndTop : State::kEndValue;
  }
  // Go's stateEndTop reports a stray byte after the value only on the next call; the decoder
  // never makes that call, so trailing bytes are ignored.
  static Op EndTop(unsigned char) { return kEnd; }

  Op BeginValue(unsigned char c) {
    if (IsSpace(c)) return kSkipSpace;
    switch (c) {
      case '{':
        return Push(Parse::kObjectKey, State::kBeginStringOrEmpty, kBeginObject);
      case '[':
        return Push(Parse::kArrayValue, State::kBeginValueOrEmpty, kBeginArray);
      case '"':
        return Next(State::kInString, kBeginLiteral);
      case '-':
        return Next(State::kNeg, kBeginLiteral);
      case '0':
        return Next(State::k0, kBeginLiteral);
      case 't':
        return Next(State::kT, kBeginLiteral);
      case 'f':
        return Next(State::kF, kBeginLiteral);
      case 'n':
        return Next(State::kN, kBeginLiteral);
      default:
        if (c >= '1' && c <= '9') return Next(State::k1, kBeginLiteral);
        return Error();
    }
  }
  Op BeginString(unsigned char c) {
    if (IsSpace(c)) return kSkipSpace;
    if (c == '"') return Next(State::kInString, kBeginLiteral);
    return Error();
  }
  Op State0(unsigned char c) {
    if (c == '.') return Next(State::kDot);
    if (c == 'e' || c == 'E') return Next(State::kE);
    return EndValue(c);
  }

  State state_ = State::kBeginValue;
  std::vector<Parse> parse_;
};

// ScanFirstValue is Go's Decoder.readValue: it finds the end of the first JSON value of
// `data`, ignoring whatever follows it.
struct ScanResult {
  enum Kind { kOk, kSyntaxError, kEof, kUnexpectedEof } kind = kOk;
  std::size_t length = 0;  // kOk: bytes of the value (from the start of `data`)
  std::size_t offset = 0;  // kSyntaxError: Go's SyntaxError.Offset
};

ScanResult ScanFirstValue(std::string_view data) {
  GoScanner scanner;
  for (std::size_t i = 0; i < data.size(); ++i) {
    switch (scanner.Step(static_cast<unsigned char>(data[i]))) {
      case GoScanner::kEnd:
        return {ScanResult::kOk, i, 0};
      case GoScanner::kEndObject:
      case GoScanner::kEndArray:
        if (scanner.EndValue(' ') == GoScanner::kEnd) return {ScanResult::kOk, i + 1, 0};
        break;
      case GoScanner::kError:
        return {ScanResult::kSyntaxError, 0, i + 1};
      default:
        break;
    }
  }
  if (scanner.Step(' ') == GoScanner::kEnd) return {ScanResult::kOk, data.size(), 0};
  const bool non_space =
      std::any_of(data.begin(), data.end(), [](char c) { return !IsAsciiSpace(c); });
  return {non_space ? ScanResult::kUnexpectedEof : ScanResult::kEof, 0, 0};
}

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

struct BodyField {
  std::string_view name;  // the json tag
  std::string* value;
};

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
  std::string_view data() const { return data_; }

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

// DecodeGoJson decodes `body` into `fields` like json.NewDecoder(body).Decode(&goStruct) and
// returns Echo's error text on failure. Texts never quote the body (it may hold a password).
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

// GoJsonString is Go's encoding/json string encoding (HTML-safe, as json.Encoder writes it).
void AppendGoJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            out += "\\u00";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    std::uint32_t rune = 0;
    const std::size_t width = DecodeUtf8(s, i, rune);
    if (width == 0) {
      out += "\\ufffd";
      ++i;
    } else if (rune == 0x2028 || rune == 0x2029) {
      out += rune == 0x2028 ? "\\u2028" : "\\u2029";
      i += width;
    } else {
      out.append(s.substr(i, width));
      i += width;
    }
  }
  out.push_back('"');
}

std::string GoJsonString(std::string_view s) {
  std::string out;
  AppendGoJsonString(out, s);
  return out;
}

// Rfc3339 formats like Go's time.Time.MarshalJSON for a UTC time (RFC 3339 with trailing
// zeros of the fraction dropped).
std::string Rfc3339(const google::protobuf::Timestamp& ts) {
  std::int64_t seconds = ts.seconds();
  std::int64_t days = seconds / 86400;
  std::int64_t rem = seconds % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Howard Hinnant's civil_from_days.
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld",
                static_cast<long long>(year), static_cast<long long>(month),
                static_cast<long long>(day), static_cast<long long>(rem / 3600),
                static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  std::string out = buffer;
  if (ts.nanos() > 0) {
    std::snprintf(buffer, sizeof buffer, ".%09d", static_cast<int>(ts.nanos()));
    std::string fraction = buffer;
    while (fraction.back() == '0') fraction.pop_back();
    out += fraction;
  }
  out += 'Z';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Client identity.

using IpBytes = std::array<unsigned char, 16>;  // IPv4 as IPv4-mapped IPv6

std::optional<IpBytes> ParseIp(std::string_view text) {
  const std::string s(text);
  IpBytes ip{};
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    ip[10] = ip[11] = 0xFF;
    std::memcpy(&ip[12], &v4, 4);
    return ip;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(ip.data(), &v6, 16);
    return ip;
  }
  return std::nullopt;
}

bool IsV4Mapped(const IpBytes& ip) {
  return std::all_of(ip.begin(), ip.begin() + 10, [](unsigned char b) { return b == 0; }) &&
         ip[10] == 0xFF && ip[11] == 0xFF;
}

std::string FormatIp(const IpBytes& ip) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (IsV4Mapped(ip)) {
    inet_ntop(AF_INET, &ip[12], buffer, sizeof buffer);
  } else {
    inet_ntop(AF_INET6, ip.data(), buffer, sizeof buffer);
  }
  return buffer;
}

struct IpRange {
  IpBytes base{};
  int prefix = 128;

  bool Contains(const IpBytes& ip) const {
    int bits = prefix;
    for (std::size_t i = 0; i < ip.size() && bits > 0; ++i, bits -= 8) {
      const unsigned mask = bits >= 8 ? 0xFFu : (0xFFu << (8 - bits)) & 0xFFu;
      if ((ip[i] & mask) != (base[i] & mask)) return false;
    }
    return true;
  }
};

// ParseIpRange accepts "10.0.0.2", "::1", "10.0.0.0/8" and "fd00::/8"; nullopt otherwise.
std::optional<IpRange> ParseIpRange(std::string_view text) {
  text = TrimAsciiSpace(text);
  const std::size_t slash = text.find('/');
  const std::optional<IpBytes> base = ParseIp(text.substr(0, slash));
  if (!base) return std::nullopt;
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  IpRange range{*base, 128};
  if (slash != std::string_view::npos) {
    const std::string_view bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 ||
        !std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return std::nullopt;
    }
    const int prefix = std::stoi(std::string(bits));
    if (prefix > (v4 ? 32 : 128)) return std::nullopt;
    range.prefix = v4 ? prefix + 96 : prefix;
  }
  return range;
}

// StripBrackets drops the "[...]" Go's IP extractors accept around IPv6 addresses.
std::string_view StripBrackets(std::string_view s) {
  if (s.starts_with('[')) s.remove_prefix(1);
  if (s.ends_with(']')) s.remove_suffix(1);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Session tokens: Hanko's lookup "header:Authorization:Bearer,cookie:<name>" in that order.

std::vector<std::string> SessionTokenCandidates(const HttpRequest& request,
                                                std::string_view cookie_name) {
  std::vector<std::string> tokens;
  std::size_t bearer = 0;
  for (std::string_view value : HeaderValues(request, "authorization")) {
    if (bearer == kMaxTokenCandidates) break;
    if (value.size() <= 7 || !EqualsIgnoreCase(value.substr(0, 7), "bearer ")) continue;
    const std::string_view token = TrimAsciiSpace(value.substr(7));
    if (token.empty()) continue;
    tokens.emplace_back(token);
    ++bearer;
  }
  std::size_t cookies = 0;
  for (std::string_view header : HeaderValues(request, "cookie")) {
    while (!header.empty() && cookies < kMaxTokenCandidates) {
      const std::size_t semicolon = header.find(';');
      const std::string_view part = TrimAsciiSpace(header.substr(0, semicolon));
      header =
          semicolon == std::string_view::npos ? std::string_view() : header.substr(semicolon + 1);
      const std::size_t equals = part.find('=');
      if (equals == std::string_view::npos || part.substr(0, equals) != cookie_name) continue;
      std::string_view value = part.substr(equals + 1);
      if (value.size() > 1 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      const bool valid = std::all_of(value.begin(), value.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c >= 0x20 && c < 0x7f && c != '"' && c != ';' && c != '\\';
      });
      if (!valid || value.empty()) continue;
      tokens.emplace_back(value);
      ++cookies;
    }
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Routes.

enum class RouteId { kLogin, kSetPassword, kValidateSession, kJwks };

struct Route {
  std::string_view path;
  RouteId id;
  // Echo's Allow header (OPTIONS first, then the methods in Echo's fixed order); Hanko's CORS
  // middleware also sends it as Access-Control-Allow-Methods.
  std::string_view allow;
  std::array<std::string_view, 2> methods;
  bool password_route;

  bool Allows(std::string_view method) const {
    return std::find(methods.begin(), methods.end(), method) != methods.end() && !method.empty();
  }
};

constexpr Route kRoutes[] = {
    {"/password/login", RouteId::kLogin, "OPTIONS, POST", {"POST", ""}, true},
    {"/password", RouteId::kSetPassword, "OPTIONS, PUT", {"PUT", ""}, true},
    {"/sessions/validate", RouteId::kValidateSession, "OPTIONS, GET, POST", {"GET", "POST"}, false},
    {"/.well-known/jwks.json", RouteId::kJwks, "OPTIONS, GET", {"GET", ""}, false},
};

constexpr std::string_view kExposeHeaders =
    "Retry-After,X-RateLimit-Limit,X-RateLimit-Remaining,X-RateLimit-Reset,X-Session-Lifetime,"
    "X-Session-Retention";

// Rate-limit metadata of the service -> the header names Hanko's limiter set.
constexpr std::pair<std::string_view, std::string_view> kRateLimitHeaders[] = {
    {"x-ratelimit-limit", "X-RateLimit-Limit"},
    {"x-ratelimit-remaining", "X-RateLimit-Remaining"},
    {"x-ratelimit-reset", "X-RateLimit-Reset"},
    {"retry-after", "Retry-After"},
};

bool PrintableToken(std::string_view value) {
  if (value.empty() || value.size() > 128) return false;
  return std::all_of(value.begin(), value.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// GlobMatch is Echo's AllowOrigins pattern: '*' any run, '?' any one character.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.AddHeader("Content-Type", std::string(kJson));
  response.body = std::move(body);
  return response;
}

// GrpcError maps a failed call: INVALID_ARGUMENT carries Hanko's 400 text; every other
// status shows only the HTTP status text.
HttpResponse GrpcError(const grpc::Status& status) {
  const int http = HttpStatusForGrpc(status.error_code());
  return ErrorResponse(http,
                       http == 400 ? std::string_view(status.error_message()) : std::string_view());
}

std::string ValidateSessionJson(const ValidateSessionResponse& reply) {
  if (!reply.is_valid()) return "{\"is_valid\":false}\n";
  std::string out = "{\"is_valid\":true";
  // Go's uuid.UUID marshals its zero value as the nil UUID.
  const auto uuid = [](const std::string& id) {
    return GoJsonString(id.empty() ? "00000000-0000-0000-0000-000000000000" : id);
  };
  if (reply.has_claims()) {
    // Member order of Hanko's dto.Claims struct.
    const auto& claims = reply.claims();
    out += ",\"claims\":{\"subject\":" + uuid(claims.subject());
    if (claims.has_issued_at()) out += ",\"issued_at\":\"" + Rfc3339(claims.issued_at()) + "\"";
    // A Go time.Time without a value marshals as year 1.
    out += ",\"expiration\":\"" +
           (claims.has_expiration() ? Rfc3339(claims.expiration()) : "0001-01-01T00:00:00Z") + "\"";
    if (claims.audience_size() > 0) {
      out += ",\"audience\":[";
      for (int i = 0; i < claims.audience_size(); ++i) {
        if (i > 0) out += ',';
        AppendGoJsonString(out, claims.audience(i));
      }
      out += ']';
    }
    if (!claims.issuer().empty()) out += ",\"issuer\":" + GoJsonString(claims.issuer());
    if (claims.has_email()) {
      const auto& email = claims.email();
      out += ",\"email\":{\"address\":" + GoJsonString(email.address()) +
             ",\"is_primary\":" + (email.is_primary() ? "true" : "false") +
             ",\"is_verified\":" + (email.is_verified() ? "true" : "false") + "}";
    }
    out += ",\"session_id\":" + uuid(claims.session_id()) + "}";
  }
  if (reply.has_expiration_time()) {
    out += ",\"expiration_time\":\"" + Rfc3339(reply.expiration_time()) + "\"";
  }
  if (!reply.user_id().empty()) out += ",\"user_id\":" + GoJsonString(reply.user_id());
  out += "}\n";
  return out;
}

std::string JwksJson(const Jwks& jwks) {
  // jwx marshals each key's members in lexical order and omits empty ones.
  std::string out = "{\"keys\":[";
  for (int i = 0; i < jwks.keys_size(); ++i) {
    const auto& key = jwks.keys(i);
    const std::pair<std::string_view, const std::string*> members[] = {
        {"alg", &key.alg()}, {"crv", &key.crv()}, {"e", &key.e()},
        {"kid", &key.kid()}, {"kty", &key.kty()}, {"n", &key.n()},
        {"use", &key.use()}, {"x", &key.x()},     {"y", &key.y()},
    };
    if (i > 0) out += ',';
    out += '{';
    bool first = true;
    for (const auto& [name, value] : members) {
      if (value->empty()) continue;
      if (!first) out += ',';
      first = false;
      out += '"';
      out += name;
      out += "\":";
      AppendGoJsonString(out, *value);
    }
    out += '}';
  }
  out += "]}\n";
  return out;
}

}  // namespace

int HttpStatusForGrpc(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return 200;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return 400;
    case grpc::StatusCode::UNAUTHENTICATED:
      return 401;
    case grpc::StatusCode::PERMISSION_DENIED:
      return 403;
    case grpc::StatusCode::NOT_FOUND:
      return 404;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return 429;
    case grpc::StatusCode::UNAVAILABLE:
      return 503;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 504;
    default:
      return 500;
  }
}

// Impl is immutable after construction; every request keeps it alive through its Exchange,
// so callbacks arriving on gRPC threads never see it destroyed.
struct PasswordApi::Impl : std::enable_shared_from_this<PasswordApi::Impl> {
  // Exchange: one request's answer-side state, shared by the callbacks of its calls.
  struct Exchange {
    std::shared_ptr<const Impl> impl;
    Responder respond;
    std::string request_id;
    std::string allowed_origin;  // empty: send no CORS headers
    bool head = false;
    CallContext call;  // without bearer_token
  };
  using ExchangePtr = std::shared_ptr<const Exchange>;
  // FoundSession: the first candidate token the service called valid, or none; `status` is
  // the failure of a call, if any.
  using FoundSession = std::function<void(const grpc::Status& status, const std::string* token,
                                          const ValidateSessionResponse* reply)>;

  Impl(GatewayOptions options_in, PasswordAuthClient& client_in)
      : options(std::move(options_in)), client(client_in) {
    for (const std::string& proxy : options.trusted_proxies) {
      if (std::optional<IpRange> range = ParseIpRange(proxy)) trusted.push_back(*range);
    }
    expose_headers = std::string(kExposeHeaders);
    if (options.enable_auth_token_header) expose_headers += ",X-Auth-Token";
    cors_enabled = !options.cors_allow_origins.empty();
  }

  void Handle(HttpRequest request, Responder respond) const {
    auto exchange = std::make_shared<Exchange>();
    exchange->impl = shared_from_this();
    exchange->respond = std::move(respond);
    const std::optional<std::string_view> sent_id = request.Header("x-request-id");
    exchange->request_id =
        sent_id && PrintableToken(*sent_id) ? std::string(*sent_id) : NewRequestId();
    exchange->head = request.method == "HEAD";
    exchange->allowed_origin = AllowedOrigin(request);
    exchange->call.client_ip = ClientIp(request);
    exchange->call.user_agent = std::string(request.Header("user-agent").value_or(""));
    exchange->call.request_id = exchange->request_id;
    const ExchangePtr ex = std::move(exchange);

    const Route* route = nullptr;
    for (const Route& candidate : kRoutes) {
      if (candidate.path == request.path &&
          (options.password_enabled || !candidate.password_route)) {
        route = &candidate;
      }
    }
    if (route == nullptr) return Send(*ex, ErrorResponse(404));
    if (request.method == "OPTIONS") return Preflight(*ex, *route, request);
    if (!route->Allows(request.method)) {
      HttpResponse response = ErrorResponse(405);
      response.AddHeader("Allow", std::string(route->allow));
      return Send(*ex, std::move(response));
    }
    switch (route->id) {
      case RouteId::kLogin:
        return Login(ex, request);
      case RouteId::kSetPassword:
        return SetPassword(ex, request);
      case RouteId::kValidateSession:
        if (request.method == "GET") return ValidateFromCookieOrHeader(ex, request);
        return ValidateFromBody(ex, request);
      case RouteId::kJwks:
        return GetJwks(ex);
    }
  }

  // -- Routes ----------------------------------------------------------------------------------

  void Login(const ExchangePtr& ex, const HttpRequest& request) const {
    std::string user_id, password;
    const BodyField fields[] = {{"user_id", &user_id}, {"password", &password}};
    if (std::optional<HttpResponse> error = Bind(request, "handler.PasswordLoginBody", fields)) {
      return Send(*ex, std::move(*error));
    }
    LoginRequest call;
    call.set_user_id(std::move(user_id));
    call.set_password(std::move(password));
    client.Login(call, ex->call, [ex](CallResult result, LoginResponse reply) {
      ex->impl->FinishLogin(*ex, result, reply);
    });
  }

  void FinishLogin(const Exchange& ex, const CallResult& result, const LoginResponse& reply) const {
    HttpResponse response;
    if (!result.status.ok()) {
      response = GrpcError(result.status);
    } else {
      response = JsonResponse(200, std::string(kNullBody));
      const std::string lifetime = std::to_string(reply.expires_in_seconds());
      if (options.enable_auth_token_header) {
        response.AddHeader("X-Auth-Token", reply.session_token());
      } else {
        response.AddHeader("Set-Cookie",
                           SessionCookie(reply.session_token(), reply.expires_in_seconds()));
      }
      response.AddHeader("X-Session-Lifetime", lifetime);
    }
    CopyRateLimitHeaders(result, response);
    Send(ex, std::move(response));
  }

  // PUT /password: Hanko's session middleware runs before the body is bound, so without a
  // valid session every request is 401, whatever its body.
  void SetPassword(const ExchangePtr& ex, const HttpRequest& request) const {
    auto tokens = std::make_shared<const std::vector<std::string>>(
        SessionTokenCandidates(request, options.cookie.name));
    if (tokens->empty()) return Send(*ex, ErrorResponse(401));
    auto call = std::make_shared<SetPasswordRequest>();
    std::string user_id, password;
    const BodyField fields[] = {{"user_id", &user_id}, {"password", &password}};
    std::optional<HttpResponse> bind_error = Bind(request, "handler.PasswordSetBody", fields);
    call->set_user_id(std::move(user_id));
    call->set_password(std::move(password));
    if (!bind_error && tokens->size() == 1) return CallSetPassword(ex, *call, tokens->front());
    // Either the body is bad (and only a valid session earns the 400) or several tokens were
    // sent (Hanko takes the first that verifies): ask the service which one is valid first.
    auto error = std::make_shared<const std::optional<HttpResponse>>(std::move(bind_error));
    FindValidSession(ex, tokens, 0,
                     [ex, call, error](const grpc::Status& status, const std::string* token,
                                       const ValidateSessionResponse*) {
                       if (!status.ok()) return ex->impl->Send(*ex, GrpcError(status));
                       if (token == nullptr) return ex->impl->Send(*ex, ErrorResponse(401));
                       if (error->has_value()) return ex->impl->Send(*ex, **error);
                       ex->impl->CallSetPassword(ex, *call, *token);
                     });
  }

  void CallSetPassword(const ExchangePtr& ex, const SetPasswordRequest& call,
                       const std::string& token) const {
    CallContext context = ex->call;
    context.bearer_token = token;
    client.SetPassword(call, context, [ex](CallResult result, SetPasswordResponse reply) {
      HttpResponse response =
          result.status.ok() ? JsonResponse(reply.created() ? 201 : 200, std::string(kNullBody))
                             : GrpcError(result.status);
      ex->impl->CopyRateLimitHeaders(result, response);
      ex->impl->Send(*ex, std::move(response));
    });
  }

  // GET /sessions/validate: the first token (Authorization: Bearer, then the cookie) that the
  // service calls valid; none -> {"is_valid":false}.
  void ValidateFromCookieOrHeader(const ExchangePtr& ex, const HttpRequest& request) const {
    auto tokens = std::make_shared<const std::vector<std::string>>(
        SessionTokenCandidates(request, options.cookie.name));
    if (tokens->empty()) return Send(*ex, JsonResponse(200, ValidateSessionJson({})));
    FindValidSession(
        ex, tokens, 0,
        [ex](const grpc::Status& status, const std::string*, const ValidateSessionResponse* reply) {
          if (!status.ok()) return ex->impl->Send(*ex, GrpcError(status));
          ex->impl->Send(
              *ex,
              JsonResponse(200, ValidateSessionJson(reply ? *reply : ValidateSessionResponse())));
        });
  }

  void ValidateFromBody(const ExchangePtr& ex, const HttpRequest& request) const {
    std::string token;
    const BodyField fields[] = {{"session_token", &token}};
    if (std::optional<HttpResponse> error = Bind(request, "dto.ValidateSessionRequest", fields)) {
      return Send(*ex, std::move(*error));
    }
    if (token.empty()) return Send(*ex, ErrorResponse(400, "session_token is a required field"));
    ValidateSessionRequest call;
    call.set_session_token(std::move(token));
    client.ValidateSession(call, ex->call, [ex](CallResult result, ValidateSessionResponse reply) {
      HttpResponse response = result.status.ok() ? JsonResponse(200, ValidateSessionJson(reply))
                                                 : GrpcError(result.status);
      ex->impl->Send(*ex, std::move(response));
    });
  }

  void GetJwks(const ExchangePtr& ex) const {
    client.GetJwks(ex->call, [ex](CallResult result, Jwks reply) {
      if (!result.status.ok()) return ex->impl->Send(*ex, GrpcError(result.status));
      HttpResponse response = JsonResponse(200, JwksJson(reply));
      response.AddHeader("Cache-Control", "max-age=600");
      ex->impl->Send(*ex, std::move(response));
    });
  }

  // Echo's CORS middleware answers every OPTIONS itself (204, without calling the handler).
  void Preflight(const Exchange& ex, const Route& route, const HttpRequest& request) const {
    HttpResponse response;
    response.status = 204;
    response.AddHeader("Allow", std::string(route.allow));
    if (!ex.allowed_origin.empty()) {
      response.AddHeader("Access-Control-Allow-Origin", ex.allowed_origin);
      response.AddHeader("Access-Control-Allow-Credentials", "true");
      response.AddHeader("Vary", "Access-Control-Request-Method");
      response.AddHeader("Vary", "Access-Control-Request-Headers");
      response.AddHeader("Access-Control-Allow-Methods", std::string(route.allow));
      if (std::optional<std::string_view> headers =
              request.Header("access-control-request-headers");
          headers && !headers->empty()) {
        response.AddHeader("Access-Control-Allow-Headers", std::string(*headers));
      }
      response.AddHeader("Access-Control-Max-Age", "7200");
    }
    Send(ex, std::move(response), /*preflight=*/true);
  }

  // -- Helpers ---------------------------------------------------------------------------------

  // Bind is Echo's DefaultBinder.BindBody: no body binds nothing; a body must be JSON.
  std::optional<HttpResponse> Bind(const HttpRequest& request, std::string_view go_type,
                                   std::span<const BodyField> fields) const {
    if (request.body.empty()) return std::nullopt;
    std::string_view media_type = request.Header("content-type").value_or("");
    media_type = TrimAsciiSpace(media_type.substr(0, media_type.find(';')));
    if (!EqualsIgnoreCase(media_type, kJson)) return ErrorResponse(415);
    if (std::optional<std::string> error = DecodeGoJson(request.body, go_type, fields)) {
      return ErrorResponse(400, *error);
    }
    return std::nullopt;
  }

  // FindValidSession asks the service about tokens[index...] in order until one is valid.
  void FindValidSession(const ExchangePtr& ex,
                        const std::shared_ptr<const std::vector<std::string>>& tokens,
                        std::size_t index, FoundSession done) const {
    ValidateSessionRequest call;
    call.set_session_token((*tokens)[index]);
    client.ValidateSession(call, ex->call,
                           [ex, tokens, index, done = std::move(done)](
                               CallResult result, ValidateSessionResponse reply) mutable {
                             if (!result.status.ok()) return done(result.status, nullptr, nullptr);
                             if (reply.is_valid())
                               return done(result.status, &(*tokens)[index], &reply);
                             if (index + 1 < tokens->size()) {
                               return ex->impl->FindValidSession(ex, tokens, index + 1,
                                                                 std::move(done));
                             }
                             done(result.status, nullptr, nullptr);
                           });
  }

  // SessionCookie is Go's http.Cookie.String() for Hanko's session cookie.
  std::string SessionCookie(const std::string& token, std::int64_t max_age) const {
    const GatewayOptions::Cookie& cookie = options.cookie;
    std::string out = cookie.name + "=" + token + "; Path=/";
    if (!cookie.domain.empty()) out += "; Domain=" + cookie.domain;
    if (max_age > 0) out += "; Max-Age=" + std::to_string(max_age);
    if (max_age < 0) out += "; Max-Age=0";
    if (cookie.http_only) out += "; HttpOnly";
    if (cookie.secure) out += "; Secure";
    if (EqualsIgnoreCase(cookie.same_site, "strict")) out += "; SameSite=Strict";
    if (EqualsIgnoreCase(cookie.same_site, "lax")) out += "; SameSite=Lax";
    if (EqualsIgnoreCase(cookie.same_site, "none")) out += "; SameSite=None";
    return out;
  }

  static void CopyRateLimitHeaders(const CallResult& result, HttpResponse& response) {
    for (const auto& [key, header] : kRateLimitHeaders) {
      auto it = result.metadata.find(std::string(key));
      if (it != result.metadata.end()) response.AddHeader(std::string(header), it->second);
    }
  }

  std::string AllowedOrigin(const HttpRequest& request) const {
    const std::string_view origin = request.Header("origin").value_or("");
    if (origin.empty() || !cors_enabled) return {};
    for (const std::string& allowed : options.cors_allow_origins) {
      if (allowed == "*") {
        if (options.cors_unsafe_wildcard_origin_allowed) return std::string(origin);
        continue;
      }
      if (allowed == origin) return std::string(origin);
    }
    // Echo also treats entries as patterns ('*' and '?'), for origins that look like one.
    if (origin.size() > 253 + 3 + 5 || origin.find("://") == std::string_view::npos) return {};
    for (const std::string& allowed : options.cors_allow_origins) {
      if (allowed != "*" && allowed.find_first_of("*?") != std::string::npos &&
          GlobMatch(allowed, origin)) {
        return std::string(origin);
      }
    }
    return {};
  }

  bool Trusted(const IpBytes& ip) const {
    return std::any_of(trusted.begin(), trusted.end(),
                       [&](const IpRange& range) { return range.Contains(ip); });
  }

  // ClientIp: the TCP peer, unless it is a trusted proxy; then the right-most address of
  // X-Forwarded-For that is not a trusted proxy (Echo's ExtractIPFromXFFHeader), else
  // X-Real-IP, else the peer.
  std::string ClientIp(const HttpRequest& request) const {
    const std::optional<IpBytes> peer = ParseIp(request.peer_ip);
    if (!peer) return request.peer_ip;
    const std::string peer_text = FormatIp(*peer);
    if (!Trusted(*peer)) return peer_text;
    std::vector<std::string_view> hops;
    for (std::string_view header : HeaderValues(request, "x-forwarded-for")) {
      while (true) {
        const std::size_t comma = header.find(',');
        hops.push_back(header.substr(0, comma));
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
      }
    }
    if (!hops.empty()) {
      std::optional<IpBytes> hop;
      for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
        hop = ParseIp(StripBrackets(TrimAsciiSpace(*it)));
        if (!hop) return peer_text;  // an unparsable hop makes the whole header untrustworthy
        if (!Trusted(*hop)) return FormatIp(*hop);
      }
      return FormatIp(*hop);  // all trusted: the farthest one
    }
    if (std::optional<std::string_view> real_ip = request.Header("x-real-ip")) {
      if (std::optional<IpBytes> ip = ParseIp(StripBrackets(TrimAsciiSpace(*real_ip)))) {
        return FormatIp(*ip);
      }
    }
    return peer_text;
  }

  // Send adds what Hanko's middlewares add to every response (request id, CORS) and answers.
  void Send(const Exchange& ex, HttpResponse response, bool preflight = false) const {
    std::vector<std::pair<std::string, std::string>> headers;
    headers.emplace_back("X-Request-Id", ex.request_id);
    if (cors_enabled) headers.emplace_back("Vary", "Origin");
    if (!ex.allowed_origin.empty() && !preflight) {
      headers.emplace_back("Access-Control-Allow-Origin", ex.allowed_origin);
      headers.emplace_back("Access-Control-Allow-Credentials", "true");
      headers.emplace_back("Access-Control-Expose-Headers", expose_headers);
    }
    for (auto& header : response.headers) headers.push_back(std::move(header));
    response.headers = std::move(headers);
    if (ex.head) {
      // Hanko's error handler answers HEAD without a body (Echo issue #608).
      response.body.clear();
      std::erase_if(response.headers,
                    [](const auto& h) { return EqualsIgnoreCase(h.first, "Content-Type"); });
    }
    ex.respond(std::move(response));
  }

  GatewayOptions options;
  PasswordAuthClient& client;
  std::vector<IpRange> trusted;
  std::string expose_headers;
  bool cors_enabled = false;
};

PasswordApi::PasswordApi(GatewayOptions options, PasswordAuthClient& client)
    : impl_(std::make_shared<const Impl>(std::move(options), client)) {}

void PasswordApi::Handle(HttpRequest request, Responder respond) {
  impl_->Handle(std::move(request), std::move(respond));
}

}  // namespace passgate::gateway
