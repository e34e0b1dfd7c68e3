#ifndef PASSGATE_GATEWAY_SESSION_TOKEN_CANDIDATES_H_
#define PASSGATE_GATEWAY_SESSION_TOKEN_CANDIDATES_H_

#include <string>
#include <string_view>
#include <vector>

#include "gateway/http_message.h"

namespace passgate::gateway {

// SessionTokenCandidates lists the session tokens a request carries, in the order Hanko's
// lookup "header:Authorization:Bearer,cookie:<cookie_name>" tries them:
//   1. each Authorization value of the form "Bearer <token>" (scheme case-insensitive, the
//      token trimmed, empty ones skipped), at most 20 (Echo's extractor limit);
//   2. then each cookie named exactly `cookie_name` across all Cookie headers, with one pair of
//      surrounding double quotes removed; values that are empty or contain '"', ';', '\\' or
//      a byte outside 0x20..0x7E are skipped; at most 20.
// No candidate is checked here: the caller asks the service which one is valid. Returns an
// empty list when there is none.
std::vector<std::string> SessionTokenCandidates(const HttpRequest& request,
                                                std::string_view cookie_name);

}  // namespace passgate::gateway

#endif  // PASSGATE_GATEWAY_SESSION_TOKEN_CANDIDATES_H_
