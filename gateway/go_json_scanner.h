#ifndef PASSGATE_GATEWAY_GO_JSON_SCANNER_H_
#define PASSGATE_GATEWAY_GO_JSON_SCANNER_H_

#include <cstddef>
#include <string_view>

namespace passgate::gateway {

// ScanResult is the outcome of ScanFirstValue.
struct ScanResult {
  enum Kind {
    kOk,             // `data` starts with a well-formed JSON value
    kSyntaxError,    // Go's *json.SyntaxError
    kEof,            // nothing but white space: Go's io.EOF
    kUnexpectedEof,  // a value that `data` ends in the middle of: io.ErrUnexpectedEOF
  } kind = kOk;
  std::size_t length = 0;  // kOk: bytes of the value (from the start of `data`)
  std::size_t offset = 0;  // kSyntaxError: Go's SyntaxError.Offset
};

// ScanFirstValue is Go's json.Decoder.readValue: it finds the end of the first JSON value of
// `data`, ignoring whatever follows it, with the exact syntax rules, error offsets and nesting
// limit (10000) of Go's encoding/json scanner. It never copies or quotes `data`.
//
//   const ScanResult scan = ScanFirstValue(body);
//   if (scan.kind == ScanResult::kOk) Use(body.substr(0, scan.length));
ScanResult ScanFirstValue(std::string_view data);

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_GO_JSON_SCANNER_H_
