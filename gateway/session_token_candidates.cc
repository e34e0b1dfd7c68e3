#include "gateway/session_token_candidates.h"

#include <algorithm>
#include <cstddef>

#include "gateway/text.h"

namespace passgate::gateway {
namespace {

// Echo's jwt extractors stop after this many values per source.
constexpr std::size_t kMaxTokenCandidates = 20;

}  // namespace

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

}  // namespace passgate::gateway
