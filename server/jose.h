#ifndef PASSGATE_SERVER_JOSE_H_
#define PASSGATE_SERVER_JOSE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace passgate::server {

// Base64UrlEncode returns the base64url encoding of `data` (RFC 4648 §5) without padding,
// as JWS and JWK use it (RFC 7515 §2).
//
//   Base64UrlEncode("\xfb\xff") == "-_8"
std::string Base64UrlEncode(std::string_view data);

// Base64UrlDecode decodes unpadded base64url. Strict: returns nullopt for padding ('='),
// characters outside the url alphabet (including '+', '/' and whitespace), an impossible
// length (4n+1) and a last character whose unused low bits are not zero, so every byte
// string has exactly one accepted encoding.
std::optional<std::string> Base64UrlDecode(std::string_view encoded);

// EcdsaDerToRaw converts a DER ECDSA-Sig-Value (what OpenSSL produces) to the JWS form
// R || S, each left-padded to `component_size` bytes (32 for ES256, RFC 7518 §3.4).
// Returns nullopt when `der` is not exactly one well-formed signature or R or S is too large.
std::optional<std::string> EcdsaDerToRaw(std::string_view der, std::size_t component_size);

// EcdsaRawToDer converts a JWS R || S signature back to DER for OpenSSL. Returns nullopt
// unless `raw` has exactly 2 * component_size bytes.
std::optional<std::string> EcdsaRawToDer(std::string_view raw, std::size_t component_size);

}  // namespace passgate::server

#endif  // PASSGATE_SERVER_JOSE_H_
