#include "gateway/cors.h"

#include <cstddef>
#include <optional>

namespace passgate::gateway {
namespace {

constexpr std::string_view kExposeHeaders =
    "Retry-After,X-RateLimit-Limit,X-RateLimit-Remaining,X-RateLimit-Reset,X-Session-Lifetime,"
    "X-Session-Retention";

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

}  // namespace

CorsPolicy::CorsPolicy(Options options)
    : options_(std::move(options)), expose_headers_(kExposeHeaders) {
  if (options_.expose_auth_token) expose_headers_ += ",X-Auth-Token";
}

std::string CorsPolicy::AllowedOrigin(const HttpRequest& request) const {
  const std::string_view origin = request.Header("origin").value_or("");
  if (origin.empty() || !enabled()) return {};
  for (const std::string& allowed : options_.allow_origins) {
    if (allowed == "*") {
      if (options_.unsafe_wildcard_origin_allowed) return std::string(origin);
      continue;
    }
    if (allowed == origin) return std::string(origin);
  }
  // Echo also treats entries as patterns ('*' and '?'), for origins that look like one.
  if (origin.size() > 253 + 3 + 5 || origin.find("://") == std::string_view::npos) return {};
  for (const std::string& allowed : options_.allow_origins) {
    if (allowed != "*" && allowed.find_first_of("*?") != std::string::npos &&
        GlobMatch(allowed, origin)) {
      return std::string(origin);
    }
  }
  return {};
}

void CorsPolicy::AddPreflightHeaders(
    const HttpRequest& request, std::string_view allowed_origin, std::string_view allow_methods,
    std::vector<std::pair<std::string, std::string>>& headers) const {
  if (allowed_origin.empty()) return;
  headers.emplace_back("Access-Control-Allow-Origin", allowed_origin);
  headers.emplace_back("Access-Control-Allow-Credentials", "true");
  headers.emplace_back("Vary", "Access-Control-Request-Method");
  headers.emplace_back("Vary", "Access-Control-Request-Headers");
  headers.emplace_back("Access-Control-Allow-Methods", allow_methods);
  if (std::optional<std::string_view> request_headers =
          request.Header("access-control-request-headers");
      request_headers && !request_headers->empty()) {
    headers.emplace_back("Access-Control-Allow-Headers", *request_headers);
  }
  headers.emplace_back("Access-Control-Max-Age", "7200");
}

void CorsPolicy::AddResponseHeaders(
    std::string_view allowed_origin, bool preflight,
    std::vector<std::pair<std::string, std::string>>& headers) const {
  if (enabled()) headers.emplace_back("Vary", "Origin");
  if (!allowed_origin.empty() && !preflight) {
    headers.emplace_back("Access-Control-Allow-Origin", allowed_origin);
    headers.emplace_back("Access-Control-Allow-Credentials", "true");
    headers.emplace_back("Access-Control-Expose-Headers", expose_headers_);
  }
}

}  // namespace passgate::gateway
