#include "gateway/go_json_scanner.h"

#include <algorithm>
#include <vector>

#include "gateway/text.h"

namespace passgate::gateway {
namespace {

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

  static bool IsSpace(unsigned char c) { return IsAsciiSpace(static_cast<char>(c)); }
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

}  // namespace

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

}  // namespace passgate::gateway
