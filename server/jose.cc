#include "server/jose.h"

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <sodium.h>

#include <algorithm>
#include <memory>

namespace passgate::server {
namespace {

constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

struct EcdsaSigDeleter {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
struct BignumDeleter {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, EcdsaSigDeleter>;
using BignumPtr = std::unique_ptr<BIGNUM, BignumDeleter>;

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  // The encoded length includes the terminating NUL that sodium_bin2base64 writes.
  const std::size_t encoded_len = sodium_base64_ENCODED_LEN(data.size(), kVariant);
  std::string out(encoded_len, '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()),
                    data.size(), kVariant);
  out.resize(encoded_len - 1);
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view encoded) {
  // libsodium 1.0.18 (Debian 12) decodes every byte >= 0x80 as if it were '_' instead of
  // stopping there, which gave one JWS signature 2^k accepted spellings: check the alphabet
  // first.
  const auto in_alphabet = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  };
  if (!std::all_of(encoded.begin(), encoded.end(), in_alphabet)) return std::nullopt;
  std::string out(encoded.size() / 4 * 3 + 3, '\0');
  std::size_t out_len = 0;
  const char* end = nullptr;
  // No `ignore` characters and a non-null `end`: libsodium stops at the first character
  // outside the alphabet, and it rejects a 4n+1 length and non-zero trailing bits itself.
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), encoded.data(),
                        encoded.size(), /*ignore=*/nullptr, &out_len, &end, kVariant) != 0) {
    return std::nullopt;
  }
  if (end != encoded.data() + encoded.size()) return std::nullopt;
  out.resize(out_len);
  return out;
}

std::optional<std::string> EcdsaDerToRaw(std::string_view der, std::size_t component_size) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (sig == nullptr || p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    return std::nullopt;
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(2 * component_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  const int size = static_cast<int>(component_size);
  if (BN_bn2binpad(r, out, size) != size || BN_bn2binpad(s, out + component_size, size) != size) {
    return std::nullopt;
  }
  return raw;
}

std::optional<std::string> EcdsaRawToDer(std::string_view raw, std::size_t component_size) {
  if (component_size == 0 || raw.size() != 2 * component_size) return std::nullopt;
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  const int size = static_cast<int>(component_size);
  BignumPtr r(BN_bin2bn(in, size, nullptr));
  BignumPtr s(BN_bin2bn(in + component_size, size, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || sig == nullptr) return std::nullopt;
  // ECDSA_SIG_set0 takes ownership; it only fails for null arguments, excluded above.
  ECDSA_SIG_set0(sig.get(), r.release(), s.release());
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
  if (der_len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(der_len));
  OPENSSL_free(der);
  return out;
}

}  // namespace passgate::server
