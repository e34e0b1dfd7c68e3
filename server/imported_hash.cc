#include "server/imported_hash.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace passgate::server {
namespace {

constexpr std::string_view kBcryptAlphabet =
    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(absl::string_view(what.data(), what.size()));
}

absl::Status CheckBcrypt(std::string_view hash, const HashLimits& limits) {
  // "$2b$" "12" "$" + 22 salt + 31 hash characters.
  constexpr std::size_t kLength = 4 + 2 + 1 + 22 + 31;
  if (hash.size() != kLength) {
    return Invalid(absl::StrCat("bcrypt hash must be ", kLength, " characters"));
  }
  const char tens = hash[4];
  const char ones = hash[5];
  if (tens < '0' || tens > '9' || ones < '0' || ones > '9' || hash[6] != '$') {
    return Invalid("bcrypt cost must be two digits followed by '$'");
  }
  const int cost = (tens - '0') * 10 + (ones - '0');
  if (cost < 4 || cost > 31) return Invalid("bcrypt cost must be between 04 and 31");
  if (cost > limits.bcrypt_max_cost) {
    return Invalid(absl::StrCat("bcrypt cost ", cost, " is over the limit of ",
                                limits.bcrypt_max_cost, " (password.import.bcrypt_max_cost)"));
  }
  const std::string_view salt = hash.substr(7, 22);
  const std::string_view digest = hash.substr(29, 31);
  for (std::string_view part : {salt, digest}) {
    if (part.find_first_not_of(kBcryptAlphabet) != std::string_view::npos) {
      return Invalid("bcrypt salt and hash must use bcrypt's base64 alphabet");
    }
  }
  // 22 characters carry 132 bits of a 128-bit salt, 31 carry 186 bits of a 184-bit hash:
  // the last character's unused low bits are zero in anything bcrypt wrote.
  if (kBcryptAlphabet.find(salt.back()) % 16 != 0 || kBcryptAlphabet.find(digest.back()) % 4 != 0) {
    return Invalid("bcrypt salt or hash is not canonically encoded");
  }
  return absl::OkStatus();
}

// ConsumeDecimal reads "<name>=<digits>" from the front of `text`: no sign, no leading zero,
// at most 4294967295.
std::optional<std::uint32_t> ConsumeDecimal(std::string_view& text, std::string_view name) {
  if (!text.starts_with(name) || text.size() <= name.size() || text[name.size()] != '=') {
    return std::nullopt;
  }
  text.remove_prefix(name.size() + 1);
  std::size_t digits = 0;
  std::uint64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    value = value * 10 + static_cast<std::uint64_t>(text[digits] - '0');
    if (value > UINT32_MAX) return std::nullopt;
    ++digits;
  }
  if (digits == 0 || (digits > 1 && text[0] == '0')) return std::nullopt;
  text.remove_prefix(digits);
  return static_cast<std::uint32_t>(value);
}

// DecodedBase64Size returns how many bytes canonical unpadded base64 `text` decodes to, or
// nullopt when it is not canonical unpadded base64 (a stray character, a length of 4n+1, or
// non-zero unused bits in the last character, as Argon2's reference decoder refuses).
std::optional<std::size_t> DecodedBase64Size(std::string_view text) {
  if (text.empty() || text.size() % 4 == 1) return std::nullopt;
  if (text.find_first_not_of(kBase64Alphabet) != std::string_view::npos) return std::nullopt;
  const std::size_t last = kBase64Alphabet.find(text.back());
  if (text.size() % 4 == 2 && last % 16 != 0) return std::nullopt;
  if (text.size() % 4 == 3 && last % 4 != 0) return std::nullopt;
  return text.size() * 3 / 4;
}

absl::Status CheckArgon2id(std::string_view hash, const HashLimits& limits) {
  std::string_view rest = hash.substr(std::string_view("$argon2id$").size());
  const std::optional<std::uint32_t> version = ConsumeDecimal(rest, "v");
  if (!version || !rest.starts_with('$')) {
    return Invalid("Argon2id hash must continue with v=19$");
  }
  if (*version != 19) return Invalid("Argon2id version must be 19 (v=19)");
  rest.remove_prefix(1);
  const std::optional<std::uint32_t> memory = ConsumeDecimal(rest, "m");
  std::optional<std::uint32_t> iterations;
  std::optional<std::uint32_t> parallelism;
  if (memory && rest.starts_with(',')) {
    rest.remove_prefix(1);
    iterations = ConsumeDecimal(rest, "t");
    if (iterations && rest.starts_with(',')) {
      rest.remove_prefix(1);
      parallelism = ConsumeDecimal(rest, "p");
    }
  }
  if (!parallelism || !rest.starts_with('$')) {
    return Invalid("Argon2id parameters must read m=<KiB>,t=<passes>,p=<lanes>");
  }
  rest.remove_prefix(1);
  if (*parallelism < 1 || *parallelism > limits.argon2_max_parallelism) {
    return Invalid(absl::StrCat("Argon2id parallelism must be between 1 and ",
                                limits.argon2_max_parallelism,
                                " (password.import.argon2_max_parallelism)"));
  }
  if (*iterations < 1 || *iterations > limits.argon2_max_iterations) {
    return Invalid(absl::StrCat("Argon2id time cost must be between 1 and ",
                                limits.argon2_max_iterations,
                                " (password.import.argon2_max_iterations)"));
  }
  if (static_cast<std::uint64_t>(*memory) < 8ull * *parallelism) {
    return Invalid("Argon2id memory must be at least 8 KiB per lane");
  }
  if (*memory > limits.argon2_max_memory_kib) {
    return Invalid(absl::StrCat("Argon2id memory ", *memory, " KiB is over the limit of ",
                                limits.argon2_max_memory_kib,
                                " KiB (password.import.argon2_max_memory_kib)"));
  }
  const std::size_t dollar = rest.find('$');
  if (dollar == std::string_view::npos) return Invalid("Argon2id hash must end with $salt$hash");
  const std::optional<std::size_t> salt = DecodedBase64Size(rest.substr(0, dollar));
  const std::optional<std::size_t> digest = DecodedBase64Size(rest.substr(dollar + 1));
  if (!salt || !digest) {
    return Invalid("Argon2id salt and hash must be base64 without padding");
  }
  if (*salt < 8 || *salt > 64) return Invalid("Argon2id salt must be 8 to 64 bytes");
  if (*digest < 16 || *digest > 64) return Invalid("Argon2id hash must be 16 to 64 bytes");
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckImportableHash(std::string_view hash, const HashLimits& limits) {
  if (hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
    return CheckBcrypt(hash, limits);
  }
  if (hash.starts_with("$argon2id$")) return CheckArgon2id(hash, limits);
  return Invalid("not a bcrypt ($2a$/$2b$/$2y$) or Argon2id hash");
}

}  // namespace passgate::server
