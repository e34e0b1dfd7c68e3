#include "gateway/http_message.h"

#include <algorithm>
#include <optional>
#include <random>
#include <string>

#include "nlohmann/json.hpp"

namespace passgate::gateway {

std::string NewRequestId() {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // Request ids only correlate logs; they need to be unique, not unpredictable.
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, kAlphabet.size() - 1);
  std::string id(32, '\0');
  for (char& c : id) c = kAlphabet[pick(random)];
  return id;
}

std::string RequestIdOf(const HttpRequest& request) {
  const std::optional<std::string_view> sent = request.Header("x-request-id");
  const bool usable = sent.has_value() && !sent->empty() && sent->size() <= 128 &&
                      std::all_of(sent->begin(), sent->end(),
                                  [](char c) { return c > 0x20 && c < 0x7f; });
  return usable ? std::string(*sent) : NewRequestId();
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.AddHeader("Content-Type", std::string(kJsonMediaType));
  response.body = std::move(body);
  return response;
}

namespace {

struct StatusEntry {
  int status;
  std::string_view text;
};

// Go's net/http StatusText, word for word: Hanko's error bodies carry these texts.
constexpr StatusEntry kStatusTexts[] = {
    {100, "Continue"},
    {101, "Switching Protocols"},
    {102, "Processing"},
    {103, "Early Hints"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {203, "Non-Authoritative Information"},
    {204, "No Content"},
    {205, "Reset Content"},
    {206, "Partial Content"},
    {207, "Multi-Status"},
    {208, "Already Reported"},
    {226, "IM Used"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {303, "See Other"},
    {304, "Not Modified"},
    {305, "Use Proxy"},
    {307, "Temporary Redirect"},
    {308, "Permanent Redirect"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Request Entity Too Large"},
    {414, "Request URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Requested Range Not Satisfiable"},
    {417, "Expectation Failed"},
    {418, "I'm a teapot"},
    {421, "Misdirected Request"},
    {422, "Unprocessable Entity"},
    {423, "Locked"},
    {424, "Failed Dependency"},
    {425, "Too Early"},
    {426, "Upgrade Required"},
    {428, "Precondition Required"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {451, "Unavailable For Legal Reasons"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
    {506, "Variant Also Negotiates"},
    {507, "Insufficient Storage"},
    {508, "Loop Detected"},
    {510, "Not Extended"},
    {511, "Network Authentication Required"},
};

}  // namespace

std::string_view StatusText(int status) {
  for (const StatusEntry& entry : kStatusTexts) {
    if (entry.status == status) return entry.text;
  }
  return {};
}

HttpResponse ErrorResponse(int status, std::string_view message) {
  if (message.empty()) message = StatusText(status);
  // nlohmann::json objects keep keys sorted, which is exactly Hanko's order (code, message).
  const nlohmann::json body = {{"code", status}, {"message", std::string(message)}};
  HttpResponse response;
  response.status = status;
  response.AddHeader("Content-Type", "application/json");
  // `replace` turns invalid UTF-8 into U+FFFD instead of throwing.
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.body += '\n';
  return response;
}

}  // namespace passgate::gateway
